"""Runtime interaction: keys pressed during a scan, and --stats-every, next to nmap.

The scan runs under a pseudo-terminal (its controlling terminal, in the
foreground) inside a namespace whose 127.0.0.2 drops every connection
attempt, so the Connect Scan phase lasts long enough to press keys.
"""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.support.mask import mask
from tests.support.netns import NMAP, Netns, base_env, netns_for_tests, pynmap_command

pytestmark = pytest.mark.lab

SLOW = "127.0.0.2"
SCAN = ["-sT", "-Pn", "-n", "-p", "1-3000", SLOW]
STATS = re.compile(
    r"^Stats: 0:00:0\d elapsed; 0 hosts completed \(1 up\), 1 undergoing Connect Scan\r?\n"
    r"Connect Scan Timing: About \d+\.\d\d% done", re.MULTILINE)


@pytest.fixture(scope="module")
def slow_ns() -> Iterator[Netns]:
    with netns_for_tests("pynmap-key") as ns:
        rule = ["-A", "INPUT", "-d", SLOW, "-p", "tcp", "--syn", "-j", "DROP"]
        subprocess.run([*ns.exec_prefix(), "iptables", *rule], check=True, timeout=30)
        yield ns


def _under_pty(ns: Netns, command: Sequence[str], steps: Sequence[tuple[bytes, bytes]],
               workdir: Path, seconds: float = 15) -> str:
    """Run `command` in `ns` on a new pty.  A second after the banner, press each
    step's key and wait for its text to appear before the next step (nmap
    drops keys typed ahead).  Returns all output, once the last step's text
    appeared or `seconds` passed."""
    env = base_env(workdir)
    pid, fd = pty.fork()
    if pid == 0:  # the child: session leader, the pty is its controlling terminal
        try:
            os.chdir(workdir)
            os.execvpe("ip", ["ip", "netns", "exec", ns.name, *command], env)
        finally:
            os._exit(127)
    out = b""
    pending = list(steps)
    try:
        started = time.monotonic()
        deadline = started + seconds
        seen = 0  # output before the current key was pressed
        pressed = False
        while time.monotonic() < deadline and pending:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
            key, wanted = pending[0]
            if not pressed:
                if b"Starting Nmap" in out and time.monotonic() - started > 1:
                    seen = len(out)
                    os.write(fd, key)
                    pressed = True
            elif wanted in out[seen:]:
                pending.pop(0)
                pressed = False
                started = 0.0  # later keys go at once
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(fd)
    return out.decode("utf-8", "replace").replace("\r\n", "\n")


def _nmap() -> list[str]:
    return ["env", "NMAP_UNPRIVILEGED=1", NMAP]


def test_a_key_press_prints_nmaps_status_lines(slow_ns: Netns, tmp_path: Path) -> None:
    for command in (_nmap(), pynmap_command()):
        text = _under_pty(slow_ns, [*command, "-v", *SCAN], [(b" ", b"% done")], tmp_path)
        assert STATS.search(text), f"{command[-1]}: no status lines in\n{text}"


def test_v_and_d_keys_change_the_levels(slow_ns: Netns, tmp_path: Path) -> None:
    for command in (_nmap(), pynmap_command()):
        steps = [(b"v", b"Verbosity Increased"), (b"d", b"Debugging Increased"),
                 (b"D", b"Debugging Decreased"), (b"V", b"Verbosity Decreased")]
        text = _under_pty(slow_ns, [*command, *SCAN], steps, tmp_path)
        lines = [line for line in text.splitlines() if "creased to" in line]
        assert lines == ["Verbosity Increased to 1.", "Debugging Increased to 1.",
                         "Debugging Decreased to 0.", "Verbosity Decreased to 0."], text


def test_noninteractive_ignores_keys(slow_ns: Netns, tmp_path: Path) -> None:
    text = _under_pty(slow_ns, [*pynmap_command(), "--noninteractive", "-v", *SCAN],
                      [(b" ", b"never")], tmp_path, seconds=4)
    assert "Initiating Connect Scan" in text
    assert "Stats:" not in text and "Verbosity" not in text


def test_stats_every_matches_nmap(slow_ns: Netns, tmp_path: Path) -> None:
    """Without a terminal, --stats-every 1s prints the same lines at the same times."""
    outputs = []
    for command in ([NMAP], pynmap_command()):
        # Progress at a given second depends on the pacing: compare under nmap's.
        env = {**base_env(tmp_path), "PYNMAP_PACING": "nmap"}
        done = subprocess.run([*slow_ns.exec_prefix(), "timeout", "-s", "INT", "3.5", *command,
                               "--stats-every", "1s", *SCAN], cwd=tmp_path,
                              env=env, capture_output=True, text=True,
                              timeout=30)
        outputs.append(mask(done.stdout).splitlines())
    nmap_lines, pynmap_lines = outputs
    assert len([ln for ln in nmap_lines if ln.startswith("Stats: ")]) == 3, nmap_lines
    # the percentages may differ by a probe or two: compare the lines' shapes and times
    def shape(lines: list[str]) -> list[str]:
        return [re.sub(r"About \d+\.\d\d% done", "About P% done", ln) for ln in lines]
    assert shape(pynmap_lines) == shape(nmap_lines)


def test_p_and_P_toggle_packet_tracing_at_once(slow_ns: Netns, tmp_path: Path) -> None:
    """nmap traces from the key press on, in the phase under way, and stops as soon."""
    for command in (_nmap(), pynmap_command()):
        steps = [(b"p", b"CONN ("), (b"P", b"Packet Tracing disabled."),
                 (b"v", b"Verbosity Increased")]
        text = _under_pty(slow_ns, [*command, *SCAN], steps, tmp_path)
        enabled = text.find("Packet Tracing enabled.")
        disabled = text.find("Packet Tracing disabled.")
        assert 0 <= enabled < disabled, f"{command[-1]}:\n{text}"
        assert "Completed Connect Scan" not in text, f"{command[-1]}: the phase ended:\n{text}"
        # tracing started within the phase, and nothing was traced after P
        assert "CONN (" in text[enabled:disabled], f"{command[-1]}:\n{text}"
        assert "CONN (" not in text[disabled:], f"{command[-1]}:\n{text}"
        assert re.search(r"^CONN \(\d+\.\d{4}s\) TCP localhost > 127\.0\.0\.2:\d+ => "
                         r"Operation now in progress$", text, re.MULTILINE), text


def test_keys_leave_the_port_table_alone(slow_ns: Netns, tmp_path: Path) -> None:
    """v, v and d mid-scan raise the levels that imply --reason on the command line, but
    nmap settles its columns once, after reading the options: no REASON column appears."""
    # three dropped ports: the scan lasts a few seconds, then prints its table
    short = ["-sT", "-Pn", "-n", "-p", "1-3", "--max-retries", "1", SLOW]
    steps = [(b"v", b"Verbosity Increased"), (b"v", b"Verbosity Increased to 2"),
             (b"d", b"Debugging Increased"), (b"", b"Nmap done")]
    tables = []
    for command in (_nmap(), pynmap_command()):
        text = _under_pty(slow_ns, [*command, *short], steps, tmp_path, seconds=30)
        assert "Nmap done" in text and "Debugging Increased to 1." in text, text
        tables.append([line for line in text.splitlines()
                       if line.startswith(("PORT ", "1/tcp", "2/tcp", "3/tcp"))])
    assert tables[0] == ["PORT  STATE    SERVICE", "1/tcp filtered tcpmux",
                         "2/tcp filtered compressnet", "3/tcp filtered compressnet"], tables[0]
    assert tables[1] == tables[0]
