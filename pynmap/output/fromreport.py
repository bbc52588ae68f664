"""A Report rendered in nmap's formats: `Report.to_xml()`, `to_normal()`, `to_grepable()`.

No second renderer: each Report object is turned into the very values the
Reporter hands the templates (the header and trailer values of
`Reporter.begin`/`finish`/`_runstats`, one `HostView` per host), and the same
macros of `templates/` lay them out.  A Report's hosts come already collapsed
(their `extraports` are the "Not shown" states the run chose), so the views
take that split as it is instead of applying the collapsing rule again.

What a Report cannot hold is not written (see Report.to_normal for the list):
the results are those of the run, the lines nmap prints while it runs are not.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from types import EllipsisType
from typing import Any

from pynmap.output import fmt
from pynmap.output.context import (
    Collapse,
    HostView,
    IgnoredState,
    PortRow,
    ReasonGroup,
    ViewOptions,
    latency_text,
    ports_view,
    service_info,
)
from pynmap.output.render import macros
from pynmap.report import (
    AddressType,
    Exit,
    Host,
    HostnameType,
    HostState,
    Protocol,
    Report,
    RunStats,
    State,
)
from pynmap.results import PortResult, Times


class _Group(ReasonGroup):
    """An `<extrareasons>` as the templates see a reason group: its count and
    port list as the report gives them (nmap before 7.80 wrote no `ports`)."""

    __match_args__ = ("reason", "protocol", "ports", "given_count", "given_ranges")
    __slots__ = ("given_count", "given_ranges")

    def __init__(self, reason: str, protocol: str, count: int, ranges: str) -> None:
        super().__init__(reason, protocol, ())
        self.given_count = count
        self.given_ranges = ranges

    @property
    def count(self) -> int:
        return self.given_count

    @property
    def ranges(self) -> str:
        return self.given_ranges


def _args_words(report: Report) -> list[str]:
    try:
        return shlex.split(report.args or "")
    except ValueError:
        return []


def service_scan(report: Report) -> bool:
    """Whether the run asked for version detection, which its command line
    (`args`) alone says: an `-s` option whose letters hold V or R (nmap's
    old alias for -sV), or -A, read as nmap's getopt reads them (`-sTV`,
    `-nA`), up to a word getopt would refuse."""
    from pynmap.errors import UsageError
    from pynmap.getopt import Lexer
    from pynmap.options import GRAMMAR

    tokens = iter(Lexer(_args_words(report) or ["nmap"], GRAMMAR))
    while True:
        try:
            token = next(tokens)
        except (StopIteration, UsageError):
            return False
        if token.name == "A" or (token.name == "s" and not {"V", "R"}.isdisjoint(token.value or "")):
            return True


def view_options(report: Report, reason: bool | None, open_only: bool | None) -> ViewOptions:
    """The output options of the run.  The report records its verbosity and
    debugging; --reason and --open only show in its command line (`args`),
    where nmap's own spellings `--reason`/`-reason` and `--open`/`-open` are
    looked for, unless the caller says; so does -sV (`service_scan`)."""
    words = _args_words(report) if reason is None or open_only is None else []
    if reason is None:
        reason = any(w in ("--reason", "-reason") for w in words)
    if open_only is None:
        open_only = any(w in ("--open", "-open") for w in words)
    # -vv and any -d imply --reason (writers.OutputSpec.show_reason)
    show_reason = reason or report.verbose > 1 or report.debugging > 0
    return ViewOptions(verbosity=report.verbose, debugging=report.debugging,
                       show_reason=show_reason, open_only=open_only,
                       service_scan=service_scan(report))


def scan_type(report: Report) -> str:
    """"list" (-sL: its hosts are of unknown status), "ping" (-sn: no port
    scan, so no <scaninfo>) or "connect"."""
    if report.scaninfo:
        return "connect"
    if report.hosts and all(h.state is HostState.UNKNOWN for h in report.hosts):
        return "list"
    return "ping"


def _kind(host: Host, scan: str) -> str:
    if scan == "list" or host.state is HostState.UNKNOWN:
        return "list"
    if host.state is HostState.DOWN:
        return "down"
    if scan == "ping":
        return "ping"
    return "timeout" if host.timedout else "port"


def host_view(host: Host, scan: str, opts: ViewOptions) -> HostView:
    """The HostView context.build_host_view would have built for this host."""
    kind = _kind(host, scan)
    address = host.address or ""
    addrtype = next((a.addrtype for a in host.addresses if a.addrtype is not AddressType.MAC),
                    AddressType.IPV4)
    mac = next((a for a in host.addresses if a.addrtype is AddressType.MAC), None)
    user = next((n.name for n in host.hostnames if n.type is HostnameType.USER), "")
    ptr = next((n.name for n in host.hostnames if n.type is HostnameType.PTR), "")
    name = user or ptr
    times = None if host.times is None else Times(host.times.srtt, host.times.rttvar, host.times.to)
    start, end = (host.starttime, host.endtime) if kind in ("port", "timeout") else (None, None)
    ports = None
    scanned_at = None
    if kind == "port" and (host.ports or host.extraports):
        ignored = tuple(
            IgnoredState(x.state.value, x.count, tuple(
                _Group(r.reason.value, (r.proto or Protocol.TCP).value, r.count, r.ports or "")
                for r in x.reasons))
            for x in host.extraports)
        shown = tuple(PortResult(p.portid, p.state.value, p.reason.value, p.protocol.value)
                      for p in host.ports)
        col = Collapse(ignored, shown, sum(x.count for x in host.extraports) + len(shown))
        # the port's <service> as it was read (nmap-services' name under method "table")
        rows = tuple(PortRow(p.portid, p.protocol.value, p.state.value, p.reason.value,
                             None, p.service, opts.service_scan)
                     for p in host.ports)
        filtered = (any(p.state is State.FILTERED for p in host.ports)
                    or any(x.state is State.FILTERED for x in host.extraports))
        ports = ports_view(col, rows, opts, filtered=filtered)
        if (opts.verbosity > 1 or opts.debugging) and host.starttime:
            scanned_at = fmt.seconds_time(host.starttime)
    return HostView(
        kind=kind,
        address=address,
        addrtype=addrtype.value,
        user_name=user,
        ptr_name=ptr,
        name_ip=f"{name} ({address})" if name else address,
        other_addresses=(),  # not in the XML, nor in a Report
        rdns_differs=bool(user and ptr and user != ptr),
        status=host.state.value,
        reason=host.reason.value,
        show_reason=opts.show_reason,
        latency=None if times is None else latency_text(times),
        times=times,
        debug_times=False,  # the -d "Final times" line is stdout's, not -oN's
        starttime=start,
        endtime=end,
        scanned_at=scanned_at,
        scanned_for=(end or 0) - (start or 0),
        ports=ports,
        ping_scan=scan == "ping",
        service_info=service_info([(p.state.value, p.service) for p in host.ports], ptr)
        if kind == "port" else None,
        reason_ttl=host.reason_ttl,
        mac=None if mac is None else mac.addr,
        mac_vendor=None if mac is None else mac.vendor,
    )


def _header(report: Report, stylesheet: str | None) -> dict[str, Any]:
    info = report.scaninfo[0] if report.scaninfo else None
    return {
        "ctime": report.startstr,
        "args": report.args,
        "start": report.start,
        "stylesheet": stylesheet,
        "scaninfo": info is not None,
        "scan_type": info.type if info is not None else "connect",
        "numservices": info.numservices if info is not None else 0,
        "services": info.services if info is not None else "",
        "verbosity": report.verbose,
        "debugging": report.debugging,
        "verbose": report.verbose > 0,
    }


def _trailer(stats: RunStats) -> dict[str, Any]:
    return {
        "summary": fmt.hosts_summary(stats.total, stats.up),
        "elapsed": f"{stats.elapsed:.2f}",
        "ctime": stats.timestr or fmt.ctime(stats.time),
    }


def _runstats(report: Report, stats: RunStats | None = None) -> dict[str, Any]:
    """The runstats macro's values: of the run, or `stats` (a merged report's shard)."""
    if stats is None:
        stats = report.runstats
    trailer = _trailer(stats)
    return {
        "open_root": report.args is None,  # the bare document of an early fatal error
        "time": stats.time,
        "ctime": trailer["ctime"],
        "summary": stats.summary if stats.summary is not None else
        f"Nmap done at {trailer['ctime']}; {trailer['summary']} scanned in "
        f"{trailer['elapsed']} seconds",
        "elapsed": trailer["elapsed"],
        "exit": (stats.exit or Exit.SUCCESS).value,
        "errormsg": stats.errormsg,
        "up": stats.up,
        "down": stats.down,
        "total": stats.total,
    }


def _views(report: Report, reason: bool | None, open_only: bool | None) -> Iterable[HostView]:
    opts = view_options(report, reason, open_only)
    scan = scan_type(report)
    return (host_view(h, scan, opts) for h in report.hosts)


def _default_stylesheet() -> str:
    from pynmap.output.stylesheet import stylesheet_href

    return stylesheet_href()


def to_xml(report: Report, stylesheet: str | EllipsisType | None = ...) -> str:
    m = macros("xml")
    parts: list[str] = []
    if report.args is not None:
        href = _default_stylesheet() if stylesheet is ... else stylesheet
        parts.append(m.header(_header(report, href)))
    for shard in report.shards or ():
        parts.append(m.shard({"args": shard.args, "start": shard.start,
                              "startstr": shard.startstr, **_runstats(report, shard.runstats)}))
    parts.extend(m.target_skipped(t.specification) for t in report.targets
                 if t.status == "skipped" and t.reason == "invalid")
    parts.extend(m.host(v) for v in _views(report, False, False))
    parts.append(m.runstats(_runstats(report)))
    return "".join(parts)


def to_normal(report: Report, reason: bool | None = None, open_only: bool | None = None) -> str:
    m = macros("normal")
    parts: list[str] = []
    if report.args is not None:
        parts.append(m.begin(_header(report, None)))
    parts.extend(m.host(v, False) for v in _views(report, reason, open_only))
    if report.ok:
        # nmap's closing note of a run with version detection and a host up
        if report.runstats.up > 0 and service_scan(report):
            parts.append(m.service_scan_done())
        parts.append(m.finish(_trailer(report.runstats)))
    return "".join(parts)


def to_grepable(report: Report) -> str:
    m = macros("grepable")
    parts: list[str] = []
    if report.args is not None:
        parts.append(m.begin(_header(report, None)))
    parts.extend(m.host(v) for v in _views(report, False, False))
    if report.ok:
        parts.append(m.finish(_trailer(report.runstats)))
    return "".join(parts)
