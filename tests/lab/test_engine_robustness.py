"""The connect engine on the wire and under pressure, through the real command line.

* a packet capture: an open port sees SYN, SYN-ACK, ACK, then RST from
  pynmap's side, and never a FIN (sockets close with SO_LINGER 0);
* `pynmap -sT -p- 127.0.0.1` under `ulimit -n 256`: no error, every state right;
* both cores busy with other work while pynmap scans 2000 ports ten times:
  every run reports exactly the true states.

All of it in a namespace of the test's own, with listeners and one port
whose connection attempts are dropped.
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
from pathlib import Path

import pytest
from lxml import etree

from tests.support.netns import Netns, base_env, netns_for_tests, pynmap_command

pytestmark = pytest.mark.lab

OPEN = (22, 1500, 33306)
DROPPED = 1999


@pytest.fixture(scope="module")
def ns() -> Iterator[Netns]:
    with netns_for_tests("pynmap-rob") as space:
        rule = ["-A", "INPUT", "-p", "tcp", "--syn", "--dport", str(DROPPED), "-j", "DROP"]
        subprocess.run([*space.exec_prefix(), "iptables", *rule], check=True, timeout=30)
        proc = subprocess.Popen(
            [*space.exec_prefix(), sys.executable, "-c",
             "import socket,time\nsocks=[]\n"
             f"for p in {OPEN!r}:\n"
             "    s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
             "    s.bind(('127.0.0.1', p)); s.listen(1024); socks.append(s)\n"
             "print('ready', flush=True)\n"
             "while True:\n"
             "    for s in socks:\n"
             "        s.setblocking(False)\n"
             "        try:\n"
             "            c, _ = s.accept(); c.close()\n"
             "        except BlockingIOError:\n"
             "            pass\n"
             "    time.sleep(0.01)\n"],
            stdout=subprocess.PIPE)
        try:
            assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
            yield space
        finally:
            proc.kill()
            proc.wait()


def _scan(ns: Netns, workdir: Path, args: list[str], *, nofile: int | None = None
          ) -> tuple[subprocess.CompletedProcess[bytes], dict[int, tuple[str, str]], int]:
    """Run pynmap with -oX; returns the run, the listed ports and the collapsed count."""
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
    ports = {int(p.get("portid")): (p.find("state").get("state"), p.find("state").get("reason"))
             for p in host.iter("port")}
    collapsed = sum(int(e.get("count")) for e in host.iter("extraports")
                    if e.get("state") == "closed")
    return done, ports, collapsed


def _true_states(ports: range) -> dict[int, tuple[str, str]]:
    listed = {p: ("open", "syn-ack") for p in OPEN if p in ports}
    if DROPPED in ports:
        listed[DROPPED] = ("filtered", "no-response")
    return listed


@pytest.mark.skipif(shutil.which("tcpdump") is None and not os.environ.get("CI"),
                    reason="tcpdump is not installed")
def test_open_port_sees_syn_synack_ack_rst_and_no_fin(ns: Netns, tmp_path: Path) -> None:
    pcap = tmp_path / "lo.pcap"
    # -Z root: tcpdump would otherwise drop to its own user, who cannot write here
    capture = subprocess.Popen([*ns.exec_prefix(), "tcpdump", "--immediate-mode", "-Z", "root", "-i", "lo", "-n", "-U", "-w",
                                str(pcap), "tcp", "port", "22"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert capture.stderr is not None
        capture.stderr.readline()  # "listening on lo ..." once it captures
        _, ports, _ = _scan(ns, tmp_path, ["-sT", "-Pn", "-n", "-p", "22", "127.0.0.1"])
        assert ports == {22: ("open", "syn-ack")}
        time.sleep(0.5)
    finally:
        capture.send_signal(signal.SIGINT)
        capture.wait(timeout=10)
    lines = subprocess.run(["tcpdump", "-Z", "root", "-n", "-r", str(pcap)], capture_output=True, text=True,
                           timeout=30).stdout.splitlines()
    # pynmap's side is the ephemeral port; the listener is 127.0.0.1.22
    flags = []
    for line in lines:
        outbound = ".22: Flags" in line and " > 127.0.0.1.22:" in line
        flags.append(("out" if outbound else "in", line.split("Flags [", 1)[1].split("]")[0]))
    assert flags[:4] == [("out", "S"), ("in", "S."), ("out", "."), ("out", "R.")], lines
    assert not any("F" in f for _, f in flags), lines


def test_every_port_under_ulimit_256(ns: Netns, tmp_path: Path) -> None:
    done, ports, collapsed = _scan(ns, tmp_path, ["-sT", "-Pn", "-n", "-p-", "127.0.0.1"],
                                   nofile=256)
    assert done.returncode == 0 and done.stderr == b"", done.stderr
    assert ports == _true_states(range(1, 65536))
    assert collapsed == 65535 - len(ports)


def test_busy_cores_change_no_state(ns: Netns, tmp_path: Path) -> None:
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        for run in range(10):
            workdir = tmp_path / str(run)
            workdir.mkdir()
            done, ports, collapsed = _scan(ns, workdir,
                                           ["-sT", "-Pn", "-n", "-p", "1-2000", "127.0.0.1"])
            assert done.returncode == 0, done.stderr
            assert ports == _true_states(range(1, 2001)), f"run {run}"
            assert collapsed == 2000 - len(ports)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
