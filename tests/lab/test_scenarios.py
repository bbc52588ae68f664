"""nmap and pynmap in the lab: the same port tables (port, state, reason) and outputs.

Every test first checks nmap's run against the scenario's declared truth, so
a broken lab shows up as such, then compares pynmap with nmap.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from tests.support.compare import Run, assert_same, run_both
from tests.support.lab import SCENARIOS, Lab, Scenario, lab
from tests.support.netns import Netns, listening, netns_for_tests

pytestmark = [pytest.mark.lab, pytest.mark.nmap]

Table = dict[str, dict[int, tuple[str, str]]]
OUTPUTS = ["out.nmap", "out.gnmap", "out.xml"]
FILES = ["-oN", "out.nmap", "-oG", "out.gnmap", "-oX", "out.xml"]


def table(run: Run) -> Table:
    """address -> port -> (state, reason), for the hosts found up, from the XML file."""
    xml = run.files["out.xml"]
    assert xml, f"no XML written\n{run.stderr}"
    root = etree.fromstring(xml.encode())
    found: Table = {}
    for host in root.iter("host"):
        if host.find("status").get("state") != "up":
            continue
        address = host.find("address").get("addr")
        found[address] = {int(p.get("portid")): (p.find("state").get("state"),
                                                 p.find("state").get("reason"))
                          for p in host.iter("port")}
        for extra in host.iter("extraports"):
            # a collapsed state: every scanned port not listed has it
            for reasons in extra.iter("extrareasons"):
                found[address].setdefault(-1, (extra.get("state"), reasons.get("reason")))
    return found


def truth(scenario: Scenario, ports: list[int]) -> Table:
    return {h.address: {p: h.truth(p) for p in ports} for h in scenario.live}


def expand(found: Table, ports: list[int]) -> Table:
    """Fill in the collapsed ports (key -1) so tables compare port by port."""
    full: Table = {}
    for address, by_port in found.items():
        default = by_port.get(-1)
        full[address] = {p: by_port.get(p, default) for p in ports}  # type: ignore[misc]
    return full


def _spec(ports: list[int]) -> str:
    return ",".join(map(str, ports))


@pytest.fixture(scope="module")
def mixed() -> Iterator[Lab]:
    with lab("mixed") as running:
        yield running


def test_mixed_hosts_at_zero_delay(mixed: Lab, nmap_oracle: str, tmp_path: Path) -> None:
    ports = sorted({22, 25, 80, 443, 3306, 8080, 2000, 2001, 2002, 2003, 9})
    args = ["-sT", "-n", "--reason", "-p", _spec(ports), *FILES, *mixed.addresses()]
    nmap, pynmap = run_both(args, mixed.scanner, tmp_path, outputs=OUTPUTS)
    want = truth(mixed.scenario, ports)
    assert expand(table(nmap), ports) == want, "harness: nmap disagrees with the scenario"
    assert expand(table(pynmap), ports) == want
    assert_same(nmap, pynmap, args)  # stdout and all three files, after the mask


def test_rtt_50ms_with_300_filtered_ports(nmap_oracle: str, tmp_path: Path) -> None:
    scenario = SCENARIOS["rtt50"]
    host = scenario.hosts[0]
    ports = sorted({*host.open, *host.filtered, 21, 23, 25})
    args = ["-sT", "-n", "--reason", "-p", _spec(ports), *FILES, host.address]
    with lab(scenario) as running:
        nmap, pynmap = run_both(args, running.scanner, tmp_path, outputs=OUTPUTS)
    want = truth(scenario, ports)
    assert expand(table(nmap), ports) == want, "harness: nmap disagrees with the scenario"
    assert expand(table(pynmap), ports) == want
    assert_same(nmap, pynmap, args)


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_two_percent_loss_misses_no_open_port(seed: int, nmap_oracle: str,
                                             tmp_path: Path) -> None:
    scenario = SCENARIOS["lossy"].with_seed(seed)
    host = scenario.hosts[0]
    args = ["-sT", "-n", "-Pn", *FILES, host.address]  # nmap's top 1000 ports
    with lab(scenario) as running:
        nmap, pynmap = run_both(args, running.scanner, tmp_path, outputs=OUTPUTS)

    def open_ports(run: Run) -> set[int]:
        return {p for p, (state, _) in table(run).get(host.address, {}).items()
                if state == "open"}

    assert open_ports(nmap) <= set(host.open), "harness: nmap found a port that is not open"
    assert open_ports(nmap) <= open_ports(pynmap) <= set(host.open)


def test_fleet_with_20_down_hosts(nmap_oracle: str, tmp_path: Path) -> None:
    scenario = SCENARIOS["fleet"]
    ports = [22, 80, 443]
    args = ["-sT", "-n", "--reason", "-p", _spec(ports), *FILES, "198.18.0.64/26"]
    with lab(scenario) as running:
        nmap, pynmap = run_both(args, running.scanner, tmp_path, outputs=OUTPUTS, timeout=300)
    want = truth(scenario, ports)
    assert len(scenario.hosts) - len(scenario.live) == 20
    assert expand(table(nmap), ports) == want, "harness: nmap disagrees with the scenario"
    assert expand(table(pynmap), ports) == want
    assert_same(nmap, pynmap, args)


def test_rst_rate_limit(nmap_oracle: str, tmp_path: Path) -> None:
    scenario = SCENARIOS["rst_limit"]
    host = scenario.hosts[0]
    ports = list(range(1, 401))
    args = ["-sT", "-n", "-Pn", "--reason", "-p", "1-400", *FILES, host.address]
    with lab(scenario) as running:
        nmap, pynmap = run_both(args, running.scanner, tmp_path, outputs=OUTPUTS)
    want = truth(scenario, ports)
    assert expand(table(nmap), ports) == want, "harness: nmap disagrees with the scenario"
    assert expand(table(pynmap), ports) == want


LOOPBACK_OPEN = (22, 80, 3306, 8080, 9929, 22222, 33306)


@pytest.fixture(scope="module")
def loopback() -> Iterator[Netns]:
    with netns_for_tests("pynmap-lo") as ns, listening(ns, LOOPBACK_OPEN):
        yield ns


@pytest.mark.parametrize("ports", [[], ["-p-"]], ids=["top1000", "all"])
def test_loopback(ports: list[str], loopback: Netns, nmap_oracle: str, tmp_path: Path) -> None:
    args = ["-sT", "-n", "--reason", *ports, *FILES, "127.0.0.1"]
    nmap, pynmap = run_both(args, loopback, tmp_path, outputs=OUTPUTS)
    found = table(nmap)["127.0.0.1"]
    listed_open = {p for p, (state, _) in found.items() if state == "open"}
    expected_open = set(LOOPBACK_OPEN) if ports else {22, 80, 3306, 8080, 9929}
    assert listed_open == expected_open, "harness: nmap disagrees with the listeners"
    assert table(pynmap) == table(nmap)
    assert_same(nmap, pynmap, args)
