"""The Reporter: nmap's output streams, fed event by event while the scan runs.

The CLI drives it in this order::

    rep = Reporter(spec, services.name, stdout=sys.stdout, stderr=sys.stderr)
    rep.open_files()                     # may raise errors.SystemFatal
    rep.banner(start)                    # "Starting Nmap 7.93 ..."
    rep.begin(args=argv, start=now, scan_ports=ports, scan_type="connect")
    rep.task_begin("Ping Scan", t) ... rep.hosthint(h) ... rep.task_end("Ping Scan", t, "1 total hosts")
    rep.host(h, scan_type="connect")    # once per host, in report order
    rep.finish(stats=stats, end=t, elapsed=s, pre_done_lines=["Read data files from: ..."])

and, instead of `finish`, `rep.fatal(err)` on an error or `rep.interrupted(end, elapsed)`
on SIGINT/SIGTERM.  Everything is written and flushed as it happens (a host's
report in every format at once; list-scan lines at least every 50 ms), nothing
is kept in memory.  Times are seconds since the epoch; `elapsed` is seconds
since nmap started.

Public calls (all lines are given without their newline):

* `open_files()`; `close()` (idempotent; `finish`/`fatal`/`interrupted` call it)
* `banner(start)`, `begin(*, args, start, scan_ports, scan_type, resuming=False)`
* `interactive(line)` stdout only; `plain(line)` stdout, -oN, -oS (the -d timing
  report, ...); `packet_trace(line)` stdout and -oN; `warning(line)` stderr and -oN
* `task_begin(task, when)`, `task_end(task, when, extrainfo=None)`,
  `task_progress(task, when, done, time_left)`: stdout and XML (begin/end with -v only)
* `hosthint(host)`, `skipped_target(spec)`: XML only
* `host(host, *, scan_type)`; scan_type is "list", "ping" (-sn) or "connect"
* `finish(*, stats, end, elapsed, pre_done_lines=(), ping_disabled=False)`
* `fatal(err, *, stats=None, end=None, elapsed=None)`
* `interrupted(end, elapsed, *, stats=None, message=...)`

Where lines go (nmap's log types):

* interactive stdout (`interactive`, `task_*`, banner, "Nmap done"): the
  `stdout` given, muted when -v0 was typed anywhere on the command line
  (`OutputSpec.quiet`; a later -v does not undo it) or when any output file is "-";
* host reports and `plain` lines: stdout, -oN and -oS;
* warnings (`warning`, nmap's error()) and fatal errors: stderr and -oN;
* `# Nmap ... scan initiated` / `# Nmap done at`: -oN and -oG;
* XML: -oX only.

Decided here rather than in the CLI:

* `--reason` is implied by -vv and by -d: `OutputSpec.show_reason`.  (Any -d,
  even -d0, turns --reason on in nmap; the CLI passes reason=True for it.)
  -d3 and above imply --packet-trace: `OutputSpec.traces_packets`.
* Which hosts are reported at all (down hosts only with -v and without
  --open; port-scanned hosts under --open only with an open port) and the
  "Not shown" collapsing (`pynmap.output.context`).
* `finish` prints nmap's closing notes itself: stderr `WARNING: No targets
  were specified, so 0 hosts scanned.` when no address was processed, and
  `Note: Host seems down...` when the single address scanned was down (not
  for -sL, not when `ping_disabled`, i.e. -Pn).
* The default stylesheet href: see `pynmap.output.stylesheet`.
* When several formats go to stdout (`-oN - -oG -`, `-oX - -oN -`), their
  headers, host reports and trailers are written piece by piece in nmap's
  order (`pynmap.output.interleave`), and error lines go to -oN and stderr
  call by call, so even a merged 2>&1 matches nmap's.
* When an output file leads where another output leads (`-oX f -oN f`,
  `-oN /dev/stderr -oG /dev/stdout` with 2>&1), every stream but stderr is
  held and released where nmap flushes its stdio buffers
  (`pynmap.output.samefile`), so the file or pipe reads as nmap's does.
* `interrupted` closes the XML with `exit="error"` so the file stays
  well-formed (nmap itself leaves it cut short); the other files are left as
  they are, without trailers.
"""

from __future__ import annotations

import functools
import math
import os
import random
import re
import time
from collections.abc import Callable, Mapping, Sequence
from types import EllipsisType
from typing import TYPE_CHECKING, Any, NamedTuple, TextIO, cast

from pynmap.errors import Fatal, NmapError, PlainExit, SystemFatal
from pynmap.output import fmt
from pynmap.output.context import (
    ServiceName,
    ViewOptions,
    build_host_view,
    host_kind,
    is_reported,
)
from pynmap.output.interleave import (
    FLUSH_ALL_AFTER,
    FLUSH_INFO_AFTER,
    FLUSH_PLAIN_AFTER,
    header_pieces,
    host_calls,
    host_pieces,
    host_segments,
    split_xml_end,
)
from pynmap.output.kiddie import kiddie
from pynmap.output.portstencil import PortStencil
from pynmap.output.render import macros
from pynmap.output.samefile import HeldStream, release, share_a_destination
from pynmap.output.stencil import ListStencil, Rendered
from pynmap.output.stylesheet import stylesheet_href
from pynmap.plain import FrozenData, replace
from pynmap.results import HostResult, RunStats
from pynmap.stdio import LogFile, StdoutFormat, open_output, stdout_buffer

if TYPE_CHECKING:
    from pynmap.output.jsonout import JsonOutput, ReportSink
    from pynmap.report import Host

# (OutputSpec field, Reporter attribute, nmap's name for the file in its
# open error, its log type), in the order nmap opens them.
_FILES = (
    ("normal", "_normal", "normal", 1),
    ("grepable", "_grep", "machine", 2),
    ("kiddie", "_skid", "$Cr!pT |<!dd!3", 4),
    ("xml", "_xml", "XML", 8),
)
# The XML elements a host report opens, which nmap's fatal() closes.
_XML_NESTING = re.compile(r"<(/?)(host|ports)[ >]")
# Each format's Reporter attribute, in nmap's log order (its LOG_* bits).
_LOG_ORDER = (("normal", "_normal"), ("grepable", "_grep"), ("kiddie", "_skid"), ("xml", "_xml"))
_ATTRS = dict(_LOG_ORDER)
# Each format's text in a Rendered (normal, grepable, xml), in _LOG_ORDER.
_RENDERED_INDEX = (0, 1, 0, 2)
# nmap formats its error message into a 1024-byte buffer.
_ERRBUF = 1023
# Longest delay before a list-scan host line reaches its files (seconds).
_LIST_FLUSH = 0.05


class OutputSpec(FrozenData):
    __match_args__ = ("normal", "grepable", "xml", "kiddie", "append", "stylesheet", "verbosity",
                      "debugging", "reason", "open_only", "packet_trace", "quiet", "json",
                      "json_lines", "service_scan")
    __slots__ = __match_args__

    def __init__(self, normal: str | None = None, grepable: str | None = None,
                 xml: str | None = None, kiddie: str | None = None, append: bool = False,
                 stylesheet: str | EllipsisType | None = ..., verbosity: int = 0,
                 debugging: int = 0, reason: bool = False, open_only: bool = False,
                 packet_trace: bool = False, quiet: bool = False, json: str | None = None,
                 json_lines: str | None = None, service_scan: bool = False) -> None:
        self.normal = normal  # -oN path, "-" = stdout
        self.grepable = grepable  # -oG
        self.xml = xml  # -oX
        self.kiddie = kiddie  # -oS
        self.append = append  # --append-output
        # The <?xml-stylesheet?> href; None = --no-stylesheet.  Left out (...), it is
        # computed when the spec is made: stylesheet_href(datadir) for --datadir.
        self.stylesheet = (stylesheet_href() if isinstance(stylesheet, EllipsisType)
                           else stylesheet)
        self.verbosity = verbosity
        self.debugging = debugging
        self.reason = reason  # --reason, or any -d
        self.open_only = open_only  # --open
        self.packet_trace = packet_trace
        self.quiet = quiet  # -v0 was typed: nmap sends its interactive stream to /dev/null
        self.json = json  # -oJ (pynmap's own)
        self.json_lines = json_lines  # --json-lines (pynmap's own)
        # -sV: the VERSION column, "?" after unconfirmed names, and the closing
        # "Service detection performed" line
        self.service_scan = service_scan

    @property
    def show_reason(self) -> bool:
        return self.reason or self.verbosity > 1 or self.debugging > 0

    @property
    def traces_packets(self) -> bool:
        """--packet-trace, which -d3 and above turn on as well."""
        return self.packet_trace or self.debugging >= 3

    @property
    def stdout_muted(self) -> bool:
        return self.quiet or "-" in (self.normal, self.grepable, self.xml, self.kiddie,
                                     self.json, self.json_lines)


def expand_log_filename(name: str, when: float) -> str:
    """nmap's strftime-like escapes in output file names (%H %M %S %T %R %m %d %y %Y %D %F)."""
    tm = time.localtime(int(when))
    codes = {
        "H": f"{tm.tm_hour:02d}",
        "M": f"{tm.tm_min:02d}",
        "S": f"{tm.tm_sec:02d}",
        "T": f"{tm.tm_hour:02d}{tm.tm_min:02d}{tm.tm_sec:02d}",
        "R": f"{tm.tm_hour:02d}{tm.tm_min:02d}",
        "m": f"{tm.tm_mon:02d}",
        "d": f"{tm.tm_mday:02d}",
        "y": f"{tm.tm_year % 100:02d}",
        "Y": f"{tm.tm_year}",
        "D": f"{tm.tm_mon:02d}{tm.tm_mday:02d}{tm.tm_year % 100:02d}",
        "F": f"{tm.tm_year}-{tm.tm_mon:02d}-{tm.tm_mday:02d}",
    }
    out: list[str] = []
    chars = iter(name)
    for ch in chars:
        if ch != "%":
            out.append(ch)
            continue
        code = next(chars, None)
        if code is None:  # a trailing lone % is dropped
            break
        out.append(codes.get(code, code))
    return "".join(out)


def _errormsg(err: NmapError) -> str:
    if isinstance(err, Fatal):
        message = err.message
    elif isinstance(err, SystemFatal):
        message = f"{err.message}: {os.strerror(err.errno)} ({err.errno})"
    else:
        message = err.text.rstrip("\n")
    data = message.encode("utf-8", "surrogateescape")
    if len(data) > _ERRBUF:
        message = data[:_ERRBUF].decode("utf-8", "surrogateescape")
    return message


def _too_big(texts: Sequence[str], blksize: int) -> bool:
    """Could these texts, written between two flushes, overflow a stdio buffer?"""
    size = sum(map(len, texts))
    if size * 4 <= blksize:  # even if every character took four bytes
        return False
    return sum(len(t.encode("utf-8", "surrogateescape")) for t in texts) > blksize


class _Plan(NamedTuple):
    """The open streams' part in a host report, in _LOG_ORDER."""

    files: tuple[tuple[int, int], ...]  # output files: (text's index in Rendered, blksize)
    on_stdout: tuple[int, ...]  # the other streams' texts: they share stdout's buffer
    stdout_blksize: int | None  # None when stdout is not pynmap's own (_Stdout)
    flushes: tuple[Callable[[], object], ...]  # _flush_outputs' calls


def _ordinal_suffix(n: int) -> str:
    a = n % 100
    if 11 <= a <= 13:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(a % 10, "th")


class Reporter:
    """Writes every output format as scan events arrive (see the module docstring)."""

    def __init__(
        self,
        spec: OutputSpec,
        service_name: ServiceName,
        *,
        stdout: TextIO,
        stderr: TextIO,
        rng: random.Random | None = None,
        sink: ReportSink | None = None,
        streams: Mapping[str, TextIO] | None = None,
    ) -> None:
        self.spec = spec
        # outputs written to streams the caller gives (OutputSpec field -> stream)
        # rather than to the files the spec names (pynmap.api.scan_outputs)
        self._given = dict(streams or {})
        # the API's receiver of the run's Report objects (the -oJ path, without a file)
        self._sink = sink
        self._service_name = service_name
        self._stdout = stdout
        self._stderr = stderr
        self._out: TextIO | None = None if spec.stdout_muted else stdout
        self._normal: TextIO | None = None
        self._grep: TextIO | None = None
        self._skid: TextIO | None = None
        self._xml: TextIO | None = None
        # -oJ / --json-lines (pynmap.output.jsonout, imported only when asked for)
        self._json: JsonOutput | None = None
        self._owned: list[TextIO] = []
        self._logs: list[LogFile] = []  # the output files (self._owned, as what they are)
        self._xml_open: list[str] = []  # <host>, <ports> left open by a report cut short
        # Reports are written in nmap's calls (stdout and an output file are one file)
        self._in_calls = False
        self._xml_root = False  # <nmaprun> has been opened
        self._xml_done = False  # </nmaprun> has been written
        self._start: float | None = None
        self._scan_type = "connect"
        self._task_start: dict[str, float] = {}
        self._opts = ViewOptions(
            verbosity=spec.verbosity,
            debugging=spec.debugging,
            show_reason=spec.show_reason,
            open_only=spec.open_only,
            service_scan=spec.service_scan,
        )
        self._rng = rng or random.Random()
        self._m_console = macros("console")
        self._m_normal = macros("normal")
        self._m_grep = macros("grepable")
        self._m_xml = macros("xml")
        self._stencil = ListStencil(self._render_list_host)
        self._port_stencil = PortStencil(service_name)
        self._last_flush = 0.0
        # formats written to stdout ("-"), in nmap's log order, when more than one is:
        # their writes then interleave as nmap's do (pynmap.output.interleave)
        self._shared: tuple[str, ...] = ()
        # an output file leads where another output does: every stream is held and
        # released where nmap flushes its logs (pynmap.output.samefile)
        self._emulating = False
        # the streams' part in each host report, worked out again whenever they
        # change: in open_files and close
        self._plan = self._make_plan()

    def adjust(self, **changes: Any) -> None:
        """Runtime interaction (v/V, d/D, p/P): the spec's levels change mid-scan.

        The REASON column stays as the command line set it: nmap decides its
        --reason once, after reading the options, and keys do not change it.
        """
        self.spec = replace(self.spec, **changes)
        self._opts = replace(
            self._opts,
            verbosity=self.spec.verbosity,
            debugging=self.spec.debugging,
        )

    # ------------------------------------------------------------------ files

    def open_files(self) -> None:
        """Open the output files in nmap's order: normal, grepable, kiddie, XML.

        The templates the run will need are read first: reading one takes a
        descriptor for a moment, and one that could not be read for want of
        a descriptor (a tight `ulimit -n`) would be an internal error; nmap
        has no such files, and fails where pynmap then fails too."""
        self._m_console.load()
        self._m_normal.load()
        if self.spec.grepable is not None:
            self._m_grep.load()
        if self.spec.xml is not None:
            self._m_xml.load()
        for spec_field, attr, log_name, logt in _FILES:
            path: str | None = getattr(self.spec, spec_field)
            if path is None:
                continue
            given = self._given.get(spec_field)
            if given is not None:
                setattr(self, attr, given)
                continue
            if path == "-":
                # nmap checks these writes (fwrite), not the interactive ones
                stream: TextIO = cast(TextIO, StdoutFormat(self._stdout, logt))
            else:
                try:
                    # write errors are dropped there, as nmap's fprintf() drops them
                    log = open_output(path, append=self.spec.append, logt=logt)
                except OSError as exc:
                    raise SystemFatal(
                        f"Failed to open {log_name} output file {path} for writing",
                        exc.errno or 0,
                    ) from None
                self._logs.append(log)
                stream = cast(TextIO, log)
                self._owned.append(stream)
            setattr(self, attr, stream)
        on_stdout = tuple(name for name, attr in _LOG_ORDER
                          if isinstance(getattr(self, attr), StdoutFormat))
        self._shared = on_stdout if len(on_stdout) > 1 else ()
        files = [s for s in (self._normal, self._grep, self._skid, self._xml)
                 if s is not None and s is not self._stdout]
        if files and share_a_destination(files, (self._stdout, self._stderr)):
            self._hold_streams()
        # stdout closed at start (`>&-`): the first file opened took its descriptor,
        # and nmap's two buffers interleave there at its flushes
        self._in_calls = any(log.fileno() == 1 for log in self._logs)
        self._plan = self._make_plan()
        if (self.spec.json is not None or self.spec.json_lines is not None
                or self._sink is not None):
            self._open_json()

    def _open_json(self) -> None:
        """-oJ and --json-lines, opened after nmap's own files (their failures come
        after nmap's, with nmap's message shape and exit code)."""
        from pynmap.output.jsonout import JsonOutput, open_json

        streams: list[TextIO | None] = []
        for path, what in ((self.spec.json, "JSON"), (self.spec.json_lines, "JSON Lines")):
            given = self._given.get("json" if what == "JSON" else "json_lines")
            if path is None:
                streams.append(None)
            elif given is not None:
                streams.append(given)
            elif path == "-":
                streams.append(self._stdout)
            else:
                try:
                    stream = open_json(path, append=self.spec.append)
                except OSError as exc:
                    raise SystemFatal(f"Failed to open {what} output file {path} for writing",
                                      exc.errno or 0) from None
                self._owned.append(stream)
                streams.append(stream)
        self._json = JsonOutput(streams[0], streams[1], self._sink)

    def _hold_streams(self) -> None:
        """Every stream but stderr (unbuffered in nmap) becomes a HeldStream."""
        self._emulating = True
        held: dict[int, HeldStream] = {}
        for attr in ("_stdout", "_normal", "_grep", "_skid", "_xml", "_out"):
            stream = getattr(self, attr)
            if stream is not None:
                setattr(self, attr, held.setdefault(id(stream), HeldStream(stream)))

    def close(self) -> None:
        """Flush everything and close the files this Reporter opened (idempotent)."""
        self._flush_all()
        for stream in self._owned:
            stream.close()
        self._owned.clear()
        self._logs.clear()
        self._normal = self._grep = self._skid = self._xml = None
        self._plan = self._make_plan()

    def _flush_all(self) -> None:
        """nmap's log_flush_all(): the files in log order, then stdout, then stderr."""
        for stream in (self._normal, self._grep, self._skid, self._xml, self._stdout, self._stderr):
            if stream is not None and not stream.closed:
                release(stream)

    # ----------------------------------------------------------- plain writes

    def _to_stdout(self, text: str) -> None:
        if self._out is not None:
            self._out.write(text)

    def _to_skid(self, text: str) -> None:
        if self._skid is not None:
            self._skid.write(kiddie(text, self._rng))

    def _plain_text(self, text: str) -> None:
        self._to_stdout(text)
        if self._normal is not None:
            self._normal.write(text)
        self._to_skid(text)

    def interactive(self, text: str, *, flush: bool = True) -> None:
        """One line (without its newline) for the interactive stream only: progress, notes.

        `flush=False` for the lines nmap leaves in its stdout buffer ("Scanning ...",
        the sending rates, the DNS summary); it matters only when stdout shares a
        file with an output file (pynmap.output.samefile).
        """
        if self._out is not None:
            self._out.write(text + "\n")
            if flush or not self._emulating:
                release(self._out)

    def stdout_text(self, text: str) -> None:
        """Text for the interactive stream as nmap's log_write(LOG_STDOUT) writes it,
        newlines its own (the bounce scan echoes what its FTP relay said)."""
        if self._out is not None:
            self._out.write(text)
            if not self._emulating:
                release(self._out)

    def perror(self, text: str) -> None:
        """The C library's perror(): the line (without its newline) on stderr only."""
        self.record_warning(text)
        self._stderr.write(text + "\n")
        self._stderr.flush()

    def plain(self, text: str) -> None:
        """One line (without its newline) for stdout, -oN and -oS: the -d timing report,
        "Read data files from", ...; nmap's LOG_PLAIN."""
        self._plain_text(text + "\n")
        if not self._emulating:  # nmap does not flush after its LOG_PLAIN lines
            self._flush_all()

    def packet_trace(self, text: str) -> None:
        """One --packet-trace line (without its newline): stdout and -oN; nothing
        unless `spec.traces_packets`."""
        if not self.spec.traces_packets:
            return
        self._to_stdout(text + "\n")
        if self._normal is not None:
            self._normal.write(text + "\n")

    def warning(self, text: str) -> None:
        """nmap's error(): the line (without its newline) on stderr and in -oN."""
        self.record_warning(text)
        self._error_calls(text, "\n")

    def record_warning(self, text: str) -> None:
        """A warning for the Report's `warnings` (the API's; -oJ does not write them)."""
        if self._json is not None:
            self._json.warning(text)

    def _error_calls(self, *calls: str) -> None:
        """Text nmap writes to -oN and stderr, one write of each per call, with
        stdout flushed before each stderr write: with -oN - and stderr on the
        same file as stdout, the message shows twice before its newline, as
        nmap's does."""
        for text in calls:
            if self._normal is not None:
                self._normal.write(text)
                self._normal.flush()  # held (not flushed) when emulating, as in nmap
            release(self._stdout)
            self._stderr.write(text)
            self._stderr.flush()

    # ----------------------------------------------------------------- events

    def banner(self, start: float) -> None:
        """`Starting Nmap 7.93 ( https://nmap.org ) at 2026-11-25 03:08 UTC` (stdout, -oS).

        With -v, nmap adds a greeting on its birthday (September 1) and at Christmas.
        """
        self._start = start
        month, day = fmt.local_day(start)
        year = time.localtime(int(start)).tm_year
        verbose = self.spec.verbosity > 0
        birthday: dict[str, Any] | None = None
        if verbose and (month, day) == (9, 1):
            age = year - 1997
            birthday = {"age": age, "suffix": _ordinal_suffix(age), "wish": year - 1897}
        text = self._m_console.banner(
            {
                "when": fmt.banner_time(start),
                "birthday": birthday,
                "christmas": verbose and (month, day) == (12, 25),
            }
        )
        self._to_stdout(text)
        self._to_skid(text)
        if self._emulating:
            release(self._stdout)  # nmap flushes stdout (and stderr) before its headers
        else:
            self._flush_all()

    def begin(
        self,
        *,
        args: Sequence[str],
        start: float,
        scan_ports: Sequence[int] | None,
        scan_type: str,
        resuming: bool = False,
        scan_kind: str = "connect",
    ) -> None:
        """The headers: XML prologue and root, `# Nmap ... scan initiated` in -oN/-oG,
        `# Ports scanned` in -oG with -v.

        `args` is the argv as nmap logs it (after option permutation, argv[0]
        first); `scan_type` is "list", "ping" or "connect".  With `resuming`
        (--resume), nmap appends to the old XML without a new prologue.
        `scan_kind` is the port scan's <scaninfo> type: "connect", or "bounce" (-b).
        """
        self._scan_type = scan_type
        if self._start is None:
            self._start = start
        ports = sorted(scan_ports) if scan_type == "connect" and scan_ports else []
        d = {
            "ctime": fmt.ctime(start),
            "args": fmt.join_quoted(args),
            "start": int(start),
            "stylesheet": self.spec.stylesheet,
            "scaninfo": scan_type == "connect",
            "scan_type": scan_kind,
            "numservices": len(ports),
            "services": fmt.port_ranges(ports),
            "verbosity": self.spec.verbosity,
            "debugging": self.spec.debugging,
            "verbose": self.spec.verbosity > 0,
        }
        texts = {}
        if self._xml is not None:
            texts["xml"] = "" if resuming else self._m_xml.header(d)
            self._xml_root = True
        if self._normal is not None:
            texts["normal"] = self._m_normal.begin(d)
        if self._grep is not None:
            texts["grepable"] = self._m_grep.begin(d)
        if self._json is not None:
            self._json.begin(d)
        if self._emulating:
            self._begin_held(texts)
            return
        self._write_formats(texts, header_pieces)
        self._flush_all()

    def _begin_held(self, texts: dict[str, str]) -> None:
        """The headers with nmap's flushes: after the XML up to its <scaninfo>, then
        (with -v) after the grepable `# Ports scanned` line."""
        xml = texts.pop("xml", "")
        at = xml.find("<verbose ")
        head, tail = (xml, "") if at < 0 else (xml[:at], xml[at:])
        self._write_formats({"xml": head}, header_pieces)
        self._flush_all()
        if tail:
            texts["xml"] = tail
        self._write_formats(texts, header_pieces)
        if self.spec.verbosity > 0:  # output_ports_to_machine_parseable_output(), -oG or not
            self._flush_all()

    def task_begin(self, task: str, when: float) -> None:
        """`Initiating <task> at HH:MM` and <taskbegin/>, with -v only."""
        self._task_start[task] = when
        if self.spec.verbosity <= 0:
            return
        t = {"task": task, "time": int(when), "hhmm": fmt.hhmm(when), "extrainfo": None}
        self._to_stdout(self._m_console.task_begin(t))
        if self._xml is not None:
            self._xml.write(self._m_xml.taskbegin(t))
        self._flush_task()

    def task_end(self, task: str, when: float, extrainfo: str | None = None) -> None:
        """`Completed <task> at HH:MM, S.SSs elapsed (<extrainfo>)` and <taskend/>, with -v only."""
        begun = self._task_start.pop(task, when)
        if self.spec.verbosity <= 0:
            return
        # nmap counts whole milliseconds before printing seconds with 2 decimals.
        millis = int((when - begun) * 1000)
        t = {
            "task": task,
            "time": int(when),
            "hhmm": fmt.hhmm(when),
            "elapsed": f"{millis / 1000.0:.2f}",
            "extrainfo": extrainfo,
        }
        self._to_stdout(self._m_console.task_end(t))
        if self._xml is not None:
            self._xml.write(self._m_xml.taskend(t))
        self._flush_task()

    def task_progress(self, task: str, when: float, done: float, time_left: float | None) -> None:
        """`<task> Timing: About P.PP% done; ETC: HH:MM (H:MM:SS remaining)` and <taskprogress/>.

        `done` is the fraction done (0..1), `time_left` the estimated seconds left.
        Below 1% (or without an estimate) only the percentage is given.
        """
        t: dict[str, Any] = {
            "task": task,
            "time": int(when),
            "percent": f"{done * 100:.2f}",
            "remaining": None,
        }
        if done >= 0.01 and time_left is not None:
            # nmap rounds by adding half a second before truncating.
            left = time_left + 0.5
            etc = int(when) + int(left)
            t.update(
                remaining=f"{left:.0f}",
                etc=etc,
                etc_hhmm=fmt.hhmm(etc),
                left_h=f"{math.floor(left / 3600):.0f}",
                left_m=f"{math.floor(math.fmod(left / 60, 60)):02.0f}",
                left_s=f"{math.floor(math.fmod(left, 60)):02.0f}",
            )
        self._to_stdout(self._m_console.task_progress(t))
        if self._xml is not None:
            self._xml.write(self._m_xml.taskprogress(t))
        self._flush_task()

    def _flush_task(self) -> None:
        """log_flush(LOG_STDOUT|LOG_XML): stdout first."""
        for stream in (self._out, self._xml):
            release(stream)

    def hosthint(self, host: HostResult) -> None:
        """<hosthint>: a host found up by discovery, before rDNS; XML only."""
        text = ""
        if self._xml is not None:
            view = build_host_view(host, "ping", self._opts, self._service_name)
            view = replace(view, status="up", reason=host.hint_reason, reason_ttl=0)
            text = self._m_xml.hosthint(view)
        if self._emulating:
            # write_xml_hosthint(): log_flush_all() after the host's status and names,
            # and again after </hosthint>, -oX or not
            at = text.find("</hosthint>")
            for piece in (text[:at], text[at:]) if at >= 0 else (text, ""):
                if piece and self._xml is not None:
                    self._xml.write(piece)
                self._flush_all()
        elif self._xml is not None:
            self._xml.write(text)
            self._xml.flush()

    def skipped_target(self, spec: str) -> None:
        """<target status="skipped" reason="invalid"/> for a target word that does not parse."""
        if self._json is not None:
            self._json.skipped_target(spec)
        if self._xml is None:
            return
        self._xml.write(self._m_xml.target_skipped(spec))
        self._xml.flush()

    def host(self, host: HostResult, *, scan_type: str) -> None:
        """A host's report in every open format, written and flushed at once.

        Hosts nmap does not report (down without -v, no open port under
        --open) are skipped here.
        """
        kind = host_kind(host, scan_type)
        if self._json is not None and is_reported(host, scan_type, self._opts, kind):
            # the view the XML template gets, so both carry the same host; taken
            # before the XML is written, so a signal that finds the host in the
            # XML finds it in the JSON too
            self._json.host(build_host_view(host, scan_type, self._opts, self._service_name))
        self._host_reports(host, scan_type, kind)

    def rendered_hosts(self, *, console: str, normal: str, grepable: str, xml: str,
                       hosts: Sequence[Host] = (), skipped: Sequence[str] = ()) -> None:
        """Host reports rendered by another run of the same scan (a shard's, see
        pynmap.cluster): each text goes to its output as it is and is flushed;
        `hosts` are the same hosts as Report objects, for -oJ and --json-lines,
        and `skipped` the target words that run skipped that these have not had
        yet (the XML text holds its own <target> elements).  Formats that share
        stdout get their texts one after the other."""
        if self._json is not None:
            for spec in skipped:
                self._json.skipped_target(spec)
            for host in hosts:
                self._json.add_host(host)
        self._to_stdout(console)
        if self._normal is not None:
            self._normal.write(normal)
        self._to_skid(normal)
        if self._grep is not None:
            self._grep.write(grepable)
        if self._xml is not None:
            self._xml.write(xml)
        if self._emulating:
            self._flush_all()
        else:
            self._flush_outputs()

    def _host_reports(self, host: HostResult, scan_type: str, kind: str) -> None:
        if scan_type == "list":
            fast = self._stencil.render(host, xml=self._xml is not None)
            if fast is not None:
                self._write_host(fast[0], fast, "list", scan_type, throttle=True)
                return
        if not is_reported(host, scan_type, self._opts, kind):
            return
        texts = self._port_stencil.render(host, scan_type, self._opts, xml=self._xml is not None,
                                          grep=self._grep is not None, kind=kind)
        if texts is not None:
            self._write_host(texts[0], texts[1:], kind, scan_type)
            return
        view = build_host_view(host, scan_type, self._opts, self._service_name)
        normal: str = self._m_normal.host(view, False)
        console = self._m_normal.host(view, True) if view.debug_times else normal
        grep = self._m_grep.host(view) if self._grep is not None else ""
        xml = self._m_xml.host(view) if self._xml is not None else ""
        self._write_host(console, (normal, grep, xml), view.kind, scan_type)

    def _render_list_host(self, host: HostResult) -> Rendered:
        view = build_host_view(host, "list", self._opts, self._service_name)
        return (self._m_normal.host(view, False), self._m_grep.host(view), self._m_xml.host(view))

    def _counts_writes(self, console: str, rendered: Rendered) -> bool:
        """Must this report be written in nmap's calls, each counted against its
        output's stdio buffer (pynmap.stdio._StdioBuffer)?  When one of its texts
        could overflow that buffer: only then can a failed write be fatal, as
        nmap flushes after each report."""
        plan = self._plan
        for index, blksize in plan.files:
            if _too_big([rendered[index]], blksize):
                return True
        out_blksize = plan.stdout_blksize
        if out_blksize is None:
            return False
        if not plan.on_stdout:  # most runs: the console text alone
            # (_too_big's first test, inline: this runs for every host)
            return (self._out is not None and len(console) * 4 > out_blksize
                    and _too_big([console], out_blksize))
        on_stdout = [rendered[index] for index in plan.on_stdout]
        if self._out is not None:
            on_stdout.append(console)
        return _too_big(on_stdout, out_blksize)

    def _make_plan(self) -> _Plan:
        """What _counts_writes and _flush_outputs look at, worked out once for the
        streams as they are (open_files and close are where they change)."""
        files: list[tuple[int, int]] = []
        on_stdout: list[int] = []
        for (_, attr), index in zip(_LOG_ORDER, _RENDERED_INDEX, strict=True):
            stream = getattr(self, attr)
            if isinstance(stream, LogFile):
                files.append((index, stream.stdio.blksize))
            elif stream is not None:
                on_stdout.append(index)
        out = stdout_buffer(self._stdout)
        return _Plan(
            files=tuple(files),
            on_stdout=tuple(on_stdout),
            stdout_blksize=None if out is None else out.blksize,
            flushes=tuple(stream.flush for stream in (self._out, self._normal, self._skid,
                                                      self._grep, self._xml)
                          if stream is not None),
        )

    def _write_host_pieces(self, console: str, rendered: Rendered, kind: str) -> None:
        """A host's report in nmap's pieces and order (its log_write calls), each
        counted against its output's stdio buffer: nmap's fatal error comes at the
        write that overflows the buffer of a failing output, and leaves what
        nmap's leaves."""
        normal, grep, xml = rendered
        streams = {"normal": self._normal, "grepable": self._grep, "kiddie": self._skid,
                   "xml": self._xml}
        writers: dict[str, Callable[[str], object]] = {
            name: getattr(stream, "counted_write", stream.write)
            for name, stream in streams.items() if stream is not None}
        if self._out is not None:
            out = stdout_buffer(self._out)
            writers["stdout"] = (self._out.write if out is None
                                 else functools.partial(out.counted_write, logt=None))
        texts = {"normal": normal, "grepable": grep, "kiddie": normal, "xml": xml,
                 "stdout": console}
        before_all, before_plain, before_info = True, True, True
        for key, name, piece in host_calls(kind, [(name, texts[name]) for name in writers]):
            # nmap's flushes inside the report, which empty the stdio buffers
            if before_all and key > FLUSH_ALL_AFTER:
                before_all = False
                self._flush_outputs()
            if before_plain and key > FLUSH_PLAIN_AFTER:
                before_plain = False
                self._flush_plain()
            if before_info and key > FLUSH_INFO_AFTER:
                before_info = False
                self._flush_plain()
            if name == "xml":
                for closing, element in _XML_NESTING.findall(piece):
                    if closing:
                        self._xml_open.pop()
                    else:
                        self._xml_open.append(element)
            writers[name](kiddie(piece, self._rng) if name == "kiddie" else piece)

    def _write_host(self, console: str, rendered: Rendered, kind: str, scan_type: str, *,
                    throttle: bool = False) -> None:
        normal, grep, xml = rendered
        if self._emulating:
            self._write_host_held(console, rendered, kind, scan_type)
            return
        if self._in_calls or (not throttle and self._counts_writes(console, rendered)):
            self._write_host_pieces(console, rendered, kind)
            self._flush_outputs()  # each host, as nmap flushes (list scans too)
            return
        if self._out is not None:
            self._out.write(console)
        if self._shared:
            texts = {"normal": normal, "grepable": grep, "kiddie": normal, "xml": xml}
            self._write_formats(texts, lambda shared: host_pieces(kind, shared))
        else:
            if self._normal is not None:
                self._normal.write(normal)
            if self._skid is not None:
                self._to_skid(normal)
            if self._grep is not None:
                self._grep.write(grep)
            if self._xml is not None:
                self._xml.write(xml)
        # List-scan lines arrive back to back, a million of them for a /12; a
        # flush (a write() each) per line per file would cost more than the
        # formatting, so they are flushed at most every _LIST_FLUSH seconds.
        if throttle:
            now = time.monotonic()
            if now - self._last_flush < _LIST_FLUSH:
                return
            self._last_flush = now
        for flush in self._plan.flushes:  # _flush_outputs(), inline
            flush()

    def _write_host_held(self, console: str, rendered: Rendered, kind: str,
                         scan_type: str) -> None:
        """A host's report with nmap's flushes inside it (interleave.host_segments),
        and after it for a list or ping scan (nmap.cc's loop); a port-scanned
        host's tail waits for the end of its group (group_end)."""
        normal, grep, xml = rendered
        texts = [(name, text) for name, text, stream in (
            ("normal", normal, self._normal), ("grepable", grep, self._grep),
            ("kiddie", normal, self._skid), ("xml", xml, self._xml),
            ("stdout", console, self._out)) if stream is not None]
        streams = {"normal": self._normal, "grepable": self._grep, "kiddie": self._skid,
                   "xml": self._xml, "stdout": self._out}
        segments = host_segments(kind, texts)
        for number, pieces in enumerate(segments):
            for name, piece in pieces:
                stream = streams[name]
                if stream is not None:
                    stream.write(kiddie(piece, self._rng) if name == "kiddie" else piece)
            if number == 0 or (number in (1, 2) and kind == "port"):
                self._flush_all()
        if scan_type in ("list", "ping"):
            self._flush_all()

    def group_end(self) -> None:
        """The end of a port-scanned host group: nmap flushes every log."""
        if self._emulating:
            self._flush_all()

    def _write_formats(self, texts: dict[str, str],
                       order: Callable[[list[tuple[str, str]]], list[tuple[str, str]]]) -> None:
        """Each format's text to its stream; the formats that share stdout in the
        pieces and order `order` gives (nmap's interleaving)."""
        shared = [(name, texts[name]) for name in self._shared if name in texts]
        for name, attr in _LOG_ORDER:
            stream = getattr(self, attr)
            if name not in texts or stream is None or name in self._shared:
                continue
            stream.write(kiddie(texts[name], self._rng) if name == "kiddie" else texts[name])
        if shared:
            for name, piece in order(shared):
                stream = getattr(self, _ATTRS[name])
                stream.write(kiddie(piece, self._rng) if name == "kiddie" else piece)

    def _flush_plain(self) -> None:
        for stream in (self._out, self._normal, self._skid):
            if stream is not None:
                stream.flush()

    def _flush_outputs(self) -> None:
        """stdout, then the files in the order normal, kiddie, grepable, XML."""
        for flush in self._plan.flushes:
            flush()

    # ------------------------------------------------------------------- ends

    def _runstats(
        self,
        *,
        stats: RunStats,
        end: float,
        elapsed: float,
        exit_status: str,
        errormsg: str | None,
        hold_end: bool = False,
    ) -> str:
        """Writes the XML trailer (and ends the JSON outputs with the same values);
        with `hold_end`, all but its `</nmaprun>`, which is returned for the caller
        to write."""
        if self._json is None and (self._xml is None or self._xml_done):
            return ""
        ctime = fmt.ctime(end)
        r = {
            "open_root": not self._xml_root,
            "time": int(end),
            "ctime": ctime,
            # <finished summary=...>: one sentence for the XML and the JSON alike
            "summary": f"Nmap done at {ctime}; {fmt.hosts_summary(stats.total, stats.up)} "
                       f"scanned in {elapsed:.2f} seconds",
            "elapsed": f"{elapsed:.2f}",
            "exit": exit_status,
            "errormsg": errormsg,
            "up": stats.up,
            "down": (stats.total - stats.up) % (1 << 32),  # nmap's unsigned count
            "total": stats.total,
        }
        if self._json is not None:
            self._json.end(r)
        if self._xml is None or self._xml_done:
            return ""
        text = self._m_xml.runstats(r)
        tail = ""
        if hold_end:
            text, tail = split_xml_end(text)
        self._xml.write(text)
        self._xml_root = True
        self._xml_done = True
        return tail

    def finish(
        self,
        *,
        stats: RunStats,
        end: float,
        elapsed: float,
        pre_done_lines: Sequence[str] = (),
        ping_disabled: bool = False,
    ) -> None:
        """The end of a completed run: `pre_done_lines` (stdout, -oN, -oS), nmap's
        closing notes, `Nmap done: ...`, the XML runstats and the `# Nmap done at`
        trailers; then the files are closed.  `ping_disabled` is -Pn."""
        for line in pre_done_lines:
            self._plain_text(line + "\n")
        if stats.total == 0:
            self.warning("WARNING: No targets were specified, so 0 hosts scanned.")
        if stats.total == 1 and stats.up == 0 and self._scan_type != "list" and not ping_disabled:
            self._to_stdout(self._m_console.host_down_note())
        elif stats.up > 0 and self.spec.service_scan:
            self._plain_text(self._m_normal.service_scan_done())
        d = {
            "summary": fmt.hosts_summary(stats.total, stats.up),
            "elapsed": f"{elapsed:.2f}",
            "ctime": fmt.ctime(end),
        }
        done = self._m_console.nmap_done(d)
        self._to_stdout(done)
        self._to_skid(done)
        # nmap writes its "# Nmap done at" lines before it closes <nmaprun>, which
        # shows when the XML shares stdout with one of them
        hold = "xml" in self._shared
        tail = self._runstats(stats=stats, end=end, elapsed=elapsed, exit_status="success",
                              errormsg=None, hold_end=hold)
        if self._normal is not None:
            self._normal.write(self._m_normal.finish(d))
        if self._grep is not None:
            self._grep.write(self._m_grep.finish(d))
        if tail and self._xml is not None:
            self._xml.write(tail)
        self.close()

    def fatal(
        self,
        err: NmapError,
        *,
        stats: RunStats | None = None,
        end: float | None = None,
        elapsed: float | None = None,
    ) -> None:
        """nmap's fatal()/pfatal(): the error text on stderr and in -oN; the XML, if
        open, is closed with exit="error" (opening <nmaprun> first when the header
        was never written); everything is flushed and the files closed."""
        text = err.text
        if isinstance(err, PlainExit):
            # nmap's error() then exit(): stderr only, and the reports are left unfinished
            release(self._stdout)
            self._stderr.write(text)
            self._stderr.flush()
            self.close()
            return
        if isinstance(err, Fatal):
            self._error_calls(err.message, "\nQUITTING!\n")
        else:
            self._error_calls(text)
        if end is None:
            end = time.time()
        if elapsed is None:
            elapsed = end - self._start if self._start is not None else 0.0
        self._close_open_xml()
        self._runstats(
            stats=stats or RunStats(),
            end=end,
            elapsed=elapsed,
            exit_status="error",
            errormsg=_errormsg(err),
        )
        self.close()

    def _close_open_xml(self) -> None:
        """The elements of a host report cut short (written in nmap's calls), closed
        as nmap's fatal() closes them."""
        if self._xml is not None and not self._xml_done:
            while self._xml_open:
                self._xml.write(f"</{self._xml_open.pop()}>\n")

    def interrupted(
        self,
        end: float,
        elapsed: float,
        *,
        stats: RunStats | None = None,
        message: str = "Scan interrupted by signal",
    ) -> None:
        """SIGINT/SIGTERM: the XML is closed with exit="error" and `message`; the
        other outputs keep what was written, without trailers."""
        self._close_open_xml()
        self._runstats(
            stats=stats or RunStats(),
            end=end,
            elapsed=elapsed,
            exit_status="error",
            errormsg=message,
        )
        self.close()
