"""The `pynmap` command: a Typer app whose one command runs nmap's grammar.

Typer (Click) cannot parse getopt_long_only's grammar (single-dash long
options, prefixes, permuted targets, `--` kept in the logged arguments), so
the Typer command takes the untouched argument list and hands it to
pynmap.command_line, which reads it with pynmap.options' table into Options;
a Session runs those, as the API's do.  This module is the only place that
prints an error and picks the exit status.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import sys
from typing import TextIO

from pynmap import signals
from pynmap.errors import Interrupted, NmapError, PlainExit
from pynmap.stdio import standard_stream

# nmap's fatal() exit status, also pynmap's for an internal error
INTERNAL_ERROR_EXIT = 1
# the first argument that makes a command line `pynmap merge ...` (pynmap.cli.merge)
MERGE = "merge"
# allocations (less deallocations) between collections of the young generation
_GC_YOUNG = 20_000


def program_name(argv0: str, search_path: str | None = None) -> str:
    """The name nmap would print: its argv[0], as the program was invoked.

    nmap, a C program, sees the argv[0] its caller chose: the bare name when
    a shell or execvp() found it through PATH, the path when it was run by
    path.  A console script cannot see that word: the kernel hands Python the
    path of the script it executed, so sys.argv[0] is a path either way.  The
    path is taken as found through PATH when it is exactly what a PATH search
    for its last component gives (`search_path`, the caller's PATH); then the
    bare name is printed, else the path as given.  The one case this gets
    wrong is an explicit path that is also what PATH finds.  `python -m
    pynmap` prints "pynmap".
    """
    base = os.path.basename(argv0)
    if base in ("__main__.py", ""):
        return "pynmap"
    if "/" in argv0 and _path_search(base, search_path) == argv0:
        return base
    return argv0


def _path_search(name: str, search_path: str | None) -> str | None:
    """The path a shell builds for `name` from PATH (an empty entry is the working directory)."""
    for entry in (os.defpath if search_path is None else search_path).split(os.pathsep):
        candidate = os.path.join(entry or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def run_cli(argv: list[str], stdout: TextIO, stderr: TextIO,
            environ: dict[str, str]) -> int:
    """Run one pynmap command line; return the exit status.

    Two steps, as the API's: the command line to Options
    (pynmap.command_line), then the Session that runs them.  `merge` as the
    very first argument is the subcommand instead (pynmap.cli.merge); a host
    of that name is scanned when it comes later (`pynmap -- merge`)."""
    from pynmap.command_line import parse_command_line
    from pynmap.session import Session

    argv = [program_name(argv[0], environ.get("PATH")) if argv else "pynmap", *argv[1:]]
    options = None

    def early_warning(line: str) -> None:
        """nmap's error() before any output file is open: stderr only."""
        stdout.flush()
        stderr.write(line + "\n")
        stderr.flush()

    def say(text: str) -> None:
        stdout.write(text)

    try:
        if len(argv) > 1 and argv[1] == MERGE:
            from pynmap.cli.merge import run_merge

            return run_merge(argv, stdout, stderr)
        options = parse_command_line(argv, environ, warn=early_warning, say=say)
        if options.cluster is not None:  # the only way Dask is ever imported
            from pynmap.cluster.driver import run_cluster

            return run_cluster(options, stdout, stderr)
        return Session(options, stdout=stdout, stderr=stderr).run()
    except PlainExit as exit_:
        stdout.write(exit_.stdout_text)
        stdout.flush()
        stderr.write(exit_.stderr_text)
        return exit_.exit_code
    except NmapError as err:
        stdout.flush()
        stderr.write(err.text)
        return err.exit_code
    except Interrupted:
        raise
    except Exception as exc:  # a bug: one line, never a traceback (unless -d asks for it)
        debugging = options.debugging if options is not None else 0
        internal_error(exc, argv[0], stdout, stderr, debugging=debugging)
        return INTERNAL_ERROR_EXIT


def internal_error(exc: BaseException, prog: str, stdout: TextIO | None, stderr: TextIO | None,
                   *, debugging: int = 0) -> None:
    """`<prog>: internal error: <type>: <message>` on stderr; the traceback too with -d."""
    with contextlib.suppress(Exception):
        if stdout is not None:
            stdout.flush()
    if stderr is None:
        return
    with contextlib.suppress(Exception):
        if debugging:
            import traceback

            stderr.write("".join(traceback.format_exception(exc)))
        stderr.write(f"{prog}: internal error: {type(exc).__name__}: {exc}\n")
        stderr.flush()


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv if argv is None else argv)
    prog = program_name(args[0], os.environ.get("PATH")) if args else "pynmap"
    # Failed writes are dropped as nmap's stdio drops them (pynmap.stdio); a
    # descriptor closed at start (`>&-`) is written to all the same, as nmap does.
    # (Streams a caller put in their place, as pytest's capsys does, are left alone.)
    if sys.stdout is None or sys.stdout is sys.__stdout__:
        sys.stdout = standard_stream(1, sys.stdout)
    if sys.stderr is None or sys.stderr is sys.__stderr__:
        sys.stderr = standard_stream(2, sys.stderr)
    signals.take_inherited()
    try:
        return _main(args, prog)
    except Interrupted as stop:
        signals.die_of(stop.signo)
    except KeyboardInterrupt:  # before the handlers were installed
        signals.die_of(signal.SIGINT)
    except Exception as exc:
        internal_error(exc, prog, sys.stdout, sys.stderr)
        return INTERNAL_ERROR_EXIT


def _main(args: list[str], prog: str) -> int:
    # The cyclic garbage collector finds nothing to free among the ~100,000
    # objects that importing Typer, Jinja and pynmap creates, yet walks them
    # all at every full collection and again at exit: a fifth of a small
    # scan's run.  So it is off while Typer is imported, and what exists then
    # and at the end is frozen (gc.freeze: left to reference counting alone).
    gc.disable()
    import typer

    gc.freeze()
    # A scan allocates by the million (probes, targets, answers) and nearly
    # all of it is freed by reference counting, much of it after a host
    # group's time, not a collection's: at the default threshold (700) the
    # young generation was collected over a thousand times on a /16, each
    # time walking the group's live objects and moving them to older
    # generations to be walked again.  The process is the command line's
    # own: an API caller's collector is left as it is.
    gc.set_threshold(_GC_YOUNG)
    gc.enable()
    status = 0
    completed = False
    # no pretty tracebacks: an unexpected exception is one line (internal_error)
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

    @app.command(context_settings={"help_option_names": [], "ignore_unknown_options": True,
                                   "allow_extra_args": True})
    def scan() -> None:
        nonlocal status, completed
        status = run_cli(args, sys.stdout, sys.stderr, dict(os.environ))
        completed = True

    try:
        app(args=[], prog_name=prog, standalone_mode=False)
    except typer.Abort as abort:  # Click's word for an EOFError that got away: a bug
        raise (abort.__cause__ or abort) from None
    if not completed:  # Typer turns a KeyboardInterrupt into a bare return of 130
        signals.die_of(signal.SIGINT)
    sys.stdout.flush()
    gc.freeze()  # the Reporter has closed its files: nothing left for a collection at exit
    return status
