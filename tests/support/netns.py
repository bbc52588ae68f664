"""Private network namespaces, and running nmap or pynmap inside one.

Every scan a test makes stays in a namespace the test created: its only
interface is `lo`, and `ip netns exec` bind-mounts our resolv.conf (a
nameserver address where nothing listens, so a lookup fails at once) and a
two-line hosts file over the machine's, so no query ever leaves the box.

nmap is started with argv[0] = "pynmap": nmap prints its argv[0] in getopt
messages and in the logged command line, pynmap prints its own name there,
and with this trick the two outputs are expected to be byte-identical.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

NMAP = "/usr/bin/nmap"
PROGRAM_NAME = "pynmap"
NAMESERVER = "127.0.0.53"
HOSTS = "127.0.0.1 localhost\n::1 ip6-localhost\n"
ETC_NETNS = Path("/etc/netns")

_serial = itertools.count()


class NetnsUnavailable(RuntimeError):
    """The namespace could not be built (not root, no `ip`, no CAP_SYS_ADMIN...)."""


class Result(NamedTuple):
    """What one run of nmap or pynmap produced (decoded with surrogateescape)."""

    exit: int
    stdout: str
    stderr: str


class Netns:
    """A named network namespace; `exec_prefix` runs a command inside it."""

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def etc(self) -> Path:
        return ETC_NETNS / self.name

    def exec_prefix(self) -> list[str]:
        return ["ip", "netns", "exec", self.name]

    def __repr__(self) -> str:
        return f"Netns({self.name!r})"


def _ip(*args: str) -> None:
    try:
        done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NetnsUnavailable(f"ip {' '.join(args)}: {exc}") from exc
    if done.returncode != 0:
        raise NetnsUnavailable(f"ip {' '.join(args)}: {done.stderr.strip() or done.returncode}")


def create_netns(prefix: str = "pynmap-t") -> Netns:
    """Make a fresh namespace with lo up and our resolver files; raise NetnsUnavailable."""
    if os.geteuid() != 0:
        raise NetnsUnavailable("network namespaces need root (run the suite as root)")
    if shutil.which("ip") is None:
        raise NetnsUnavailable("the `ip` command (iproute2) is not installed")
    ns = Netns(f"{prefix}-{os.getpid()}-{next(_serial)}")
    # The files must exist before the first `ip netns exec`, which is when
    # they are bind-mounted.
    ns.etc.mkdir(parents=True, exist_ok=True)
    (ns.etc / "resolv.conf").write_text(f"nameserver {NAMESERVER}\n")
    (ns.etc / "hosts").write_text(HOSTS)
    try:
        _ip("netns", "add", ns.name)
        _ip("-n", ns.name, "link", "set", "lo", "up")
    except NetnsUnavailable:
        delete_netns(ns)
        raise
    return ns


def delete_netns(ns: Netns) -> None:
    """Remove the namespace and its /etc/netns directory; never raises."""
    subprocess.run(["ip", "netns", "del", ns.name], capture_output=True, check=False)
    shutil.rmtree(ns.etc, ignore_errors=True)


@contextmanager
def netns(prefix: str = "pynmap-t") -> Iterator[Netns]:
    """A namespace for the duration of the `with` block."""
    ns = create_netns(prefix)
    try:
        yield ns
    finally:
        delete_netns(ns)


def stop_processes(processes: Iterable[subprocess.Popen[bytes]], grace: float = 5) -> None:
    """Terminate every process, then wait for each; one still there after
    `grace` seconds is killed.  (All are told first, so they end together.)"""
    processes = list(processes)
    for proc in processes:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
    for proc in processes:
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@contextmanager
def netns_for_tests(prefix: str = "pynmap-t") -> Iterator[Netns]:
    """Like `netns`, but a missing namespace fails loudly in CI and skips elsewhere."""
    import pytest

    try:
        ns = create_netns(prefix)
    except NetnsUnavailable as exc:
        if in_ci():
            pytest.fail(f"cannot create a network namespace in CI: {exc}", pytrace=False)
        pytest.skip(f"no network namespace: {exc}")
    try:
        yield ns
    finally:
        delete_netns(ns)


SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def base_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment both programs see: unprivileged, UTC, and a HOME without ~/.nmap.

    PATH starts with the directory of pynmap's console script: pynmap then
    counts as found through PATH and prints its bare name, as nmap started
    with argv[0] "pynmap" does (see pynmap.cli.app.program_name).
    """
    bindir = pynmap_bindir()
    env = {
        "PATH": SYSTEM_PATH if bindir is None else f"{bindir}:{SYSTEM_PATH}",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "NMAP_UNPRIVILEGED": "1",
        "TZ": "UTC",
    }
    if extra:
        env.update(extra)
    return env


def pynmap_command() -> list[str]:
    """How to start pynmap: $PYNMAP_CMD, else the console script next to this Python.

    `python -m pynmap` would make argv[0] "__main__.py", so the console
    script (argv[0] basename "pynmap") is what matches nmap's output.
    """
    override = os.environ.get("PYNMAP_CMD")
    if override:
        return shlex.split(override)
    script = Path(sys.executable).parent / PROGRAM_NAME
    if script.exists():
        return [str(script)]
    found = shutil.which(PROGRAM_NAME)
    if found:
        return [found]
    return [sys.executable, "-m", "pynmap"]


def pynmap_bindir() -> str | None:
    """The directory of the `pynmap` that pynmap_command() runs by path, if it does."""
    first = pynmap_command()[0]
    if os.path.basename(first) == PROGRAM_NAME and os.path.isabs(first):
        return os.path.dirname(first)
    return None


def nmap_command() -> list[str]:
    # bash's `exec -a` is the portable way to choose argv[0] through `ip netns exec`
    return ["/bin/bash", "-c", f'exec -a {PROGRAM_NAME} {NMAP} "$@"', PROGRAM_NAME]


def _run(
    command: Sequence[str],
    ns: Netns,
    cwd: Path,
    stdin: str | bytes | None,
    env: Mapping[str, str] | None,
    timeout: float,
    limits: Mapping[int, int] | None = None,
    shell: str | None = None,
) -> Result:
    data = stdin.encode() if isinstance(stdin, str) else stdin
    if shell is not None:
        # a sh script that runs the command as "$@", e.g. 'exec "$@" >/dev/full'
        command = ["/bin/sh", "-c", shell, "sh", *command]

    def apply_limits() -> None:
        for which, value in (limits or {}).items():
            resource.setrlimit(which, (value, value))

    done = subprocess.run(
        [*ns.exec_prefix(), *command],
        cwd=cwd,
        env=base_env(cwd, env),
        input=data if data is not None else b"",
        capture_output=True,
        timeout=timeout,
        check=False,
        preexec_fn=apply_limits if limits else None,
    )
    return Result(
        done.returncode,
        done.stdout.decode("utf-8", "surrogateescape"),
        done.stderr.decode("utf-8", "surrogateescape"),
    )


def run_command(
    command: Sequence[str],
    ns: Netns,
    cwd: Path,
    stdin: str | bytes | None = None,
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
) -> Result:
    """Run `command` inside `ns` with base_env (plus `env`), for a test that starts
    nmap or pynmap its own way (another argv[0], another PATH)."""
    return _run(command, ns, cwd, stdin, env, timeout)


def run_nmap(
    args: Sequence[str],
    ns: Netns,
    cwd: Path,
    stdin: str | bytes | None = None,
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
    limits: Mapping[int, int] | None = None,
    shell: str | None = None,
) -> Result:
    """Run the real nmap (as argv[0] "pynmap") inside `ns`; returns (exit, stdout, stderr).
    `limits` and `shell` as for run_pynmap."""
    return _run([*nmap_command(), *args], ns, cwd, stdin, env, timeout, limits, shell)


def run_pynmap(
    args: Sequence[str],
    ns: Netns,
    cwd: Path,
    stdin: str | bytes | None = None,
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
    limits: Mapping[int, int] | None = None,
    shell: str | None = None,
) -> Result:
    """Run pynmap inside `ns`; returns (exit, stdout, stderr).

    `limits` (both runners): resource.RLIMIT_* -> soft and hard limit of the
    run.  `shell` (both runners): a sh script that runs the program as "$@",
    for redirections such as 'exec "$@" >&-'.
    """
    return _run([*pynmap_command(), *args], ns, cwd, stdin, env, timeout, limits, shell)


_LISTENER = """
import select, socket, sys
socks = []
for item in sys.argv[1:]:
    address, port = item.rsplit("/", 1)
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((address, int(port)))
    s.listen(1024)
    s.setblocking(False)
    socks.append(s)
print("ready", flush=True)
while True:
    for s in select.select(socks, [], [])[0]:
        try:
            s.accept()[0].close()
        except OSError:
            pass
"""


@contextmanager
def capture(ns: Netns, pcap: Path, expression: Sequence[str]) -> Iterator[None]:
    """tcpdump on the namespace's loopback into `pcap` while the block runs, of
    what the filter `expression` (tcpdump's words) lets through."""
    # -Z root: tcpdump would otherwise drop to its own user, who cannot write here
    proc = subprocess.Popen([*ns.exec_prefix(), "tcpdump", "--immediate-mode", "-Z", "root",
                             "-i", "lo", "-n", "-U", "-w", str(pcap), *expression],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert proc.stderr is not None
        proc.stderr.readline()  # "listening on lo ..." once it captures
        yield
        time.sleep(0.3)  # let tcpdump write the last packet
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)


def read_capture(pcap: Path, *options: str) -> str:
    """tcpdump's text of a capture file (`options`: e.g. -v for the TTLs)."""
    return subprocess.run(["tcpdump", "-Z", "root", "-n", *options, "-r", str(pcap)],
                          capture_output=True, text=True, timeout=30).stdout


@contextmanager
def listening(ns: Netns, ports: Sequence[int], address: str = "127.0.0.1") -> Iterator[None]:
    """TCP listeners on `address`:`ports` inside `ns`, accepting and closing at once."""
    with _serving(ns, _LISTENER, [f"{address}/{p}" for p in ports],
                  f"listeners on {address} {list(ports)}"):
        yield


@contextmanager
def _serving(ns: Netns, script: str, args: Sequence[str], what: str) -> Iterator[None]:
    """Run a Python `script` inside `ns` until the block ends; it prints "ready" once
    its sockets listen."""
    proc = subprocess.Popen([*ns.exec_prefix(), sys.executable, "-c", script, *args],
                            stdout=subprocess.PIPE)
    try:
        if proc.stdout is None or proc.stdout.readline() != b"ready\n":
            raise NetnsUnavailable(f"{what} did not start")
        yield
    finally:
        proc.kill()
        proc.wait()


_BANNER_SERVICES = """
import select, socket, sys
address, end_at_once, items = sys.argv[1], sys.argv[2] == "end", sys.argv[3:]
socks = {}
for item in items:
    port, banner = item.split("=", 1)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((address, int(port)))
    s.listen(1024)
    socks[s] = banner.encode("latin-1")
conns = []
print("ready", flush=True)
while True:
    for s in select.select([*socks, *conns], [], [])[0]:
        if s in socks:
            try:
                c = s.accept()[0]
                c.sendall(socks[s])
                if end_at_once:
                    c.shutdown(socket.SHUT_WR)
                conns.append(c)
            except OSError:
                pass
            continue
        try:
            data = s.recv(65536)
        except OSError:
            data = b""
        if not data:
            conns.remove(s)
            s.close()
"""


@contextmanager
def banner_services(ns: Netns, banners: Mapping[int, str], address: str = "127.0.0.1", *,
                    end_at_once: bool = False) -> Iterator[None]:
    """TCP services on `address` inside `ns`, one per port of `banners`, that send
    the port's banner on each connection (and, `end_at_once`, end their side
    then), and read until the client closes, so no reset is sent."""
    with _serving(ns, _BANNER_SERVICES,
                  [address, "end" if end_at_once else "keep",
                   *(f"{port}={text}" for port, text in banners.items())],
                  f"banner services on {address} {list(banners)}"):
        yield


@contextmanager
def babbling(ns: Netns, ports: Sequence[int], banner: str) -> Iterator[None]:
    """TCP services on 127.0.0.1:`ports` inside `ns` that send `banner` and end their
    side at once (then read until the client closes, so no reset is sent).

    To version detection each such connection is a probe answered at once with
    the same unrecognized data: nmap goes through its whole probe list without
    waiting out any probe's totalwaitms."""
    with banner_services(ns, dict.fromkeys(ports, banner), end_at_once=True):
        yield
