"""Build and tear down a lab: scanner, link, router and one namespace per live host.

    PREFIX-scan   s0 198.18.255.1/30 fd00:18::1:1/112; 198.18.0.0/15 and
         |            fd00:18::/64 via the router, no other route at all
         |  veth
    PREFIX-link   ls <-> lr: delaylink copies frames both ways (delay, loss)
         |  veth
    PREFIX-rtr    r0 198.18.255.2/30 fd00:18::1:2/112, forwarding;
         |        br0 198.18.0.1/24 fd00:18::1/120, no default route;
         |        each AnyIP range via its host
         |  one veth per live host, on br0
    PREFIX-hN     eth0 198.18.0.N/24 fd00:18::N/120, default via the router;
                  an AnyIP host: `local RANGE dev lo`, RANGE in 198.19.0.0/16

A `lan` scenario adds s1 198.18.0.254/24 fd00:18::fe/120 to the scanner, a
veth whose other end is a port of the router's br0: the hosts' own
addresses are then directly connected to the scanner, and everything else
(AnyIP ranges) still goes through the router.

The scanner's only way out is the link, and the router knows no network
but the lab's, so no scan packet can leave the lab.  The scanner reaches
the whole range through a next hop: the kernel's neighbour table is shared
by all namespaces, and a large on-link range would fill it.  A down host
is an address on br0's subnet that nobody answers ARP for.  An AnyIP
host's namespace takes every address of its range as its own, and so the
whole range costs the router a single neighbour entry too.  Port behaviour
comes from the host's own kernel (closed: RST), iptables in its namespace
(matching connection attempts only, `--syn`, so answers to the scanner's
own ports are never touched) and one listener process for all open ports.
Every namespace gets a resolv.conf pointing nowhere and a minimal hosts file
before anything runs in it.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.lab.scenario import (
    LAN4,
    LAN6,
    REJECTS,
    ROUTER4,
    ROUTER6,
    SCENARIOS,
    Host,
    Scenario,
)
from tests.support.netns import ETC_NETNS, HOSTS, NAMESERVER, Netns, NetnsUnavailable, in_ci

ROOT = Path(__file__).resolve().parents[3]
# off 198.19.0.0/16, which is left whole for AnyIP ranges
SCANNER4, UPLINK4 = "198.18.255.1", "198.18.255.2"
SCANNER6, UPLINK6 = "fd00:18::1:1", "fd00:18::1:2"
LAB_NET4, LAB_NET6 = "198.18.0.0/15", "fd00:18::/64"
# Fixed hardware addresses on the scanner-router link (each lab is its own Ethernet)
SCANNER_MAC, UPLINK_MAC = "02:00:c6:13:ff:01", "02:00:c6:13:ff:02"
LAN_MAC = "02:00:c6:13:00:fe"  # the scanner's on the targets' segment (`lan` scenarios)
TOOLS = ("ip", "iptables-restore", "ip6tables-restore", "iptables", "ethtool", "sysctl")
# svc: the service lab's one target namespace (tests/support/servicelab.py)
_ROLES = r"(scan|link|rtr|svc|h\d{1,3})"
_serial = itertools.count()

# frames copied through a packet socket must carry finished checksums and real sizes
_OFFLOADS = ("tx", "off", "rx", "off", "tso", "off", "gso", "off", "gro", "off")
_QUIET6 = ("net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0",
           "net.ipv6.conf.all.accept_ra=0", "net.ipv6.conf.default.accept_ra=0")
# Linux rate-limits ICMP errors; every REJECT and every unreachable down host must
# answer every probe of both programs, or their results would depend on timing
_ICMP_FREE = ("net.ipv4.icmp_ratelimit=0", "net.ipv4.icmp_ratemask=0",
              "net.ipv6.icmp.ratelimit=0", "net.ipv6.icmp.ratemask=")
# An AnyIP host takes a connection on every address of its range: tens of
# thousands may wait for the listener's accept() at once, and a full queue
# drops SYNs (the scan would see retransmissions, even filtered ports)
BACKLOG = 65535
_DEEP_QUEUES = (f"net.core.somaxconn={BACKLOG}", f"net.ipv4.tcp_max_syn_backlog={BACKLOG}")

_SETTLE = """
import socket, sys
wait = float(sys.argv[1])
for address in sys.argv[2:]:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    for _ in range(200):
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.settimeout(wait)
            s.connect((address, 9))
            s.send(b"?")
            try:
                s.recv(1)
            except ConnectionRefusedError:
                break
            except OSError:
                pass
    else:
        raise SystemExit(f"no answer from {address} across the lab's link")
"""


def default_prefix() -> str:
    """A prefix no other run on this machine uses: parallel test runs never collide."""
    return f"pl{os.getpid()}-{next(_serial)}"


def _run(args: Sequence[str], stdin: str | None = None) -> str:
    try:
        done = subprocess.run(list(args), input=stdin, capture_output=True, text=True,
                              timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NetnsUnavailable(f"{' '.join(args)}: {exc}") from exc
    if done.returncode != 0:
        raise NetnsUnavailable(f"{' '.join(args[:6])}: {done.stderr.strip() or done.returncode}")
    return done.stdout


def _batch(netns: Netns | None, lines: Sequence[str]) -> None:
    """Many `ip` commands in one process (in `netns` when given); stops at the first error."""
    where = ["-n", netns.name] if netns else []
    _run(["ip", *where, "-batch", "-"], "\n".join(lines) + "\n")


def _in(netns: Netns, *args: str, stdin: str | None = None) -> str:
    return _run([*netns.exec_prefix(), *args], stdin)


@dataclass
class Lab:
    """A scenario's network under one name prefix; `scanner` is where scans run."""

    scenario: Scenario
    prefix: str = field(default_factory=default_prefix)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def scanner(self) -> Netns:
        return Netns(f"{self.prefix}-scan")

    @property
    def link(self) -> Netns:
        return Netns(f"{self.prefix}-link")

    @property
    def router(self) -> Netns:
        return Netns(f"{self.prefix}-rtr")

    def host_netns(self, host: Host) -> Netns:
        return Netns(f"{self.prefix}-h{host.number}")

    @property
    def namespaces(self) -> list[Netns]:
        return [self.scanner, self.link, self.router,
                *(self.host_netns(h) for h in self.scenario.live)]

    @property
    def targets(self) -> list[str]:
        """Every declared host's IPv4 address, down ones included."""
        return self.scenario.targets()

    def addresses(self, *, ipv6: bool = False) -> list[str]:
        return self.scenario.targets(ipv6=ipv6)

    def pids(self) -> list[int]:
        """The processes running inside the lab's namespaces (its helpers, any scan)."""
        return [pid for ns in self.namespaces for pid in _pids(ns.name)]

    # -- up ---------------------------------------------------------------------------------
    def up(self, *, detach: bool = False) -> None:
        """Build it all; `detach` leaves the helper processes running after this one exits."""
        if os.geteuid() != 0:
            raise NetnsUnavailable("the lab needs root")
        missing = [tool for tool in TOOLS if shutil.which(tool) is None]
        if missing:
            raise NetnsUnavailable(f"not installed: {', '.join(missing)}")
        remove(self.prefix)  # idempotent: whatever a killed run left goes first
        try:
            self._namespaces()
            self._wires()
            self._firewalls()
            self._start_helpers(detach)
        except BaseException:
            self.down()
            raise

    def _namespaces(self) -> None:
        for ns in self.namespaces:
            # before the first `ip netns exec`, which is when they are bind-mounted
            ns.etc.mkdir(parents=True, exist_ok=True)
            (ns.etc / "resolv.conf").write_text(f"nameserver {NAMESERVER}\n")
            (ns.etc / "hosts").write_text(HOSTS)
        _batch(None, [f"netns add {ns.name}" for ns in self.namespaces])
        # before any interface exists, so that the `default` settings reach them all
        _in(self.scanner, "sysctl", "-qw", *_QUIET6)
        # the link namespace only copies frames: its own stack must never add any
        _in(self.link, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
            "net.ipv6.conf.default.disable_ipv6=1")
        _in(self.router, "sysctl", "-qw", *_QUIET6, *_ICMP_FREE, "net.ipv4.ip_forward=1",
            "net.ipv6.conf.all.forwarding=1")
        for host in self.scenario.live:
            deep = _DEEP_QUEUES if host.anyip else ()
            _in(self.host_netns(host), "sysctl", "-qw", *_QUIET6, *_ICMP_FREE, *deep)

    def _wires(self) -> None:
        s, link, r = self.scanner, self.link, self.router
        router = [
            "link set lo up",
            f"link add r0 address {UPLINK_MAC} type veth peer name lr netns {link.name}",
            f"addr add {UPLINK4}/30 dev r0",
            f"addr add {UPLINK6}/112 dev r0 nodad",
            "link set r0 up",
            f"neigh replace {SCANNER4} lladdr {SCANNER_MAC} dev r0 nud permanent",
            f"neigh replace {SCANNER6} lladdr {SCANNER_MAC} dev r0 nud permanent",
            "link add br0 type bridge forward_delay 0 mcast_snooping 0",
            f"addr add {ROUTER4}/24 dev br0",
            f"addr add {ROUTER6}/120 dev br0 nodad",
            "link set br0 up",
        ]
        for host in self.scenario.live:
            port = f"h{host.number}"
            router += [f"link add {port} type veth peer name eth0 netns {self.host_netns(host).name}",
                       f"link set {port} master br0", f"link set {port} up"]
        if self.scenario.lan:
            router += [f"link add sc type veth peer name s1 netns {s.name}",
                       "link set sc master br0", "link set sc up"]
        # a down host's range, too: the router then fails on its ARP like for any down host
        router += [f"route add {h.anyip} via {h.address}" for h in self.scenario.hosts
                   if h.anyip]
        _batch(r, router)
        _batch(s, [
            "link set lo up",
            f"link add s0 address {SCANNER_MAC} type veth peer name ls netns {link.name}",
            f"addr add {SCANNER4}/30 dev s0",
            f"addr add {SCANNER6}/112 dev s0 nodad",
            "link set s0 up",
            # The link stands for the path to the targets, not for the scanner's own
            # LAN: ARP and neighbour discovery with the router never cross it, so a
            # lost ARP frame cannot stall a whole scan for a second
            f"neigh replace {UPLINK4} lladdr {UPLINK_MAC} dev s0 nud permanent",
            f"neigh replace {UPLINK6} lladdr {UPLINK_MAC} dev s0 nud permanent",
            f"route add {LAB_NET4} via {UPLINK4}",
            f"route add {LAB_NET6} via {UPLINK6}",
            # the targets' segment itself is on-link here: its /24 and /120 win over the /15
            *([f"link set s1 address {LAN_MAC}", f"addr add {LAN4}/24 dev s1",
               f"addr add {LAN6}/120 dev s1 nodad", "link set s1 up"]
              if self.scenario.lan else []),
        ])
        _batch(link, ["link set lo up", "link set ls up", "link set lr up"])
        for ns, dev in ((s, "s0"), (link, "ls"), (link, "lr"), (r, "r0")):
            _in(ns, "ethtool", "-K", dev, *_OFFLOADS)
        for host in self.scenario.live:
            _batch(self.host_netns(host), [
                "link set lo up",
                *([f"link set eth0 address {host.mac}"] if host.mac else []),
                f"addr add {host.address}/24 dev eth0",
                f"addr add {host.address6}/120 dev eth0 nodad",
                "link set eth0 up",
                f"route add default via {ROUTER4}",
                f"route add default via {ROUTER6}",
                # AnyIP: the whole range is this namespace's own, as 127.0.0.0/8 is
                *([f"route add local {host.anyip} dev lo"] if host.anyip else []),
            ])

    def _firewalls(self) -> None:
        for host in self.scenario.live:
            for command, ipv6 in (("iptables-restore", False), ("ip6tables-restore", True)):
                rules = firewall(host, ipv6=ipv6)
                if rules:
                    _in(self.host_netns(host), command, stdin=rules)

    def _start_helpers(self, detach: bool) -> None:
        sc = self.scenario
        binds = [f"{self.scanner.name},127.0.0.1,{p}" for p in sc.scanner_open]
        for host in sc.live:
            ns = self.host_netns(host).name
            # the wildcard answers on every address of an AnyIP range
            addresses = ("0.0.0.0", "::") if host.anyip else (host.address, host.address6)
            binds += [f"{ns},{a},{p}" for p in host.open for a in addresses]
        if binds:
            # from the router's namespace, so that `ip netns pids` finds it at teardown
            self._spawn(self.router, "listeners", binds, detach)
        self._spawn(self.link, "delaylink",
                    ["ls", "lr", "--delay-ms", str(sc.delay_ms), "--loss", str(sc.loss),
                     "--seed", str(sc.seed)], detach)
        # the router's ICMP port unreachable proves the link carries both ways
        wait = 2 * sc.delay_ms / 1000 + 0.05
        _in(self.scanner, sys.executable, "-c", _SETTLE, str(wait), UPLINK4, UPLINK6)

    def _spawn(self, ns: Netns, module: str, args: list[str], detach: bool) -> None:
        proc = subprocess.Popen(
            [*ns.exec_prefix(), sys.executable, "-m", f"tests.support.lab.{module}", *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, cwd=ROOT,
            # detached, it must not hold the caller's stderr open (a pipe would never end)
            stderr=subprocess.DEVNULL if detach else None, start_new_session=detach)
        if not detach:
            self.processes.append(proc)
        assert proc.stdout is not None
        ready = proc.stdout.readline() == b"ready\n"
        if detach:
            proc.stdout.close()  # the helper never writes again
        if not ready:
            raise NetnsUnavailable(f"the lab's {module} did not start")

    # -- inspection ----------------------------------------------------------------------
    def allow_ping_sockets(self, allowed: bool) -> None:
        """Let the scanner's processes (root among them) open ICMP ping sockets, or not:
        net.ipv4.ping_group_range is the namespace's own (both families)."""
        _in(self.scanner, "sysctl", "-qw",
            f"net.ipv4.ping_group_range={'0 2147483647' if allowed else '1 0'}")

    def dropped_rsts(self, host: Host, *, ipv6: bool = False) -> int:
        """How many RSTs the host's rate limit has dropped so far."""
        listing = _in(self.host_netns(host), "ip6tables" if ipv6 else "iptables",
                      "-L", "OUTPUT", "-n", "-v", "-x")
        return sum(int(line.split()[0]) for line in listing.splitlines()
                   if line.split()[2:3] == ["DROP"])

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
            if proc.stdout:
                proc.stdout.close()
        self.processes.clear()
        remove(self.prefix)


def firewall(host: Host, *, ipv6: bool = False) -> str:
    """The host's rules as iptables-restore input; empty when it needs none."""
    rules: list[str] = []
    for port in host.filtered:
        rules.append(f"-A INPUT -p tcp --syn --dport {port} -j DROP")
    for port, kind in host.rejected.items():
        answer = REJECTS[kind].ip6 if ipv6 else REJECTS[kind].ip4
        rules.append(f"-A INPUT -p tcp --syn --dport {port} -j REJECT --reject-with {answer}")
    if host.rst_per_second:
        rate = host.rst_per_second
        rules.append(f"-A OUTPUT -p tcp --tcp-flags RST RST -m limit --limit {rate}/second "
                     f"--limit-burst {rate} -j ACCEPT")
        rules.append("-A OUTPUT -p tcp --tcp-flags RST RST -j DROP")
    return "*filter\n" + "".join(r + "\n" for r in rules) + "COMMIT\n" if rules else ""


def _pids(name: str) -> list[int]:
    done = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True,
                          timeout=30, check=False)
    return [int(word) for word in done.stdout.split() if word.isdigit()]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def lab_namespaces(prefix: str) -> list[str]:
    """The names of the namespaces (or their /etc/netns directories) under `prefix`."""
    pattern = re.compile(re.escape(prefix) + "-" + _ROLES)
    done = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                          timeout=30, check=False)
    names = {line.split()[0] for line in done.stdout.splitlines() if line.split()}
    if ETC_NETNS.is_dir():
        names |= {entry.name for entry in ETC_NETNS.iterdir()}
    return sorted(n for n in names if pattern.fullmatch(n))


def remove(prefix: str) -> None:
    """Take down every namespace under `prefix`, its processes and files; never raises."""
    names = lab_namespaces(prefix)
    # a namespace outlives `ip netns del` while a process is still inside it
    pids = [pid for name in names for pid in _pids(name)]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(_alive(p) for p in pids):
            time.sleep(0.02)
        pids = [p for p in pids if _alive(p)]
        if not pids:
            break
    if names:
        subprocess.run(["ip", "-force", "-batch", "-"], capture_output=True, timeout=60,
                       input="".join(f"netns del {n}\n" for n in names), text=True,
                       check=False)
    for name in names:
        shutil.rmtree(ETC_NETNS / name, ignore_errors=True)


def leftovers(prefix: str) -> list[str]:
    """Anything of a lab under `prefix` still on the machine: namespaces, /etc/netns dirs."""
    return lab_namespaces(prefix)


def build(scenario: Scenario | str, *, prefix: str | None = None,
          detach: bool = False) -> Lab:
    """Build a scenario (by name or itself) and leave it up; raises NetnsUnavailable."""
    if isinstance(scenario, str):
        scenario = SCENARIOS[scenario]
    running = Lab(scenario, prefix or default_prefix())
    running.up(detach=detach)
    return running


@contextlib.contextmanager
def scenario_network(scenario: Scenario | str, *,
                     prefix: str | None = None) -> Iterator[tuple[Netns, list[str]]]:
    """For benchmarks: (scanner namespace, target addresses) while the block runs."""
    running = build(scenario, prefix=prefix)
    try:
        yield running.scanner, running.targets
    finally:
        running.down()


@contextlib.contextmanager
def lab(scenario: Scenario | str, *, prefix: str | None = None) -> Iterator[Lab]:
    """The lab for a test: a lab that cannot be built fails under CI=true, skips elsewhere."""
    import pytest

    try:
        running = build(scenario, prefix=prefix)
    except NetnsUnavailable as exc:
        message = f"the lab cannot be built: {exc}"
        if in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    try:
        yield running
    finally:
        running.down()
