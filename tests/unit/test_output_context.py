"""The "Not shown" rule (reference 3.4, nmap's PortList::isIgnoredState and
nextIgnoredState, and the reason summary of portreasons.cc)."""

from __future__ import annotations

import socket

import pytest

from pynmap.output.context import (
    CollapsePolicy,
    ViewOptions,
    build_host_view,
    collapse,
    is_reported,
    table_cells,
)
from pynmap.results import HostResult, PortResult


def closed(*ports: int) -> list[PortResult]:
    return [PortResult(p, "closed", "conn-refused") for p in ports]


def filtered(reason: str, *ports: int) -> list[PortResult]:
    return [PortResult(p, "filtered", reason) for p in ports]


def opened(*ports: int) -> list[PortResult]:
    return [PortResult(p, "open", "syn-ack") for p in ports]


@pytest.mark.parametrize(
    ("verbosity", "debugging", "threshold"),
    [(0, 0, 25), (1, 0, 50), (2, 0, 75), (3, 0, 100), (1, 1, 550), (2, 2, 1075)],
)
def test_threshold(verbosity: int, debugging: int, threshold: int) -> None:
    policy = CollapsePolicy(verbosity, debugging)
    assert policy.threshold == threshold
    assert not policy.is_ignored("closed", threshold)
    assert policy.is_ignored("closed", threshold + 1)


def test_25_closed_listed_26_collapsed() -> None:
    # cases/few_closed_shown (-p 1-26: 25 closed + 22 open) and collapse_threshold_26 (-p 1-27)
    few = collapse(closed(*[p for p in range(1, 27) if p != 22]) + opened(22), CollapsePolicy())
    assert few.ignored == ()
    assert len(few.shown) == 26
    many = collapse(closed(*[p for p in range(1, 28) if p != 22]) + opened(22), CollapsePolicy())
    assert [(s.state, s.count) for s in many.ignored] == [("closed", 26)]
    assert [p.port for p in many.shown] == [22]


def test_open_is_never_ignored() -> None:
    col = collapse(opened(*range(1, 101)), CollapsePolicy())
    assert col.ignored == () and len(col.shown) == 100


def test_debugging_3_ignores_nothing() -> None:
    col = collapse(closed(*range(1, 5000)), CollapsePolicy(3, 3))
    assert col.ignored == ()


def test_states_by_descending_count() -> None:
    # cases/two_ignored_states: 199 closed then 100 filtered
    ports = closed(*[p for p in range(1, 201) if p != 22]) + opened(22, 3306)
    ports += filtered("no-response", *range(45000, 45100))
    col = collapse(ports, CollapsePolicy())
    assert [(s.state, s.count) for s in col.ignored] == [("closed", 199), ("filtered", 100)]
    # cases/all_ignored_two_states: 100 filtered before 38 closed
    col = collapse(
        closed(*range(23, 61)) + filtered("no-response", *range(45000, 45100)), CollapsePolicy()
    )
    assert [(s.state, s.count) for s in col.ignored] == [("filtered", 100), ("closed", 38)]
    assert col.all_ignored
    assert col.single_ignored is None


def test_tied_states_go_to_lower_state_number() -> None:
    ports = filtered("no-response", *range(1000, 1030)) + closed(*range(1, 31))
    col = collapse(ports, CollapsePolicy())
    assert [s.state for s in col.ignored] == ["closed", "filtered"]


def test_reason_groups_larger_first_ties_reversed() -> None:
    ports = filtered("host-unreach", *range(100, 110))
    ports += filtered("no-response", *range(200, 230))
    ports += filtered("net-unreach", *range(300, 310))
    (state,) = collapse(ports, CollapsePolicy()).ignored
    assert state.count == 50
    # no-response (30) first; host-unreach and net-unreach tie at 10, and
    # nmap's merge sort puts the later-seen one first.
    assert [(g.reason, g.count) for g in state.groups] == [
        ("no-response", 30),
        ("net-unreach", 10),
        ("host-unreach", 10),
    ]
    assert state.groups[0].ranges == "200-229"


def test_open_only_ignores_every_closed_or_filtered_port() -> None:
    # cases/open_only: 999 closed and 1 filtered collapsed, only open ports listed
    ports = closed(*[p for p in range(1, 1001) if p != 22]) + opened(22, 22222, 33306)
    ports += filtered("no-response", 44444)
    col = collapse(ports, CollapsePolicy(open_only=True))
    assert [(s.state, s.count) for s in col.ignored] == [("closed", 999), ("filtered", 1)]
    assert [p.port for p in col.shown] == [22, 22222, 33306]
    # cases/open_only_multi: a single closed port is collapsed too
    col = collapse(closed(80) + opened(22, 3306), CollapsePolicy(1, 0, open_only=True))
    assert col.single_ignored is not None and col.single_ignored.count == 1


def test_single_ignored_state_for_grepable() -> None:
    col = collapse(closed(*range(23, 101)), CollapsePolicy())
    assert col.all_ignored
    assert col.single_ignored is not None
    assert (col.single_ignored.state, col.single_ignored.count) == ("closed", 78)


def host(**kw: object) -> HostResult:
    defaults: dict[str, object] = dict(address="127.0.0.1", family=socket.AF_INET, status="up")
    defaults.update(kw)
    return HostResult(**defaults)  # type: ignore[arg-type]


def test_down_hosts_reported_only_with_verbose_and_without_open() -> None:
    down = host(address="127.0.0.5", status="down", reason="no-response")
    assert not is_reported(down, "connect", ViewOptions())
    assert is_reported(down, "connect", ViewOptions(verbosity=1))
    assert not is_reported(down, "connect", ViewOptions(verbosity=1, open_only=True))
    assert is_reported(down, "ping", ViewOptions(verbosity=1))


def test_open_only_drops_hosts_without_open_ports() -> None:
    all_closed = host(ports=closed(22, 80))
    assert not is_reported(all_closed, "connect", ViewOptions(open_only=True))
    assert is_reported(host(ports=opened(22)), "connect", ViewOptions(open_only=True))
    # a host whose timeout hit is reported anyway
    assert is_reported(host(timed_out=True), "connect", ViewOptions(open_only=True))


def test_name_ip_and_rdns_line() -> None:
    opts = ViewOptions()
    v = build_host_view(
        host(user_name="vm.lab.test", ptr_name="localhost"), "connect", opts, lambda p: None
    )
    assert v.name_ip == "vm.lab.test (127.0.0.1)" and v.rdns_differs
    v = build_host_view(
        host(user_name="localhost", ptr_name="localhost"), "connect", opts, lambda p: None
    )
    assert not v.rdns_differs
    v = build_host_view(host(ptr_name="alpha.lab.test"), "connect", opts, lambda p: None)
    assert v.name_ip == "alpha.lab.test (127.0.0.1)"
    v = build_host_view(host(address="127.0.0.4"), "connect", opts, lambda p: None)
    assert v.name_ip == "127.0.0.4"


def test_table_rows_carry_no_trailing_blanks() -> None:
    widths = (9, 8, 14, 12)
    assert (
        table_cells(("PORT", "STATE", "SERVICE", "REASON"), widths)
        == "PORT      STATE    SERVICE        REASON"
    )
    assert table_cells(("44446/tcp", "filtered", "unknown", "host-unreach"), widths) == (
        "44446/tcp filtered unknown        host-unreach"
    )
    assert table_cells(("0/tcp", "closed", "unknown"), (5, 6, 7)) == "0/tcp closed unknown"
