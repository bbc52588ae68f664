"""The lab itself, without nmap: layout, port behaviour, delay, loss, clean teardown.

The probes are plain connect() calls and UDP datagrams made by a small
Python program inside the scanner namespace, so a fault here is the lab's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

import pytest

from tests.support.lab import (
    SCENARIOS,
    Host,
    Lab,
    Scenario,
    lab,
    lab_namespaces,
    leftovers,
    scenario_network,
)
from tests.support.lab.network import UPLINK4, default_prefix
from tests.support.netns import ETC_NETNS, NAMESERVER, Netns, NetnsUnavailable, in_ci

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]

# Non-blocking connect() to every (address, port) at once; prints what each became.
_CONNECTS = """
import errno, json, select, socket, sys, time
todo = {}
for address, port in json.loads(sys.argv[1]):
    s = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET)
    s.setblocking(False)
    s.connect_ex((address, port))
    todo[s] = f"{address}:{port}"
found = {}
deadline = time.monotonic() + float(sys.argv[2])
while todo and time.monotonic() < deadline:
    _, done, _ = select.select([], list(todo), [], max(0, deadline - time.monotonic()))
    for s in done:
        code = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        found[todo.pop(s)] = errno.errorcode.get(code, "OK") if code else "OK"
        s.close()
found.update({name: "TIMEOUT" for name in todo.values()})
print(json.dumps(found))
"""

# Round trips of UDP datagrams to a closed port: each comes back as ICMP port
# unreachable (ECONNREFUSED) unless the link lost the datagram or the answer.
_ROUND_TRIPS = """
import socket, sys, time
address, count, wait = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
answered, times = 0, []
for i in range(count):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(wait)
    s.connect((address, 9))
    start = time.monotonic()
    s.send(b"x")
    try:
        s.recv(16)
    except ConnectionRefusedError:
        answered += 1
        times.append(time.monotonic() - start)
    except TimeoutError:
        pass
    s.close()
times.sort()
print(answered, times[len(times) // 2] if times else -1)
"""


def in_scanner(running: Lab, program: str, *args: str, timeout: float = 60) -> str:
    done = subprocess.run([*running.scanner.exec_prefix(), sys.executable, "-c", program,
                           *args], capture_output=True, text=True, timeout=timeout,
                          check=True)
    return done.stdout


def connects(running: Lab, pairs: list[tuple[str, int]], wait: float) -> dict[str, str]:
    return json.loads(in_scanner(running, _CONNECTS, json.dumps(pairs), str(wait)))


def expected_errno(host: Host, port: int, *, ipv6: bool) -> str:
    _, reason = host.truth(port, ipv6=ipv6)
    return {"syn-ack": "OK", "conn-refused": "ECONNREFUSED", "no-response": "TIMEOUT",
            "host-unreach": "EHOSTUNREACH", "net-unreach": "ENETUNREACH",
            "admin-prohibited": "EACCES"}[reason]


def running_pids(pids: list[int]) -> list[int]:
    """Those of `pids` still running (a zombie waiting for its parent has stopped)."""
    alive = []
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        if stat.rsplit(")", 1)[1].split()[0] != "Z":
            alive.append(pid)
    return alive


def unavailable(message: str) -> NoReturn:
    """As lab() does: a lab that cannot be built fails under CI=true, skips elsewhere."""
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def need_root() -> None:
    if os.geteuid() != 0:
        unavailable("the lab needs root")


WITH_DOWN_HOST = Scenario("mixed+down", (*SCENARIOS["mixed"].hosts, Host(14, down=True)))


def test_every_port_behaves_as_declared() -> None:
    """Open, closed, filtered, each ICMP reject, and a down host; IPv4 and IPv6."""
    ports = [9, 22, 25, 80, 443, 2000, 2001, 2002, 2003, 2004, 3306, 8080]
    with lab(WITH_DOWN_HOST) as running:
        pairs = [(h.addr(ipv6=v6), p) for v6 in (False, True) for h in running.scenario.hosts
                 for p in ports]
        # a down host is known only once the router gives up on ARP (3 tries, 1 s apart)
        found = connects(running, pairs, wait=4.5)
    want = {f"{h.addr(ipv6=v6)}:{p}": expected_errno(h, p, ipv6=v6)
            for v6 in (False, True) for h in WITH_DOWN_HOST.live for p in ports}
    want |= {f"{a}:{p}": "EHOSTUNREACH" for a in ("198.18.0.14", "fd00:18::e") for p in ports}
    assert {k: found[k] for k in want} == want


def test_layout_routes_and_resolver_files() -> None:
    with lab("fleet") as running:
        names = [ns.name for ns in running.namespaces]
        assert sorted(names) == lab_namespaces(running.prefix)
        assert len(names) == 3 + 44  # scanner, link, router and a namespace per live host
        for name in names:
            assert (ETC_NETNS / name / "resolv.conf").read_text() == f"nameserver {NAMESERVER}\n"
        resolv = subprocess.run([*running.scanner.exec_prefix(), "cat", "/etc/resolv.conf"],
                                capture_output=True, text=True, check=True).stdout
        assert resolv == f"nameserver {NAMESERVER}\n"

        def route(ns: Netns, *args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(["ip", "-n", ns.name, *args], capture_output=True,
                                  text=True, check=False)

        # the lab's range goes through the router, never on-link from the scanner
        to_host = route(running.scanner, "route", "get", "198.18.0.77")
        assert f" via {UPLINK4} " in to_host.stdout
        to_host6 = route(running.scanner, "-6", "route", "get", "fd00:18::4d")
        assert " via fd00:18::1:2 " in to_host6.stdout
        # nothing else is reachable from the scanner, nor from the router (asking the
        # kernel for a route sends nothing)
        for ns in (running.scanner, running.router):
            outside = route(ns, "route", "get", "192.0.2.1")
            assert outside.returncode != 0 and "unreachable" in outside.stderr
            outside6 = route(ns, "-6", "route", "get", "2001:db8::1")
            assert outside6.returncode != 0


def test_link_delay_sets_the_round_trip() -> None:
    scenario = Scenario("delay", (Host(10),), delay_ms=30)
    with lab(scenario) as running:
        answered, median = in_scanner(running, _ROUND_TRIPS, "198.18.0.10", "20", "1").split()
    assert int(answered) == 20
    assert 0.060 <= float(median) < 0.080  # two crossings of 30 ms each, plus Python


def test_link_loses_the_declared_share() -> None:
    # 25% each way: a round trip survives with p = 0.75 ** 2 = 0.56
    scenario = Scenario("loss", (Host(10),), loss=0.25, seed=7)
    with lab(scenario) as running:
        answered, _ = in_scanner(running, _ROUND_TRIPS, "198.18.0.10", "300", "0.01").split()
    assert 0.45 <= int(answered) / 300 <= 0.68


def test_parallel_labs_do_not_collide() -> None:
    with lab("mixed") as first, lab("mixed") as second:
        assert first.prefix != second.prefix
        for running in (first, second):
            assert connects(running, [("198.18.0.10", 22), ("198.18.0.10", 23)], 2) == \
                {"198.18.0.10:22": "OK", "198.18.0.10:23": "ECONNREFUSED"}
        first.down()
        assert connects(second, [("198.18.0.10", 22)], 2) == {"198.18.0.10:22": "OK"}


def test_down_leaves_nothing_behind() -> None:
    with lab("mixed") as running:
        pids = running.pids()
        names = lab_namespaces(running.prefix)
    assert len(pids) == 2  # the delay link and the listeners
    assert len(names) == 7
    assert leftovers(running.prefix) == []
    assert not [name for name in names if (ETC_NETNS / name).exists()]
    assert running_pids(pids) == []


def test_benchmark_entry_point() -> None:
    prefix = default_prefix()
    network = scenario_network("lossy", prefix=prefix)
    try:
        scanner, targets = network.__enter__()
    except NetnsUnavailable as exc:
        unavailable(f"the lab cannot be built: {exc}")
    try:
        assert isinstance(scanner, Netns)
        assert targets == ["198.18.0.10"]
        assert scanner.name in lab_namespaces(prefix)
    finally:
        network.__exit__(None, None, None)
    assert leftovers(prefix) == []


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tests.support.lab", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)


def test_command_up_and_down_are_idempotent() -> None:
    need_root()
    prefix = default_prefix()
    try:
        for _ in range(2):
            done = cli("up", "mixed", "--prefix", prefix)
            if done.returncode != 0:
                unavailable(f"the lab cannot be built: {done.stderr}")
            assert f"ip netns exec {prefix}-scan " in done.stdout
        # the command has exited; its lab still answers, from one set of helpers
        running = Lab(SCENARIOS["mixed"], prefix)
        assert len(running.pids()) == 2
        assert connects(running, [("198.18.0.11", 443)], 2) == {"198.18.0.11:443": "OK"}
        pids = running.pids()
    finally:
        first = cli("down", "--prefix", prefix)
    second = cli("down", "--prefix", prefix)
    assert first.returncode == second.returncode == 0
    assert leftovers(prefix) == []
    assert running_pids(pids) == []
