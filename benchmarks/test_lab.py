"""The lab scenarios, timed: pynmap and nmap take turns on the same targets.

Each workload builds its lab (tests/support/lab), runs both programs
alternately for the configured rounds, and adds its row to the table.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks.harness import Workload, bench, format_table
from tests.support.lab import SCENARIOS, lab
from tests.support.netns import Netns, listening, netns_for_tests
from tests.support.servicelab import MAIN, SLOW, WIDE, lab_mask, pick, port_list, service_lab

LAB_WORKLOADS = {
    "rtt50": Workload("lab: 1 host, 50 ms RTT, 1000 ports, 300 filtered",
                      ("-sT", "-n", "-p", "1-700,3000-3299", "198.18.0.10")),
    "lossy": Workload("lab: 2% loss, 20 ms RTT, 1000 ports",
                      ("-sT", "-n", "-Pn", "198.18.0.10")),
    "fleet": Workload("lab: /26, 20 hosts down, top 100 ports",
                      ("-sT", "-n", "-F", "198.18.0.64/26")),
    "rst_limit": Workload("lab: RST limit 100/s, 1000 ports",
                          ("-sT", "-n", "-Pn", "198.18.0.10")),
    "mixed": Workload("lab: 4 hosts, 0 ms, top 1000 ports",
                      ("-sT", "-n", "198.18.0.10-13")),
    # 131072 probes: the large fleet, and pynmap's peak memory on it
    "anyip16": Workload("lab: AnyIP /16, -Pn, ports 80,443",
                        ("-sT", "-n", "-Pn", "-p", "80,443", "198.19.0.0/16")),
}


@pytest.mark.parametrize("name", list(LAB_WORKLOADS))
def test_lab_scenario(name: str, benchmark: Any, rounds: int, tmp_path: Path) -> None:
    workload = LAB_WORKLOADS[name]
    with lab(SCENARIOS[name]) as running:
        result = bench(benchmark, workload, running.scanner, tmp_path, rounds=rounds)
    print()
    print(format_table([result]))
    assert {s.exit for s in result.samples["nmap"]} == {0}


ANYIP16 = LAB_WORKLOADS["anyip16"].args


def test_cluster_overhead(benchmark: Any, rounds: int, tmp_path: Path) -> None:
    """--cluster local:2 (2 worker processes, 4 shards) against one pynmap process on
    the /16: the reference column is pynmap without --cluster, so the ratio is
    the mechanism's cost (start-up, shards, merging) less what a second core wins.
    Peak RSS is the client's (the workers are its grandchildren)."""
    workload = Workload("lab: AnyIP /16, pynmap --cluster local:2 (reference: one pynmap)",
                        ("--cluster", "local:2", *ANYIP16), reference_args=ANYIP16,
                        mask=_host_order)
    with lab(SCENARIOS["anyip16"]) as running:
        result = bench(benchmark, workload, running.scanner, tmp_path, rounds=rounds)
    print()
    print(format_table([result]))
    assert {s.exit for s in result.samples["nmap"] + result.samples["pynmap"]} == {0}


def _host_order(text: str) -> str:
    """The host reports sorted: a cluster run prints them shard by shard."""
    head, *reports = text.split("\nNmap scan report for ")
    if not reports:
        return text
    last, done, tail = reports[-1].partition("\nNmap done")
    reports[-1] = last
    return "\n".join([head, *sorted(r.rstrip("\n") for r in reports), done + tail])


LOOPBACK_OPEN = (22, 80, 3306, 8080)


@pytest.fixture(scope="module")
def loopback() -> Iterator[Netns]:
    with netns_for_tests("pynmap-blo") as ns, listening(ns, LOOPBACK_OPEN):
        yield ns


LOOPBACK_LABELS = {
    (): "loopback top 1000 (whole process)",
    ("-p-",): "loopback -p-",
    # the form typed most after the default: a user's rate floor, -T4
    ("-p-", "--min-rate", "10000", "-T4"): "loopback -p- --min-rate 10000 -T4",
}


@pytest.mark.parametrize("ports", list(LOOPBACK_LABELS),
                         ids=["top1000", "all_ports", "all_ports_min_rate"])
def test_loopback(ports: tuple[str, ...], loopback: Netns, benchmark: Any, rounds: int,
                  tmp_path: Path) -> None:
    label = LOOPBACK_LABELS[ports]
    workload = Workload(label, ("-sT", "-n", *ports, "127.0.0.1"))
    result = bench(benchmark, workload, loopback, tmp_path, rounds=rounds)
    print()
    print(format_table([result]))
    assert {s.exit for s in result.samples["nmap"]} == {0}


def test_service_versions(benchmark: Any, rounds: int, tmp_path: Path) -> None:
    """-sV over the service lab's real daemons and odd services (tests/support/servicelab.py):
    most of nmap's time is the NULL probe's 6 s wait, twice for the TLS service."""
    chosen = pick(*WIDE)
    workload = Workload(f"service lab: -sV, {len(chosen)} services on 2 hosts (one at 50 ms)",
                        ("-sT", "-sV", "-n", "-p", port_list(chosen), MAIN, SLOW),
                        mask=lab_mask)
    with service_lab() as running:
        result = bench(benchmark, workload, running.scanner, tmp_path, rounds=rounds)
    print()
    print(format_table([result]))
    assert {s.exit for s in result.samples["nmap"]} == {0}
