"""pynmap as a library: a scan is a call that returns a Report.

    import pynmap

    report = pynmap.scan("198.18.0.0/29", ports="22,80", timing=4, skip_discovery=True)
    for host in report.hosts:
        print(host.address, [p.portid for p in host.ports_in(pynmap.State.OPEN)])

Keyword options are nmap's long options with `_` for `-` (`top_ports=100`,
`max_retries=2`, `host_timeout="30s"`), and a name for the few that only have
a letter (`timing=4` for -T4, `skip_discovery=True` for -Pn, `resolve="never"`
for -n ...): `OPTIONS` below is the whole list.  They become a command line
that goes through nmap's own option checks, so a bad value raises
`OptionError` with nmap's message and exit code, before anything is scanned;
an unknown keyword raises TypeError.  The scan then runs the very Session the
command line runs, non-interactive (no keyboard, no signal handlers, nothing
printed), and its Report is the one `-oJ` writes (pynmap.output.jsonout).

Four forms of one scan:
* `scan(...)` returns the Report (`on_host=` is called with each Host as it
  is reported, for progress);
* `scan_iter(...)` yields each Host as its host finishes (the scan runs in a
  worker thread); the generator's return value is the Report.  Closing the
  generator early (`close()`, leaving a `for` loop and dropping it) asks the
  scan to stop and waits for the thread: the scan stops at its next round of
  I/O (within about a second), open sockets are closed, and no thread outlives
  the close;
* `await scan_async(...)` runs `scan` in a worker thread, so the event loop is
  not blocked; cancelling the task stops the scan as closing scan_iter does;
* `async for host in scan_async_iter(...)`: scan_iter for asyncio.
Progress: every form takes `progress=`, a callable that gets a frozen
pynmap.apiprogress.Progress (exported as pynmap.Progress) as each scan phase
(host discovery's "Ping Scan", each host group's "Connect Scan") begins (0%),
about once a second while it runs, and when it ends (100%): the phase, the
percentage and estimated completion time of nmap's `About 42.00% done; ETC`
lines, and the host counts of its `Stats:` line.  Which hosts are finished
is what `on_host` and the iterators give.  A list scan, and -Pn's skipped
discovery, have no phase and no Progress.

Warnings: what nmap prints as warnings while it runs (its stderr lines such
as "Failed to resolve" or "Unable to split netmask", the warnings of its
option checks, and the engine's "Warning: ... giving up on port because
retransmission cap hit" that it prints without -v) are nothing printed
here: they are `report.warnings`, a tuple of those lines in order.  They are
not issued through Python's `warnings` module, whose filters would show each
only once per call site and whose catch_warnings is not thread-safe (the
iterators run the scan in a thread); a program that wants them shown
prints them.

An error the scan ends with is raised as the Error nmap would print
(OptionError for nmap's checks of the options, even those it makes after its
banner); an exception raised by `on_host` reaches the caller, and Ctrl-C is
KeyboardInterrupt.  Option errors are raised by the call itself in every
form (the iterators check their options before they return).  In a worker
thread the engine does not fork (engine/split.py): a scan of 10,000+ ports
per host runs on one core there.

`run(args)` is the command line as a call: nmap's output on sys.stdout and
sys.stderr, its exit status returned.

`scan_outputs(args, formats)` runs a command line (or Options `parse` made)
with its outputs rendered into strings instead of files: the texts -oN, -oG,
-oX, --json-lines and stdout would have received, where each one's host
reports begin and end, the warnings and the host counts.  It is what a
pynmap.cluster worker runs for each shard: the client stitches the shards'
host reports between headers and closing lines of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import os
import queue
import signal
import sys
import threading
from collections.abc import AsyncIterator, Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, TypeAlias

from pynmap.errors import Cancelled, Interrupted, NmapError, OptionError

if TYPE_CHECKING:
    from pynmap.apiprogress import Progress
    from pynmap.options import Options
    from pynmap.report import Host, Report

PROGRAM = "pynmap"

# What a keyword's value may be: a flag's bool, a number or text, or a list
# (written comma-separated, as nmap's lists are).
Value: TypeAlias = bool | int | float | str | Sequence[int | str]
OnHost = Callable[["Host"], None]
OnProgress = Callable[["Progress"], None]


@dataclass(frozen=True)
class Keyword:
    """How one keyword is written on nmap's command line.

    kind "flag": `spelling` when the value is True, nothing when False;
    "value": `spelling VALUE` (two words; a list is joined with `joiner`,
    commas as nmap's lists are written);
    "attached": `spellingVALUE` (one word: options whose argument is optional);
    "choice": the words `choices[value]`.
    """

    spelling: str
    kind: str = "value"
    choices: Mapping[str, tuple[str, ...]] | None = None
    joiner: str = ","


OPTIONS: Final[Mapping[str, Keyword]] = {
    # scan and discovery
    "list_scan": Keyword("-sL", "flag"),
    "ping_scan": Keyword("-sn", "flag"),
    "skip_discovery": Keyword("-Pn", "flag"),
    "syn_ping": Keyword("-PS", "attached"),
    "ack_ping": Keyword("-PA", "attached"),
    "echo_ping": Keyword("-PE", "flag"),
    # what needs no raw socket of nmap's root mode: MAC addresses, echo through ping sockets
    "privileged": Keyword("--privileged", "flag"),
    "ftp_bounce": Keyword("-b"),  # -b: "[user:pass@]server[:port]", the bounce scan's relay
    # ports
    "top_ports": Keyword("--top-ports"),
    "port_ratio": Keyword("--port-ratio"),
    "exclude_ports": Keyword("--exclude-ports"),
    "fast": Keyword("-F", "flag"),
    "allports": Keyword("--allports", "flag"),
    # targets and names
    "exclude": Keyword("--exclude"),
    "excludefile": Keyword("--excludefile"),
    "ipv6": Keyword("-6", "flag"),
    "randomize_hosts": Keyword("--randomize-hosts", "flag"),
    "resolve": Keyword("-n", "choice", {"default": (), "never": ("-n",), "always": ("-R",)}),
    "dns_servers": Keyword("--dns-servers"),
    "system_dns": Keyword("--system-dns", "flag"),
    "resolve_all": Keyword("--resolve-all", "flag"),
    "unique": Keyword("--unique", "flag"),
    # timing
    "timing": Keyword("-T"),
    "min_hostgroup": Keyword("--min-hostgroup"),
    "max_hostgroup": Keyword("--max-hostgroup"),
    "min_parallelism": Keyword("--min-parallelism"),
    "max_parallelism": Keyword("--max-parallelism"),
    "min_rtt_timeout": Keyword("--min-rtt-timeout"),
    "max_rtt_timeout": Keyword("--max-rtt-timeout"),
    "initial_rtt_timeout": Keyword("--initial-rtt-timeout"),
    "max_retries": Keyword("--max-retries"),
    "host_timeout": Keyword("--host-timeout"),
    "scan_delay": Keyword("--scan-delay"),
    "max_scan_delay": Keyword("--max-scan-delay"),
    "min_rate": Keyword("--min-rate"),
    "max_rate": Keyword("--max-rate"),
    # what the report holds
    "reason": Keyword("--reason", "flag"),
    "open_only": Keyword("--open", "flag"),
    "verbose": Keyword("-v", "attached"),  # -v2: down hosts, "Not shown" above 50 ports...
    # the connect() sockets
    "interface": Keyword("-e"),
    "source_address": Keyword("-S"),
    "ttl": Keyword("--ttl"),
    "datadir": Keyword("--datadir"),
    "servicedb": Keyword("--servicedb"),
    # pynmap's own: one shard of a scan split over several runs (shard="0/4" or (0, 4))
    "shard": Keyword("--shard", joiner="/"),
    "seed": Keyword("--seed"),
}


def _words(value: Value, name: str, joiner: str = ",") -> str:
    if isinstance(value, bool):
        raise TypeError(f"{name}= takes a value, not {value!r}")
    if isinstance(value, (int, float, str)):
        return str(value)
    if isinstance(value, Sequence) and all(
            isinstance(v, (int, str)) and not isinstance(v, bool) for v in value):
        return joiner.join(str(v) for v in value)
    raise TypeError(f"{name}= takes a number, text or a list of them, not {value!r}")


def build_argv(targets: str | Sequence[str], ports: Value | None = None,
               **options: Value) -> list[str]:
    """The command line (argv[0] first) that asks nmap for this scan.

    TypeError for an unknown keyword or a value of the wrong type, ValueError
    for a target that would read as an option; nmap's own checks come later
    (parse)."""
    argv = [PROGRAM]
    for name, value in options.items():
        keyword = OPTIONS.get(name)
        if keyword is None:
            raise TypeError(f"scan() got an unexpected keyword argument {name!r}")
        if keyword.kind == "flag":
            if not isinstance(value, bool):
                raise TypeError(f"{name}= takes True or False, not {value!r}")
            if value:
                argv.append(keyword.spelling)
        elif keyword.kind == "choice":
            assert keyword.choices is not None
            key = str(value)
            if key not in keyword.choices:
                raise TypeError(f"{name}= takes one of {', '.join(map(repr, keyword.choices))}, "
                                f"not {value!r}")
            argv.extend(keyword.choices[key])
        elif keyword.kind == "attached":
            argv.append(keyword.spelling + _words(value, name))
        else:
            argv.extend((keyword.spelling, _words(value, name, keyword.joiner)))
    if ports is not None:
        argv.extend(("-p", _words(ports, "ports")))
    words = [targets] if isinstance(targets, str) else list(targets)
    for word in words:
        if not isinstance(word, str):
            raise TypeError(f"a target is a str, not {word!r}")
        if word.startswith("-"):
            raise ValueError(f"a target cannot begin with '-': {word!r}")
    argv.extend(words)
    return argv


def parse(argv: list[str], warnings: list[str] | None = None) -> Options:
    """nmap's reading of the options, as the command line's; OptionError for what
    it refuses.  The run is made non-interactive (not on its logged command line).
    The warnings nmap prints while it reads them are added to `warnings`."""
    from pynmap.options import parse_options
    from pynmap.texts import usage_text, version_text

    def ignore(_line: str) -> None:
        pass

    try:
        options = parse_options(argv, warn=ignore if warnings is None else warnings.append,
                                say=ignore, usage=usage_text, version=version_text)
    except NmapError as err:
        raise OptionError.of(err) from None
    return options.replace(noninteractive=True)


class _Collect:
    """The run's ReportSink: hands each Host to `on_host`, keeps the Report."""

    def __init__(self, on_host: OnHost | None) -> None:
        self.on_host = on_host
        self.result: Report | None = None

    def host(self, host: Host) -> None:
        if self.on_host is not None:
            self.on_host(host)

    def report(self, report: Report) -> None:
        self.result = report


def _run(argv: list[str], options: Options, on_host: OnHost | None,
         cancel: threading.Event | None, progress: OnProgress | None = None,
         early: Sequence[str] = ()) -> Report:
    """One Session, as the command line runs it, with the interactive output
    and stderr sent nowhere; an error the run ends with is raised."""
    from pynmap.session import Session

    sink = _Collect(on_host)
    in_main = threading.current_thread() is threading.main_thread()
    with open(os.devnull, "w", encoding="utf-8") as null:
        session = Session(options, stdout=null, stderr=io.StringIO(), sink=sink,
                          cancel=cancel, split=in_main, progress=progress)
        try:
            status = session.run()
        except Interrupted as stop:
            # the CLI's form of Ctrl-C (it dies of the signal); a caller gets Python's
            if stop.signo == signal.SIGINT:
                raise KeyboardInterrupt from None
            raise
    if session.error is not None:
        if not session.scanning_targets:  # nmap's checks of the options, after its banner
            raise OptionError.of(session.error)
        raise session.error
    if status != 0 or sink.result is None:  # not reached: every failure is an NmapError
        raise RuntimeError(f"the scan ended with status {status} and no report")
    if early:  # the warnings of reading the options come first, as nmap prints them
        return dataclasses.replace(sink.result, warnings=(*early, *sink.result.warnings))
    return sink.result


def scan(targets: str | Sequence[str], ports: Value | None = None, *,
         on_host: OnHost | None = None, progress: OnProgress | None = None,
         **options: Value) -> Report:
    """Scan `targets` (a target word or a list of them, as nmap reads them) and
    return the Report; `ports` is -p's value (text or a list of ports); see
    OPTIONS for the keywords.  `on_host(host)` is called as each host is reported,
    `progress(p)` with each phase's pynmap.apiprogress.Progress (module docstring)."""
    argv = build_argv(targets, ports, **options)
    early: list[str] = []
    return _run(argv, parse(argv, early), on_host, None, progress, early)


class _End:
    """The worker's last word on a queue: the Report, or what stopped the run."""

    def __init__(self, report: Report | None, error: BaseException | None) -> None:
        self.report = report
        self.error = error


def _worker(argv: list[str], options: Options, put: Callable[[Host | _End], None],
            cancel: threading.Event, progress: OnProgress | None,
            early: Sequence[str]) -> Callable[[], None]:
    def work() -> None:
        report: Report | None = None
        error: BaseException | None = None
        try:
            report = _run(argv, options, put, cancel, progress, early)
        except Cancelled:
            pass
        except BaseException as exc:  # handed to the consumer, raised there
            error = exc
        put(_End(report, error))

    return work


def scan_iter(targets: str | Sequence[str], ports: Value | None = None, *,
              progress: OnProgress | None = None,
              **options: Value) -> Generator[Host, None, Report]:
    """Each Host as its host finishes; the generator returns the Report.

    The scan runs in a worker thread; closing the generator stops it and
    waits for the thread (see the module docstring).  `progress` is called
    in that thread."""
    argv = build_argv(targets, ports, **options)
    early: list[str] = []
    return _iterate(argv, parse(argv, early), progress, early)


def _iterate(argv: list[str], options: Options, progress: OnProgress | None,
             early: Sequence[str]) -> Generator[Host, None, Report]:
    hosts: queue.SimpleQueue[Host | _End] = queue.SimpleQueue()
    cancel = threading.Event()
    thread = threading.Thread(target=_worker(argv, options, hosts.put, cancel, progress, early),
                              name="pynmap-scan", daemon=True)
    thread.start()
    try:
        while not isinstance(item := hosts.get(), _End):
            yield item
    finally:
        cancel.set()  # a no-op once the scan is over
        thread.join()
    if item.error is not None:
        raise item.error
    assert item.report is not None
    return item.report


async def scan_async(targets: str | Sequence[str], ports: Value | None = None, *,
                     on_host: OnHost | None = None, progress: OnProgress | None = None,
                     **options: Value) -> Report:
    """`scan` for asyncio: the scan runs in a worker thread, the loop goes on.

    `on_host` and `progress` are called in that thread.  Cancelling the task
    stops the scan."""
    argv = build_argv(targets, ports, **options)
    early: list[str] = []
    parsed = parse(argv, early)
    cancel = threading.Event()
    try:
        return await asyncio.to_thread(_run, argv, parsed, on_host, cancel, progress, early)
    except asyncio.CancelledError:
        cancel.set()
        raise


def scan_async_iter(targets: str | Sequence[str], ports: Value | None = None, *,
                    progress: OnProgress | None = None,
                    **options: Value) -> AsyncIterator[Host]:
    """`scan_iter` for asyncio: `async for host in scan_async_iter(...)`.

    Leaving the loop early (or `aclose()`) stops the scan and waits for it.
    `progress` is called in the scan's worker thread."""
    argv = build_argv(targets, ports, **options)
    early: list[str] = []
    return _aiterate(argv, parse(argv, early), progress, early)


async def _aiterate(argv: list[str], options: Options, progress: OnProgress | None,
                    early: Sequence[str]) -> AsyncIterator[Host]:
    loop = asyncio.get_running_loop()
    hosts: asyncio.Queue[Host | _End] = asyncio.Queue()
    cancel = threading.Event()

    def put(item: Host | _End) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting
            loop.call_soon_threadsafe(hosts.put_nowait, item)

    done = loop.run_in_executor(None, _worker(argv, options, put, cancel, progress, early))
    try:
        while not isinstance(item := await hosts.get(), _End):
            yield item
    finally:
        cancel.set()
        await asyncio.shield(done)
    if item.error is not None:
        raise item.error


# scan_outputs' formats: OutputSpec's fields, and what the terminal would show
FORMATS: Final = ("stdout", "normal", "grepable", "xml", "json_lines")
_MEMORY = "<memory>"  # the file name an output rendered into a string gets


class Outputs:
    """What `scan_outputs` returns.

    `texts[f]` is the whole text of output format `f` (one of FORMATS asked
    for), `hosts(f)` its part between the headers and the closing lines: the
    host reports, with what the run wrote among them (warnings in "normal",
    -v's task lines in "stdout" and "xml").  `warnings` are the lines the run
    printed on stderr, `scan_warnings` those of them it printed while it
    scanned (between the headers and the closing lines), `up` and `total` its
    counts of hosts up and scanned.
    """

    __slots__ = ("_spans", "scan_warnings", "texts", "total", "up", "warnings")

    def __init__(self, texts: Mapping[str, str], spans: Mapping[str, tuple[int, int]],
                 warnings: Sequence[str], scan_warnings: Sequence[str], up: int,
                 total: int) -> None:
        self.texts = dict(texts)
        self._spans = dict(spans)
        self.warnings = tuple(warnings)
        self.scan_warnings = tuple(scan_warnings)
        self.up = up
        self.total = total

    def hosts(self, fmt: str) -> str:
        begin, end = self._spans[fmt]
        return self.texts[fmt][begin:end]

    def __reduce__(self) -> tuple[type[Outputs], tuple[object, ...]]:
        return Outputs, (self.texts, self._spans, self.warnings, self.scan_warnings, self.up,
                         self.total)


def scan_outputs(args: Sequence[str] | Options, formats: Sequence[str] = ("normal", "xml"), *,
                 progress: OnProgress | None = None,
                 cancel: threading.Event | None = None) -> Outputs:
    """Run a command line (the words after the program name, or Options that `parse`
    made) with the output `formats` (FORMATS) rendered into strings; no file is
    written, whatever output options the command line holds.  An error the run
    ends with is raised as `scan` raises it; `cancel`, once set, stops the run
    (Cancelled)."""
    from pynmap.options import Options as ParsedOptions
    from pynmap.session import Session

    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise ValueError(f"unknown output formats {unknown}; they are {FORMATS}")
    options = args if isinstance(args, ParsedOptions) else parse([PROGRAM, *args])
    files = {f: (_MEMORY if f in formats else None) for f in FORMATS if f != "stdout"}
    options = options.replace(noninteractive=True, kiddie_file=None, json_file=None,
                              append_output=False,
                              **{f"{f}_file": name for f, name in files.items()})
    streams: dict[str, io.StringIO] = {f: io.StringIO() for f in formats}
    marks: dict[str, dict[str, int]] = {}
    stderr = io.StringIO()

    def milestone(name: str) -> None:
        marks[name] = {f: stream.tell() for f, stream in streams.items()}
        marks[name]["stderr"] = stderr.tell()

    in_main = threading.current_thread() is threading.main_thread()
    with open(os.devnull, "w", encoding="utf-8") as null:
        session = Session(options, stdout=streams.get("stdout", null), stderr=stderr,
                          cancel=cancel, split=in_main, progress=progress,
                          outputs={f: s for f, s in streams.items() if f != "stdout"},
                          milestone=milestone)
        try:
            session.run()
        except Interrupted as stop:
            if stop.signo == signal.SIGINT:
                raise KeyboardInterrupt from None
            raise
    if session.error is not None:
        if not session.scanning_targets:
            raise OptionError.of(session.error)
        raise session.error
    texts = {f: stream.getvalue() for f, stream in streams.items()}
    spans = {f: (marks["hosts"][f], marks["closing"][f]) for f in streams}
    errors = stderr.getvalue()
    during = errors[marks["hosts"]["stderr"]:marks["closing"]["stderr"]]
    return Outputs(texts, spans, errors.splitlines(), during.splitlines(), session.stats.up,
                   session.stats.total)


def run(args: Sequence[str]) -> int:
    """The command line as a call: `run(["-sT", "-p", "22", "host"])` is
    `pynmap -sT -p 22 host` (the arguments, without the program name), with
    sys.stdout, sys.stderr and os.environ; returns the exit status."""
    from pynmap.cli.app import run_cli

    return run_cli([PROGRAM, *args], sys.stdout, sys.stderr, dict(os.environ))
