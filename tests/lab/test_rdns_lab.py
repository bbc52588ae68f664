"""Reverse and forward DNS against a real DNS server, pynmap beside the live nmap.

This module builds its own network namespace (lo only) and runs dnsmasq in
it on 127.0.0.1:53, answering from its own records and forwarding nothing;
the namespace's resolv.conf names that server and its hosts file holds a few
names of its own, so both programs and the C library they may ask never
leave the namespace.  Each case runs nmap and pynmap with the same command
line and compares every stream after the common mask.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

from tests.support.compare import Run, assert_same, run_both, run_one
from tests.support.dnsserver import SERVER, dns_netns
from tests.support.netns import Netns, listening

pytestmark = [pytest.mark.lab, pytest.mark.nmap]

# /etc/hosts wins over DNS for 127.0.0.3; 127.0.0.6 has characters nmap replaces
HOSTS = ("127.0.0.1 localhost\n::1 ip6-localhost\n127.0.0.3 hosts-three beta-alias\n"
         "127.0.0.6 we!rd\n")
RECORDS = [
    "--host-record=localhost,127.0.0.1",
    "--host-record=alpha.lab.test,127.0.0.2",
    "--host-record=beta.lab.test,127.0.0.3",
    # 127.0.0.4 and 127.0.0.5 have no name: NXDOMAIN
    # RFC 2317 style: a CNAME to a name that has the PTR, and a CNAME to nothing
    "--cname=7.0.0.127.in-addr.arpa,7.sub.lab.test",
    "--ptr-record=7.sub.lab.test,seven.lab.test",
    "--cname=8.0.0.127.in-addr.arpa,8.sub.lab.test",
    "--ptr-record=9.0.0.127.in-addr.arpa,odd!name@lab.test",
    "--host-record=six.lab.test,fd00:18::6",
    "--ptr-record=1.0.18.198.in-addr.arpa,down.lab.test",
    # two A records answered in a fixed order (--host-record would rotate them)
    "--dns-rr=multi.lab.test,1,7F000003",
    "--dns-rr=multi.lab.test,1,7F000002",
    "--txt-record=multi.lab.test,two-A-records",
]
DOWN = "198.18.0.1"  # no route in the namespace: down at once, but it has a PTR record
DEAD_SERVER = "127.0.0.54"  # nothing listens: every query gets port unreachable
UNROUTED_SERVER = "198.18.0.53"  # no route to it: its queries cannot even be sent

# Lines whose figures depend on timing in nmap itself: the -d progress line's
# transmission count (how many queries were out when the first answer came)
# and the seconds of the summary line.
_PROGRESS = re.compile(r"^(mass_rdns: )\d+\.\d\ds( \d+/\d+ \[.*TR: )\d+\]$", re.MULTILINE)
_TOOK = re.compile(r"(DNS resolution of \d+ IPs took )\d+\.\d\ds")


def steady(run: Run) -> Run:
    stdout = _PROGRESS.sub(r"\1<s>s\2<n>]", run.stdout)
    return replace(run, stdout=_TOOK.sub(r"\1<s>s", stdout))


@pytest.fixture(scope="module")
def dns_ns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Netns]:
    """A namespace with dnsmasq on 127.0.0.1:53, named by its resolv.conf."""
    with dns_netns("pynmap-dns", RECORDS, HOSTS, tmp_path_factory.mktemp("dnsmasq")) as ns:
        yield ns


def compare(ns: Netns, tmp_path: Path, args: Sequence[str], *, outputs: Sequence[str] = (),
            reports: int | None = None) -> tuple[Run, Run]:
    nmap, pynmap = run_both(args, ns, tmp_path, outputs=outputs, timeout=60)
    if reports is not None:  # the harness is right if nmap itself sees what was set up
        assert nmap.stdout.count("Nmap scan report for") == reports, nmap.stdout
    assert_same(steady(nmap), steady(pynmap), args)
    return nmap, pynmap


def test_default_reverse_dns(dns_ns: Netns, tmp_path: Path) -> None:
    """/etc/hosts first, then PTR answers, NXDOMAIN, CNAMEs (one handed to the C
    library), and names with characters nmap replaces by '*'."""
    nmap, _ = compare(dns_ns, tmp_path, ["-sL", "-v", "127.0.0.1-9", "-oX", "out.xml"],
                      outputs=["out.xml"], reports=9)
    for line in ("Nmap scan report for alpha.lab.test (127.0.0.2)",
                 "Nmap scan report for hosts-three (127.0.0.3)",
                 "Nmap scan report for seven.lab.test (127.0.0.7)",
                 "Nmap scan report for odd*name*lab.test (127.0.0.9)",
                 "Initiating Parallel DNS resolution of 6 hosts."):  # 9 less 3 in hosts
        assert line in nmap.stdout


def test_debug_lines(dns_ns: Netns, tmp_path: Path) -> None:
    nmap, _ = compare(dns_ns, tmp_path, ["-sL", "-d", "127.0.0.2-9", "127.0.0.2"], reports=9)
    assert "Performing system-dns for 1 domain names that were deferred" in nmap.stdout


def test_v3_summary_and_dns_servers(dns_ns: Netns, tmp_path: Path) -> None:
    nmap, _ = compare(dns_ns, tmp_path,
                      ["-sL", "-vvv", "--dns-servers", SERVER, "127.0.0.1-5"], reports=5)
    assert "Mode: Async [#: 1, OK: 1, NX: 2, DR: 0, SF: 0, TR: 3, CN: 0]" in nmap.stdout


def test_no_resolution(dns_ns: Netns, tmp_path: Path) -> None:
    nmap, _ = compare(dns_ns, tmp_path, ["-sL", "-n", "-v", "127.0.0.1-3"], reports=3)
    assert "localhost" not in nmap.stdout


def test_system_dns(dns_ns: Netns, tmp_path: Path) -> None:
    nmap, _ = compare(dns_ns, tmp_path, ["-sL", "-vvv", "--system-dns", "127.0.0.1-9"],
                      reports=9)
    assert "Initiating System DNS resolution of 9 hosts." in nmap.stdout


def test_ipv6(dns_ns: Netns, tmp_path: Path) -> None:
    nmap, _ = compare(dns_ns, tmp_path, ["-6", "-sL", "-v", "::1", "fd00:18::6", "fd00:18::7"],
                      reports=3)
    assert "six.lab.test (fd00:18::6)" in nmap.stdout


def test_names_with_several_addresses_and_none(dns_ns: Netns, tmp_path: Path) -> None:
    nmap, _ = compare(dns_ns, tmp_path,
                      ["-sL", "multi.lab.test", "nothing.lab.test", "alpha.lab.test"],
                      reports=2)
    assert "Other addresses for multi.lab.test (not scanned): 127.0.0.3" in nmap.stdout
    assert "rDNS record for 127.0.0.2: alpha.lab.test" in nmap.stdout
    assert 'Failed to resolve "nothing.lab.test".' in nmap.stderr


def test_connect_scan_resolves_up_hosts_only_unless_R(dns_ns: Netns, tmp_path: Path) -> None:
    with listening(dns_ns, [22], "127.0.0.2"):
        plain, _ = compare(dns_ns, tmp_path / "plain",
                           ["-sT", "-v", "-p", "22", "multi.lab.test", "127.0.0.4", DOWN])
        every, _ = compare(dns_ns, tmp_path / "R",
                           ["-sT", "-v", "-R", "-p", "22", "127.0.0.2", DOWN])
    # the two hosts up are looked up, the down one is not
    assert "Initiating Parallel DNS resolution of 2 hosts." in plain.stdout
    assert f"Nmap scan report for down.lab.test ({DOWN}) [host down]" in every.stdout


def test_absent_servers_make_nmap_wait_13_seconds(dns_ns: Netns, tmp_path: Path) -> None:
    """Servers that never answer: nmap retries (4 + 4 + 5 s) and gives up silently.

    One refuses (port unreachable, a READ:ERROR line per query at -d), the
    other cannot even be reached (no route: nothing is printed).  All four
    runs go side by side, so the module pays the wait once.
    """
    commands = {server: ["-sL", "-d", "--dns-servers", server, "127.0.0.4"]
                for server in (DEAD_SERVER, UNROUTED_SERVER)}
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {(server, program): pool.submit(run_one, program, args, dns_ns,
                                                  tmp_path / f"{program}-{server}", timeout=60)
                   for server, args in commands.items() for program in ("nmap", "pynmap")}
        runs = {key: future.result() for key, future in futures.items()}
    assert "got a READ:ERROR in read_evt_handler()" in runs[DEAD_SERVER, "nmap"].stdout
    assert "READ:ERROR" not in runs[UNROUTED_SERVER, "nmap"].stdout
    for server, args in commands.items():
        nmap, pynmap = runs[server, "nmap"], runs[server, "pynmap"]
        assert_same(steady(nmap), steady(pynmap), args)
        elapsed = [_dns_seconds(run) for run in (nmap, pynmap)]
        assert abs(elapsed[0] - elapsed[1]) < 0.2 and elapsed[0] >= 12.9, (server, elapsed)


def _dns_seconds(run: Run) -> float:
    found = re.search(r"Completed Parallel DNS resolution of 1 host\. at \d\d:\d\d, "
                      r"(\d+\.\d\d)s elapsed", run.stdout)
    assert found is not None, run.stdout
    return float(found.group(1))
