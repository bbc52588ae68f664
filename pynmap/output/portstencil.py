"""A fast path for the reports of port-scanned, pinged and down hosts.

A port scan of a /16 reports tens of thousands of hosts that mostly look
alike: the same port table, the same options, only the address, the reason
and the times differ.  As for list scans (`pynmap.output.stencil`), the host
templates are rendered once per *shape* of host with marker strings in place
of the per-host values, turned into printf-style patterns and filled in for
each host.  The text is the templates' own, so it cannot drift from them.

The shape is everything that changes the text apart from those values: the
kind of report, address family, which names are known, which timing lines
are shown, the whole port table (ports, states, reasons; services follow
from the ports) and the output options.  The markers only ever reach the
templates through plain `{{ }}` printing or `|xa`, which leaves them as they
are; values are escaped here the same way for XML.  Hosts of an unusual
shape (other addresses of a typed name, timed out, a huge port table) and
new shapes once the table of patterns is full take the full path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pynmap.output import fmt
from pynmap.output.context import (
    HostView,
    ServiceName,
    ViewOptions,
    build_host_view,
    host_kind,
    latency_text,
    scan_span,
)
from pynmap.output.render import macros
from pynmap.output.stencil import mark, to_percent_pattern
from pynmap.output.xmlesc import xml_escape
from pynmap.plain import replace
from pynmap.results import HostResult, PortResult, Times

# (console, normal, grepable, xml): console differs from normal only by the
# -d "Final times for host" line.
HostTexts = tuple[str, str, str, str]

# Patterns are kept for this many shapes; a scan whose hosts have more
# shapes than that renders the rest in full rather than growing memory.
MAX_SHAPES = 256
# Larger port tables make long keys for little gain: their text dominates.
MAX_PORTS = 1024

_KINDS = frozenset({"port", "ping", "down"})
_FIELDS = ("address", "user_name", "ptr_name", "reason", "latency", "srtt", "rttvar",
           "timeout", "starttime", "endtime", "scanned_at", "scanned_for", "mac", "mac_vendor",
           "reason_ttl")
# The values that may hold XML specials; the others are numbers (and MAC addresses).
_TEXT_FIELDS = ("address", "user_name", "ptr_name", "reason", "scanned_at", "mac_vendor")
# Latency figures are remembered per srtt (a /16 has a few hundred distinct
# ones) up to this many; then the memo starts again.
_LATENCY_MEMO = 4096

# One per-host value: the host -> the text its marker stands for.
Getter = Callable[[HostResult], str]
# A shape's patterns and, for each of the plain texts (console and normal),
# the grepable text and the XML, the values its pattern uses (XML ones escaped).
_Entry = tuple[str, str, str, str, tuple[tuple[str, Getter], ...],
               tuple[tuple[str, Getter], ...], tuple[tuple[str, Getter], ...]]


def render_view(view: HostView) -> HostTexts:
    """The full template path for one host view."""
    normal: str = macros("normal").host(view, False)
    console: str = macros("normal").host(view, True) if view.debug_times else normal
    return (console, normal, macros("grepable").host(view), macros("xml").host(view))


class PortStencil:
    """Replays the host templates for hosts that are not list-scanned."""

    def __init__(
        self,
        service_name: ServiceName,
        render: Callable[[HostView], HostTexts] = render_view,
    ) -> None:
        self._service_name = service_name
        self._render = render
        # One entry per shape: its first element numbers the (scan type,
        # options) pair, so that a lookup hashes a small int, not the options.
        self._patterns: dict[tuple[Any, ...], _Entry] = {}
        self._settings: dict[tuple[str, ViewOptions], int] = {}
        # the last (scan type, options) pair seen, its number and whether it shows
        # the -vv "Scanned at" line: the same objects come back host after host
        self._scan_type = ""
        self._opts: ViewOptions | None = None
        self._setting = 0
        self._verbose = False
        self._latency: dict[int, str] = {}

    @staticmethod
    def _key(host: HostResult, kind: str, setting: Any, verbose: bool) -> tuple[Any, ...] | None:
        """The shape, or None when it needs the full renderer.  `setting` stands
        for the scan type and the options (`verbose`: they show the "Scanned at"
        line)."""
        if kind not in _KINDS:
            return None
        user = host.user_name
        if user and host.other_addresses:
            return None
        ports = host.ports
        if len(ports) > MAX_PORTS:
            return None
        # build_host_view: ports and the -vv "Scanned at" line only for "port".
        if kind == "port" and ports:
            rows = []
            for p in ports:
                if p.service is not None:
                    return None  # -sV's findings differ from host to host
                rows.append((p.port, p.protocol, p.state, p.reason))
            table: tuple[Any, ...] = tuple(rows)
            scanned_at = verbose and bool(host.start_time)
        else:
            table = ()
            scanned_at = False
        ptr = host.ptr_name
        times = host.times
        return (
            setting,
            kind,
            host.family,
            bool(user),
            bool(ptr),
            bool(user) and user == ptr,
            times.srtt != -1,
            times.srtt != -1 or times.rttvar != -1,
            scanned_at,
            table,
            host.mac is not None,  # --privileged's MAC address line and element
            host.mac_vendor is not None,
            host.reason_ttl != 0,  # nmap's " ttl 63" after the reason
        )

    @staticmethod
    def shape(host: HostResult, scan_type: str, opts: ViewOptions) -> tuple[Any, ...] | None:
        """The host's shape, or None when it needs the full renderer."""
        return PortStencil._key(host, host_kind(host, scan_type), (scan_type, opts),
                                bool(opts.verbosity > 1 or opts.debugging))

    def _build(self, key: tuple[Any, ...], scan_type: str, opts: ViewOptions) -> _Entry:
        (
            _,
            kind,
            family,
            has_user,
            has_ptr,
            same,
            latency,
            timed,
            scanned_at,
            table,
            has_mac,
            has_vendor,
            has_ttl,
        ) = key
        fake = HostResult(
            address=mark("address"),
            family=family,
            status="down" if kind == "down" else "up",
            reason=mark("reason"),
            user_name=mark("user_name") if has_user else None,
            ptr_name=mark("user_name" if same else "ptr_name") if has_ptr else None,
            # real numbers here decide which lines exist; their text is replaced below
            times=Times(1 if latency else -1, 1 if timed else -1),
            ports=[PortResult(port, state, reason, proto) for port, proto, state, reason in table],
            start_time=1.0 if scanned_at else None,
            end_time=None,
            mac=mark("mac") if has_mac else None,
            mac_vendor=mark("mac_vendor") if has_vendor else None,
        )
        view = build_host_view(fake, scan_type, opts, self._service_name)
        if has_ttl:  # a marker where the number goes: the templates only print it
            view = replace(view, reason_ttl=mark("reason_ttl"))
        view = replace(
            view,
            latency=mark("latency") if view.latency is not None else None,
            times=(
                # markers stand where the numbers go: the templates only print them
                Times(mark("srtt"), mark("rttvar"), mark("timeout"))  # type: ignore[arg-type]
                if view.times is not None
                else None
            ),
            starttime=mark("starttime") if view.starttime is not None else None,
            endtime=mark("endtime") if view.endtime is not None else None,
            scanned_at=mark("scanned_at") if view.scanned_at is not None else None,
            scanned_for=mark("scanned_for"),
        )
        console, normal, grep, xml = self._render(view)
        normal_pattern, normal_fields = to_percent_pattern(normal, _FIELDS)
        # the same object tells render() that console is a copy of normal
        console_pattern, console_fields = (
            (normal_pattern, ()) if console == normal else to_percent_pattern(console, _FIELDS))
        grep_pattern, grep_fields = to_percent_pattern(grep, _FIELDS)
        xml_pattern, xml_fields = to_percent_pattern(xml, _FIELDS)
        # only the values a pattern prints are worked out for each host
        getters = self._getters(kind == "port", scanned_at)
        plain_fields = set(normal_fields + console_fields)
        return (console_pattern, normal_pattern, grep_pattern, xml_pattern,
                tuple((name, getters[name]) for name in _FIELDS if name in plain_fields),
                tuple((name, getters[name]) for name in grep_fields),
                tuple((name, _escaping(getters[name]) if name in _TEXT_FIELDS else getters[name])
                      for name in xml_fields))

    def _getters(self, timed: bool, scanned_at: bool) -> dict[str, Getter]:
        """What each marker stands for, as build_host_view works it out; str()
        is what Jinja prints for a number.  `timed`: a port-scanned host (its
        scan's start and end; 0 for the others); `scanned_at`: the -vv line."""
        if timed:
            def starttime(host: HostResult) -> str:
                return str(scan_span(host)[0])

            def endtime(host: HostResult) -> str:
                return str(scan_span(host)[1])

            def scanned_for(host: HostResult) -> str:
                start, end = scan_span(host)
                return str(end - start)
        else:
            def starttime(host: HostResult) -> str:
                return "0"

            endtime = scanned_for = starttime

        def scanned(host: HostResult) -> str:
            return fmt.seconds_time(host.start_time) if scanned_at and host.start_time else ""

        return {
            "address": lambda host: host.address,
            "user_name": lambda host: host.user_name or "",
            "ptr_name": lambda host: host.ptr_name or "",
            "reason": lambda host: host.reason,
            "latency": self._latency_text,
            "srtt": lambda host: str(host.times.srtt),
            "rttvar": lambda host: str(host.times.rttvar),
            "timeout": lambda host: str(host.times.timeout),
            "starttime": starttime,
            "endtime": endtime,
            "scanned_at": scanned,
            "scanned_for": scanned_for,
            "mac": lambda host: host.mac or "",
            "mac_vendor": lambda host: host.mac_vendor or "",
            "reason_ttl": lambda host: str(host.reason_ttl),
        }

    def _latency_text(self, host: HostResult) -> str:
        """latency_text(), remembered per srtt: it depends on nothing else."""
        times = host.times
        text = self._latency.get(times.srtt)
        if text is None:
            text = latency_text(times) or ""
            if len(self._latency) >= _LATENCY_MEMO:
                self._latency.clear()
            self._latency[times.srtt] = text
        return text

    def render(
        self,
        host: HostResult,
        scan_type: str,
        opts: ViewOptions,
        *,
        xml: bool = True,
        grep: bool = True,
        kind: str | None = None,
    ) -> HostTexts | None:
        """(console, normal, grepable, xml) text for the host, or None for the full path.

        The caller has already decided that the host is reported at all; xml
        and grepable are "" unless asked for.  `kind` is host_kind(host,
        scan_type), when the caller knows it.
        """
        if opts is not self._opts or scan_type != self._scan_type:
            self._setting = self._settings.setdefault((scan_type, opts), len(self._settings))
            self._verbose = bool(opts.verbosity > 1 or opts.debugging)
            self._opts, self._scan_type = opts, scan_type
        shape = self._key(host, host_kind(host, scan_type) if kind is None else kind,
                          self._setting, self._verbose)
        if shape is None:
            return None
        entry = self._patterns.get(shape)
        if entry is None:
            if len(self._patterns) >= MAX_SHAPES:
                return None
            entry = self._patterns[shape] = self._build(shape, scan_type, opts)
        console, normal, grep_pattern, xml_pattern, plain_values, grep_values, xml_values = entry
        # (loops, not comprehensions: a comprehension is a function call of its own)
        values = {}
        for name, get in plain_values:
            values[name] = get(host)
        normal_text = normal % values
        console_text = normal_text if console is normal else console % values
        grep_text = xml_text = ""
        if grep:
            values = {}
            for name, get in grep_values:
                values[name] = get(host)
            grep_text = grep_pattern % values
        if xml:
            values = {}
            for name, get in xml_values:
                values[name] = get(host)
            xml_text = xml_pattern % values
        return (console_text, normal_text, grep_text, xml_text)


def _escaping(get: Getter) -> Getter:
    """`get` with its value escaped for XML, as the templates' |xa escapes it."""
    return lambda host: xml_escape(get(host))
