"""Properties of pynmap.ports over random input.

Whatever the text, parsing ends in a port list or in errors.Fatal (nmap's
fatal()), never another exception; and results keep the invariants nmap's
port table gives them (sorted, unique, in range).  Number-only specs are
also checked against the grammar of reference section 1.3 written out as
sets (ranges, open ends, duplicates).
"""

from __future__ import annotations

import random
from functools import cache

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pynmap import ports as P
from pynmap.errors import Fatal
from pynmap.services import DataFiles, ServiceDB

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@cache
def stock() -> ServiceDB:
    return ServiceDB(DataFiles(warn=lambda _: None, environ={}, home_dirs=[])).load()


GRAMMAR_CHARS = "0123456789-,[]: \tTUSPXtusph*?sqlx"
spec_text = st.one_of(
    st.text(alphabet=GRAMMAR_CHARS, max_size=24),
    st.text(max_size=24),
    st.lists(
        st.sampled_from(
            [
                "22",
                "1-5",
                "-",
                "-9",
                "65535-",
                "0",
                "70000",
                "ssh",
                "http*",
                "*sql*",
                "?",
                "[1-100]",
                "[",
                "]",
                "T:",
                "U:",
                "S:",
                "P:",
                "Q:",
                ",",
                " ",
                "\t",
                "x",
                "SSH",
                "1-2-3",
                "99999999999999999999",
                "\x00",
                "é",
                "\udcff",
            ]
        ),
        max_size=8,
    ).map("".join),
)


def ports_ok(ports: tuple[int, ...], limit: int = 65535) -> bool:
    return list(ports) == sorted(set(ports)) and all(0 <= p <= limit for p in ports)


@FAST
@given(spec=spec_text, protocols=st.sets(st.sampled_from(["tcp", "udp", "sctp"]), min_size=1))
def test_parse_port_spec_only_fails_with_fatal(spec: str, protocols: set[str]) -> None:
    warned: list[str] = []
    try:
        got = P.parse_port_spec(spec, stock(), protocols=sorted(protocols), warn=warned.append)
    except Fatal as exc:
        assert exc.text.endswith("\nQUITTING!\n")
        return
    assert got.count > 0  # an empty list is nmap's "No ports specified" fatal
    assert all(ports_ok(p) for p in (got.tcp, got.udp, got.sctp))
    assert ports_ok(got.ip, 255)
    assert warned in ([], [P.DUPLICATE_WARNING])


@FAST
@given(spec=spec_text)
def test_ping_spec_only_fails_with_fatal(spec: str) -> None:
    try:
        got = P.parse_ping_ports(spec, stock(), warn=lambda _: None)
    except Fatal:
        return
    assert got and ports_ok(got)


@FAST
@given(
    spec=st.none() | spec_text,
    exclude=st.none() | spec_text,
    fast=st.booleans(),
    level=st.none()
    | st.integers(min_value=1, max_value=70000).map(lambda n: ("top", n))
    | (st.floats(min_value=0, max_value=0.999) | st.just(float("nan"))).map(lambda r: ("ratio", r)),
    ping=st.none() | st.lists(st.integers(0, 65535), max_size=3),
    port_scan=st.booleans(),
)
def test_select_ports_only_fails_with_fatal(
    spec: str | None,
    exclude: str | None,
    fast: bool,
    level: tuple[str, float] | None,
    ping: list[int] | None,
    port_scan: bool,
) -> None:
    top = int(level[1]) if level and level[0] == "top" else None
    ratio = level[1] if level and level[0] == "ratio" else None
    try:
        got = P.select_ports(
            spec=spec,
            exclude_spec=exclude,
            fast=fast,
            top_ports=top,
            port_ratio=ratio,
            services=stock(),
            ping_ports=ping,
            port_scan=port_scan,
            warn=lambda _: None,
            debugging=2,
            stdout=lambda _: None,
        )
    except Fatal:
        return
    assert ports_ok(got.tcp)
    if not port_scan:
        assert got.tcp == ()
    if top is not None and port_scan:
        assert len(got.tcp) <= top
    if ping is None:
        assert got.ping is None
    else:
        assert got.ping is not None and set(got.ping) <= set(ping)


# --- number-only specs against the grammar written as sets ---------------------

items = st.one_of(  # (text, first, last)
    st.integers(0, 65535).map(lambda n: (str(n), n, n)),
    st.tuples(st.integers(0, 65535), st.integers(0, 65535)).map(
        lambda ab: (f"{min(ab)}-{max(ab)}", min(ab), max(ab))
    ),
    st.integers(1, 65535).map(lambda n: (f"-{n}", 1, n)),
    st.integers(0, 65535).map(lambda n: (f"{n}-", n, 65535)),
)


def union(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(intervals):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged


@settings(max_examples=150, deadline=None)
@given(st.lists(items, min_size=1, max_size=6), st.booleans())
def test_numeric_specs_follow_the_grammar(parts: list[tuple[str, int, int]], spaced: bool) -> None:
    joiner = ", " if spaced else ","  # a blank may follow a comma, not an open "N-"
    spec = joiner.join(text for text, _, _ in parts)
    warned: list[str] = []
    got = P.parse_port_spec(spec, stock(), warn=warned.append)
    merged = union([(lo, hi) for _, lo, hi in parts])
    assert P.compress_ranges(got.tcp) == ",".join(
        str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in merged
    )
    covered = sum(hi - lo + 1 for lo, hi in merged)
    overlapping = sum(hi - lo + 1 for _, lo, hi in parts) != covered
    assert warned == ([P.DUPLICATE_WARNING] if overlapping else [])


@FAST
@given(st.sets(st.integers(0, 65535), max_size=200))
def test_compress_ranges_round_trip(ports: set[int]) -> None:
    text = P.compress_ranges(ports)
    if not ports:
        assert text == ""
        return
    back: set[int] = set()
    for item in text.split(","):
        first, _, last = item.partition("-")
        assert not last or int(last) > int(first) + 0  # runs of one port are written alone
        back.update(range(int(first), int(last or first) + 1))
    assert back == ports
    # a spec nmap reads back as the same list
    assert set(P.parse_port_spec(text, stock(), warn=lambda _: None).tcp) == ports


@FAST
@given(st.sets(st.integers(0, 65535), max_size=300), st.integers(0, 2**32))
def test_scan_order_is_a_permutation_popular_first(ports: set[int], seed: int) -> None:
    order = P.scan_order(sorted(ports), randomize=True, rng=random.Random(seed))
    assert sorted(order) == sorted(ports)
    popular = [p for p in order if p in P.POPULAR_TCP_PORTS]
    assert order[: len(popular)] == popular
    assert P.scan_order(sorted(ports), randomize=False, rng=random.Random(seed)) == sorted(ports)
