"""Run many command lines through nmap and pynmap from one process inside a namespace.

`ip netns exec` costs a process start and a mount namespace each time; a fuzz
of thousands of command lines pays it once: the test starts this module as a
driver inside its namespace (`FuzzDriver`) and sends it one command line at a
time over a pipe.  For each line the driver runs, at the same time:

* nmap as a process (argv[0] "pynmap", stdin /dev/null, a fresh empty
  working directory, the environment of tests.support.netns.base_env);
* pynmap in a forked copy of the driver, through its command-line entry
  `run_cli` with StringIO streams (stdin /dev/null, its own fresh working
  directory, the same environment), so no interpreter start is paid.  A
  Python exception escaping `run_cli` is reported as a traceback, never
  swallowed.

Both run in the test's namespace, whose only interface is `lo`: whatever a
generated line asks for, nothing can leave the machine.

The protocol is one JSON object per line both ways (JSON keeps the lone
surrogates that stand for non-UTF-8 bytes).
"""

from __future__ import annotations

import io
import json
import os
import pwd
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # started by path: make `tests.support` and pynmap importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.support.netns import NMAP, PROGRAM_NAME, Netns, Result, base_env

# A line that runs longer than this is reported as a timeout (a list scan of
# the small targets the fuzz uses takes well under a second).
LINE_TIMEOUT = 20.0


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _fresh_dir(root: Path, name: str, files: Mapping[str, str], owner: int | None) -> Path:
    path = root / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir()
    for file_name, content in files.items():
        (path / file_name).write_text(content)
    if owner is not None:
        for entry in (path, *path.iterdir()):
            os.chown(entry, owner, owner)
    return path


def _nobody() -> int | None:
    """nmap runs as nobody when the driver is root: a file it is told to write by
    mistake cannot land anywhere that matters.  (pynmap, forked from the driver,
    stays root: its Python may live where nobody cannot read, e.g. under /root.)"""
    return pwd.getpwnam("nobody").pw_uid if os.geteuid() == 0 else None


def _pynmap_child(argv: list[str], cwd: Path, env: dict[str, str], out_fd: int) -> None:
    """In the forked child: run pynmap's command-line entry once, report, _exit."""
    report: dict[str, Any]
    try:
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        # fds 1 and 2 carry the driver's protocol: what pynmap writes there
        # instead of to its streams is caught and reported as stray output
        stray = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the child
        os.dup2(stray.fileno(), 1)
        os.dup2(stray.fileno(), 2)
        sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False))
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(env)
        time.tzset()
        from pynmap.cli.app import run_cli

        # the words as Python's start-up decodes them from the kernel's bytes (the
        # test may spell a valid UTF-8 sequence as surrogate escapes)
        words = [PROGRAM_NAME, *(os.fsdecode(os.fsencode(word)) for word in argv)]
        stdout, stderr = io.StringIO(), io.StringIO()
        try:
            status = run_cli(words, stdout, stderr, dict(env))
            report = {"exit": status, "stdout": stdout.getvalue(), "stderr": stderr.getvalue()}
        except BaseException:
            report = {"traceback": traceback.format_exc(), "stdout": stdout.getvalue(),
                      "stderr": stderr.getvalue()}
        stray.seek(0)
        leaked = stray.read()
        if leaked:
            report["traceback"] = report.get("traceback", "") + (
                "pynmap wrote to fd 1/2 instead of its streams: " + _decode(leaked))
    except BaseException:
        report = {"traceback": "driver: " + traceback.format_exc()}
    data = json.dumps(report).encode()
    while data:
        data = data[os.write(out_fd, data):]
    os._exit(0)


def _wait_child(pid: int, read_fd: int, deadline: float) -> dict[str, Any]:
    chunks: list[bytes] = []
    timed_out = False
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            os.kill(pid, signal.SIGKILL)
            break
        ready, _, _ = select.select([read_fd], [], [], left)
        if ready:
            chunk = os.read(read_fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    os.close(read_fd)
    os.waitpid(pid, 0)
    if timed_out:
        return {"traceback": f"timeout: pynmap ran longer than {LINE_TIMEOUT} s"}
    if not chunks:
        return {"traceback": "pynmap's process died without a report"}
    report: dict[str, Any] = json.loads(b"".join(chunks))
    return report


def run_line(argv: list[str], root: Path, files: Mapping[str, str]) -> dict[str, Any]:
    """nmap and pynmap on one command line (without the program name), side by side."""
    nobody = _nobody()
    nmap_dir = _fresh_dir(root, "nmap", files, nobody)
    pynmap_dir = _fresh_dir(root, "pynmap", files, None)
    deadline = time.monotonic() + LINE_TIMEOUT
    nmap = subprocess.Popen(
        [PROGRAM_NAME, *argv], executable=NMAP, cwd=nmap_dir, env=base_env(nmap_dir),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        user=nobody, group=nobody, extra_groups=[] if nobody is not None else None,
    )
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _pynmap_child(argv, pynmap_dir, base_env(pynmap_dir), write_fd)
    os.close(write_fd)
    pynmap = _wait_child(pid, read_fd, deadline)
    try:
        out, err = nmap.communicate(timeout=max(deadline - time.monotonic(), 1.0))
        nmap_report: dict[str, Any] = {"exit": nmap.returncode, "stdout": _decode(out),
                                       "stderr": _decode(err)}
    except subprocess.TimeoutExpired:
        nmap.kill()
        nmap.communicate()
        nmap_report = {"timeout": True}
    return {"nmap": nmap_report, "pynmap": pynmap}


def serve(files: Mapping[str, str]) -> None:
    # pynmap's modules are imported once, here, so each forked child starts warm
    import pynmap.cli.app
    import pynmap.session  # noqa: F401

    # the last fence: a namespace whose only interface is lo, or nothing runs
    interfaces = sorted(name for _, name in socket.if_nameindex())
    if interfaces != ["lo"]:
        sys.exit(f"fuzz driver: refusing to run beside interfaces {interfaces}")
    with tempfile.TemporaryDirectory(prefix="pynmap-fuzz-") as tmp:
        os.chmod(tmp, 0o755)
        for line in sys.stdin:
            request = json.loads(line)
            reply = run_line(request["argv"], Path(tmp), files)
            sys.stdout.write(json.dumps(reply) + "\n")
            sys.stdout.flush()


class Outcome:
    """One line's result: nmap's run, and pynmap's run or its traceback."""

    def __init__(self, reply: dict[str, Any]) -> None:
        n, p = reply["nmap"], reply["pynmap"]
        self.nmap: Result | None = (
            None if "timeout" in n else Result(n["exit"], n["stdout"], n["stderr"]))
        self.traceback: str | None = p.get("traceback")
        self.pynmap = Result(p.get("exit", -1), p.get("stdout", ""), p.get("stderr", ""))


class FuzzDriver:
    """The driver process inside `ns`; `run(argv)` sends one line and waits for both results.

    `exec_prefix` replaces `ip netns exec NS` (only to show that the driver refuses
    to run outside a namespace).
    `files` are written into each program's fresh working directory before every line.
    """

    def __init__(self, ns: Netns, files: Mapping[str, str],
                 exec_prefix: Sequence[str] | None = None) -> None:
        prefix = ns.exec_prefix() if exec_prefix is None else list(exec_prefix)
        self._proc = subprocess.Popen(
            [*prefix, sys.executable, __file__, json.dumps(dict(files))],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )

    def run(self, argv: Sequence[str]) -> Outcome:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps({"argv": list(argv)}) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the fuzz driver died (exit {self._proc.wait()})")
        return Outcome(json.loads(line))

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()


if __name__ == "__main__":
    serve(json.loads(sys.argv[1]))
