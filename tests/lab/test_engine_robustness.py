"""The connect engine on the wire and under pressure, through the real command line.

* a packet capture: an open port sees SYN, SYN-ACK, ACK, then RST from
  pynmap's side, and never a FIN (sockets close with SO_LINGER 0);
* `pynmap -sT -p- 127.0.0.1` under `ulimit -n 256`: no error, every state right;
* both cores busy with other work while pynmap scans 2000 ports ten times:
  every run reports exactly the true states.

All of it in a namespace of the test's own, with listeners and ports whose
connection attempts are dropped.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from lxml import etree

from tests.support.netns import Netns, base_env, listening, netns_for_tests, pynmap_command

pytestmark = pytest.mark.lab

OPEN = (22, 1500, 33306)
DROPPED = 1999  # a lone filtered port among the first 2000
DROP_RANGE = range(45000, 45100)  # silent sockets held while the descriptors are few
CAPTURED = 2222  # the port of the packet capture


@pytest.fixture(scope="module")
def ns() -> Iterator[Netns]:
    with netns_for_tests("pynmap-rob") as space:
        for dport in (str(DROPPED), f"{DROP_RANGE[0]}:{DROP_RANGE[-1]}"):
            rule = ["-A", "INPUT", "-p", "tcp", "--syn", "--dport", dport, "-j", "DROP"]
            subprocess.run([*space.exec_prefix(), "iptables", *rule], check=True, timeout=30)
        with listening(space, OPEN):
            yield space


def _scan(ns: Netns, workdir: Path, args: list[str], *, nofile: int | None = None
          ) -> tuple[subprocess.CompletedProcess[bytes], dict[int, tuple[str, str]]]:
    """Run pynmap with -oX; returns the run and every scanned port's (state, reason),
    the collapsed ones included (their <extrareasons> list them)."""
    xml = workdir / "out.xml"
    limit = None
    if nofile is not None:
        def limit() -> None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    done = subprocess.run([*ns.exec_prefix(), *pynmap_command(), *args, "-oX", str(xml)],
                          cwd=workdir, env=base_env(workdir), capture_output=True,
                          timeout=300, preexec_fn=limit)
    root = etree.parse(str(xml)).getroot()
    host = root.find("host")
    assert host is not None, done.stderr
    ports: dict[int, tuple[str, str]] = {}
    for port in host.iter("port"):
        state = port.find("state")
        ports[int(port.get("portid"))] = (state.get("state"), state.get("reason"))
    for extra in host.iter("extraports"):
        for why in extra.iter("extrareasons"):
            for item in why.get("ports").split(","):
                first, _, last = item.partition("-")
                for number in range(int(first), int(last or first) + 1):
                    assert number not in ports, number
                    ports[number] = (extra.get("state"), why.get("reason"))
    return done, ports


def _true_states(ports: range) -> dict[int, tuple[str, str]]:
    """What the namespace holds: listeners, DROPped ports, and the rest closed."""
    states = dict.fromkeys(ports, ("closed", "conn-refused"))
    for port in OPEN:
        states[port] = ("open", "syn-ack")
    for port in (DROPPED, *DROP_RANGE):
        states[port] = ("filtered", "no-response")
    return {port: states[port] for port in ports}


@contextmanager
def _silent_listener(ns: Netns, port: int) -> Iterator[None]:
    """A listening socket that never accepts: the kernel completes handshakes on
    its own and the peer never closes, so every FIN or RST seen is pynmap's."""
    proc = subprocess.Popen(
        [*ns.exec_prefix(), sys.executable, "-c",
         "import socket, sys\n"
         "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
         f"s.bind(('127.0.0.1', {port})); s.listen(16)\n"
         "print('ready', flush=True); sys.stdin.read()\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        yield
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.skipif(shutil.which("tcpdump") is None and not os.environ.get("CI"),
                    reason="tcpdump is not installed")
def test_open_port_sees_syn_synack_ack_rst_and_no_fin(ns: Netns, tmp_path: Path) -> None:
    pcap = tmp_path / "lo.pcap"
    # -Z root: tcpdump would otherwise drop to its own user, who cannot write here
    capture = subprocess.Popen([*ns.exec_prefix(), "tcpdump", "--immediate-mode", "-Z", "root",
                                "-i", "lo", "-n", "-U", "-w", str(pcap), "tcp", "port",
                                str(CAPTURED)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert capture.stderr is not None
        capture.stderr.readline()  # "listening on lo ..." once it captures
        with _silent_listener(ns, CAPTURED):
            done, ports = _scan(ns, tmp_path,
                                ["-sT", "-Pn", "-n", "-p", str(CAPTURED), "127.0.0.1"])
            time.sleep(0.3)  # let tcpdump write the last packet
    finally:
        capture.send_signal(signal.SIGINT)
        capture.wait(timeout=10)
    assert done.returncode == 0, done.stderr
    assert ports == {CAPTURED: ("open", "syn-ack")}
    lines = subprocess.run(["tcpdump", "-Z", "root", "-n", "-r", str(pcap)], capture_output=True, text=True,
                           timeout=30).stdout.splitlines()
    # "IP 127.0.0.1.40000 > 127.0.0.1.2222: Flags [S], ...": the listener is .2222
    seen: list[tuple[str, str]] = []
    for line in lines:
        source, rest = line.split(" IP ", 1)[1].split(" > ", 1)
        side = "listener" if source.endswith(f".{CAPTURED}") else "pynmap"
        seen.append((side, rest.split("Flags [", 1)[1].split("]", 1)[0]))
    # SO_LINGER {on, 0}: the connection ends with pynmap's RST (with or without
    # ACK), never with a FIN, and nothing follows it
    assert seen[:3] == [("pynmap", "S"), ("listener", "S."), ("pynmap", ".")], lines
    assert len(seen) == 4 and seen[3][0] == "pynmap" and seen[3][1] in {"R", "R."}, lines


def test_every_port_under_ulimit_256(ns: Netns, tmp_path: Path) -> None:
    done, ports = _scan(ns, tmp_path, ["-sT", "-Pn", "-n", "-p-", "127.0.0.1"], nofile=256)
    assert done.returncode == 0 and done.stderr == b"", done.stderr
    assert ports == _true_states(range(1, 65536))


def test_busy_cores_change_no_state(ns: Netns, tmp_path: Path) -> None:
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        for run in range(10):
            workdir = tmp_path / str(run)
            workdir.mkdir()
            done, ports = _scan(ns, workdir, ["-sT", "-Pn", "-n", "-p", "1-2000", "127.0.0.1"])
            assert done.returncode == 0 and done.stderr == b"", done.stderr
            assert ports == _true_states(range(1, 2001)), f"run {run}"
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
