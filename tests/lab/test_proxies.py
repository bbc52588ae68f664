"""--proxies against real proxy daemons (danted, tinyproxy) in the lab's router.

The lab's host .10 has open, closed, dropped (81) and ICMP-rejected (82)
ports, and banner services for -sV; host .11 has 80 open but the router
drops the scanner's own connection attempts to it, so only a scan that goes
through a proxy sees it.  nmap's direct scan checks the lab first; each scan
through a proxy must then find what the README's table makes of it: SOCKS5
answers as a direct scan does, SOCKS4's and HTTP's failures are
closed|filtered, a silence is filtered, and the proxy's own rules are
filtered (admin-prohibited).  A proxy that is dead, silent, refusing or
refusing our password ends the run with a message and lists no port.
-sV through SOCKS4 is compared with nmap's own -sV through the same proxy.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.compare import differences, run_both, run_one
from tests.support.lab import Lab, lab
from tests.support.lab.network import SCANNER4, UPLINK4, _in
from tests.support.lab.results import Table, port_table
from tests.support.lab.scenario import Host, Scenario, State
from tests.support.netns import banner_services
from tests.support.proxylab import (
    DANTE,
    DANTE_PW,
    FORBIDDEN,
    PASSWORD,
    REFUSING,
    TINY,
    USER,
    ProxyLab,
    proxy_daemons,
    url,
)

pytestmark = [pytest.mark.lab, pytest.mark.nmap]

MAIN = Host(10, open=(22, 80, FORBIDDEN[1]), filtered=(81,),
            rejected={82: "icmp-host-unreachable"})
HIDDEN = Host(11, open=(80,))
SCENARIO = Scenario("proxies", (MAIN, HIDDEN), about="two hosts, one reached only by proxies")
PORTS = [22, 23, 80, 81, 82, FORBIDDEN[1]]
SSH_BANNER = "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"
FTP_BANNER = "220 (vsFTPd 3.0.3)\r\n"
BANNERS = {2121: FTP_BANNER, 2222: SSH_BANNER}


@pytest.fixture(scope="module")
def proxylab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Lab, ProxyLab]]:
    with lab(SCENARIO) as running:
        # the scanner's own connection attempts to HIDDEN never get past the router
        _in(running.router, "iptables", "-A", "FORWARD", "-s", SCANNER4, "-d", HIDDEN.address,
            "-p", "tcp", "--syn", "-j", "DROP")
        # a proxy port that swallows connection attempts: a silent proxy
        _in(running.router, "iptables", "-A", "INPUT", "-p", "tcp", "--syn", "--dport", "1098",
            "-j", "DROP")
        with banner_services(running.host_netns(MAIN), BANNERS, MAIN.address), \
                proxy_daemons(running, tmp_path_factory.mktemp("proxies")) as daemons:
            yield running, daemons


def scan(running: Lab, tmp: Path, *args: str, name: str = "pynmap") -> tuple[int, str, str]:
    done = run_one(name, ["-Pn", "-n", "--reason", "-oX", "out.xml", *args], running.scanner,
                   tmp, outputs=["out.xml"])
    return done.exit, done.files["out.xml"] or "", done.stdout + done.stderr


def through(scheme: str, state: State) -> State:
    """What a scan through a proxy of `scheme` must report for a port whose direct
    connect() gets `state` from the proxy's own host (the README's table)."""
    if state[0] == "filtered" and state[1] == "no-response":
        return state  # no answer to the proxy: no answer to us either
    if scheme in ("socks4", "socks4a", "http") and state[0] != "open":
        return ("closed|filtered", "unknown-response")  # refused and unreachable look alike
    return state


def expected(scheme: str, chain: str, ports: list[int]) -> Table:
    truth = SCENARIO.truth(ports, ping=False)
    table = {a: {p: through(scheme, s) for p, s in states.items()} for a, states in truth.items()}
    if chain.endswith(f":{DANTE}"):  # the last proxy's rules forbid one open port
        table[FORBIDDEN[0]][FORBIDDEN[1]] = ("filtered", "admin-prohibited") \
            if scheme == "socks5" else ("closed|filtered", "unknown-response")
    return table


def test_the_lab_reached_directly(proxylab: tuple[Lab, ProxyLab], tmp_path: Path) -> None:
    running, _ = proxylab
    code, xml, output = scan(running, tmp_path, "-p", ",".join(map(str, PORTS)), MAIN.address,
                             HIDDEN.address, name="nmap")
    assert code == 0, output
    found = port_table(xml)
    assert found[MAIN.address] == SCENARIO.truth(PORTS, ping=False)[MAIN.address], "harness"
    assert set(found[HIDDEN.address].values()) == {("filtered", "no-response")}, "harness"


# tinyproxy answers a connect() that failed with an ICMP error only after about a
# second (the probe has timed out by then, or not): port 82 is left out for it
CASES = [
    ("socks5", url("socks5", DANTE), PORTS),
    ("socks5", url("socks5", DANTE_PW, f"{USER}:{PASSWORD}@"), PORTS),
    ("socks4", url("socks4", DANTE), PORTS),
    ("socks4a", url("socks4a", DANTE), PORTS),
    ("http", url("http", TINY), [p for p in PORTS if p != 82]),
    ("http", f"{url('socks5', DANTE)},{url('http', TINY)}", [p for p in PORTS if p != 82]),
]


@pytest.mark.parametrize(("scheme", "chain", "ports"), CASES,
                         ids=["socks5", "socks5-password", "socks4", "socks4a", "http",
                              "socks5-then-http"])
def test_a_scan_through_proxies_finds_what_the_proxy_answers(
        proxylab: tuple[Lab, ProxyLab], tmp_path: Path, scheme: str, chain: str,
        ports: list[int]) -> None:
    running, _ = proxylab
    code, xml, output = scan(running, tmp_path, "--proxies", chain,
                             "-p", ",".join(map(str, ports)), MAIN.address, HIDDEN.address)
    assert code == 0, output
    assert port_table(xml) == expected(scheme, chain, ports)


@pytest.mark.parametrize(("chain", "message"), [
    (url("socks5", 1099), f"Cannot connect to proxy socks5://{UPLINK4}:1099: "
                          "Connection refused"),
    (url("socks5", DANTE_PW, f"{USER}:wrong@"),
     f"Proxy socks5://{UPLINK4}:{DANTE_PW} refused the user name and password"),
    (url("socks5", DANTE_PW), f"Proxy socks5://{UPLINK4}:{DANTE_PW} wants a user name and "
                              "password"),
    (url("socks4", REFUSING), "The proxy chain answers nothing: "),
    (url("http", 1098), "The proxy chain answers nothing: "),  # SYNs dropped: silent
    (f"{url('socks5', DANTE)},{url('socks5', 1099)}",
     f"Proxy socks5://{UPLINK4}:{DANTE} cannot connect to the next proxy of the chain, "
     f"socks5://{UPLINK4}:1099: connection refused"),
], ids=["dead", "wrong-password", "no-password", "refusing", "silent", "dead-second"])
def test_a_proxy_that_cannot_carry_the_scan_ends_it(
        proxylab: tuple[Lab, ProxyLab], tmp_path: Path, chain: str, message: str) -> None:
    running, _ = proxylab
    code, xml, output = scan(running, tmp_path, "--proxies", chain, "-p", "22,23",
                             MAIN.address)
    assert code == 1, output
    assert message in output and "QUITTING!" in output
    assert not re.search(r"^\d+/tcp", output, re.MULTILINE)  # no port reported at all
    assert "<port " not in xml


def test_version_detection_through_socks4_is_nmaps(proxylab: tuple[Lab, ProxyLab],
                                                    tmp_path: Path) -> None:
    # services that wait for the client (the lab's accept-and-close ports): nmap
    # reads dante's 8-byte answer alone, and its -sV works through the proxy
    running, _ = proxylab
    args = ["-sV", "-n", "-p", "22,80", "--proxies", url("socks4", DANTE), MAIN.address]
    nmap, pynmap = run_both(args, running.scanner, tmp_path)
    assert re.search(r"22/tcp open\s+tcpwrapped", nmap.stdout), f"harness: {nmap.stdout}"
    assert not differences(nmap, pynmap)


@pytest.mark.parametrize("scheme", ["socks4", "http"])
def test_version_detection_through_proxies_finds_what_a_direct_one_does(
        proxylab: tuple[Lab, ProxyLab], tmp_path: Path, scheme: str) -> None:
    # Services that speak first: their banner may come in the same read as the
    # proxy's answer, which nmap 7.93 then takes for a proxy error (SOCKS4), and
    # nmap takes only "200 OK" for CONNECT's answer (tinyproxy says "200
    # Connection established"); either way nmap calls them tcpwrapped (the
    # README).  pynmap through the proxy must find what nmap finds directly.
    running, _ = proxylab
    args = ["-sV", "-n", "-p", "2121,2222", MAIN.address]
    direct = run_one("nmap", args, running.scanner, tmp_path / "direct")
    proxy = url(scheme, DANTE if scheme == "socks4" else TINY)
    proxied = run_one("pynmap", [*args, "--proxies", proxy], running.scanner,
                      tmp_path / "proxied")

    def lines(text: str) -> list[str]:
        return [line for line in text.splitlines() if re.match(r"\d+/tcp|Service Info", line)]

    assert re.search(r"2222/tcp open\s+ssh\s+OpenSSH 9\.2p1", direct.stdout), "harness"
    assert lines(proxied.stdout) == lines(direct.stdout)
