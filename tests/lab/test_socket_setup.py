"""-S, -e and --ttl reach every connect() socket, as in nmap's connect scan.

In a namespace of the test's own a listener on 127.0.0.1 records the peer
of every connection it accepts; a capture shows the TTL of pynmap's SYNs.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.compare import assert_same, run_both
from tests.support.netns import Netns, base_env, netns_for_tests, pynmap_command

pytestmark = pytest.mark.lab

PORT = 2222


@pytest.fixture
def ns() -> Iterator[Netns]:
    with netns_for_tests("pynmap-sock") as space:
        # -S must name an address of an interface (nmap's rule without -e)
        subprocess.run(["ip", "-n", space.name, "addr", "add", "127.0.0.9/32", "dev", "lo"],
                       check=True, timeout=30)
        yield space


def _peers_while(ns: Netns, args: list[str], workdir: Path) -> tuple[list[str], bytes]:
    listener = subprocess.Popen(
        [*ns.exec_prefix(), sys.executable, "-c",
         "import json, socket, sys\n"
         "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
         f"s.bind(('127.0.0.1', {PORT})); s.listen(16); s.settimeout(3)\n"
         "print('ready', flush=True)\n"
         "peers=[]\n"
         "try:\n"
         "    while True:\n"
         "        c, peer = s.accept(); peers.append(peer[0]); c.close()\n"
         "except OSError:\n"
         "    pass\n"
         "print(json.dumps(peers), flush=True)\n"],
        stdout=subprocess.PIPE)
    assert listener.stdout is not None and listener.stdout.readline() == b"ready\n"
    done = subprocess.run([*ns.exec_prefix(), *pynmap_command(), *args], cwd=workdir,
                          env=base_env(workdir), capture_output=True, timeout=60)
    peers = json.loads(listener.stdout.readline())
    listener.wait(timeout=10)
    assert done.returncode == 0, done.stderr
    return peers, done.stdout


def test_source_address_is_bound(ns: Netns, tmp_path: Path) -> None:
    peers, out = _peers_while(ns, ["-sT", "-Pn", "-n", "-S", "127.0.0.9", "-p", str(PORT),
                                   "127.0.0.1"], tmp_path)
    assert f"{PORT}/tcp open".encode() in out
    assert peers == ["127.0.0.9"]


def test_a_source_address_no_interface_has_is_refused_as_nmap_does(
    ns: Netns, nmap_oracle: str, tmp_path: Path
) -> None:
    args = ["-sT", "-Pn", "-n", "-S", "127.0.0.10", "-p", str(PORT), "127.0.0.1"]
    nmap, pynmap = run_both(args, ns, tmp_path)
    assert nmap.exit == 1 and "Could not figure out what device" in nmap.stderr
    assert_same(nmap, pynmap, args)


def test_without_source_the_kernel_chooses(ns: Netns, tmp_path: Path) -> None:
    peers, _ = _peers_while(ns, ["-sT", "-Pn", "-n", "-p", str(PORT), "127.0.0.1"], tmp_path)
    assert peers == ["127.0.0.1"]


def test_device_binding_keeps_the_scan_working(ns: Netns, tmp_path: Path) -> None:
    peers, out = _peers_while(ns, ["-sT", "-Pn", "-n", "-e", "lo", "-p", str(PORT),
                                   "127.0.0.1"], tmp_path)
    assert peers == ["127.0.0.1"] and f"{PORT}/tcp open".encode() in out


def test_ttl_is_set_on_the_syn(ns: Netns, tmp_path: Path) -> None:
    pcap = tmp_path / "ttl.pcap"
    capture = subprocess.Popen([*ns.exec_prefix(), "tcpdump", "--immediate-mode", "-Z", "root",
                                "-i", "lo", "-n", "-U", "-w", str(pcap), "tcp", "dst", "port",
                                "2223"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert capture.stderr is not None
        capture.stderr.readline()
        done = subprocess.run([*ns.exec_prefix(), *pynmap_command(), "-sT", "-Pn", "-n",
                               "--ttl", "7", "-p", "2223", "127.0.0.1"], cwd=tmp_path,
                              env=base_env(tmp_path), capture_output=True, timeout=60)
        assert done.returncode == 0, done.stderr
        time.sleep(0.3)
    finally:
        capture.send_signal(signal.SIGINT)
        capture.wait(timeout=10)
    text = subprocess.run(["tcpdump", "-Z", "root", "-v", "-n", "-r", str(pcap)],
                          capture_output=True, text=True, timeout=30).stdout
    assert "ttl 7," in text, text
