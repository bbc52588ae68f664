"""The service lab cleans up after itself, and a daemon that cannot start fails it loudly.

tests/support/servicelab.py starts real daemons that fork per connection
(sshd, vsftpd, exim); whatever they started must be gone with the lab:
no process, namespace, /etc/netns entry or temporary directory left, after
a normal end as after a failed start.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.lab.listeners import inside
from tests.support.netns import NetnsUnavailable, in_ci
from tests.support.servicelab import MAIN, ServiceLab, ServiceLabError

pytestmark = [pytest.mark.lab]


def _up(lab: ServiceLab) -> None:
    try:
        lab.up()
    except NetnsUnavailable as exc:
        if in_ci():
            pytest.fail(f"the service lab cannot be built: {exc}", pytrace=False)
        pytest.skip(f"the service lab cannot be built: {exc}")


def _netns_pids(lab: ServiceLab) -> set[int]:
    found: set[int] = set()
    for ns in lab.namespaces:
        done = subprocess.run(["ip", "netns", "pids", ns.name], capture_output=True, text=True,
                              timeout=30, check=False)
        found |= {int(word) for word in done.stdout.split()}
    return found


def _alive(pids: set[int]) -> set[int]:
    return {pid for pid in pids if Path(f"/proc/{pid}").exists()
            and Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"}


def test_down_leaves_nothing_behind_not_even_forked_children() -> None:
    lab = ServiceLab()
    _up(lab)
    workdir = lab.workdir
    held: list[socket.socket] = []
    try:
        # connections left open: sshd, vsftpd and exim each fork a child for one
        with inside(lab.scanner.name):
            held = [socket.create_connection((MAIN, port), timeout=5) for port in (21, 22, 25)]
        for sock in held:
            sock.recv(1)  # the greeting: the child is there
        pids = _netns_pids(lab)
        started = {proc.pid for proc in lab.processes.values()}
        assert started < pids, "no per-connection child was forked"
    finally:
        lab.down()
        for sock in held:
            sock.close()
    assert _alive(pids) == set()
    assert lab.leftovers() == []
    assert workdir is not None and not workdir.exists()


class _Clash(ServiceLab):
    """The lab with redis's address already taken (bound, not listening): redis exits."""

    def _start(self) -> None:
        self._spawn("squatter", self.targets, [sys.executable, "-c", _SQUAT, MAIN, "6379"],
                    ready_line=True)
        super()._start()


_SQUAT = """
import socket, sys, time
s = socket.socket()
s.bind((sys.argv[1], int(sys.argv[2])))
print("ready", flush=True)
time.sleep(600)
"""


def test_a_daemon_that_cannot_start_fails_with_its_log_and_leaves_nothing() -> None:
    if os.geteuid() != 0:
        pytest.skip("the service lab needs root")
    lab = _Clash()
    with pytest.raises(ServiceLabError, match=r"(?s)redis exited.*in use"):
        _up(lab)
    assert lab.leftovers() == []
    assert lab.processes == {}
    assert not any(Path("/tmp").glob(f"pynmap-{lab.prefix}-*"))
