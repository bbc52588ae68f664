"""-d2 (and -d) output: pynmap against the live nmap on loopback.

The namespace (tests.support.loopback_ports) has listeners on 22 and 3306 of
127.0.0.1 (open), a port that answers every connection attempt with ICMP
host-unreachable (filtered, with an answer) and a host that does so for
every port (down, with an answer); everything else used here is closed.  -d2 adds
nmap's engine lines: each port's state as it is found ("Discovered closed
port ..."), the host-discovery updates, the timing-ping and global-ping-host
changes, and at startup the data files found and the socket limit.  All of
them go to stdout; the LOG_PLAIN ones (Fetchfile, Changing ...) also to -oN.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.compare import assert_same, run_both
from tests.support.loopback_ports import REJECTED_HOST, REJECTED_PORT
from tests.support.netns import Netns

pytestmark = [pytest.mark.nmap, pytest.mark.lab]

CASES = {
    # open, closed and ICMP-filtered ports of one host
    "one_host": ["-n", "-sT", "-d2", "-p", f"20-25,3306,{REJECTED_PORT}", "127.0.0.1"],
    # the global ping host moves from host to host as each one finishes
    "three_hosts": ["-n", "-sT", "-d2", "-p", f"21-23,{REJECTED_PORT}", "127.0.0.1-3"],
    # no discovery: the first port that answers (not the filtered one) becomes
    # the timing ping; -r keeps which port that is the same for both
    "Pn": ["-n", "-sT", "-d2", "-Pn", "-r", "-p", f"{REJECTED_PORT},21-23", "127.0.0.1-2"],
    # Fetchfile and the Changing lines are LOG_PLAIN: in -oN as well
    "oN": ["-n", "-sT", "-d2", "-p", "21-23", "-oN", "out.nmap", "127.0.0.1"],
    # no port scan: only nmap.xsl is looked for
    "ping_scan": ["-n", "-sn", "-d2", "127.0.0.1-2"],
    # a host down by its ICMP answer has a round-trip time, but a port scan
    # never prints a down host's "Final times for host" line
    "down_host_times": ["-n", "-sT", "-d", "-v", "-p", "21", REJECTED_HOST],
}


@pytest.mark.parametrize("case", list(CASES))
def test_debug_output_matches_nmap(case: str, ports_ns: Netns, tmp_path: Path) -> None:
    args = CASES[case]
    outputs = ["out.nmap"] if "-oN" in args else []
    nmap, pynmap = run_both(args, ports_ns, tmp_path, outputs=outputs)
    # the setup as nmap sees it, so a broken namespace shows up as such
    if "-d2" in args and "-sT" in args:
        assert "Discovered open port 22/tcp on 127.0.0.1" in nmap.stdout, nmap.stdout
        assert "Discovered closed port 21/tcp on 127.0.0.1" in nmap.stdout, nmap.stdout
    if case == "one_host":
        assert f"Discovered filtered port {REJECTED_PORT}/tcp" in nmap.stdout, nmap.stdout
    if case == "down_host_times":
        assert "host down, received host-unreach" in nmap.stdout, nmap.stdout
    assert_same(nmap, pynmap, args)


def _first_conn_seconds(stdout: str) -> float:
    line = next(ln for ln in stdout.splitlines() if ln.startswith("CONN ("))
    return float(line[len("CONN ("):line.index("s)")])


def test_scan_delay_comes_before_the_first_probe(ports_ns: Netns, tmp_path: Path) -> None:
    """nmap dates each target's last probe at the phase's start, so --scan-delay (and
    -T0/-T1's) passes before the first connect too.  The packet trace's clock says
    when it went out: a lower bound, which no slow machine can break."""
    args = ["-n", "-sT", "-Pn", "-p", "21", "--scan-delay", "500ms", "--packet-trace",
            "127.0.0.1"]
    nmap, pynmap = run_both(args, ports_ns, tmp_path)
    assert _first_conn_seconds(nmap.stdout) >= 0.5, nmap.stdout  # the harness
    assert _first_conn_seconds(pynmap.stdout) >= 0.5, pynmap.stdout
    assert_same(nmap, pynmap, args)
