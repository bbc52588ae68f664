"""nmap and pynmap in the lab: the same port tables (port, state, reason), the same outputs.

Each test first holds nmap's run against the scenario's declared truth, so
a broken lab is reported as such ("harness: ..."), then compares pynmap's
port table, parsed from -oX, with nmap's.  Where the run does not depend on
timing, normal, grepable and XML outputs must also be identical after the
mask.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.compare import Run, assert_same, run_both, run_one
from tests.support.lab import SCENARIOS, Lab, lab
from tests.support.lab.results import Table, hosts_up, open_ports, port_table, scanned_ports

pytestmark = [pytest.mark.lab, pytest.mark.nmap]

OUTPUTS = ["out.nmap", "out.gnmap", "out.xml"]
FILES = ["-oN", "out.nmap", "-oG", "out.gnmap", "-oX", "out.xml"]


def xml(run: Run) -> str:
    text = run.files["out.xml"]
    assert text, f"no XML written (exit {run.exit})\n{run.stderr}"
    return text


def table(run: Run) -> Table:
    return port_table(xml(run))


def spec(ports: list[int]) -> str:
    return ",".join(map(str, ports))


def check_nmap(nmap: Run, want: Table) -> None:
    """The lab itself is right: nmap finds exactly what the scenario declares."""
    __tracebackhide__ = True
    assert nmap.exit == 0, f"harness: nmap failed\n{nmap.stderr}"
    found = table(nmap)
    assert sorted(found) == sorted(want), "harness: nmap finds other hosts up than declared"
    for address, ports in want.items():
        wrong = {p: (found[address].get(p), truth) for p, truth in ports.items()
                 if found[address].get(p) != truth}
        assert not wrong, f"harness: nmap disagrees with the scenario on {address}: " \
                          f"port: (nmap, declared) {wrong}"


# -- (a) loopback of the scanner namespace ------------------------------------------------

@pytest.fixture(scope="module")
def loopback() -> Iterator[Lab]:
    with lab("loopback") as running:
        yield running


# -p- is scanned by two processes (pynmap/engine/split.py); with -v the
# second one's "Discovered open port" lines are replayed by the first; a
# minimum rate is shared between the two (the line people type most).
@pytest.mark.parametrize("ports", [[], ["-p-"], ["-p-", "-v"],
                                   ["-p-", "--min-rate", "10000", "-T4"]],
                         ids=["top1000", "all", "all_verbose", "all_min_rate_T4"])
def test_loopback(ports: list[str], loopback: Lab, nmap_oracle: str, tmp_path: Path) -> None:
    args = ["-sT", "-n", "--reason", *ports, *FILES, "127.0.0.1"]
    nmap, pynmap = run_both(args, loopback.scanner, tmp_path, outputs=OUTPUTS)
    listening = set(loopback.scenario.scanner_open)
    scanned = scanned_ports(xml(nmap))
    assert len(scanned) == (65535 if "-p-" in ports else 1000)
    check_nmap(nmap, {"127.0.0.1": {p: ("open", "syn-ack") if p in listening
                                    else ("closed", "conn-refused") for p in scanned}})
    assert table(pynmap) == table(nmap)
    assert_same(nmap, pynmap, args)


# -- (b) 4 hosts at 0 ms, every kind of port -------------------------------------------------

MIXED_PORTS = [9, 22, 25, 80, 443, 2000, 2001, 2002, 2003, 2004, 3306, 8080]


@pytest.fixture(scope="module")
def mixed() -> Iterator[Lab]:
    with lab("mixed") as running:
        yield running


@pytest.mark.parametrize("ipv6", [False, True], ids=["ipv4", "ipv6"])
def test_mixed_hosts_at_zero_delay(ipv6: bool, mixed: Lab, nmap_oracle: str,
                                   tmp_path: Path) -> None:
    family = ["-6"] if ipv6 else []
    args = ["-sT", *family, "-n", "--reason", "-p", spec(MIXED_PORTS), *FILES,
            *mixed.addresses(ipv6=ipv6)]
    nmap, pynmap = run_both(args, mixed.scanner, tmp_path, outputs=OUTPUTS)
    check_nmap(nmap, mixed.scenario.truth(MIXED_PORTS, ipv6=ipv6))
    assert table(pynmap) == table(nmap)
    assert_same(nmap, pynmap, args)


# -- (c) 50 ms round trip, 300 filtered ports -------------------------------------------

def test_rtt_50ms_with_300_filtered_ports(nmap_oracle: str, tmp_path: Path) -> None:
    scenario = SCENARIOS["rtt50"]
    host = scenario.hosts[0]
    ports = sorted({*host.open, *host.filtered, 21, 23, 24, 25})
    args = ["-sT", "-n", "--reason", "-p", spec(ports), *FILES, host.address]
    with lab(scenario) as running:
        nmap, pynmap = run_both(args, running.scanner, tmp_path, outputs=OUTPUTS)
    check_nmap(nmap, scenario.truth(ports))
    assert table(pynmap) == table(nmap)
    assert_same(nmap, pynmap, args)


# -- (d) 2% loss each way at 20 ms RTT ------------------------------------------------------

@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_two_percent_loss_misses_no_open_port(seed: int, nmap_oracle: str,
                                             tmp_path: Path) -> None:
    scenario = SCENARIOS["lossy"].with_seed(seed)
    host = scenario.hosts[0]
    args = ["-sT", "-n", "-Pn", "--reason", *FILES, host.address]  # the top 1000 ports
    with lab(scenario) as running:
        nmap, pynmap = run_both(args, running.scanner, tmp_path, outputs=OUTPUTS)
    for name, run in (("harness: nmap", nmap), ("pynmap", pynmap)):
        # a lost answer may leave a port filtered; it can never make one open or closed
        found = table(run).get(host.address, {})
        assert len(found) == 1000, f"{name} reports {len(found)} ports"
        wrong = {p: s for p, s in found.items()
                 if s != host.truth(p) and s != ("filtered", "no-response")}
        assert not wrong, f"{name} contradicts the scenario: {wrong}"
    assert open_ports(table(nmap), host.address) == set(host.open), \
        "harness: nmap missed an open port"
    missed = open_ports(table(nmap), host.address) - open_ports(table(pynmap), host.address)
    assert not missed, f"pynmap misses open ports that nmap finds: {sorted(missed)}"


# -- (e) a /26 with 20 hosts down -----------------------------------------------------------

def test_fleet_with_20_down_hosts(nmap_oracle: str, tmp_path: Path) -> None:
    scenario = SCENARIOS["fleet"]
    assert len(scenario.hosts) - len(scenario.live) == 20
    ports = [22, 80, 443]
    args = ["-sT", "-n", "--reason", "-p", spec(ports), *FILES, "198.18.0.64/26"]
    with lab(scenario) as running:
        nmap, pynmap = run_both(args, running.scanner, tmp_path, outputs=OUTPUTS)
    check_nmap(nmap, scenario.truth(ports))
    assert hosts_up(xml(pynmap)) == hosts_up(xml(nmap))
    assert table(pynmap) == table(nmap)
    assert_same(nmap, pynmap, args)


# -- (f) a firewall that rate-limits RSTs ---------------------------------------------------

def test_rst_rate_limit(nmap_oracle: str, tmp_path: Path) -> None:
    scenario = SCENARIOS["rst_limit"]
    host = scenario.hosts[0]
    ports = list(range(1, 401))
    args = ["-sT", "-n", "-Pn", "--reason", "-p", "1-400", *FILES, host.address]
    with lab(scenario) as running:
        nmap = run_one("nmap", args, running.scanner, tmp_path / "nmap", outputs=OUTPUTS)
        dropped = running.dropped_rsts(host)
        pynmap = run_one("pynmap", args, running.scanner, tmp_path / "pynmap",
                         outputs=OUTPUTS)
    assert dropped > 0, "harness: the scan never reached the RST limit"
    check_nmap(nmap, scenario.truth(ports, ping=False))
    assert table(pynmap) == table(nmap)
