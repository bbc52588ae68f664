"""-oJ and --json-lines: the run as `pynmap.report` objects, built from what the XML gets.

The Reporter hands this module the very values its XML templates render: the
header values of `Reporter.begin`, each reported host's `HostView` (so the
"Not shown" collapsing of `pynmap.output.context` decides the extraports here
as it does in every other format) and the runstats values.  Each is turned
into the report's frozen objects, so a JSON document and the XML of the same
run read back equal (`Report.from_xml(xml) == Report.from_json(json)`).

* -oJ FILE / -oJ -: one JSON document, written when the run ends (finished,
  fatal error or interrupted; then with the hosts finished so far and
  runstats exit="error", as pynmap closes its XML).
* --json-lines FILE / -: one `{"type": "host", ...}` line as each host is
  reported, flushed at once, then one `{"type": "summary", ...}` line.
* a ReportSink (the Python API, pynmap.api): the same Host objects as each
  host is reported, then the same Report, handed over instead of written.

Imported only when one of them is asked for: the plain scan path never loads
`pynmap.report` or `json` (tests/unit/test_startup.py).
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from typing import Any, TextIO

from pynmap import NMAP_VERSION
from pynmap.output.context import HostView, PortRow
from pynmap.report import (
    Address,
    AddressType,
    Exit,
    ExtraPorts,
    ExtraReasons,
    Host,
    Hostname,
    HostnameType,
    HostState,
    Port,
    Protocol,
    Reason,
    Report,
    RunStats,
    ScanInfo,
    Service,
    State,
    Target,
    Times,
)

# What the XML header says of its format (templates/xml.j2).
_XML_OUTPUT_VERSION = "1.05"


def open_json(path: str, *, append: bool) -> TextIO:
    """A JSON output file.  A name or argument that is not UTF-8 (surrogate-escaped
    bytes) is written as a JSON \\udcXX escape, so the file stays valid UTF-8 JSON
    and reads back to the same string."""
    return open(path, "a" if append else "w", encoding="utf-8",
                errors="backslashreplace")


def host_from_view(h: HostView) -> Host:
    """The report's Host for one host view: exactly what xml.j2's host macro writes."""
    names: list[Hostname] = []
    if h.user_name:
        names.append(Hostname(name=h.user_name, type=HostnameType.USER))
    if h.ptr_name:
        names.append(Hostname(name=h.ptr_name, type=HostnameType.PTR))
    extraports: tuple[ExtraPorts, ...] = ()
    ports: tuple[Port, ...] = ()
    if h.kind == "port" and h.ports:
        extraports = tuple(
            ExtraPorts(state=State(st.state), count=st.count, reasons=tuple(
                ExtraReasons(reason=Reason(g.reason), count=g.count, proto=Protocol(g.protocol),
                             ports=g.ranges)
                for g in st.groups))
            for st in h.ports.collapse.ignored)
        ports = tuple(
            Port(protocol=Protocol(r.protocol), portid=r.port, state=State(r.state),
                 reason=Reason(r.reason), service=_service(r))
            for r in h.ports.rows)
    times = None
    if h.times and (h.kind != "down" or h.ping_scan):
        times = Times(srtt=h.times.srtt, rttvar=h.times.rttvar, to=h.times.timeout)
    return Host(
        state=HostState(h.status),
        reason=Reason(h.reason),
        addresses=(Address(addr=h.address, addrtype=AddressType(h.addrtype)),),
        hostnames=tuple(names),
        extraports=extraports,
        ports=ports,
        times=times,
        starttime=h.starttime,
        endtime=h.endtime if h.starttime is not None else None,
        timedout=h.kind == "timeout",
    )


def _service(row: PortRow) -> Service | None:
    """The port's <service>: what -sV found, else its nmap-services name (xml.j2)."""
    if row.detail is not None:
        return row.detail
    return None if row.service is None else Service(name=row.service, method="table", conf=3)


def runstats_from_values(r: Mapping[str, Any]) -> RunStats:
    """RunStats from the values the XML runstats macro gets (Reporter._runstats_values)."""
    return RunStats(
        time=r["time"],
        elapsed=float(r["elapsed"]),
        timestr=r["ctime"],
        summary=r["summary"],
        exit=Exit(r["exit"]),
        errormsg=r["errormsg"],
        up=r["up"],
        down=r["down"],
        total=r["total"],
    )


class ReportSink(typing.Protocol):
    """Where the API takes the run's objects instead of a file (pynmap.api)."""

    def host(self, host: Host) -> None:
        """A host as it is reported (the host a --json-lines line carries)."""

    def report(self, report: Report) -> None:
        """The whole run, when it ends (the document -oJ writes)."""


class JsonOutput:
    """Collects one run for -oJ, streams it to --json-lines and hands it to a
    ReportSink (each may be None): one code path, so the API's Report is the
    -oJ document's."""

    def __init__(self, document: TextIO | None, lines: TextIO | None,
                 sink: ReportSink | None = None) -> None:
        self._document = document
        self._lines = lines
        self._sink = sink
        self._header: dict[str, Any] = {}
        self._targets: list[Target] = []
        self._hosts: list[Host] = []
        self._warnings: list[str] = []
        self._done = False

    def begin(self, d: Mapping[str, Any]) -> None:
        """The XML header's values (Reporter.begin's `d`)."""
        scaninfo: tuple[ScanInfo, ...] = ()
        if d["scaninfo"]:
            scaninfo = (ScanInfo(type=d["scan_type"], protocol=Protocol.TCP,
                                 numservices=d["numservices"], services=d["services"]),)
        self._header = {
            "args": d["args"],
            "start": d["start"],
            "startstr": d["ctime"],
            "version": NMAP_VERSION,
            "xmloutputversion": _XML_OUTPUT_VERSION,
            "scaninfo": scaninfo,
            "verbose": d["verbosity"],
            "debugging": d["debugging"],
        }

    def warning(self, text: str) -> None:
        """One of the run's warnings (Report.warnings)."""
        self._warnings.append(text)

    def skipped_target(self, spec: str) -> None:
        self._targets.append(Target(specification=spec, status="skipped", reason="invalid"))

    def host(self, view: HostView) -> None:
        self.add_host(host_from_view(view))

    def add_host(self, host: Host) -> None:
        """A host as it is reported, already a report's Host (a shard's, pynmap.cluster)."""
        if self._document is not None or self._sink is not None:
            self._hosts.append(host)
        if self._lines is not None:
            self._lines.write(host.jsonl_line() + "\n")
            self._lines.flush()
        if self._sink is not None:
            self._sink.host(host)

    def end(self, r: Mapping[str, Any]) -> None:
        """The run is over (runstats values as the XML gets them): write what is due."""
        if self._done:
            return
        self._done = True
        report = Report(runstats=runstats_from_values(r), targets=tuple(self._targets),
                        hosts=tuple(self._hosts), warnings=tuple(self._warnings),
                        **self._header)
        if self._lines is not None:
            self._lines.write(report.jsonl_summary() + "\n")
            self._lines.flush()
        if self._document is not None:
            self._document.write(report.to_json() + "\n")
            self._document.flush()
        if self._sink is not None:
            self._sink.report(report)
