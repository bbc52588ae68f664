"""The connect engine against real sockets, inside a namespace this module builds.

The namespace has listeners on a few ports and iptables rules that DROP or
REJECT others; the engine runs inside it (a subprocess under `ip netns
exec`) and must find exactly what was set up, and exactly what the real
nmap finds there.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from tests.support.netns import Netns, in_ci, netns_for_tests, run_nmap, run_pynmap

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]

OPEN = (22, 8080, 33306)  # listeners on 127.0.0.1 and ::1
RESETS = 44450  # a listener on 127.0.0.1 that accepts and resets at once; scanned only
# where the loop reads late (on time, pynmap and nmap race its reset)
BOTH_PINGS = "127.0.0.3"  # listens on 80 and 443: discovery answers syn-ack
DOWN = "127.0.0.5"  # all TCP dropped
UNREACH = "127.0.0.6"  # connection attempts rejected with ICMP host unreachable

DROP_RANGE = range(45000, 45100)
# port -> (state, reason) on 127.0.0.1, from the rules below (and DROP_RANGE)
FILTERED_V4 = {
    44444: ("filtered", "no-response"),
    44445: ("filtered", "host-unreach"),
    # Linux turns ICMP admin-prohibited into EHOSTUNREACH (reference 0.1)
    44446: ("filtered", "host-unreach"),
    44447: ("filtered", "net-unreach"),
    44448: ("filtered", "proto-unreach"),
}

RULES_V4 = [
    ["-p", "tcp", "--syn", "--dport", "44444", "-j", "DROP"],
    [
        "-p",
        "tcp",
        "--syn",
        "--dport",
        "44445",
        "-j",
        "REJECT",
        "--reject-with",
        "icmp-host-unreachable",
    ],
    [
        "-p",
        "tcp",
        "--syn",
        "--dport",
        "44446",
        "-j",
        "REJECT",
        "--reject-with",
        "icmp-admin-prohibited",
    ],
    [
        "-p",
        "tcp",
        "--syn",
        "--dport",
        "44447",
        "-j",
        "REJECT",
        "--reject-with",
        "icmp-net-unreachable",
    ],
    [
        "-p",
        "tcp",
        "--syn",
        "--dport",
        "44448",
        "-j",
        "REJECT",
        "--reject-with",
        "icmp-proto-unreachable",
    ],
    ["-p", "tcp", "--syn", "--dport", "45000:45099", "-j", "DROP"],
    ["-d", DOWN, "-p", "tcp", "-j", "DROP"],
    ["-d", UNREACH, "-p", "tcp", "--syn", "-j", "REJECT", "--reject-with", "icmp-host-unreachable"],
]
RULES_V6 = [["-p", "tcp", "--syn", "--dport", "44444", "-j", "DROP"]]

LISTENER = r"""
import selectors, socket, struct, sys
sel = selectors.DefaultSelector()
resets = set()
for spec in sys.argv[1:]:
    reset = spec.startswith("rst@")
    addr, port = spec.removeprefix("rst@").rsplit(":", 1)
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, int(port)))
    s.listen(1024)
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
    if reset:
        resets.add(s)
print("ready", flush=True)
while True:
    for key, _ in sel.select():
        try:
            c = key.fileobj.accept()[0]
            if key.fileobj in resets:
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.close()
        except OSError:
            pass
"""

# Runs inside the namespace: discovery (or -Pn), then the connect scan;
# prints one JSON document.
RUNNER = r"""
import json, socket, sys, time
from pynmap.engine import events as engine_events
from pynmap.engine.scan import Events, assume_up, connect_scan, discover
from pynmap.results import HostResult
from pynmap.pacing import choose_pacing
from pynmap.timing import Timing

spec = json.load(sys.stdin)
unsent = []
if spec.get("budget"):
    # Claim more descriptors than the limit allows, to meet EMFILE for real,
    # and count the probes handed back.
    from pynmap.engine.scheduler import Scheduler
    engine_events.socket_budget = lambda: spec["budget"]
    handed_back = Scheduler.on_unsent
    def on_unsent(self, probe, now):
        unsent.append(probe.port)
        handed_back(self, probe, now)
    Scheduler.on_unsent = on_unsent
if spec.get("deaf"):
    # A loop that never hears of an answer in time: poll() reports nothing,
    # after sleeping as long as it was asked to (milliseconds).  Every answer
    # is then found by the check at expiry, or not at all.
    import select
    real_poll = select.poll
    class Deaf:
        def __init__(self):
            self.real = real_poll()
        def register(self, fd, mask):
            self.real.register(fd, mask)
        def unregister(self, fd):
            self.real.unregister(fd)
        def poll(self, timeout=-1):
            time.sleep(max(0.0, timeout / 1000))
            return []
    select.poll = Deaf
if spec.get("reset_when_connected"):
    # Every connection is reset by its peer before SO_ERROR is read (a
    # service that accepts and closes with RST at once, and a slow reader).
    import errno
    from pynmap.engine.loop import ConnectLoop
    real_so_error = ConnectLoop._so_error
    ConnectLoop._so_error = lambda self, fd: real_so_error(self, fd) or errno.ECONNRESET
if spec.get("late_errno"):
    from pynmap.engine.loop import ConnectLoop
    ConnectLoop._late_answer = lambda self, fd: spec["late_errno"]
traces = []

class Trace(Events):
    def conn_trace(self, host, port, text, elapsed):
        traces.append([host.address, port, text])

timing = Timing(**spec.get("timing", {}), pacing=choose_pacing(spec.get("pacing"), shows_probes=False))
hosts = [HostResult(a, socket.AF_INET6 if ":" in a else socket.AF_INET) for a in spec["hosts"]]
events = Trace() if spec.get("trace") else None
start = time.monotonic()
if spec.get("Pn"):
    assume_up(hosts, timing)
else:
    discover(hosts, spec.get("ping_ports", [80, 443]), timing, events)
up = [h for h in hosts if h.status == "up"]
if spec.get("ports"):
    connect_scan(up, spec["ports"], timing, events)
out = []
for h in hosts:
    closed = {p.port for p in h.ports if p.state == "closed" and p.reason == "conn-refused"}
    out.append({
        "address": h.address, "status": h.status, "reason": h.reason,
        "srtt": h.times.srtt, "timed_out": h.timed_out, "scanned": len(h.ports),
        "closed": len(closed),
        "other": {str(p.port): [p.state, p.reason] for p in h.ports if p.port not in closed},
    })
print(json.dumps({"hosts": out, "elapsed": time.monotonic() - start, "traces": traces, "unsent": unsent}))
"""


def _fail_or_skip(message: str) -> None:
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def lab() -> Iterator[Netns]:
    with netns_for_tests("pynmap-eng") as ns:
        for tool, rules in (("iptables", RULES_V4), ("ip6tables", RULES_V6)):
            for rule in rules:
                done = subprocess.run(
                    [*ns.exec_prefix(), tool, "-A", "INPUT", "-i", "lo", *rule],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if done.returncode != 0:
                    _fail_or_skip(f"{tool} in the namespace failed: {done.stderr.strip()}")
        specs = [f"{addr}:{port}" for addr in ("127.0.0.1", "::1") for port in OPEN]
        specs += [f"{BOTH_PINGS}:80", f"{BOTH_PINGS}:443", f"rst@127.0.0.1:{RESETS}"]
        listener = subprocess.Popen(
            [*ns.exec_prefix(), sys.executable, "-c", LISTENER, *specs],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert listener.stdout is not None
            if listener.stdout.readline().strip() != "ready":
                _fail_or_skip(
                    f"listeners did not start: {listener.stderr.read() if listener.stderr else ''}"
                )
            yield ns
        finally:
            listener.kill()
            listener.wait(timeout=10)


def engine(
    ns: Netns, spec: dict[str, object], ulimit: int | None = None, timeout: float = 120
) -> dict:
    command = [sys.executable, "-c", RUNNER]
    if ulimit is not None:
        command = ["/bin/sh", "-c", f'ulimit -n {ulimit} && exec "$@"', "sh", *command]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [*ns.exec_prefix(), *command],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def nmap_xml(ns: Netns, tmp_path: Path, args: list[str]) -> etree._Element:
    scan = [] if "-sn" in args else ["-sT"]
    result = run_nmap([*scan, "-n", "-oX", "-", *args], ns, tmp_path)
    assert result.exit == 0, result.stderr
    return etree.fromstring(result.stdout.encode())


def nmap_host(root: etree._Element, address: str) -> dict:
    """Status, reason and port states of one host in nmap's XML (closed ones counted)."""
    for host in root.iter("host"):
        if host.find("address").get("addr") != address:
            continue
        status = host.find("status")
        ports = host.find("ports")
        closed = 0
        other: dict[str, list[str]] = {}
        if ports is not None:
            for extra in ports.iter("extraports"):
                assert extra.get("state") == "closed", "only closed ports may be collapsed here"
                closed += int(extra.get("count"))
            for port in ports.iter("port"):
                state = port.find("state")
                if state.get("state") == "closed":
                    closed += 1
                else:
                    other[port.get("portid")] = [state.get("state"), state.get("reason")]
        return {
            "status": status.get("state"),
            "reason": status.get("reason"),
            "closed": closed,
            "other": other,
        }
    raise AssertionError(f"{address} not in nmap's XML")


def test_port_states_and_reasons_match_the_setup_and_nmap(
    lab: Netns, nmap_oracle: str, tmp_path: Path
) -> None:
    ports = [22, 80, 8080, 33306, 1, 1000, *FILTERED_V4]
    got = engine(lab, {"hosts": ["127.0.0.1"], "ports": ports})["hosts"][0]
    expected_other = {str(p): ["open", "syn-ack"] for p in OPEN}
    expected_other.update({str(p): list(v) for p, v in FILTERED_V4.items()})
    assert (got["status"], got["reason"]) == ("up", "conn-refused")
    assert got["other"] == expected_other
    assert got["closed"] == 3  # 80, 1, 1000
    assert got["srtt"] > 0  # the connect ping gave a sample

    oracle = nmap_host(
        nmap_xml(lab, tmp_path, ["-p", ",".join(map(str, ports)), "127.0.0.1"]), "127.0.0.1"
    )
    assert {k: got[k] for k in ("status", "reason", "closed", "other")} == oracle


def test_a_dropped_port_costs_what_it_costs_nmap(lab: Netns) -> None:
    # reference 1.5: about 1.2 s once the host has an RTT sample
    got = engine(lab, {"hosts": ["127.0.0.1"], "ports": [22, 44444]})
    assert got["hosts"][0]["other"]["44444"] == ["filtered", "no-response"]
    assert 1.1 < got["elapsed"] < 1.8


def test_host_discovery_matches_nmap(lab: Netns, nmap_oracle: str, tmp_path: Path) -> None:
    hosts = ["127.0.0.1", BOTH_PINGS, DOWN, UNREACH]
    got = {h["address"]: (h["status"], h["reason"]) for h in engine(lab, {"hosts": hosts})["hosts"]}
    assert got == {
        "127.0.0.1": ("up", "conn-refused"),
        BOTH_PINGS: ("up", "syn-ack"),
        DOWN: ("down", "no-response"),
        UNREACH: ("down", "host-unreach"),
    }
    root = nmap_xml(lab, tmp_path, ["-sn", "-v", *hosts])
    for address in hosts:
        oracle = nmap_host(root, address)
        assert got[address] == (oracle["status"], oracle["reason"]), address


def test_packet_trace_of_the_connect_ping_matches_nmap(
    lab: Netns, nmap_oracle: str, tmp_path: Path
) -> None:
    got = engine(lab, {"hosts": ["127.0.0.1"], "ports": [22], "trace": True})["traces"]
    ours = [f"127.0.0.1:{port} => {text}" for _, port, text in got]
    result = run_nmap(["-sT", "-n", "--packet-trace", "-p", "22", "127.0.0.1"], lab, tmp_path)
    theirs = [
        line.split("TCP localhost > ", 1)[1]
        for line in result.stdout.splitlines()
        if line.startswith("CONN ")
    ]
    # the ping to 80 and 443, 80's refusal settles it (443 is abandoned), then the scan
    assert (
        ours
        == theirs
        == [
            "127.0.0.1:80 => Operation now in progress",
            "127.0.0.1:443 => Operation now in progress",
            "127.0.0.1:80 => Connection refused",
            "127.0.0.1:22 => Operation now in progress",
            "127.0.0.1:22 => Connected",
        ]
    )


def test_silent_host_gets_nmaps_timing_ping(lab: Netns, nmap_oracle: str, tmp_path: Path) -> None:
    # 100 DROPped ports keep the host silent for over 1.25 s: nmap re-probes
    # the port that answered discovery (80) once, and so must we.  (Under
    # pynmap's pacing the host is never silent that long: no 1 s pause.)
    ports = [22, *DROP_RANGE]
    got = engine(lab, {"hosts": ["127.0.0.1"], "ports": ports, "trace": True, "pacing": "nmap"})
    ours = [f"{port} => {text}" for _, port, text in got["traces"] if port not in DROP_RANGE]
    spec = f"22,{DROP_RANGE[0]}-{DROP_RANGE[-1]}"
    result = run_nmap(["-sT", "-n", "--packet-trace", "-r", "-p", spec, "127.0.0.1"], lab, tmp_path)
    theirs = [
        line.split("127.0.0.1:", 1)[1]
        for line in result.stdout.splitlines()
        if line.startswith("CONN ")
        and int(line.split("127.0.0.1:", 1)[1].split()[0]) not in DROP_RANGE
    ]
    assert (
        ours
        == theirs
        == [
            "80 => Operation now in progress",
            "443 => Operation now in progress",
            "80 => Connection refused",
            "22 => Operation now in progress",
            "22 => Connected",
            "80 => Operation now in progress",
            "80 => Connection refused",
        ]
    )
    dropped = [port for _, port, text in got["traces"] if port in DROP_RANGE]
    assert sorted(dropped) == sorted(list(DROP_RANGE) * 2)  # two tries each


def test_ipv6_matches_the_setup_and_nmap(lab: Netns, nmap_oracle: str, tmp_path: Path) -> None:
    ports = [22, 80, 8080, 44444]
    got = engine(lab, {"hosts": ["::1"], "ports": ports})["hosts"][0]
    assert (got["status"], got["reason"]) == ("up", "conn-refused")
    assert got["other"] == {
        "22": ["open", "syn-ack"],
        "8080": ["open", "syn-ack"],
        "44444": ["filtered", "no-response"],
    }
    assert got["closed"] == 1
    oracle = nmap_host(
        nmap_xml(lab, tmp_path, ["-6", "-p", ",".join(map(str, ports)), "::1"]), "::1"
    )
    assert {k: got[k] for k in ("status", "reason", "closed", "other")} == oracle


def test_running_out_of_descriptors_backs_off_instead_of_failing(lab: Netns) -> None:
    # Told it may use 500 sockets under a limit of 32 descriptors, the engine
    # meets EMFILE within its first round of 50, hands those probes back,
    # and still gets every answer right.
    spec = {"hosts": ["127.0.0.1"], "ports": list(range(1, 3001)), "Pn": True, "budget": 500}
    got = engine(lab, spec, ulimit=32)
    assert got["unsent"], "EMFILE was never met"
    host = got["hosts"][0]
    assert host["other"] == {"22": ["open", "syn-ack"]}
    assert host["closed"] == 2999


def test_self_connect_is_not_an_open_port(lab: Netns, nmap_oracle: str, tmp_path: Path) -> None:
    # With a single ephemeral port P, connect() to 127.0.0.1:P from P reaches
    # itself (TCP simultaneous open).  nmap retries it as a timeout and
    # finally calls the port filtered.
    sysctl = [*lab.exec_prefix(), "sysctl", "-n", "net.ipv4.ip_local_port_range"]
    saved = subprocess.run(sysctl, capture_output=True, text=True, check=True).stdout.split()
    subprocess.run(
        [*sysctl[:-2], "-w", "net.ipv4.ip_local_port_range=40000 40000"],
        capture_output=True,
        check=True,
    )
    try:
        got = engine(lab, {"hosts": ["127.0.0.1"], "ports": [40000], "Pn": True, "trace": True})
        result = run_nmap(
            ["-sT", "-n", "-Pn", "--packet-trace", "-p", "40000", "127.0.0.1"], lab, tmp_path
        )
    finally:
        subprocess.run(
            [*sysctl[:-2], "-w", f"net.ipv4.ip_local_port_range={saved[0]} {saved[1]}"],
            capture_output=True,
            check=True,
        )
    assert got["hosts"][0]["other"] == {"40000": ["filtered", "no-response"]}
    ours = [text for _, _, text in got["traces"]]
    theirs = [
        line.split(" => ", 1)[1] for line in result.stdout.splitlines() if line.startswith("CONN ")
    ]
    assert ours == theirs == ["Operation now in progress", "Connected"] * 2
    assert "40000/tcp filtered" in result.stdout


# ---------------------------------------------------------------- answers read late
# "Better than nmap": before a probe is timed out its socket is checked, so a
# loop that fell behind never calls an answered port filtered.  Here the loop
# is made deaf (poll() never reports), so every answer is found that way.

LATE_PORTS = [22, 8080, RESETS, 1, 1000, 44444, 44445, 44447]
# short timeouts: each deaf round lasts one probe timeout
QUICK = {"initial_rtt_timeout": 200}


def test_answers_found_only_at_expiry_give_the_true_states(lab: Netns) -> None:
    got = engine(lab, {"hosts": ["127.0.0.1"], "ports": LATE_PORTS, "Pn": True,
                       "deaf": True, "timing": QUICK})
    host = got["hosts"][0]
    assert host["other"] == {
        "22": ["open", "syn-ack"],
        "8080": ["open", "syn-ack"],
        # accepted, then reset before anyone looked: the handshake completed
        str(RESETS): ["open", "syn-ack"],
        "44444": ["filtered", "no-response"],
        "44445": ["filtered", "host-unreach"],
        "44447": ["filtered", "net-unreach"],
    }
    assert host["closed"] == 2
    # when a late answer arrived is unknown: it gives no RTT sample (one
    # would be at least the 200 ms timeout)
    assert host["srtt"] == -1
    assert got["elapsed"] < 5


def test_a_connection_reset_before_it_is_read_is_an_open_port(lab: Netns) -> None:
    # ECONNRESET from SO_ERROR: the handshake completed, then the peer reset.
    # nmap ignores such an answer (and its retry may meet the same race, which
    # makes the port filtered); the port is open.
    got = engine(lab, {"hosts": ["127.0.0.1"], "ports": [22, 8080, RESETS, 1], "Pn": True,
                       "reset_when_connected": True, "timing": QUICK})
    assert got["hosts"][0]["other"] == {
        "22": ["open", "syn-ack"], "8080": ["open", "syn-ack"], str(RESETS): ["open", "syn-ack"]}
    assert got["hosts"][0]["closed"] == 1


def test_a_late_answer_that_decides_nothing_times_out(lab: Netns) -> None:
    # EPROTO, an errno nmap has no meaning for: the probe times out as it
    # would have without the check, and the scan still ends.
    got = engine(lab, {"hosts": ["127.0.0.1"], "ports": [22, 1], "Pn": True, "deaf": True,
                       "late_errno": errno.EPROTO, "timing": QUICK}, timeout=30)
    assert got["hosts"][0]["other"] == {
        "22": ["filtered", "no-response"],
        "1": ["filtered", "no-response"],
    }
    assert got["elapsed"] < 5


def test_unbindable_source_is_reported_once_as_by_nmap(
    lab: Netns, nmap_oracle: str, tmp_path: Path
) -> None:
    # -S with an address no interface has: bind() fails (nothing is sent
    # from it), nmap complains once for the whole run, discovery and port
    # scan together, and scans from the kernel's choice of address.
    args = ["-sT", "-n", "-S", "198.18.5.5", "-e", "lo", "-p", "22", "127.0.0.1"]
    theirs = run_nmap(args, lab, tmp_path)
    ours = run_pynmap(args, lab, tmp_path)
    assert theirs.stderr.count("Problem binding source address") == 1
    assert (ours.exit, ours.stderr) == (theirs.exit, theirs.stderr)
    assert "22/tcp open" in ours.stdout and "22/tcp open" in theirs.stdout


# ---------------------------------------------------------------- sockets used again
# A socket whose port refused it goes back to the backend (PollBackend.spare)
# and connects again for a later probe: the same socket must connect, and read
# as connected, to an open port, and be refused again.  A socket failed by an
# ICMP error (the lab's REJECT rules, on the scanner's own machine) has not
# finished its attempt and is not handed out again: a new one connects.

_REUSE = r"""
import errno, json, socket, sys
from pynmap.engine.backend import PollBackend

def attempt(backend, family, address, port):
    handle, err = backend.open(family)
    assert err == 0, err
    err = backend.connect(handle, address, port, 0)
    if err == errno.EINPROGRESS:
        backend.watch(handle)
        while handle not in backend.poll(5.0):
            pass
        err = backend.error(handle)
    return handle, err

backend = PollBackend()
out = []
for family, address, port in json.loads(sys.argv[1]):
    first, failed = attempt(backend, family, address, port)
    backend.close(first, reset=False)
    kept = sum(len(spare) for spare in backend.spare.values())
    again, opened = attempt(backend, family, address, 22)
    connected = backend.connected(again)
    backend.close(again, reset=True)
    third, failed_again = attempt(backend, family, address, port)
    backend.close(third, reset=False)
    out.append([port, errno.errorcode.get(failed, failed), kept == 1 and again == first,
                opened, connected,
                errno.errorcode.get(failed_again, failed_again)])
backend.release()
print(json.dumps(out))
"""


def test_a_socket_whose_connect_failed_connects_again(lab: Netns) -> None:
    import socket

    cases = [(socket.AF_INET, "127.0.0.1", port) for port in (1, 44445, 44447, 44448)]
    cases.append((socket.AF_INET6, "::1", 1))
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([*lab.exec_prefix(), sys.executable, "-c", _REUSE, json.dumps(cases)],
                          capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    expected = {1: "ECONNREFUSED", 44445: "EHOSTUNREACH", 44447: "ENETUNREACH",
                44448: "ENOPROTOOPT"}
    for port, failed, same, opened, connected, failed_again in json.loads(done.stdout):
        assert failed == failed_again == expected[port], (port, failed, failed_again)
        # a refused one is handed out again (the same descriptor); either way
        # the next probe's socket connects
        assert same == (port == 1) and opened == 0 and connected, (port, same, opened)
