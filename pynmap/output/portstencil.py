"""A fast path for the reports of port-scanned, pinged and down hosts.

A port scan of a /16 reports tens of thousands of hosts that mostly look
alike: the same port table, the same options, only the address, the reason
and the times differ.  As for list scans (`pynmap.output.stencil`), the host
templates are rendered once per *shape* of host with marker strings in place
of the per-host values, turned into str.format patterns and filled in for
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
from pynmap.output.stencil import mark, to_pattern
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
        self._patterns: dict[tuple[Any, ...], HostTexts] = {}

    @staticmethod
    def shape(host: HostResult, scan_type: str, opts: ViewOptions) -> tuple[Any, ...] | None:
        """The host's shape, or None when it needs the full renderer."""
        kind = host_kind(host, scan_type)
        if kind not in _KINDS:
            return None
        user = host.user_name
        if user and host.other_addresses:
            return None
        ports = host.ports
        if len(ports) > MAX_PORTS:
            return None
        if kind == "port" and any(p.service is not None for p in ports):
            return None  # -sV's findings differ from host to host
        ptr = host.ptr_name
        times = host.times
        # build_host_view: ports and the -vv "Scanned at" line only for "port".
        table = (
            tuple([(p.port, p.protocol, p.state, p.reason) for p in ports])
            if kind == "port"
            else ()
        )
        scanned_at = (
            bool(table) and bool(opts.verbosity > 1 or opts.debugging) and bool(host.start_time)
        )
        return (
            kind,
            scan_type,
            host.family,
            bool(user),
            bool(ptr),
            bool(user) and user == ptr,
            times.srtt != -1,
            times.srtt != -1 or times.rttvar != -1,
            scanned_at,
            table,
            opts,
            host.mac is not None,  # --privileged's MAC address line and element
            host.mac_vendor is not None,
            host.reason_ttl != 0,  # nmap's " ttl 63" after the reason
        )

    def _build(self, shape: tuple[Any, ...]) -> HostTexts:
        (
            kind,
            scan_type,
            family,
            has_user,
            has_ptr,
            same,
            latency,
            timed,
            scanned_at,
            table,
            opts,
            has_mac,
            has_vendor,
            has_ttl,
        ) = shape
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
        normal_pattern = to_pattern(normal, _FIELDS)
        # the same object tells render() that console is a copy of normal
        console_pattern = normal_pattern if console == normal else to_pattern(console, _FIELDS)
        return (console_pattern, normal_pattern, to_pattern(grep, _FIELDS), to_pattern(xml, _FIELDS))

    def render(
        self, host: HostResult, scan_type: str, opts: ViewOptions, *, xml: bool = True
    ) -> HostTexts | None:
        """(console, normal, grepable, xml) text for the host, or None for the full path.

        The caller has already decided that the host is reported at all; xml is
        "" unless asked for.
        """
        shape = self.shape(host, scan_type, opts)
        if shape is None:
            return None
        patterns = self._patterns.get(shape)
        if patterns is None:
            if len(self._patterns) >= MAX_SHAPES:
                return None
            patterns = self._patterns[shape] = self._build(shape)
        values = self._values(host, shape[0] == "port", shape[8])
        console, normal, grep, xml_pattern = patterns
        normal_text = normal.format_map(values)
        console_text = normal_text if console is normal else console.format_map(values)
        xml_text = ""
        if xml:
            escaped = values.copy()
            for key in _TEXT_FIELDS:
                escaped[key] = xml_escape(values[key])
            xml_text = xml_pattern.format_map(escaped)
        return (console_text, normal_text, grep.format_map(values), xml_text)

    @staticmethod
    def _values(host: HostResult, timed: bool, scanned_at: bool) -> dict[str, str]:
        # Mirrors build_host_view for the values the markers stand for;
        # str() is what Jinja prints for a number.
        times = host.times
        start, end = scan_span(host) if timed else (0, 0)
        return {
            "address": host.address,
            "user_name": host.user_name or "",
            "ptr_name": host.ptr_name or "",
            "reason": host.reason,
            "latency": latency_text(times) or "",
            "srtt": str(times.srtt),
            "rttvar": str(times.rttvar),
            "timeout": str(times.timeout),
            "starttime": str(start),
            "endtime": str(end),
            "scanned_at": fmt.seconds_time(host.start_time)
            if scanned_at and host.start_time
            else "",
            "scanned_for": str(end - start),
            "mac": host.mac or "",
            "mac_vendor": host.mac_vendor or "",
            "reason_ttl": str(host.reason_ttl),
        }
