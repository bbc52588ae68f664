"""--shard on a real scan: a shard connects only to its own hosts, reports and counts
only them, and the shards together find what nmap finds in one unsharded run.

The namespace (built here, loopback only) has a listener on port 22 of every
address; one iptables rule per target address counts the connection attempts
(--syn) it receives, which is what says which hosts a run touched.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from tests.support.netns import Netns, listening, netns_for_tests, run_nmap, run_pynmap

pytestmark = pytest.mark.lab

HOSTS = [f"127.0.0.{d}" for d in range(1, 17)]
SCAN = ["-n", "-p", "22", "-oX", "scan.xml", "127.0.0.1-16"]
SHARDS = 4


@pytest.fixture(scope="module")
def counted_ns(nmap_oracle: str) -> Iterator[Netns]:
    with netns_for_tests("pynmap-shard") as ns:
        for host in HOSTS:
            subprocess.run([*ns.exec_prefix(), "iptables", "-A", "INPUT", "-i", "lo", "-d", host,
                            "-p", "tcp", "--syn", "-j", "ACCEPT"], check=True, timeout=30)
        with listening(ns, [22], address="0.0.0.0"):
            yield ns


def attempts(ns: Netns) -> set[str]:
    """The target addresses that received a connection attempt since the last call."""
    listing = subprocess.run([*ns.exec_prefix(), "iptables", "-L", "INPUT", "-n", "-v", "-x",
                              "-Z"], capture_output=True, text=True, check=True,
                             timeout=30).stdout
    touched = set()
    for line in listing.splitlines():
        fields = line.split()
        if fields[2:3] == ["ACCEPT"] and int(fields[0]) > 0:
            touched.add(fields[8])
    return touched


def read_xml(path: Path) -> tuple[dict[str, list[tuple[str, str]]], dict[str, str]]:
    """The hosts' open/closed ports and the runstats' host counts."""
    root = etree.parse(str(path)).getroot()
    hosts = {}
    for host in root.iterfind("host"):
        address = host.find("address")
        assert address is not None
        hosts[str(address.get("addr"))] = [(str(p.get("portid")), str(p.find("state").get(
            "state"))) for p in host.iterfind("ports/port")]  # type: ignore[union-attr]
    counts = root.find("runstats/hosts")
    assert counts is not None
    return hosts, dict(counts.attrib)


def test_each_shard_scans_and_counts_only_its_hosts(counted_ns: Netns, tmp_path: Path) -> None:
    attempts(counted_ns)  # zero the counters
    # nmap first, against what the namespace declares: all 16 up with 22 open
    nmap = run_nmap(SCAN, counted_ns, tmp_path)
    assert nmap.exit == 0, nmap.stderr
    truth, counts = read_xml(tmp_path / "scan.xml")
    assert truth == {host: [("22", "open")] for host in HOSTS}
    assert counts == {"up": "16", "down": "0", "total": "16"}
    assert attempts(counted_ns) == set(HOSTS)

    seen: dict[str, int] = {}
    for index in range(SHARDS):
        result = run_pynmap([*SCAN, "--seed", "3", "--shard", f"{index}/{SHARDS}"], counted_ns,
                            tmp_path)
        assert result.exit == 0, result.stderr
        hosts, counts = read_xml(tmp_path / "scan.xml")
        assert hosts, f"shard {index} is empty with this seed: choose another"
        # it touched exactly the hosts it reports, with nmap's findings for them
        assert attempts(counted_ns) == set(hosts)
        assert hosts == {host: truth[host] for host in hosts}
        n = len(hosts)
        assert counts == {"up": str(n), "down": "0", "total": str(n)}
        assert f"Nmap done: {n} IP addresses ({n} hosts up)" in result.stdout
        for host in hosts:
            assert seen.setdefault(host, index) == index
    assert sorted(seen) == sorted(HOSTS)
