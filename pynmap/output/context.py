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
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from pynmap.output import fmt
from pynmap.plain import FrozenData
from pynmap.results import HostResult, PortResult, Times

if TYPE_CHECKING:  # -sT runs never import the API's module (tests/unit/test_startup.py)
    from pynmap.report import Service

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
    __match_args__ = ("port", "protocol", "state", "reason", "service", "detail", "service_scan")
    __slots__ = __match_args__

    def __init__(self, port: int, protocol: str, state: str, reason: str,
                 service: str | None, detail: Service | None = None,
                 service_scan: bool = False) -> None:
        self.port = port
        self.protocol = protocol
        self.state = state
        self.reason = reason
        self.service = service  # the nmap-services name, None when the port has none
        # What version detection (-sV) found, as nmap's XML <service> says it;
        # None without -sV or for a port it did not name.  It replaces `service`.
        self.detail = detail
        self.service_scan = service_scan  # -sV was asked for: nmap doubts unprobed names

    @property
    def table_service(self) -> str:
        """The SERVICE cell: nmap's getNmapServiceName.  "ssl/" before the name of a
        service reached through TLS; "?" after a name that -sV did not confirm (an
        open port whose name comes from nmap-services, confidence 5 or less)."""
        detail = self.detail
        tunnel = "ssl/" if detail is not None and detail.tunnel == "ssl" else ""
        name = self.service if detail is None else detail.name
        if name is None or name == "unknown":
            text = f"{tunnel}unknown"
        else:
            unsure = (self.service_scan and self.state == "open"
                      and (detail is None or detail.conf <= 5))
            text = f"{tunnel}{name}?" if unsure else f"{tunnel}{name}"
        # nmap's 64-byte buffer: a name that does not fit is left out
        return "" if len(text) >= _NAME_BUFFER else text

    @property
    def grep_service(self) -> str:
        """The grepable service field: the SERVICE cell with "|" for "/" ("ssl|http"),
        empty for a port nothing names."""
        if self.detail is None and self.service is None:
            return ""
        return self.table_service.replace("/", "|")

    @property
    def version(self) -> str:
        """The VERSION cell: product, version and (extrainfo), as nmap fits them."""
        detail = self.detail
        if detail is None:
            return ""
        return full_version(detail.product, detail.version, detail.extrainfo)

    @property
    def grep_version(self) -> str:
        """The grepable version field: the VERSION cell with "|" for "/"."""
        return self.version.replace("/", "|")

    @property
    def xml_service(self) -> tuple[tuple[str, str], ...] | None:
        """The attributes of the port's <service> element in nmap's order, or None
        when it has none (no name, no fingerprint, no tunnel)."""
        detail = self.detail
        if detail is None:
            if self.service is None:
                return None
            return (("name", self.service), ("method", "table"), ("conf", "3"))
        attrs = [("name", detail.name)]
        attrs.extend((key, value) for key, value in (
            ("product", detail.product), ("version", detail.version),
            ("extrainfo", detail.extrainfo), ("hostname", detail.hostname),
            ("ostype", detail.ostype), ("devicetype", detail.devicetype),
            ("servicefp", detail.servicefp), ("tunnel", detail.tunnel),
            # nmap.dtd's RPC attributes, which nmap 7.93 no longer writes; kept so
            # a report read from an older nmap's XML writes what it read
            ("proto", detail.proto),
            ("rpcnum", None if detail.rpcnum is None else str(detail.rpcnum)),
            ("lowver", None if detail.lowver is None else str(detail.lowver)),
            ("highver", None if detail.highver is None else str(detail.highver)),
        ) if value is not None)
        attrs.extend((("method", detail.method), ("conf", str(detail.conf))))
        return tuple(attrs)

    @property
    def cpe(self) -> tuple[str, ...]:
        return () if self.detail is None else self.detail.cpe


# nmap's buffers: the SERVICE cell (getNmapServiceName), the VERSION cell
# (populateFullVersionString, NUL included), the fingerprints a host report
# keeps (printportoutput saves one while it holds at most 8), the entries of
# each Service Info field (MAX_SERVICE_INFO_FIELDS)
_NAME_BUFFER = 64
_VERSION_BUFFER = 160
_MAX_FINGERPRINTS = 9
_MAX_INFO_FIELDS = 5
# nmap wraps a service fingerprint after 74 characters, each further line
# starting "SF:" (the XML attribute holds it unwrapped)
_FP_WIDTH = 74
_FP_PREFIX = "SF:"


def full_version(product: str | None, version: str | None, extrainfo: str | None) -> str:
    """nmap's populateFullVersionString: "product version (extrainfo)" in 159
    characters.  A part that does not fit is cut and ends in "..." (extrainfo
    inside its parentheses); a part that would get fewer than 8 characters is
    left out.  When extrainfo fills the room exactly, nmap has none left for
    the closing parenthesis and leaves it out."""
    left = _VERSION_BUFFER - 1
    out: list[str] = []
    pad = False
    for part in (product, version):
        if part is None or left < 8:
            continue
        if pad:
            out.append(" ")
            left -= 1
        if left < len(part):
            out.append(part[:left - 3] + "...")
            left = 0
        else:
            out.append(part)
            left -= len(part)
        pad = True
    if extrainfo is not None and left >= 8:
        if pad:
            out.append(" ")
            left -= 1
        out.append("(")
        if left - 2 < len(extrainfo):
            out.append(extrainfo[:left - 5] + "...")
            left = 1
        else:
            out.append(extrainfo)
            left -= len(extrainfo) + 2
        if left > 0:
            out.append(")")
    return "".join(out)


def wrapped_fingerprint(servicefp: str) -> str:
    """A service fingerprint as nmap prints it: the XML's one-line form cut into
    lines of 74 characters, each after the first starting "SF:"; the closing ";"
    is never moved to a line of its own."""
    body, semicolon = (servicefp[:-1], ";") if servicefp.endswith(";") else (servicefp, "")
    first, rest = body[:_FP_WIDTH], body[_FP_WIDTH:]
    step = _FP_WIDTH - len(_FP_PREFIX)
    lines = [first, *(_FP_PREFIX + rest[i:i + step] for i in range(0, len(rest), step))]
    return "\n".join(lines) + semicolon


def service_info(ports: Iterable[tuple[str, Service | None]], ptr_name: str) -> str | None:
    """The text of a host's "Service Info:" line (after the colon), or None.

    From the open ports' services, in port order, at most five different
    values of each: the hostnames (not the host's own PTR name, compared
    without case), OS types, device types, and the CPE names of operating
    systems and hardware (an application's CPE belongs to its port, not the host).
    """
    fields: dict[str, list[str]] = {"host": [], "os": [], "device": [], "cpe": []}

    def add(field: str, value: str, same: Callable[[str, str], bool]) -> None:
        found = fields[field]
        if len(found) < _MAX_INFO_FIELDS and not any(same(v, value) for v in found):
            found.append(value)

    def exact(a: str, b: str) -> bool:
        return a == b

    def caseless(a: str, b: str) -> bool:
        return a.lower() == b.lower()

    for state, detail in ports:
        if state != "open" or detail is None:
            continue
        if detail.hostname and not caseless(ptr_name, detail.hostname):
            add("host", detail.hostname, caseless)
        if detail.ostype:
            add("os", detail.ostype, exact)
        if detail.devicetype:
            add("device", detail.devicetype, exact)
        for cpe in detail.cpe:
            if cpe and not cpe.startswith("cpe:/a"):
                add("cpe", cpe, exact)
    parts = [f"{label}{'' if len(found) == 1 else plural}: {', '.join(found)}"
             for label, plural, found in (("Host", "s", fields["host"]), ("OS", "s", fields["os"]),
                                          ("Device", "s", fields["device"]))
             if found]
    if fields["cpe"]:
        parts.append(f"CPE: {', '.join(fields['cpe'])}")
    return "; ".join(parts) if parts else None


class PortsView(FrozenData):
    __match_args__ = ("collapse", "rows", "table", "widths", "not_shown", "defeat_rst_note",
                      "fingerprints")
    __slots__ = __match_args__

    def __init__(self, collapse: Collapse, rows: tuple[PortRow, ...],
                 table: tuple[tuple[str, ...], ...], widths: tuple[int, ...],
                 not_shown: tuple[NotShownPart, ...], defeat_rst_note: bool,
                 fingerprints: tuple[str, ...] = ()) -> None:
        self.collapse = collapse
        self.rows = rows
        self.table = table  # header first
        self.widths = widths
        self.not_shown = not_shown
        self.defeat_rst_note = defeat_rst_note
        # the service fingerprints printed after the table, as nmap wraps them
        self.fingerprints = fingerprints


class HostView(FrozenData):
    """Everything a template needs for one host report.

    kind: "list" (-sL), "ping" (-sn, up), "port" (port scan, up), "down",
    "timeout" (--host-timeout hit).
    """

    __match_args__ = ("kind", "address", "addrtype", "user_name", "ptr_name", "name_ip",
                      "other_addresses", "rdns_differs", "status", "reason", "show_reason",
                      "latency", "times", "debug_times", "starttime", "endtime", "scanned_at",
                      "scanned_for", "ports", "ping_scan", "service_info", "mac", "mac_vendor",
                      "reason_ttl")
    __slots__ = __match_args__

    def __init__(self, kind: str, address: str, addrtype: str, user_name: str, ptr_name: str,
                 name_ip: str, other_addresses: tuple[str, ...], rdns_differs: bool,
                 status: str, reason: str, show_reason: bool, latency: str | None,
                 times: Times | None, debug_times: bool, starttime: int | None,
                 endtime: int | None, scanned_at: str | None, scanned_for: int,
                 ports: PortsView | None, ping_scan: bool,
                 service_info: str | None = None, mac: str | None = None,
                 mac_vendor: str | None = None, reason_ttl: int = 0) -> None:
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
        self.service_info = service_info  # -sV's "Service Info:" line, after the colon
        self.mac = mac  # --privileged: the host's Ethernet address (pynmap.lan)
        self.mac_vendor = mac_vendor  # its vendor, None when nmap-mac-prefixes has none
        self.reason_ttl = reason_ttl  # the status reason's TTL (0: none known)


class ViewOptions(FrozenData):
    """The output options a host view depends on."""

    __match_args__ = ("verbosity", "debugging", "show_reason", "open_only", "service_scan")
    __slots__ = __match_args__

    def __init__(self, verbosity: int = 0, debugging: int = 0, show_reason: bool = False,
                 open_only: bool = False, service_scan: bool = False) -> None:
        self.verbosity = verbosity
        self.debugging = debugging
        self.show_reason = show_reason
        self.open_only = open_only
        self.service_scan = service_scan  # -sV: the VERSION column, doubtful names marked

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
        PortRow(p.port, p.protocol, p.state, p.reason, service_name(p.port), p.service,
                opts.service_scan)
        for p in col.shown
    )
    filtered = any(p.state == "filtered" for p in host.ports)
    return ports_view(col, rows, opts, filtered=filtered)


def ports_view(col: Collapse, rows: tuple[PortRow, ...], opts: ViewOptions, *,
               filtered: bool) -> PortsView:
    """The port table of a host whose ports are already split into `col` (the
    ignored states) and `rows` (the ports listed); `filtered`: any port of the
    host is filtered.  Shared with pynmap.output.fromreport (a Report's hosts
    come collapsed)."""
    header: tuple[str, ...] = ("PORT", "STATE", "SERVICE")
    if opts.show_reason:
        header += ("REASON",)
    if opts.service_scan:
        header += ("VERSION",)
    table: list[tuple[str, ...]] = [header]
    fingerprints: list[str] = []
    for r in rows:
        cells: tuple[str, ...] = (f"{r.port}/{r.protocol}", r.state, r.table_service)
        if opts.show_reason:
            cells += (r.reason,)
        if opts.service_scan:
            cells += (r.version,)
        table.append(cells)
        if r.detail is not None and r.detail.servicefp and len(fingerprints) < _MAX_FINGERPRINTS:
            fingerprints.append(wrapped_fingerprint(r.detail.servicefp))
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
        fingerprints=tuple(fingerprints),
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


def is_reported(host: HostResult, scan_type: str, opts: ViewOptions,
                kind: str | None = None) -> bool:
    """Whether nmap writes any report (in any format) for this host; `kind` is
    host_kind(host, scan_type), when the caller knows it already."""
    if kind is None:
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


def _host_service_info(host: HostResult) -> str | None:
    probed = [p for p in host.ports if p.service is not None]  # none at all without -sV
    if not probed:
        return None
    return service_info([(p.state, p.service) for p in sorted(probed, key=_sort_key)],
                        host.ptr_name or "")


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
        service_info=_host_service_info(host) if kind == "port" else None,
        mac=host.mac,
        mac_vendor=host.mac_vendor,
        reason_ttl=host.reason_ttl if kind != "list" else 0,
    )
