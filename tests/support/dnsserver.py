"""A namespace with its own DNS server: dnsmasq on 127.0.0.1:53, named by its resolv.conf.

dnsmasq answers from the records it is given and forwards nothing, and the
namespace's hosts file is the caller's, so neither program nor the C library
ever asks a server outside the namespace.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.netns import Netns, in_ci, netns_for_tests

SERVER = "127.0.0.1"


def _wait_for_dnsmasq(proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dnsmasq exited: {log.read_text(errors='replace')}")
        if "started" in log.read_text(errors="replace"):
            return
        time.sleep(0.05)
    raise RuntimeError("dnsmasq did not start")


@contextmanager
def dns_netns(prefix: str, records: Sequence[str], hosts: str | bytes,
              logdir: Path) -> Iterator[Netns]:
    """A fresh namespace (lo only) with dnsmasq serving `records` (dnsmasq options)
    and `hosts` as its /etc/hosts; skips (fails in CI) without dnsmasq or root."""
    dnsmasq = shutil.which("dnsmasq") or (
        "/usr/sbin/dnsmasq" if Path("/usr/sbin/dnsmasq").exists() else None)
    with netns_for_tests(prefix) as ns:
        if dnsmasq is None:
            message = "dnsmasq is not installed (apt-get install dnsmasq-base)"
            if in_ci():
                pytest.fail(message, pytrace=False)
            pytest.skip(message)
        # read by every later `ip netns exec`, which bind-mounts them
        (ns.etc / "resolv.conf").write_text(f"nameserver {SERVER}\n")
        if isinstance(hosts, bytes):
            (ns.etc / "hosts").write_bytes(hosts)
        else:
            (ns.etc / "hosts").write_text(hosts)
        log = logdir / "dnsmasq.log"
        with log.open("wb") as sink:
            proc = subprocess.Popen(
                [*ns.exec_prefix(), dnsmasq, "--no-daemon", "--no-resolv", "--no-hosts",
                 "--bind-interfaces", f"--listen-address={SERVER}", "--port=53",
                 "--local=/#/", "--pid-file=", *records],
                stdout=sink, stderr=sink)
        try:
            _wait_for_dnsmasq(proc, log)
            yield ns
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
