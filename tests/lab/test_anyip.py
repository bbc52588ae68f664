"""A whole range answered by one namespace (AnyIP): the lab's large-fleet building block.

The scenario anyip22 is the benchmark's /16 in small: 198.19.0.0/22 held as
one local route by host 198.18.0.2, port 80 open behind a wildcard listener,
443 closed.  nmap's table is held against the declared truth first (a broken
lab is reported as "harness: ..."), then pynmap's against nmap's, and the
scan must have cost the router and the scanner one neighbour entry each.
The listener's host counts the handshakes that completed: one per open port
for nmap, none for pynmap, which holds back the last ACK and resets
(engine/backend.py, hold_back_ack).
"""

from __future__ import annotations

import ipaddress
import subprocess
from pathlib import Path

import pytest

from tests.support.compare import assert_same, run_one
from tests.support.lab import SCENARIOS, Host, Scenario, lab
from tests.support.lab.network import SCANNER4, UPLINK4
from tests.support.lab.results import port_table

pytestmark = [pytest.mark.lab, pytest.mark.nmap]

PORTS = [80, 443]
OUTPUTS = ["out.nmap", "out.gnmap", "out.xml"]
FILES = ["-oN", "out.nmap", "-oG", "out.gnmap", "-oX", "out.xml"]


def neighbours(namespace: str) -> set[str]:
    """The IPv4 addresses of the namespace's neighbour entries (the table is shared)."""
    listing = subprocess.run(["ip", "-n", namespace, "-4", "neigh", "show"], check=True,
                             capture_output=True, text=True).stdout
    return {line.split()[0] for line in listing.splitlines() if line.strip()}


def tcp_counters(namespace: str, table: str = "TcpExt", file: str = "netstat") -> dict[str, int]:
    """One table of the namespace's TCP counters (/proc/net/netstat and /proc/net/snmp
    are per namespace): the extension counters by default, "Tcp" of "snmp" for
    the basic ones (PassiveOpens: handshakes the listeners completed)."""
    text = subprocess.run(["ip", "netns", "exec", namespace, "cat", f"/proc/net/{file}"],
                          check=True, capture_output=True, text=True).stdout
    lines = [line.split() for line in text.splitlines() if line.startswith(f"{table}:")]
    return dict(zip(lines[0][1:], map(int, lines[1][1:]), strict=True))


def passive_opens(namespace: str) -> int:
    return tcp_counters(namespace, "Tcp", "snmp")["PassiveOpens"]


def test_a_22_answered_by_one_namespace(nmap_oracle: str, tmp_path: Path) -> None:
    scenario = SCENARIOS["anyip22"]
    (host,) = scenario.hosts
    assert host.anyip is not None
    network = ipaddress.IPv4Network(host.anyip)
    args = ["-sT", "-n", "-Pn", "--reason", "-p", "80,443", *FILES, str(network)]
    with lab(scenario) as running:
        target = running.host_netns(host).name
        opened = [passive_opens(target)]
        nmap = run_one("nmap", args, running.scanner, tmp_path / "nmap", outputs=OUTPUTS)
        opened.append(passive_opens(target))
        pynmap = run_one("pynmap", args, running.scanner, tmp_path / "pynmap", outputs=OUTPUTS)
        opened.append(passive_opens(target))
        router_neighbours = neighbours(running.router.name)
        scanner_neighbours = neighbours(running.scanner.name)
        listener = tcp_counters(target)
        scanner = tcp_counters(running.scanner.name)
    truth = scenario.truth(PORTS, ping=False)
    want = {str(a): truth[str(a)] for a in network}
    assert nmap.exit == 0, f"harness: nmap failed\n{nmap.stderr}"
    found = port_table(nmap.files["out.xml"] or "")
    assert len(found) == network.num_addresses, \
        f"harness: nmap reports {len(found)} of {network.num_addresses} addresses"
    wrong = {a: (found.get(a), states) for a, states in want.items() if found.get(a) != states}
    assert not wrong, f"harness: nmap disagrees with the scenario on {len(wrong)} " \
                      f"addresses, e.g. {next(iter(wrong.items()))}"
    # one entry each way, however large the range: never one per target
    assert router_neighbours == {host.address, SCANNER4}, "harness: router neighbours"
    assert scanner_neighbours == {UPLINK4}, "harness: scanner neighbours"
    # the listener kept up: no connection attempt was dropped and sent again
    assert listener["ListenOverflows"] == listener["ListenDrops"] == 0, \
        "harness: the listener's accept queue overflowed"
    assert scanner["TCPSynRetrans"] == 0, "harness: a SYN went unanswered"
    # nmap's connect() completes every open port's handshake (the counter counts
    # them; a probe nmap sends again completes another)
    assert opened[1] - opened[0] >= network.num_addresses, \
        f"harness: {opened[1] - opened[0]} handshakes completed in nmap's run"
    pynmap_table = port_table(pynmap.files["out.xml"] or "")
    missing = sorted(set(found) - set(pynmap_table), key=ipaddress.IPv4Address)
    assert not missing, f"pynmap reports {len(missing)} addresses fewer, e.g. {missing[:3]}"
    differ = [a for a in found if pynmap_table[a] != found[a]]
    assert not differ, f"pynmap differs from nmap on {len(differ)} addresses, e.g. " \
                       f"{differ[0]}: nmap {found[differ[0]]}, pynmap {pynmap_table[differ[0]]}"
    assert_same(nmap, pynmap, args)
    # pynmap resets before the ACK goes out; the kernel would send it after 200 ms,
    # so a loop stalled that long on a loaded machine may let a few through
    assert opened[2] - opened[1] <= network.num_addresses // 100, \
        f"pynmap completed {opened[2] - opened[1]} handshakes of {network.num_addresses}"


def test_anyip_declaration() -> None:
    host = Host(2, open=(80,), anyip="198.19.4.0/30")
    assert list(host.answered()) == ["198.18.0.2", "198.19.4.0", "198.19.4.1",
                                     "198.19.4.2", "198.19.4.3"]
    assert list(host.answered(ipv6=True)) == ["fd00:18::2"]
    truth = Scenario("t", (host, Host(3))).truth(PORTS)
    assert sorted(truth) == sorted([*host.answered(), "198.18.0.3"])
    assert truth["198.19.4.3"] == {80: ("open", "syn-ack"), 443: ("closed", "conn-refused")}
    assert Scenario("t", (Host(2, anyip="198.19.0.0/16", down=True),)).truth(PORTS) == {}
    # outside 198.19.0.0/16 it would take the targets' segment or the scanner's uplink
    for bad in ("198.18.0.0/24", "198.18.255.0/30", "198.19.0.1/16", "fd00:18::/120"):
        with pytest.raises(ValueError):
            Host(2, anyip=bad)
    with pytest.raises(ValueError, match="overlaps"):
        Scenario("t", (Host(2, anyip="198.19.0.0/22"), Host(3, anyip="198.19.3.0/24")))
