"""--privileged on a LAN, against nmap as root: MAC addresses and ICMP echo through ping sockets.

The `lan` scenario puts the scanner on the hosts' segment: 198.18.0.10-12
(and their IPv6 addresses) are directly connected, each with a declared
Ethernet address, 198.18.0.13 is down, and 198.19.0.5 is reached through
the router.  The scanner's neighbour table also holds a made-up entry for
198.19.0.5, on the interface its route leaves by: the route, not the
table, decides whether a MAC is reported.
The router answers for 198.19.2.0/24 with ICMP host unreachable.

nmap run by root with --privileged is the oracle (the suite's
NMAP_UNPRIVILEGED=1 yields to the option).  Each test first holds nmap's run
against the scenario (the declared addresses, none through the router, none
for a down host or the scanner's own address), then compares pynmap's.
Where nmap as root does what pynmap cannot (ARP ping: its reason
arp-response, its -v task lines), the comparison is of the MAC facts alone;
with -PE --disable-arp-ping nmap sends ICMP echo requests as pynmap does,
and every output must be identical after the mask.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.compare import Run, assert_same, run_both, run_one
from tests.support.lab import Lab, lab
from tests.support.lab.results import hosts_up, mac_addresses, port_table
from tests.support.lab.scenario import LAN4, LAN6

pytestmark = [pytest.mark.lab, pytest.mark.nmap]

OUTPUTS = ["out.nmap", "out.gnmap", "out.xml"]
FILES = ["-oN", "out.nmap", "-oG", "out.gnmap", "-oX", "out.xml"]
DTD = "/usr/share/nmap/nmap.dtd"
ROUTED = "198.19.0.5"  # through the router, to the AnyIP range of 198.18.0.2
UNREACHABLE = "198.19.2.5"  # the router answers ICMP host unreachable
BOGUS_MAC = "00:30:48:5a:00:99"  # the made-up neighbour entry for ROUTED


@pytest.fixture(scope="module")
def lan() -> Iterator[Lab]:
    with lab("lan") as running:
        subprocess.run(["ip", "-n", running.scanner.name, "neigh", "replace", ROUTED,
                        "lladdr", BOGUS_MAC, "dev", "s0", "nud", "permanent"], check=True)
        subprocess.run(["ip", "-n", running.router.name, "route", "add", "unreachable",
                        "198.19.2.0/24"], check=True)
        running.allow_ping_sockets(True)
        yield running


def lan_hosts(lab: Lab, *, ipv6: bool) -> list[str]:
    """The addresses on the scanner's segment (the down one too), then the routed one;
    IPv6: then a link-local address (its zone names the scanner's interface)."""
    hosts = [h.addr(ipv6=ipv6) for h in lab.scenario.hosts if h.number >= 10]
    return [*hosts, f"{lab.scenario.hosts[1].link_local}%s1"] if ipv6 else [*hosts, ROUTED]


def xml(run: Run) -> str:
    text = run.files["out.xml"]
    assert text, f"no XML written (exit {run.exit})\n{run.stderr}"
    return text


def declared_macs(lab: Lab, run: Run) -> dict[str, str]:
    """What nmap as root must report: the declared MAC of each host found up."""
    found = {a: lab.scenario.mac(a) for a in hosts_up(xml(run))}
    return {a: mac for a, mac in found.items() if mac is not None}


def check_nmap(nmap: Run, lab: Lab, up: list[str], *, macs: bool = True) -> None:
    """The lab itself is right: nmap as root finds the declared hosts and addresses."""
    __tracebackhide__ = True
    assert nmap.exit == 0, f"harness: nmap failed\n{nmap.stderr}"
    declared = sorted(a.split("%")[0] for a in up)  # the reports name no zone
    assert sorted(hosts_up(xml(nmap))) == declared, "harness: other hosts up than declared"
    got = {a: mac for a, (mac, _vendor) in mac_addresses(xml(nmap)).items()}
    want = declared_macs(lab, nmap) if macs else {}
    assert got == want, f"harness: nmap's MAC addresses {got}, declared {want}"


def dtd_valid(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "checked.xml"
    path.write_text(xml(run))
    check = subprocess.run(["xmllint", "--noout", "--dtdvalid", DTD, str(path)],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr


# -- echo requests where nmap sends them too: every output identical ----------------------

@pytest.mark.parametrize("scan", [["-sn"], ["-sT", "-p", "22"]], ids=["sn", "sT"])
@pytest.mark.parametrize("ipv6", [False, True], ids=["ipv4", "ipv6"])
def test_echo_requests_and_mac_addresses(scan: list[str], ipv6: bool, lan: Lab,
                                         nmap_oracle: str, tmp_path: Path) -> None:
    """-PE --disable-arp-ping: nmap as root pings its segment with ICMP echo too.  Its
    reasons (echo-reply, with the reply's TTL: 64 on the segment, 63 routed), the
    MAC lines and elements (a vendor with "&", one without a vendor: "Unknown"),
    no MAC for the routed host nor the down one, in stdout, -oN, -oG and -oX."""
    family = ["-6"] if ipv6 else []
    targets = lan_hosts(lan, ipv6=ipv6)
    args = [*scan, *family, "--privileged", "-PE", "--disable-arp-ping", "-n", "--reason",
            *FILES, *targets]
    nmap, pynmap = run_both(args, lan.scanner, tmp_path, outputs=OUTPUTS)
    up = [a for a in targets if a not in (lan.scenario.hosts[-1].addr(ipv6=ipv6),)]
    check_nmap(nmap, lan, up)
    assert all(f"received echo-reply ttl {63 if a == ROUTED else 64}" in nmap.stdout
               for a in up), "harness: nmap's reasons are not echo-reply"
    assert_same(nmap, pynmap, args)
    dtd_valid(pynmap, tmp_path)


# -- nmap's own host discovery (ARP/ND ping): the MAC facts --------------------------------

@pytest.mark.parametrize("scan", [["-sT", "-p", "22"], ["-sn"], ["-sT", "-Pn", "-p", "22"]],
                         ids=["sT", "sn", "Pn"])
@pytest.mark.parametrize("ipv6", [False, True], ids=["ipv4", "ipv6"])
def test_mac_addresses_after_arp_ping(scan: list[str], ipv6: bool, lan: Lab, nmap_oracle: str,
                                      tmp_path: Path) -> None:
    """nmap as root ARP-pings (ND-pings) its segment; pynmap pings as it does without
    raw sockets, and its MAC facts must still be nmap's: the same lines in stdout
    and -oN, the same -oG, the same MAC elements in <host> and <hosthint>.  The
    scanner's own address (first: nmap reports it first) gets none, nor does any
    host with -Pn (no discovery: nmap captures no frame).  Without --reason or -v
    the reasons do not show, so stdout, -oN and -oG are identical.  (With -sn
    the own address is left out: nmap, which knows it for its own without a
    ping, prints no latency for it.)"""
    family = ["-6"] if ipv6 else []
    own = [LAN6 if ipv6 else LAN4] if scan[0] == "-sT" else []
    targets = [*own, *lan_hosts(lan, ipv6=ipv6)]
    if "-Pn" in scan:
        targets = targets[:3]  # no down host: -Pn would port-scan it, at the kernel's pace
    args = [*scan, *family, "--privileged", "-n", *FILES, *targets]
    nmap, pynmap = run_both(args, lan.scanner, tmp_path, outputs=OUTPUTS)
    down = lan.scenario.hosts[-1].addr(ipv6=ipv6)
    check_nmap(nmap, lan, [a for a in targets if a != down], macs="-Pn" not in scan)
    for element in ("host", "hosthint"):
        assert mac_addresses(xml(pynmap), element) == mac_addresses(xml(nmap), element), element
    if scan[0] == "-sT":
        assert port_table(xml(pynmap)) == port_table(xml(nmap))
    # the XML's reasons are arp-response (nd-response, localhost-response) in nmap's
    files = {name: text for name, text in nmap.files.items() if name != "out.xml"}
    assert_same(dataclasses.replace(nmap, files=files),
                dataclasses.replace(pynmap, files={n: pynmap.files[n] for n in files}), args)
    dtd_valid(pynmap, tmp_path)


# -- where ping sockets cannot do what is asked: unprivileged nmap's fallback --------------

@pytest.mark.parametrize("ping,allowed", [("-PE", False), ("-PP", True), ("-PM", True)],
                         ids=["PE_denied", "PP", "PM"])
def test_icmp_pings_fall_back_as_unprivileged_nmap(ping: str, allowed: bool, lan: Lab,
                                                   nmap_oracle: str, tmp_path: Path) -> None:
    """Ping sockets not allowed (net.ipv4.ping_group_range), or an ICMP type they cannot
    send (Linux's send echo requests only): pynmap --privileged does what unprivileged
    nmap does, with its warning, a connect ping to port 80 and its reasons.  The
    routed host alone is scanned: on the segment pynmap would add MAC lines."""
    tail = ["-sn", ping, "-n", "--reason", ROUTED]
    lan.allow_ping_sockets(allowed)
    try:
        nmap = run_one("nmap", ["--unprivileged", *tail], lan.scanner, tmp_path / "nmap")
        pynmap = run_one("pynmap", ["--privileged", *tail], lan.scanner, tmp_path / "pynmap")
    finally:
        lan.allow_ping_sockets(True)
    assert nmap.exit == 0, nmap.stderr
    assert nmap.stderr == "Warning:  You are not root -- using TCP pingscan rather than ICMP\n"
    assert "received conn-refused" in nmap.stdout, "harness: port 80 of the routed host"
    assert_same(nmap, pynmap, tail)


def test_default_discovery_sends_an_echo_request(lan: Lab, nmap_oracle: str,
                                                 tmp_path: Path) -> None:
    """With no -P option, nmap as root sends an echo request among its pings (and a
    routed host that answers it is up by echo-reply); pynmap --privileged sends one
    before its connect pings to 80 and 443.  Without ping sockets it has only
    those: unprivileged nmap's reason, conn-refused, and no warning."""
    args = ["-sn", "--privileged", "-n", "--reason", "-oX", "out.xml", ROUTED]
    nmap, pynmap = run_both(args, lan.scanner, tmp_path, outputs=["out.xml"])
    assert "received echo-reply ttl 63" in nmap.stdout, nmap.stdout
    assert_same(nmap, pynmap, args)
    lan.allow_ping_sockets(False)
    try:
        denied = run_one("pynmap", args, lan.scanner, tmp_path / "denied")
    finally:
        lan.allow_ping_sockets(True)
    assert (denied.exit, denied.stderr) == (0, "")
    assert "Host is up, received conn-refused (" in denied.stdout, denied.stdout


def test_icmp_errors_about_echo_requests_as_nmap_reads_them(lan: Lab, nmap_oracle: str,
                                                           tmp_path: Path) -> None:
    """What comes back instead of an echo reply, read from the socket's error queue
    as nmap as root reads the packets: a router's host unreachable is only a hint
    (nmap tries again and ends with no-response), an expired TTL (--ttl 1 dies at
    the router) is down with time-exceeded and the error's own TTL.  -v shows the
    down hosts; the XML and stdout must be identical but for nmap's count of raw
    packets (stderr differs by pynmap's note that it honours no raw-packet option)."""
    args = ["-sn", "-PE", "--privileged", "-n", "--reason", "-v", "--ttl", "1", "-oX",
            "out.xml", ROUTED, UNREACHABLE]
    nmap, pynmap = run_both(args, lan.scanner, tmp_path, outputs=["out.xml"])
    for run in (nmap, pynmap):
        assert f"Nmap scan report for {ROUTED} [host down, received time-exceeded]" \
            in run.stdout, run.stdout
        assert f"Nmap scan report for {UNREACHABLE} [host down, received no-response]" \
            in run.stdout, run.stdout
    counts = re.compile(r"^ +Raw packets sent: .*\n", re.MULTILINE)
    assert_same(dataclasses.replace(nmap, stdout=counts.sub("", nmap.stdout), stderr=""),
                dataclasses.replace(pynmap, stderr=""), args)


_FORGED = r"""
import socket, struct, sys
from pynmap.engine.backend import PollBackend

def checksum(data):
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xFFFF)
    return ~(total + (total >> 16)) & 0xFFFF

backend = PollBackend()
handle, err = backend.open_echo(socket.AF_INET)
assert err == 0, err
assert backend.send_echo(handle, "127.0.0.2", 0) == 0
ident = backend.socks[handle].getsockname()[1]  # the kernel's identifier: the socket's "port"
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
for source in sys.argv[1:]:
    body = struct.pack("!BBHHH", 0, 0, 0, ident, 0)
    body = struct.pack("!BBHHH", 0, 0, checksum(body), ident, 0)
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), 1, 0, 64, 1, 0,
                         socket.inet_aton(source), socket.inet_aton("127.0.0.1"))
    raw.sendto(header + body, ("127.0.0.1", 0))
    print(source, backend.echo_answer(handle), flush=True)
"""


def test_an_echo_reply_counts_only_from_the_target(nmap_oracle: str) -> None:
    """The kernel hands a ping socket every echo reply that carries its identifier,
    whoever sent it: one forged from another address is not the target's answer.
    (A namespace of its own, whose kernel answers no echo request itself.)"""
    from tests.support.lab.network import ROOT
    from tests.support.netns import netns_for_tests

    with netns_for_tests("pynmap-echo") as ns:
        subprocess.run([*ns.exec_prefix(), "sysctl", "-qw", "net.ipv4.icmp_echo_ignore_all=1",
                        "net.ipv4.ping_group_range=0 2147483647"], check=True)
        done = subprocess.run([*ns.exec_prefix(), sys.executable, "-c", _FORGED, "127.0.0.3",
                               "127.0.0.2"], capture_output=True, text=True, timeout=60,
                              cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "127.0.0.3 None",
        "127.0.0.2 IcmpAnswer(icmp_type=0, code=0, from_target=True, ttl=64)",
    ]
