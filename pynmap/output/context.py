"""From scan results to what the templates print.

The one home of the "Not shown" rule (which port states are ignored, i.e.
summarised instead of listed, and in which order): normal, grepable and XML
output all take it from `collapse()`.  The builders here also decide which
lines a host block has and compute counts and column widths; the templates
only lay the values out.

nmap's rule, in its own terms: a state is *ignored* when it holds more ports
than `25 * (verbosity + 1 + 20 * debugging)` (25 with neither), never for
`open`, always (when it has any port) for every state but open|filtered and
unfiltered under `--open`, and never at debugging level 3 or more.  Ignored
states are listed by descending port count, ties to the lower state number;
inside a state, ports are grouped by (reason, protocol), larger groups first.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence

from pynmap.output import fmt
from pynmap.plain import FrozenData
from pynmap.results import HostResult, PortResult, Times

ServiceName = Callable[[int], str | None]

# nmap's internal state numbers: they break ties between ignored states.
STATE_NUMBER = {
    "unknown": 0,
    "closed": 1,
    "open": 2,
    "filtered": 3,
    "testing": 4,
    "fresh": 5,
    "unfiltered": 6,
    "open|filtered": 7,
    "closed|filtered": 8,
}
_NEVER_IGNORED = frozenset({"open", "unknown", "testing", "fresh"})
# --open keeps only the states that may hide an open port.
_OPEN_ONLY_KEEPS = frozenset({"open|filtered", "unfiltered"})
# What --open asks for: a host with none of these is not reported.
OPENISH_STATES = frozenset({"open", "open|filtered", "unfiltered"})


class CollapsePolicy(FrozenData):
    __match_args__ = ("verbosity", "debugging", "open_only")
    __slots__ = __match_args__

    def __init__(self, verbosity: int = 0, debugging: int = 0, open_only: bool = False) -> None:
        self.verbosity = verbosity
        self.debugging = debugging
        self.open_only = open_only

    @property
    def threshold(self) -> int:
        """A state with more ports than this is ignored."""
        if self.verbosity or self.debugging:
            return 25 * (self.verbosity + 1 + 20 * self.debugging)
        return 25

    def is_ignored(self, state: str, count: int) -> bool:
        if self.debugging > 2 or state in _NEVER_IGNORED:
            return False
        if state == "open|filtered" and self.verbosity > 2:
            return False
        if self.open_only and state not in _OPEN_ONLY_KEEPS and count > 0:
            return True
        return count > self.threshold


class ReasonGroup(FrozenData):
    """Ports of one ignored state that share a reason and a protocol."""

    __match_args__ = ("reason", "protocol", "ports")
    __slots__ = __match_args__

    def __init__(self, reason: str, protocol: str, ports: tuple[int, ...]) -> None:
        self.reason = reason
        self.protocol = protocol
        self.ports = ports  # ascending

    @property
    def count(self) -> int:
        return len(self.ports)

    @property
    def ranges(self) -> str:
        return fmt.port_ranges(self.ports)


class IgnoredState(FrozenData):
    __match_args__ = ("state", "count", "groups")
    __slots__ = __match_args__

    def __init__(self, state: str, count: int, groups: tuple[ReasonGroup, ...]) -> None:
        self.state = state
        self.count = count
        self.groups = groups


class Collapse(FrozenData):
    __match_args__ = ("ignored", "shown", "total")
    __slots__ = __match_args__

    def __init__(self, ignored: tuple[IgnoredState, ...], shown: tuple[PortResult, ...],
                 total: int) -> None:
        self.ignored = ignored  # in "Not shown" order
        self.shown = shown  # ascending by (protocol, port)
        self.total = total

    @property
    def ignored_count(self) -> int:
        return self.total - len(self.shown)

    @property
    def all_ignored(self) -> bool:
        return self.total > 0 and not self.shown

    @property
    def single_ignored(self) -> IgnoredState | None:
        """The ignored state grepable output names, when there is exactly one."""
        if len(self.ignored) == 1 and self.ignored[0].count > 0:
            return self.ignored[0]
        return None


def _sort_key(port: PortResult) -> tuple[str, int]:
    return (port.protocol, port.port)


def _reason_groups(ports: Sequence[PortResult]) -> tuple[ReasonGroup, ...]:
    found: dict[tuple[str, str], list[int]] = {}
    for port in ports:
        found.setdefault((port.reason, port.protocol), []).append(port.port)
    groups = [ReasonGroup(reason, proto, tuple(nums)) for (reason, proto), nums in found.items()]
    # nmap's list merge sort takes the later element on equal counts, which
    # reverses the first-seen order of tied groups.
    order = {id(g): i for i, g in enumerate(groups)}
    groups.sort(key=lambda g: (-g.count, -order[id(g)]))
    return tuple(groups)


def collapse(ports: Sequence[PortResult], policy: CollapsePolicy) -> Collapse:
    """Split a host's ports into ignored states (summarised) and shown ports (listed)."""
    ordered = sorted(ports, key=_sort_key)
    by_state: dict[str, list[PortResult]] = {}
    for port in ordered:
        by_state.setdefault(port.state, []).append(port)
    ignored_names = {
        state for state, members in by_state.items() if policy.is_ignored(state, len(members))
    }
    ignored = [
        IgnoredState(state, len(by_state[state]), _reason_groups(by_state[state]))
        for state in ignored_names
    ]
    ignored.sort(key=lambda s: (-s.count, STATE_NUMBER.get(s.state, 99)))
    shown = tuple(p for p in ordered if p.state not in ignored_names)
    return Collapse(tuple(ignored), shown, len(ordered))


# --------------------------------------------------------------------------
# Views: one per host, holding exactly what the templates print.


class NotShownPart(FrozenData):
    __match_args__ = ("count", "state", "protocol", "plural", "reason")
    __slots__ = __match_args__

    def __init__(self, count: int, state: str, protocol: str, plural: bool, reason: str) -> None:
        self.count = count
        self.state = state
        self.protocol = protocol
        self.plural = plural  # follows the state's total, not the group's
        self.reason = reason


class PortRow(FrozenData):
    __match_args__ = ("port", "protocol", "state", "reason", "service")
    __slots__ = __match_args__

    def __init__(self, port: int, protocol: str, state: str, reason: str,
                 service: str | None) -> None:
        self.port = port
        self.protocol = protocol
        self.state = state
        self.reason = reason
        self.service = service  # the nmap-services name, None when the port has none

    @property
    def table_service(self) -> str:
        if self.service is None or self.service == "unknown":
            return "unknown"
        return self.service

    @property
    def grep_service(self) -> str:
        return "" if self.service is None else self.service.replace("/", "|")


class PortsView(FrozenData):
    __match_args__ = ("collapse", "rows", "table", "widths", "not_shown", "defeat_rst_note")
    __slots__ = __match_args__

    def __init__(self, collapse: Collapse, rows: tuple[PortRow, ...],
                 table: tuple[tuple[str, ...], ...], widths: tuple[int, ...],
                 not_shown: tuple[NotShownPart, ...], defeat_rst_note: bool) -> None:
        self.collapse = collapse
        self.rows = rows
        self.table = table  # header first
        self.widths = widths
        self.not_shown = not_shown
        self.defeat_rst_note = defeat_rst_note


class HostView(FrozenData):
    """Everything a template needs for one host report.

    kind: "list" (-sL), "ping" (-sn, up), "port" (port scan, up), "down",
    "timeout" (--host-timeout hit).
    """

    __match_args__ = ("kind", "address", "addrtype", "user_name", "ptr_name", "name_ip",
                      "other_addresses", "rdns_differs", "status", "reason", "show_reason",
                      "latency", "times", "debug_times", "starttime", "endtime", "scanned_at",
                      "scanned_for", "ports", "ping_scan")
    __slots__ = __match_args__

    def __init__(self, kind: str, address: str, addrtype: str, user_name: str, ptr_name: str,
                 name_ip: str, other_addresses: tuple[str, ...], rdns_differs: bool,
                 status: str, reason: str, show_reason: bool, latency: str | None,
                 times: Times | None, debug_times: bool, starttime: int | None,
                 endtime: int | None, scanned_at: str | None, scanned_for: int,
                 ports: PortsView | None, ping_scan: bool) -> None:
        self.kind = kind
        self.address = address
        self.addrtype = addrtype
        self.user_name = user_name
        self.ptr_name = ptr_name
        self.name_ip = name_ip
        self.other_addresses = other_addresses
        self.rdns_differs = rdns_differs
        self.status = status  # XML status/@state
        self.reason = reason
        self.show_reason = show_reason
        self.latency = latency
        self.times = times
        self.debug_times = debug_times
        self.starttime = starttime
        self.endtime = endtime
        self.scanned_at = scanned_at
        self.scanned_for = scanned_for
        self.ports = ports
        self.ping_scan = ping_scan  # -sn: down hosts carry <times> too


class ViewOptions(FrozenData):
    """The output options a host view depends on."""

    __match_args__ = ("verbosity", "debugging", "show_reason", "open_only")
    __slots__ = __match_args__

    def __init__(self, verbosity: int = 0, debugging: int = 0, show_reason: bool = False,
                 open_only: bool = False) -> None:
        self.verbosity = verbosity
        self.debugging = debugging
        self.show_reason = show_reason
        self.open_only = open_only

    @property
    def policy(self) -> CollapsePolicy:
        return CollapsePolicy(self.verbosity, self.debugging, self.open_only)


def addrtype(host: HostResult) -> str:
    return "ipv6" if host.family == socket.AF_INET6 else "ipv4"


def name_ip(host: HostResult) -> str:
    """nmap's NameIP: the typed name, else the PTR name, with the address in parentheses."""
    name = host.user_name or host.ptr_name
    return f"{name} ({host.address})" if name else host.address


def table_cells(row: Sequence[str], widths: Sequence[int]) -> str:
    """One table line: cells padded to their column plus a separating space,
    except after the last non-empty cell (nmap never leaves trailing blanks)."""
    filled = sum(1 for cell in row if cell)
    out: list[str] = []
    seen = 0
    for cell, width in zip(row, widths, strict=True):
        if cell:
            seen += 1
        out.append(cell)
        if seen < filled:
            out.append(" " * (width - len(cell) + 1))
    return "".join(out)


def _ports_view(host: HostResult, opts: ViewOptions, service_name: ServiceName) -> PortsView:
    col = collapse(host.ports, opts.policy)
    rows = tuple(
        PortRow(p.port, p.protocol, p.state, p.reason, service_name(p.port)) for p in col.shown
    )
    filtered = any(p.state == "filtered" for p in host.ports)
    return ports_view(col, rows, opts, filtered=filtered)


def ports_view(col: Collapse, rows: tuple[PortRow, ...], opts: ViewOptions, *,
               filtered: bool) -> PortsView:
    """The port table of a host whose ports are already split into `col` (the
    ignored states) and `rows` (the ports listed); `filtered`: any port of the
    host is filtered.  Shared with pynmap.output.fromreport (a Report's hosts
    come collapsed)."""
    header = (
        ("PORT", "STATE", "SERVICE", "REASON") if opts.show_reason else ("PORT", "STATE", "SERVICE")
    )
    table: list[tuple[str, ...]] = [header]
    for r in rows:
        cells = (f"{r.port}/{r.protocol}", r.state, r.table_service)
        table.append((*cells, r.reason) if opts.show_reason else cells)
    widths = tuple(max(len(line[i]) for line in table) for i in range(len(header)))
    parts = tuple(
        NotShownPart(g.count, st.state, g.protocol, st.count != 1, g.reason)
        for st in col.ignored
        for g in st.groups
    )
    return PortsView(
        collapse=col,
        rows=rows,
        table=tuple(table),
        widths=widths,
        not_shown=parts,
        defeat_rst_note=opts.open_only and filtered,
    )


def has_openish_port(host: HostResult) -> bool:
    return any(p.state in OPENISH_STATES for p in host.ports)


def host_kind(host: HostResult, scan_type: str) -> str:
    if scan_type == "list":
        return "list"
    if host.status == "down":
        return "down"
    if scan_type == "ping":
        return "ping"
    if host.timed_out:
        return "timeout"
    return "port"


def is_reported(host: HostResult, scan_type: str, opts: ViewOptions) -> bool:
    """Whether nmap writes any report (in any format) for this host."""
    kind = host_kind(host, scan_type)
    if kind == "down":
        return opts.verbosity > 0 and not opts.open_only
    if kind == "port":
        return not opts.open_only or has_openish_port(host)
    return True


def latency_text(times: Times) -> str | None:
    """The "(0.00030s latency)" figure: srtt in seconds, or None without a sample."""
    return fmt.sigdigits(times.srtt / 1e6) if times.srtt != -1 else None


def scan_span(host: HostResult) -> tuple[int, int]:
    """The port scan's start and end, whole seconds since the epoch; 0 for a host
    that never reached the port scan (no port left to scan), as nmap writes."""
    return int(host.start_time or 0), int(host.end_time or 0)


def build_host_view(
    host: HostResult, scan_type: str, opts: ViewOptions, service_name: ServiceName
) -> HostView:
    kind = host_kind(host, scan_type)
    times = host.times
    has_times = times.srtt != -1 or times.rttvar != -1
    # A port-scanned host always carries its scan times.
    start, end = scan_span(host) if kind in ("port", "timeout") else (None, None)
    ports: PortsView | None = None
    scanned_at: str | None = None
    if kind == "port" and host.ports:
        ports = _ports_view(host, opts, service_name)
        if (opts.verbosity > 1 or opts.debugging) and host.start_time:
            scanned_at = fmt.seconds_time(host.start_time)
    user = host.user_name or ""
    ptr = host.ptr_name or ""
    return HostView(
        kind=kind,
        address=host.address,
        addrtype=addrtype(host),
        user_name=user,
        ptr_name=ptr,
        name_ip=name_ip(host),
        other_addresses=tuple(host.other_addresses) if user else (),
        rdns_differs=bool(user and ptr and user != ptr),
        status="unknown" if kind == "list" else ("down" if kind == "down" else "up"),
        reason=host.reason,
        show_reason=opts.show_reason,
        latency=latency_text(times),
        times=times if has_times else None,
        # nmap prints a down host's times only where -sn reports it
        debug_times=opts.debugging > 0 and has_times and (kind != "down" or scan_type == "ping"),
        starttime=start,
        endtime=end,
        scanned_at=scanned_at,
        scanned_for=(end or 0) - (start or 0),
        ports=ports,
        ping_scan=scan_type == "ping",
    )
