"""Build and tear down a lab: scanner namespace, link namespace, target namespace.

    scanner  s0 198.18.0.1/24 fd00:18::1/64
       |  veth
    link     (delaylink copies frames both ways, with delay and loss)
       |  veth
    targets  t0 198.18.0.2/24 fd00:18::2/64, plus one address per live host

The scanner's only way out is the link, so no scan packet can leave the
lab.  Port behaviour comes from iptables in the target namespace (matching
connection attempts only: `--syn`) and from one listener process there.
Every namespace gets a resolv.conf pointing nowhere and a minimal hosts
file.  Offloads are switched off on the veths: frames copied through a
packet socket must carry finished checksums and real sizes.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.lab.scenario import SCENARIOS, Host, Scenario
from tests.support.netns import ETC_NETNS, HOSTS, NAMESERVER, Netns, NetnsUnavailable, in_ci

ROOT = Path(__file__).resolve().parents[3]
_serial = itertools.count()

_LISTENER = """
import socket, sys, time
socks = []
for item in sys.argv[1:]:
    address, port = item.rsplit("/", 1)
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((address, int(port)))
    s.listen(1024)
    socks.append(s)
print("ready", flush=True)
while True:
    time.sleep(3600)
"""


_SETTLE = """
import socket, time
for _ in range(50):
    try:
        socket.create_connection(("198.18.0.2", 9), timeout=1).close()
    except ConnectionRefusedError:
        break
    except OSError:
        time.sleep(0.1)
else:
    raise SystemExit("no answer across the lab link")
"""


def _run(*args: str) -> None:
    done = subprocess.run(list(args), capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise NetnsUnavailable(f"{' '.join(args)}: {done.stderr.strip() or done.returncode}")


@dataclass
class Lab:
    """A running lab; `scanner` is where nmap and pynmap run."""

    scenario: Scenario
    prefix: str
    scanner: Netns = field(init=False)
    link: Netns = field(init=False)
    target: Netns = field(init=False)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.scanner = Netns(f"{self.prefix}-s")
        self.link = Netns(f"{self.prefix}-l")
        self.target = Netns(f"{self.prefix}-t")

    @property
    def namespaces(self) -> list[Netns]:
        return [self.scanner, self.link, self.target]

    def addresses(self, *, ipv6: bool = False) -> list[str]:
        return [h.address6 if ipv6 else h.address for h in self.scenario.hosts]

    # -- up ---------------------------------------------------------------------------------
    def up(self) -> None:
        if os.geteuid() != 0:
            raise NetnsUnavailable("the lab needs root")
        for tool in ("ip", "iptables", "ethtool"):
            if shutil.which(tool) is None:
                raise NetnsUnavailable(f"`{tool}` is not installed")
        try:
            self._namespaces()
            self._wires()
            self._hosts()
            self._start_link()
        except BaseException:
            self.down()
            raise

    def _namespaces(self) -> None:
        for ns in self.namespaces:
            ns.etc.mkdir(parents=True, exist_ok=True)
            (ns.etc / "resolv.conf").write_text(f"nameserver {NAMESERVER}\n")
            (ns.etc / "hosts").write_text(HOSTS)
            _run("ip", "netns", "add", ns.name)
            _run("ip", "-n", ns.name, "link", "set", "lo", "up")

    def _wires(self) -> None:
        s, mid, t = self.scanner.name, self.link.name, self.target.name
        _run("ip", "-n", s, "link", "add", "s0", "type", "veth", "peer", "name", "ls",
             "netns", mid)
        _run("ip", "-n", t, "link", "add", "t0", "type", "veth", "peer", "name", "lt",
             "netns", mid)
        for ns, dev in ((s, "s0"), (mid, "ls"), (mid, "lt"), (t, "t0")):
            _run("ip", "netns", "exec", ns, "ethtool", "-K", dev, "tx", "off", "rx", "off",
                 "tso", "off", "gso", "off", "gro", "off")
            _run("ip", "-n", ns, "link", "set", dev, "up")
        _run("ip", "-n", s, "addr", "add", "198.18.0.1/24", "dev", "s0")
        _run("ip", "-n", s, "-6", "addr", "add", "fd00:18::1/64", "dev", "s0", "nodad")
        _run("ip", "-n", t, "addr", "add", "198.18.0.2/24", "dev", "t0")
        _run("ip", "-n", t, "-6", "addr", "add", "fd00:18::2/64", "dev", "t0", "nodad")

    def _hosts(self) -> None:
        t = self.target.name
        # Linux rate-limits ICMP errors per destination; a REJECT rule must answer
        # every probe of both programs, so the target namespace sends them freely
        _run("ip", "netns", "exec", t, "sysctl", "-qw", "net.ipv4.icmp_ratelimit=0",
             "net.ipv6.icmp.ratelimit=0")
        binds: list[str] = []
        for host in self.scenario.live:
            _run("ip", "-n", t, "addr", "add", f"{host.address}/32", "dev", "t0")
            _run("ip", "-n", t, "-6", "addr", "add", f"{host.address6}/128", "dev", "t0", "nodad")
            binds += [f"{a}/{p}" for p in host.open for a in (host.address, host.address6)]
            for rule in _rules(host):
                _run("ip", "netns", "exec", t, *rule)
        if binds:
            proc = subprocess.Popen(["ip", "netns", "exec", t, sys.executable, "-c",
                                     _LISTENER, *binds], stdout=subprocess.PIPE)
            self.processes.append(proc)
            if proc.stdout is None or proc.stdout.readline() != b"ready\n":
                raise NetnsUnavailable("the lab's listeners did not start")

    def _start_link(self) -> None:
        sc = self.scenario
        proc = subprocess.Popen(
            ["ip", "netns", "exec", self.link.name, sys.executable, "-m",
             "tests.support.lab.delaylink", "ls", "lt", "--delay-ms", str(sc.delay_ms),
             "--loss", str(sc.loss), "--seed", str(sc.seed)],
            stdout=subprocess.PIPE, cwd=ROOT)
        self.processes.append(proc)
        if proc.stdout is None or proc.stdout.readline() != b"ready\n":
            raise NetnsUnavailable("the lab's delay link did not start")
        # the first frames across (ARP) settle before any timing-sensitive scan: a
        # connection refused by the target namespace proves the link carries both ways
        _run("ip", "netns", "exec", self.scanner.name, sys.executable, "-c", _SETTLE)

    # -- down -------------------------------------------------------------------------------
    def down(self) -> None:
        for proc in self.processes:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
        for proc in self.processes:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.processes.clear()
        for ns in self.namespaces:
            subprocess.run(["ip", "netns", "del", ns.name], capture_output=True, timeout=30)
            shutil.rmtree(ns.etc, ignore_errors=True)


def _rules(host: Host) -> list[list[str]]:
    rules: list[list[str]] = []
    for cmd, address in (("iptables", host.address), ("ip6tables", host.address6)):
        for port in host.filtered:
            rules.append([cmd, "-A", "INPUT", "-d", address, "-p", "tcp", "--syn",
                          "--dport", str(port), "-j", "DROP"])
        for port, icmp in host.rejected.items():
            if cmd == "ip6tables":
                continue  # the IPv4 scenarios are what the differential tests compare
            rules.append([cmd, "-A", "INPUT", "-d", address, "-p", "tcp", "--syn",
                          "--dport", str(port), "-j", "REJECT", "--reject-with", icmp])
        if host.rst_per_second:
            rate = str(host.rst_per_second)
            rules.append([cmd, "-A", "OUTPUT", "-s", address, "-p", "tcp", "--tcp-flags",
                          "RST", "RST", "-m", "limit", "--limit", f"{rate}/second",
                          "--limit-burst", rate, "-j", "ACCEPT"])
            rules.append([cmd, "-A", "OUTPUT", "-s", address, "-p", "tcp", "--tcp-flags",
                          "RST", "RST", "-j", "DROP"])
    return rules


@contextlib.contextmanager
def lab(scenario: Scenario | str, *, prefix: str | None = None) -> Iterator[Lab]:
    """Build the scenario's lab; fails the test under CI=true, skips elsewhere, if it cannot."""
    import pytest

    if isinstance(scenario, str):
        scenario = SCENARIOS[scenario]
    name = prefix or f"pl{os.getpid() % 100000}x{next(_serial)}"
    running = Lab(scenario, name)
    try:
        running.up()
    except NetnsUnavailable as exc:
        message = f"the lab cannot be built: {exc}"
        if in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    try:
        yield running
    finally:
        running.down()


def leftover_namespaces(prefix: str) -> list[str]:
    done = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=30)
    return [line.split()[0] for line in done.stdout.splitlines()
            if line.split() and line.split()[0].startswith(prefix)]


__all__ = ["ETC_NETNS", "Lab", "lab", "leftover_namespaces"]
