"""The port-scan fast path must print exactly what the templates print.

Both sides are ours, so this only proves that the stencil is a faithful
replay of the template path; the templates themselves are held to nmap by
the golden and lab tests.
"""

from __future__ import annotations

import io
import random
import socket
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pynmap.output import OutputSpec, Reporter
from pynmap.output import portstencil as ps
from pynmap.output.context import ViewOptions, build_host_view
from pynmap.output.portstencil import PortStencil, render_view
from pynmap.results import HostResult, PortResult, RunStats, Times

T0 = 1795576136.25
STATES = ("open", "closed", "filtered", "open|filtered", "unfiltered")
REASONS = ("syn-ack", "conn-refused", "no-response", "host-unreach", "net-unreach")


def services(port: int) -> str | None:
    return {22: "ssh", 80: "http", 443: "https", 7: "unknown", 9: "a/b"}.get(port)


def full(host: HostResult, scan_type: str, opts: ViewOptions) -> ps.HostTexts:
    return render_view(build_host_view(host, scan_type, opts, services))


names = st.one_of(
    st.none(),
    st.sampled_from(["localhost", "alpha.lab.test", "{x}", "@@address@@", "a--b-", "a&b<c>\u00e9"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=8),
)
ports_st = st.lists(
    st.tuples(
        st.sampled_from([7, 9, 22, 80, 443, 1000, 8080]) | st.integers(1, 65535),
        st.sampled_from(STATES),
        st.sampled_from(REASONS),
    ),
    max_size=8,
    unique_by=lambda t: t[0],
)
# states with many ports, so that "Not shown" summaries appear
bulk_st = st.lists(
    st.tuples(
        st.sampled_from(("closed", "filtered")), st.integers(20, 80), st.sampled_from(REASONS)
    ),
    max_size=2,
)
opts_st = st.builds(
    ViewOptions,
    verbosity=st.integers(0, 3),
    debugging=st.sampled_from([0, 0, 1, 3]),
    show_reason=st.booleans(),
    open_only=st.booleans(),
    service_scan=st.booleans(),  # -sV without findings: the VERSION column, "?" names
)


@st.composite
def hosts(draw: st.DrawFn) -> tuple[HostResult, str]:
    scan_type = draw(st.sampled_from(["connect", "connect", "ping"]))
    address = draw(st.sampled_from(["198.19.0.1", "10.0.0.255", "::1", "fd00:18::5"]))
    user = draw(names)
    ptr = user if draw(st.booleans()) else draw(names)
    ports = [PortResult(p, s, r) for p, s, r in draw(ports_st)]
    base = 2000
    for state, count, reason in draw(bulk_st):
        ports += [PortResult(base + i, state, reason) for i in range(count)]
        base += 100
    srtt = draw(st.sampled_from([-1, 0, 83, 1234, 999_999, 12_345_678]))
    rttvar = draw(st.sampled_from([-1, 5, 5000])) if srtt == -1 else draw(st.integers(0, 10**6))
    start = draw(st.sampled_from([None, T0, T0 + 0.9]))
    # --privileged: a MAC address (with or without a vendor), an echo reply's TTL
    mac = draw(st.sampled_from([None, None, "00:30:48:5A:00:0A", "02:00:5E:5A:00:0C"]))
    vendor = (draw(st.sampled_from([None, "Super Micro Computer", "Sureman COMP. & Commun.",
                                    "{x} <@@mac@@>"])) if mac else None)
    host = HostResult(
        address=address,
        family=socket.AF_INET6 if ":" in address else socket.AF_INET,
        status=draw(st.sampled_from(["up", "up", "down"])),
        reason=draw(st.sampled_from(["syn-ack", "conn-refused", "user-set", "no-response"])),
        user_name=user,
        ptr_name=ptr,
        times=Times(srtt, rttvar, draw(st.sampled_from([100_000, 1_000_000]))),
        ports=ports,
        start_time=start,
        end_time=None if start is None else start + draw(st.sampled_from([0, 0.4, 3, 61.5])),
        mac=mac,
        mac_vendor=vendor,
        reason_ttl=draw(st.sampled_from([0, 0, 63, 64])),
    )
    return host, scan_type


@settings(max_examples=400, deadline=None)
@given(case=hosts(), opts=opts_st, other_values=hosts())
def test_stencil_equals_templates(
    case: tuple[HostResult, str], opts: ViewOptions, other_values: tuple[HostResult, str]
) -> None:
    host, scan_type = case
    stencil = PortStencil(services)
    assert stencil.render(host, scan_type, opts) == full(host, scan_type, opts)
    # A second host of the same shape with other per-host values: served by
    # the cached patterns, it must still match its own full rendering.
    other = other_values[0]
    twin = HostResult(
        address=other.address if other.family == host.family else host.address,
        family=host.family,
        status=host.status,
        reason=other.reason,
        user_name=(other.user_name or "u") if host.user_name else None,
        ptr_name=None,
        times=Times(
            other.times.srtt
            if host.times.srtt != -1 and other.times.srtt != -1
            else host.times.srtt,
            other.times.rttvar
            if host.times.srtt != -1 or (other.times.rttvar == -1) == (host.times.rttvar == -1)
            else host.times.rttvar,
            other.times.timeout,
        ),
        ports=host.ports,
        start_time=(other.start_time or T0 + 7) if host.start_time else host.start_time,
        end_time=other.end_time,
        mac=(other.mac or "00:1B:21:00:00:03") if host.mac else None,
        mac_vendor=(other.mac_vendor or "Intel Corporate") if host.mac_vendor else None,
        reason_ttl=(other.reason_ttl or 1) if host.reason_ttl else 0,
    )
    if host.ptr_name:
        twin.ptr_name = twin.user_name if host.ptr_name == host.user_name else "ptr.example"
    if twin.user_name and twin.user_name == twin.ptr_name != host.user_name:
        twin.ptr_name = twin.user_name
    assert stencil.shape(twin, scan_type, opts) == stencil.shape(host, scan_type, opts)
    assert stencil.render(twin, scan_type, opts) == full(twin, scan_type, opts)
    assert len(stencil._patterns) == 1


def test_the_benchmark_host_shape_is_shared() -> None:
    """The /16 benchmark: one 2-port table for every host, one pattern set."""
    stencil = PortStencil(services)
    opts = ViewOptions()
    for last in range(300):
        host = HostResult(
            f"198.19.{last // 256}.{last % 256}",
            socket.AF_INET,
            status="up",
            reason="user-set",
            times=Times(100 + last, 50, 100_000),
            ports=[PortResult(80, "open", "syn-ack"), PortResult(443, "closed", "conn-refused")],
            start_time=T0 + last,
            end_time=T0 + last * 1.5,
        )
        assert stencil.render(host, "connect", opts) == full(host, "connect", opts)
    assert len(stencil._patterns) == 1


def test_cached_patterns_follow_each_host_shape_and_options(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One stencil, hosts of different shapes, reasons, latencies and options
    back to back (what it remembers from the previous host must never leak
    into the next): every text as the templates print it, and only the
    formats asked for."""
    monkeypatch.setattr(ps, "_LATENCY_MEMO", 3)  # the memo of latency figures starts over
    stencil = PortStencil(services)
    # equal options as distinct objects, and other options, alternating
    quiet, vv, quiet_again = ViewOptions(), ViewOptions(verbosity=2), ViewOptions()
    table = [PortResult(80, "open", "syn-ack"), PortResult(443, "closed", "conn-refused")]
    flipped = [PortResult(80, "closed", "conn-refused"), PortResult(443, "open", "syn-ack")]

    def host(n: int, ports: list[PortResult], reason: str, srtt: int) -> HostResult:
        return HostResult(f"198.19.0.{n}", socket.AF_INET, status="up", reason=reason,
                          times=Times(srtt, 50, 100_000), ports=ports,
                          start_time=T0 + n, end_time=T0 + n * 1.5)

    cases = [
        (host(1, table, "user-set", 200), "connect", quiet),
        (host(2, flipped, "user-set", 200), "connect", quiet),
        (host(3, table, "syn-ack", 1234), "connect", quiet),
        (host(4, table, "user-set", 200), "connect", vv),  # "Scanned at", REASON column
        (host(5, table, "user-set", 87), "connect", quiet_again),
        (host(6, table, "conn-refused", 999_999), "ping", quiet),
        (host(7, table, "user-set", 200), "connect", vv),
        (host(8, [], "user-set", 12_345_678), "connect", quiet),
        (host(9, table, "user-set", 87), "connect", quiet),
    ]
    for _ in range(2):
        for h, scan_type, opts in cases:
            assert stencil.render(h, scan_type, opts) == full(h, scan_type, opts)
            console, normal, _, xml = full(h, scan_type, opts)
            assert stencil.render(h, scan_type, opts, xml=False, grep=False) == (
                console, normal, "", "")
            assert stencil.render(h, scan_type, opts, xml=True, grep=False) == (
                console, normal, "", xml)
    assert len(stencil._latency) <= 3


def test_unusual_hosts_take_the_full_path() -> None:
    stencil = PortStencil(services)
    opts = ViewOptions(verbosity=1)
    port = [PortResult(80, "open", "syn-ack")]
    other = HostResult(
        "198.19.0.1",
        socket.AF_INET,
        status="up",
        user_name="multi.lab.test",
        other_addresses=("198.19.0.2",),
        ports=port,
    )
    assert stencil.render(other, "connect", opts) is None
    timed_out = HostResult("198.19.0.1", socket.AF_INET, status="up", timed_out=True, ports=port)
    assert stencil.render(timed_out, "connect", opts) is None
    huge = HostResult(
        "198.19.0.1",
        socket.AF_INET,
        status="up",
        ports=[PortResult(p, "closed", "conn-refused") for p in range(1, ps.MAX_PORTS + 2)],
    )
    assert stencil.render(huge, "connect", opts) is None
    listed = HostResult("198.19.0.1", socket.AF_INET)
    assert stencil.render(listed, "list", opts) is None


def test_the_pattern_table_is_bounded() -> None:
    stencil = PortStencil(services)
    opts = ViewOptions()
    hosts = [
        HostResult(
            "198.19.0.1", socket.AF_INET, status="up", ports=[PortResult(p, "open", "syn-ack")]
        )
        for p in range(1, ps.MAX_SHAPES + 6)
    ]
    rendered = [stencil.render(h, "connect", opts) for h in hosts]
    assert len(stencil._patterns) == ps.MAX_SHAPES
    assert all(r is not None for r in rendered[: ps.MAX_SHAPES])
    assert all(r is None for r in rendered[ps.MAX_SHAPES :])
    # shapes already known keep their fast path
    assert stencil.render(hosts[0], "connect", opts) == full(hosts[0], "connect", opts)


def _run_reporter(
    tmp: Path, hosts: list[tuple[HostResult, str]], fast: bool, **spec: object
) -> str:
    out = io.StringIO()
    files = {k: str(tmp / f"{k}-{fast}") for k in ("normal", "grepable", "xml", "kiddie")}
    rep = Reporter(
        OutputSpec(stylesheet=None, **files, **spec),  # type: ignore[arg-type]
        services,
        stdout=out,
        stderr=io.StringIO(),
        rng=random.Random(1),
    )
    if not fast:
        rep._port_stencil.render = lambda *args, **kwargs: None  # type: ignore[method-assign]
    rep.open_files()
    rep.begin(args=["pynmap"], start=T0, scan_ports=[80, 443], scan_type="connect")
    for host, scan_type in hosts:
        rep.host(host, scan_type=scan_type)
    rep.finish(stats=RunStats(len(hosts), len(hosts), 0), end=T0, elapsed=1.0)
    texts = [out.getvalue()] + [Path(p).read_text() for p in files.values()]
    return "\x00".join(texts)


@settings(max_examples=40, deadline=None)
@given(
    batch=st.lists(hosts(), min_size=1, max_size=6),
    verbosity=st.integers(0, 2),
    debugging=st.sampled_from([0, 1]),
    reason=st.booleans(),
    open_only=st.booleans(),
)
def test_reporter_writes_the_same_with_and_without_the_stencil(
    tmp_path_factory: object,
    batch: list[tuple[HostResult, str]],
    verbosity: int,
    debugging: int,
    reason: bool,
    open_only: bool,
) -> None:
    """Every stream (stdout with its -d times, -oN, -oG, -oS, -oX) and the
    decision which hosts are reported at all go through the Reporter alike."""
    tmp = tmp_path_factory.mktemp("rep")  # type: ignore[attr-defined]
    spec = {
        "verbosity": verbosity,
        "debugging": debugging,
        "reason": reason or debugging > 0,
        "open_only": open_only,
    }
    assert _run_reporter(tmp, batch, True, **spec) == _run_reporter(tmp, batch, False, **spec)
