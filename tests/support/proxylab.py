"""Real proxy daemons for --proxies tests, started in a lab's router namespace.

Debian's danted (dante-server) and tinyproxy, each in its foreground mode with
its configuration and log in a temporary directory, listening on the router's
uplink address (198.18.255.2), which the scanner reaches directly; their own
connections to the targets leave from the router itself.  tests/run.sh
installs both without starting them.

    DANTE     1080  SOCKS4 and SOCKS5, no authentication; its rules forbid
                    198.18.0.10 port 8081 (SOCKS5 answer 2, SOCKS4 91)
    DANTE_PW  1081  SOCKS5 with a user name and password (USER, PASSWORD):
                    dante checks them against the namespace's own passwd
                    and shadow files (/etc/netns/NAME/, which `ip netns
                    exec` mounts over /etc), which hold that user only
    REFUSING  1082  a client rule refuses every client: it closes each
                    connection without a word
    TINY      8888  tinyproxy, HTTP CONNECT to any port (no ConnectPort line)
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.lab import Lab
from tests.support.lab.listeners import inside
from tests.support.lab.network import UPLINK4
from tests.support.netns import stop_processes

SBIN = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DANTE, DANTE_PW, REFUSING, TINY = 1080, 1081, 1082, 8888
USER, PASSWORD = "pxuser", "s3cret-pw"
FORBIDDEN = ("198.18.0.10", 8081)  # what DANTE's rules refuse
START_TIMEOUT = 20.0


class ProxyLabError(RuntimeError):
    """A proxy daemon is not installed or did not start."""


def url(scheme: str, port: int, credentials: str = "") -> str:
    return f"{scheme}://{credentials}{UPLINK4}:{port}"


def _dante(log: Path, port: int, *, method: str = "none", client: str = "pass",
           forbid: bool = False) -> str:
    rules = f"client {client} {{ from: 0.0.0.0/0 to: 0.0.0.0/0 }}\n"
    if forbid:
        rules += (f"socks block {{ from: 0.0.0.0/0 to: {FORBIDDEN[0]}/32 port = {FORBIDDEN[1]} "
                  "log: error }\n")
    rules += "socks pass { from: 0.0.0.0/0 to: 0.0.0.0/0 log: error }\n"
    return (f"logoutput: {log}\ninternal: {UPLINK4} port = {port}\nexternal: 198.18.0.1\n"
            f"socksmethod: {method}\nclientmethod: none\nuser.privileged: root\n"
            "user.unprivileged: nobody\ntimeout.connect: 10\ntimeout.negotiate: 10\n" + rules)


@dataclass
class ProxyLab:
    lab: Lab
    workdir: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def _tool(self, name: str) -> str:
        found = shutil.which(name, path=SBIN)
        if found is None:
            raise ProxyLabError(f"{name} is not installed (tests/run.sh installs it)")
        return found

    def _spawn(self, label: str, command: list[str]) -> None:
        log = (self.workdir / f"{label}.out").open("wb")
        with log:
            self.processes[label] = subprocess.Popen(
                [*self.lab.router.exec_prefix(), *command], cwd=self.workdir,
                env={"PATH": SBIN, "LANG": "C.UTF-8"}, stdin=subprocess.DEVNULL,
                stdout=log, stderr=log)

    def log(self, label: str) -> str:
        texts = [p.read_text(errors="replace") for p in sorted(self.workdir.glob(f"{label}*"))]
        return "\n".join(texts)[-2000:]

    def up(self) -> None:
        wd = self.workdir
        wd.chmod(0o755)  # dante's and tinyproxy's unprivileged processes write their logs
        etc = self.lab.router.etc
        digest = subprocess.run([self._tool("openssl"), "passwd", "-6", PASSWORD],
                                capture_output=True, text=True, check=True,
                                timeout=30).stdout.strip()
        # the router's own accounts: root, nobody and the proxy user, nothing of the host's
        (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n"
                                    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
                                    f"{USER}:x:64999:65534::/nonexistent:/usr/sbin/nologin\n")
        (etc / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
        shadow = etc / "shadow"
        shadow.write_text(f"root:*:19000:0:99999:7:::\n{USER}:{digest}:19000:0:99999:7:::\n")
        shadow.chmod(0o600)
        danted = self._tool("danted")
        for label, port, kwargs in (("dante", DANTE, {"forbid": True}),
                                    ("dante-pw", DANTE_PW, {"method": "username"}),
                                    ("dante-refusing", REFUSING, {"client": "block"})):
            conf = wd / f"{label}.conf"
            conf.write_text(_dante(wd / f"{label}.log", port, **kwargs))  # type: ignore[arg-type]
            self._spawn(label, [danted, "-f", str(conf), "-p", str(wd / f"{label}.pid")])
        tiny = wd / "tinyproxy.conf"
        (wd / "tinyproxy.log").touch(mode=0o666)
        tiny.write_text(f"User nobody\nGroup nogroup\nPort {TINY}\nListen {UPLINK4}\n"
                        f"Timeout 30\nMaxClients 200\nLogFile \"{wd}/tinyproxy.log\"\n"
                        "LogLevel Info\nDisableViaHeader Yes\n")
        self._spawn("tinyproxy", [self._tool("tinyproxy"), "-d", "-c", str(tiny)])
        self._wait()

    def _wait(self) -> None:
        pending = {DANTE, DANTE_PW, REFUSING, TINY}
        deadline = time.monotonic() + START_TIMEOUT
        with inside(self.lab.scanner.name):
            while pending:
                for label, proc in self.processes.items():
                    if proc.poll() is not None:
                        raise ProxyLabError(f"{label} exited ({proc.returncode}):\n"
                                            f"{self.log(label)}")
                for port in list(pending):
                    with contextlib.suppress(OSError), \
                            socket.create_connection((UPLINK4, port), timeout=1):
                        pending.discard(port)
                if pending and time.monotonic() > deadline:
                    raise ProxyLabError(f"not listening after {START_TIMEOUT:g} s: {pending}")
                if pending:
                    time.sleep(0.05)

    def down(self) -> None:
        stop_processes(self.processes.values())
        self.processes.clear()
        for name in ("passwd", "group", "shadow"):
            with contextlib.suppress(FileNotFoundError):
                (self.lab.router.etc / name).unlink()


@contextlib.contextmanager
def proxy_daemons(running: Lab, workdir: Path) -> Iterator[ProxyLab]:
    """The daemons for a test module; one that cannot start fails it."""
    import pytest

    proxies = ProxyLab(running, workdir)
    try:
        proxies.up()
    except ProxyLabError as exc:
        proxies.down()
        pytest.fail(f"the proxy daemons cannot start: {exc}", pytrace=False)
    try:
        yield proxies
    finally:
        proxies.down()
