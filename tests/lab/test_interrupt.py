"""SIGINT and SIGTERM mid-scan: every finished host is kept and the XML is closed.

nmap dies of the signal and leaves its XML cut off; pynmap also dies of the
signal (so a shell sees 130 or 143 as with nmap), but first closes the XML
with a runstats/finished exit="error" that says why, so parsers read it.

The namespace has one listener on 127.0.0.1 and drops every connection
attempt to 127.0.0.2; with --max-hostgroup 1 the first host is reported at
once and the second keeps the scan busy until the signal.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from tests.support.netns import Netns, base_env, netns_for_tests, pynmap_command

pytestmark = pytest.mark.lab

DTD = Path("/usr/share/nmap/nmap.dtd")
OPEN_PORT = 2222
SLOW_HOST = "127.0.0.2"


@pytest.fixture(scope="module")
def slow_ns() -> Iterator[Netns]:
    with netns_for_tests("pynmap-int") as ns:
        rule = ["-A", "INPUT", "-d", SLOW_HOST, "-p", "tcp", "--syn", "-j", "DROP"]
        subprocess.run([*ns.exec_prefix(), "iptables", *rule], check=True, timeout=30)
        listener = subprocess.Popen(
            [*ns.exec_prefix(), "python3", "-c",
             "import socket,time\n"
             "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
             f"s.bind(('127.0.0.1', {OPEN_PORT})); s.listen(64); print('ready', flush=True)\n"
             "time.sleep(600)\n"],
            stdout=subprocess.PIPE,
        )
        try:
            assert listener.stdout is not None and listener.stdout.readline() == b"ready\n"
            yield ns
        finally:
            listener.kill()
            listener.wait()


def _pids(ns: Netns) -> set[str]:
    done = subprocess.run(["ip", "netns", "pids", ns.name], capture_output=True, text=True,
                          timeout=30, check=True)
    return set(done.stdout.split())


def _scan_until_first_host(ns: Netns, workdir: Path, signo: int) -> tuple[int, Path, Path]:
    xml, normal = workdir / "out.xml", workdir / "out.nmap"
    # 20000 ports: each host is scanned by two processes (pynmap/engine/split.py)
    args = ["-sT", "-Pn", "-n", "--max-hostgroup", "1", "-p", "1-20000",
            "-oX", str(xml), "-oN", str(normal), "127.0.0.1", SLOW_HOST]
    before = _pids(ns)
    proc = subprocess.Popen([*ns.exec_prefix(), *pynmap_command(), *args], cwd=workdir,
                            env=base_env(workdir), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while b"</host>" not in (xml.read_bytes() if xml.exists() else b""):
            assert proc.poll() is None, "pynmap ended before the signal"
            assert time.monotonic() < deadline, "the first host never got reported"
            time.sleep(0.05)
        # `ip netns exec` runs pynmap in its own process (it execs): signal that process
        proc.send_signal(signo)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.stderr is not None
    assert proc.stderr.read() == b""  # no traceback, no message: nmap prints none either
    assert _pids(ns) == before  # the second scanning process went with the first
    return proc.returncode, xml, normal


@pytest.mark.parametrize("signo", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_keeps_finished_hosts_and_closes_the_xml(
    slow_ns: Netns, tmp_path: Path, signo: int
) -> None:
    status, xml, normal = _scan_until_first_host(slow_ns, tmp_path, signo)
    assert status == -signo  # died of the signal, as nmap does

    tree = etree.parse(str(xml))  # well-formed: it raises otherwise
    dtd = etree.DTD(str(DTD))
    assert dtd.validate(tree), dtd.error_log.filter_from_errors()
    hosts = tree.findall("host")
    assert [h.find("address").get("addr") for h in hosts] == ["127.0.0.1"]
    open_ports = [p.get("portid") for p in hosts[0].iter("port")
                  if p.find("state").get("state") == "open"]
    assert open_ports == [str(OPEN_PORT)]
    finished = tree.find("runstats/finished")
    assert finished.get("exit") == "error"
    assert "interrupted" in finished.get("errormsg")

    text = normal.read_text()
    assert f"{OPEN_PORT}/tcp open" in text
    assert f"scan report for {SLOW_HOST}" not in text  # unfinished: lost, as with nmap
    assert "Nmap done" not in text
