"""A namespace whose loopback answers in every way a connect scan can see.

127.0.0.1 has OPEN_PORTS open; on every 127.x address REJECTED_PORT
answers with ICMP host-unreachable (filtered, with an answer) and
DROPPED_PORTS never answer (filtered after the retries, about 1.2 s);
REJECTED_HOST rejects every port (down, with an answer); every other port
is closed.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

from tests.support.netns import Netns, NetnsUnavailable, listening, netns

OPEN_PORTS = (22, 3306)
REJECTED_PORT = 44445
DROPPED_PORTS = (45000, 45099)
REJECTED_HOST = "127.0.0.6"

_RULES = (
    # --syn: only connection attempts, so replies to our own ephemeral ports get through
    ["-p", "tcp", "--syn", "--dport", str(REJECTED_PORT),
     "-j", "REJECT", "--reject-with", "icmp-host-unreachable"],
    ["-p", "tcp", "--syn", "--dport", "{}:{}".format(*DROPPED_PORTS), "-j", "DROP"],
    ["-d", REJECTED_HOST, "-p", "tcp", "-j", "REJECT", "--reject-with", "icmp-host-unreachable"],
)


@contextmanager
def loopback_ports(prefix: str = "pynmap-ports") -> Iterator[Netns]:
    """The namespace described above, for the duration of the `with` block."""
    if shutil.which("iptables") is None:
        raise NetnsUnavailable("iptables is not installed")
    with netns(prefix) as ns:
        for rule in _RULES:
            subprocess.run([*ns.exec_prefix(), "iptables", "-A", "INPUT", "-i", "lo", *rule],
                           check=True, timeout=30)
        with listening(ns, OPEN_PORTS):
            yield ns
