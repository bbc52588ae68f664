"""`pynmap merge [options] FILE.xml...`: the XML files of one scan's pieces as one report.

A subcommand, not a scan: `merge` as the very first argument (pynmap.cli.app
dispatches on it before nmap's grammar reads anything).  A host named
"merge" is still scanned when it is not the first argument: `pynmap -- merge`
or `pynmap -sT merge`.  The merging itself is pynmap.merge's; this module
reads the files, writes the outputs and turns every failure into one line
on stderr and an exit status:

* 0: merged and written (a run that ended with an error is merged too,
  with a note on stderr);
* 1: a file that cannot be read, is not XML or not a finished nmap run,
  files that are not of one scan, an output that cannot be written;
* 255: a bad command line (unknown option, missing argument, no file),
  as nmap's getopt errors.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TextIO

from pynmap.errors import InputError, UsageError
from pynmap.getopt import NO_ARG, REQUIRED_ARG, Grammar, Lexer

USAGE_EXIT = 255
FAILURE_EXIT = 1

# The outputs a scan writes, as the scanner spells them; -oS and
# --json-lines are a scan's live outputs, not a merged report's.
_OUTPUTS = ("oN", "oX", "oG", "oA", "oJ")
_GRAMMAR = Grammar(
    "h",
    (("help", NO_ARG, "h"), *((name, REQUIRED_ARG, None) for name in _OUTPUTS),
     ("append-output", NO_ARG, None)),
)
# -oA's files, and the order in which outputs are written
_KINDS = (("oN", "normal", ".nmap"), ("oG", "grepable", ".gnmap"), ("oX", "XML", ".xml"),
          ("oJ", "JSON", ".json"))


def usage(prog: str) -> str:
    return f"""Usage: {prog} merge [Options] FILE.xml...
Merges the XML outputs (-oX) of the pieces of one scan, from pynmap
(--shard I/N) or nmap run on parts of a target list, into the report of the
whole scan: hosts de-duplicated by address, "Not shown" ports and run stats
recomputed, each piece's command line kept.  Files of different scans
(other ports, scan types, -sV, --open, shard counts or seeds) are refused.
OUTPUT (the normal output goes to stdout unless one of these is "-"):
  -oN/-oX/-oG/-oJ <file>: Output the merged scan in normal, XML, Grepable or
     JSON format, respectively, to the given filename.
  -oA <basename>: Output in the three major formats at once
  --append-output: Append to rather than clobber specified output files
  -h: Print this help summary page.
To scan a host named "merge", do not put it first: {prog} -- merge
"""


class _Failure(InputError):
    """One line for stderr, and the exit status."""

    def __init__(self, message: str, exit_code: int = FAILURE_EXIT) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def run_merge(argv: list[str], stdout: TextIO, stderr: TextIO) -> int:
    """`argv` is the whole command line: program name, "merge", then the merge's own."""
    prog = f"{argv[0]} merge"
    try:
        return _run(argv[0], prog, argv[2:], stdout, stderr)
    except _Failure as failure:
        stdout.flush()
        stderr.write(f"{prog}: {failure.message}\n")
        stderr.flush()
        return failure.exit_code


def _run(name: str, prog: str, args: list[str], stdout: TextIO, stderr: TextIO) -> int:
    from pynmap.merge import MergeError, merge_reports
    from pynmap.report import Report, ReportError

    outputs: dict[str, str] = {}
    append = False
    lexer = Lexer([prog, *args], _GRAMMAR)
    try:
        for token in lexer:
            if token.name == "h":
                stdout.write(usage(name))
                stdout.flush()
                return 0
            if token.name == "append-output":
                append = True
                continue
            assert token.value is not None  # every other option takes a file name
            if token.value.startswith("-") and token.value != "-":
                raise _Failure(f"Output filename begins with '-'. Try '-{token.name} "
                               f"./{token.value}' if you really want it to be named as such.")
            if token.name == "oA":
                if token.value == "-":
                    raise _Failure("Cannot display multiple output types to stdout.")
                for option, _, suffix in _KINDS[:3]:
                    outputs[option] = token.value + suffix
            else:
                outputs[token.name] = token.value
    except UsageError as err:
        raise _Failure(f"{err.message}; see {name} merge -h", USAGE_EXIT) from None
    files = lexer.targets
    if not files:
        raise _Failure(f"no XML files to merge; see {name} merge -h", USAGE_EXIT)
    on_stdout = [option for option, path in outputs.items() if path == "-"]
    if "oJ" in on_stdout and len(on_stdout) > 1:
        raise _Failure("Cannot display multiple output types to stdout.")

    reports = []
    for path in files:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise _Failure(f"{path}: {e.strerror}") from None
        try:
            reports.append(Report.from_xml(data))
        except ReportError as e:
            raise _Failure(f"{path}: {e.message}") from None
    try:
        merged = merge_reports(reports, files)
    except MergeError as e:
        raise _Failure(e.message) from None

    texts: dict[str, Callable[[], str]] = {
        "oN": merged.to_normal, "oG": merged.to_grepable, "oX": merged.to_xml,
        "oJ": lambda: merged.to_json() + "\n"}
    # every file is opened before any is written, as a scan opens its outputs first
    opened: list[tuple[str, str, str, TextIO]] = []
    try:
        for option, kind, _ in _KINDS:
            target = outputs.get(option)
            if target is None or target == "-":
                continue
            try:
                stream: TextIO = open(  # noqa: SIM115 (closed in the finally below)
                    target, "a" if append else "w", encoding="utf-8")
            except OSError as e:
                raise _Failure(f"Failed to open {kind} output file {target} for writing: "
                               f"{e.strerror}") from None
            opened.append((option, kind, target, stream))
        for option, kind, target, stream in opened:
            try:
                stream.write(texts[option]())
                stream.flush()
            except OSError as e:
                raise _Failure(f"Failed to write {kind} output file {target}: "
                               f"{e.strerror}") from None
    finally:
        for *_, stream in opened:
            with contextlib.suppress(OSError):  # a failed write was reported above
                stream.close()
    for option in on_stdout or ["oN"]:
        stdout.write(texts[option]())
    stdout.flush()
    for report, path in zip(reports, files, strict=True):
        if not report.ok:
            stderr.write(f"{prog}: note: {path} ended with an error: "
                         f"{report.runstats.errormsg or 'no message'}\n")
    return 0
