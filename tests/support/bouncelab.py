"""The bounce lab: the lab's targets, and FTP relays for the bounce scan (-b).

    PREFIX-scan   s0 198.18.255.1: nmap and pynmap, and the relays (vsftpd)
         |        on 198.18.255.1: 21 (PROMISCUOUS), 2121 (STRICT)
    PREFIX-link   delaylink, 5 ms each way
    PREFIX-rtr
    PREFIX-h10    8080, 9090 open; 9999 filtered (--syn dropped); others closed
    PREFIX-h11    8080 open
    (198.18.0.12  down: no namespace)

The relays run in the scanner's own namespace, bound to its address on the
link: their data connections to the targets then cross the lab's delayed
link as a distant server's would.  That delay matters to nmap, not to the
relays: vsftpd answers LIST on an open port with `150` and `226` an empty
listing apart, and over a path without delay the two come microseconds
apart; nmap, which reads one recv() per reply it expects, then sometimes
takes both at once and calls the port filtered.  With the FIN of the data
connection a 10 ms round trip away, the two replies come 10 ms apart and
nmap's reading is what the lab declares.

PROMISCUOUS is vsftpd with `port_promiscuous=YES`: it connects wherever
PORT says, to unprivileged ports only (for a port below 1024 it ends the
session, `500 OOPS: Illegal port request`).  It takes anonymous logins
(user `ftp`'s rights) and local users through PAM, so a wrong password is
refused (`530 Login incorrect.`); its log names each session's client
(`clients()`).  STRICT is vsftpd as shipped: PORT to an
address other than its client's is `500 Illegal PORT command.`, and only
anonymous users may log in (any other USER is refused at once).  Its
connect timeout (60 s) outlasts nmap's 12 s wait for LIST's reply, so a
filtered port is reported filtered as long as it is the last one scanned:
the late `425` would otherwise be read as the next port's PORT reply.

Each relay is checked at start: a login that does not get `230` fails the
lab with the end of its log.  Nothing outlives the lab.

    python -m tests.support.bouncelab up|down   # by hand, as root, from the repository
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.lab import Host, Lab, Scenario, build, lab, remove
from tests.support.lab.listeners import inside
from tests.support.lab.network import SCANNER4, _pids
from tests.support.netns import stop_processes
from tests.support.servicelab import SBIN, vsftpd_config

RELAY = SCANNER4  # the relays' address (the scanner's own, on the link)
PROMISCUOUS, STRICT = 21, 2121
TARGET, SECOND, DOWN = "198.18.0.10", "198.18.0.11", "198.18.0.12"
OPEN, CLOSED, FILTERED = (8080, 9090), (8081, 8082), 9999
START_TIMEOUT = 10.0

SCENARIO = Scenario(
    "bounce",
    (Host(10, open=OPEN, filtered=(FILTERED,)), Host(11, open=(8080,)), Host(12, down=True)),
    delay_ms=5,
    about="targets for the FTP bounce scan (tests/support/bouncelab.py)",
)


def truth(address: str, port: int) -> str:
    """The state a bounce scan through PROMISCUOUS must report for a port of a live target."""
    host = next(h for h in SCENARIO.live if h.address == address)
    return host.truth(port)[0]


class RelayError(RuntimeError):
    """A relay did not start, or does not let the anonymous user in."""


@dataclass
class BounceLab:
    network: Lab
    workdir: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    detach: bool = False  # the relays outlive this process (by hand: `up`)

    def start(self) -> None:
        wd = self.workdir
        (wd / "logs").mkdir()
        (wd / "empty").mkdir()
        for path in (wd, wd / "empty"):
            path.chmod(0o755)  # vsftpd refuses an anonymous root it could write to
        vsftpd = shutil.which("vsftpd", path=SBIN)
        if vsftpd is None:
            raise RelayError("vsftpd is not installed (tests/run.sh installs it)")
        configs = {
            "promiscuous": vsftpd_config(wd, "promiscuous", RELAY, PROMISCUOUS, ftp_user="ftp",
                                         extra=("port_promiscuous=YES", "local_enable=YES",
                                                "xferlog_enable=YES")),
            "strict": vsftpd_config(wd, "strict", RELAY, STRICT, ftp_user="ftp"),
        }
        for name, conf in configs.items():
            with (wd / "logs" / f"{name}.log").open("wb") as log:
                self.processes[name] = subprocess.Popen(
                    [*self.network.scanner.exec_prefix(), vsftpd, str(conf)],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=wd,
                    start_new_session=self.detach)
        for name, port in (("promiscuous", PROMISCUOUS), ("strict", STRICT)):
            self._check_login(name, port)

    def _check_login(self, name: str, port: int) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        with inside(self.network.scanner.name):
            while True:
                if self.processes[name].poll() is not None:
                    raise RelayError(f"vsftpd ({name}) exited:\n{self.log_tail(name)}")
                try:
                    with socket.create_connection((RELAY, port), timeout=5) as sock:
                        said = _talk(sock, b"", b"USER anonymous\r\n", b"PASS x@\r\n")
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RelayError(f"vsftpd ({name}) does not answer on {port}:\n"
                                         f"{self.log_tail(name)}") from None
                    time.sleep(0.05)
        if not said[-1].startswith(b"230"):
            raise RelayError(f"vsftpd ({name}) refuses the anonymous login: {said!r}\n"
                             f"{self.log_tail(name)}")

    def clients(self, name: str) -> list[str]:
        """The addresses the relay's sessions came from (its log's CONNECT lines)."""
        path = self.workdir / "logs" / f"{name}-transfers.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return re.findall(r'CONNECT: Client "([^"]*)"', text)

    def log_tail(self, name: str, lines: int = 15) -> str:
        path = self.workdir / "logs" / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        # a session still connecting to the filtered port (60 s) would hold the
        # lab's teardown for its 5 s grace: the relays' sessions go first, killed
        for pid in _pids(self.network.scanner.name):
            with contextlib.suppress(OSError):
                if Path(f"/proc/{pid}/comm").read_text().strip() == "vsftpd" and \
                        pid not in {proc.pid for proc in self.processes.values()}:
                    os.kill(pid, signal.SIGKILL)
        stop_processes(self.processes.values())
        self.processes.clear()


def _talk(sock: socket.socket, *lines: bytes) -> list[bytes]:
    """Send each line (the first may be empty: the greeting) and read one reply after it."""
    replies = []
    for line in lines:
        if line:
            sock.sendall(line)
        replies.append(sock.recv(4096))
    return replies


@contextlib.contextmanager
def bounce_lab() -> Iterator[BounceLab]:
    """The lab with its relays up; a relay that cannot start fails the test, always."""
    with lab(SCENARIO) as network:
        running = BounceLab(network, Path(tempfile.mkdtemp(prefix="pynmap-bounce-")))
        try:
            running.start()
        except RelayError as exc:
            running.stop()
            shutil.rmtree(running.workdir, ignore_errors=True)
            pytest.fail(f"the bounce lab's relays cannot start: {exc}", pytrace=False)
        try:
            yield running
        finally:
            running.stop()
            shutil.rmtree(running.workdir, ignore_errors=True)


BY_HAND = "pynmap-bounce"


def main(argv: Sequence[str]) -> int:
    if argv[:1] == ["up"]:
        remove(BY_HAND)
        running = BounceLab(build(SCENARIO, prefix=BY_HAND, detach=True),
                            Path(tempfile.mkdtemp(prefix=f"{BY_HAND}-")), detach=True)
        running.start()
        print(f"up: ip netns exec {running.network.scanner.name} pynmap -n -Pn -b {RELAY} "
              f"-p 8080-8082,9090 {TARGET} {SECOND}\n  relays' config and logs in "
              f"{running.workdir}")
        return 0
    if argv[:1] == ["down"]:
        remove(BY_HAND)  # the relays run inside the scanner's namespace: they go with it
        for leftover in Path(tempfile.gettempdir()).glob(f"{BY_HAND}-*"):
            shutil.rmtree(leftover, ignore_errors=True)
        return 0
    print("usage: python -m tests.support.bouncelab up|down", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
