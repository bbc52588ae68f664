"""-S, -e and --ttl reach every connect() socket, as in nmap's connect scan.

In a namespace of the test's own a capture on its loopback shows the source
address and the TTL of pynmap's SYNs to a listener on 127.0.0.1; ss shows
-e's device on the service scan's connection too.  (The
listener itself learns nothing: pynmap resets before the handshake
completes, engine/backend.py's hold_back_ack, so it never accepts one.)
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.compare import assert_same, run_both
from tests.support.netns import (
    Netns,
    base_env,
    capture,
    listening,
    netns_for_tests,
    pynmap_command,
    read_capture,
)

pytestmark = pytest.mark.lab

PORT = 2222


@pytest.fixture
def ns() -> Iterator[Netns]:
    with netns_for_tests("pynmap-sock") as space:
        # -S must name an address of an interface (nmap's rule without -e)
        subprocess.run(["ip", "-n", space.name, "addr", "add", "127.0.0.9/32", "dev", "lo"],
                       check=True, timeout=30)
        yield space


def _sources_while(ns: Netns, args: list[str], workdir: Path) -> tuple[list[str], bytes]:
    """The source address of each SYN pynmap sends to PORT, where a listener
    makes the port open, and pynmap's stdout."""
    pcap = workdir / "syn.pcap"
    with listening(ns, [PORT]), capture(ns, pcap, ["tcp", "dst", "port", str(PORT)]):
        done = subprocess.run([*ns.exec_prefix(), *pynmap_command(), *args], cwd=workdir,
                              env=base_env(workdir), capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    # "12:00:00.000000 IP 127.0.0.9.40000 > 127.0.0.1.2222: Flags [S], ..."
    sources = [line.split(" IP ", 1)[1].split(" > ", 1)[0].rsplit(".", 1)[0]
               for line in read_capture(pcap).splitlines() if "Flags [S]" in line]
    return sources, done.stdout


def test_source_address_is_bound(ns: Netns, tmp_path: Path) -> None:
    sources, out = _sources_while(ns, ["-sT", "-Pn", "-n", "-S", "127.0.0.9", "-p", str(PORT),
                                       "127.0.0.1"], tmp_path)
    assert f"{PORT}/tcp open".encode() in out
    assert sources == ["127.0.0.9"]


def test_a_source_address_no_interface_has_is_refused_as_nmap_does(
    ns: Netns, nmap_oracle: str, tmp_path: Path
) -> None:
    args = ["-sT", "-Pn", "-n", "-S", "127.0.0.10", "-p", str(PORT), "127.0.0.1"]
    nmap, pynmap = run_both(args, ns, tmp_path)
    assert nmap.exit == 1 and "Could not figure out what device" in nmap.stderr
    assert_same(nmap, pynmap, args)


def test_without_source_the_kernel_chooses(ns: Netns, tmp_path: Path) -> None:
    sources, _ = _sources_while(ns, ["-sT", "-Pn", "-n", "-p", str(PORT), "127.0.0.1"],
                                tmp_path)
    assert sources == ["127.0.0.1"]


def test_device_binding_keeps_the_scan_working(ns: Netns, tmp_path: Path) -> None:
    sources, out = _sources_while(ns, ["-sT", "-Pn", "-n", "-e", "lo", "-p", str(PORT),
                                       "127.0.0.1"], tmp_path)
    assert sources == ["127.0.0.1"] and f"{PORT}/tcp open".encode() in out


def test_ttl_is_set_on_the_syn(ns: Netns, tmp_path: Path) -> None:
    pcap = tmp_path / "ttl.pcap"
    with capture(ns, pcap, ["tcp", "dst", "port", "2223"]):
        done = subprocess.run([*ns.exec_prefix(), *pynmap_command(), "-sT", "-Pn", "-n",
                               "--ttl", "7", "-p", "2223", "127.0.0.1"], cwd=tmp_path,
                              env=base_env(tmp_path), capture_output=True, timeout=60)
        assert done.returncode == 0, done.stderr
    text = read_capture(pcap, "-v")
    assert "ttl 7," in text, text


def test_device_binding_reaches_the_service_scan(ns: Netns, tmp_path: Path) -> None:
    """nmap's service scan binds its sockets to -e's device as its port scan does
    (nsock's pool): seen in the client side's `127.0.0.1%lo:PORT` in ss, once the
    listener has accepted the -sV connection (the port scan's never reach it)."""
    listener = subprocess.Popen(
        [*ns.exec_prefix(), sys.executable, "-c",
         "import socket, time\n"
         "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
         f"s.bind(('127.0.0.1', {PORT})); s.listen(16)\n"
         "print('ready', flush=True)\n"
         "c, _ = s.accept()\n"
         "print('accepted', flush=True)\n"
         "time.sleep(60)\n"],
        stdout=subprocess.PIPE)
    scan = None
    try:
        assert listener.stdout is not None and listener.stdout.readline() == b"ready\n"
        scan = subprocess.Popen([*ns.exec_prefix(), *pynmap_command(), "-sV", "-Pn", "-n",
                                 "-e", "lo", "-p", str(PORT), "127.0.0.1"], cwd=tmp_path,
                                env=base_env(tmp_path), stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        # the service (silent) holds the NULL probe's connection for seconds
        assert listener.stdout.readline() == b"accepted\n"
        sockets = subprocess.run([*ns.exec_prefix(), "ss", "-tnH", "state", "established",
                                  f"( dport = :{PORT} )"], capture_output=True, text=True,
                                 check=True, timeout=30).stdout
    finally:
        if scan is not None:
            scan.kill()
            scan.wait(timeout=10)
        listener.kill()
        listener.wait(timeout=10)
    assert "127.0.0.1%lo:" in sockets, sockets
