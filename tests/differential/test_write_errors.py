"""Outputs that cannot be written, closed pipes and closed descriptors, against nmap.

nmap writes every output with stdio and does not look at what fflush()
says, so a write that fails (a full device, EIO, a closed pipe with SIGPIPE
ignored, a closed descriptor) loses only what was being written: the scan
finishes, the other outputs are complete and the exit status is unchanged.
A write that overflows the stdio buffer of a failing output file (below),
an output file that cannot be opened and a target list that cannot be read
are nmap's fatal errors instead.  Each case runs both programs with the same shell
redirections in tests.support.loopback_ports' namespace (127.0.0.1 has ports
22 and 3306 open, 45000-45099 dropped) and compares exit status, stdout,
stderr and every output file after the mask.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.support.compare import Run, assert_same, run_both
from tests.support.mask import mask
from tests.support.netns import Netns, listening, netns_for_tests

pytestmark = [pytest.mark.nmap, pytest.mark.lab]

SCAN = ["-n", "-p", "22,80", "127.0.0.1"]
NORMAL_DONE = "# Nmap done at "


def _both(ns: Netns, tmp_path: Path, args: Sequence[str], *, shell: str | None = None,
          outputs: Sequence[str] = (), setup_files: dict[str, str] | None = None,
          ) -> tuple[Run, Run]:
    nmap, pynmap = run_both(args, ns, tmp_path, shell=shell, outputs=outputs,
                            setup_files=setup_files)
    return nmap, pynmap


def _complete_report(run: Run) -> None:
    """The scan's stdout as the namespace makes it: 22 open, 80 closed, and the end line."""
    assert "22/tcp open" in run.stdout and "80/tcp closed" in run.stdout, run
    assert "Nmap done: 1 IP address (1 host up)" in run.stdout, run


# ------------------------------------------------------------ a failing output


@pytest.mark.parametrize(("args", "shell", "outputs"), [
    pytest.param([*SCAN, "-oN", "/dev/full"], None, (), id="oN-dev-full"),
    pytest.param([*SCAN, "-oN", "/proc/version"], None, (), id="oN-EIO"),
    pytest.param([*SCAN, "-oX", "/dev/full", "-oN", "out.nmap"], None, ("out.nmap",),
                 id="oX-dev-full-oN-file"),
])
def test_a_failing_output_file_loses_only_its_own_text(
    ports_ns: Netns, tmp_path: Path, args: list[str], shell: str | None,
    outputs: tuple[str, ...],
) -> None:
    nmap, pynmap = _both(ports_ns, tmp_path, args, shell=shell, outputs=outputs)
    assert nmap.exit == 0 and nmap.stderr == "", nmap
    _complete_report(nmap)
    for name in outputs:
        assert NORMAL_DONE in (nmap.files[name] or ""), nmap.files
    assert_same(nmap, pynmap, args)


def test_stdout_on_a_full_device(ports_ns: Netns, tmp_path: Path) -> None:
    args = [*SCAN, "-oX", "out.xml", "-oN", "out.nmap"]
    nmap, pynmap = _both(ports_ns, tmp_path, args, shell='exec "$@" >/dev/full',
                         outputs=("out.xml", "out.nmap"))
    assert nmap.exit == 0 and nmap.stdout == "" and nmap.stderr == "", nmap
    assert (nmap.files["out.xml"] or "").endswith("</nmaprun>\n")
    assert NORMAL_DONE in (nmap.files["out.nmap"] or "")
    assert_same(nmap, pynmap, args)


def test_stdout_closed(ports_ns: Netns, tmp_path: Path) -> None:
    """`>&-`: every write to stdout fails (EBADF); nothing else changes."""
    nmap, pynmap = _both(ports_ns, tmp_path, SCAN, shell='exec "$@" >&-')
    assert nmap.exit == 0 and nmap.stdout == "" and nmap.stderr == "", nmap
    assert_same(nmap, pynmap, SCAN)


def test_stdout_closed_and_an_output_file(ports_ns: Netns, tmp_path: Path) -> None:
    """`>&-` with -oN: the file takes descriptor 1, so stdout's text lands in it,
    the two buffers interleaving at nmap's flushes (the report twice, cut up)."""
    args = [*SCAN, "-oN", "out.nmap"]
    nmap, pynmap = _both(ports_ns, tmp_path, args, shell='exec "$@" >&-',
                         outputs=("out.nmap",))
    text = nmap.files["out.nmap"] or ""
    assert nmap.exit == 0 and text.startswith("Starting Nmap"), nmap
    assert text.count("Nmap scan report for 127.0.0.1\n") == 2
    assert_same(nmap, pynmap, args)


def test_target_list_from_a_closed_stdin(ports_ns: Netns, tmp_path: Path) -> None:
    """`-iL - <&-`: reading fails at once, which is an empty list, not an error."""
    args = ["-n", "-p", "22", "-iL", "-"]
    nmap, pynmap = _both(ports_ns, tmp_path, args, shell='exec "$@" <&-')
    assert nmap.exit == 0, nmap
    assert "WARNING: No targets were specified" in nmap.stderr
    assert_same(nmap, pynmap, args)


def test_usage_error_with_stderr_on_a_full_device(ports_ns: Netns, tmp_path: Path) -> None:
    args = ["--bogus", "127.0.0.1"]
    nmap, pynmap = _both(ports_ns, tmp_path, args, shell='exec "$@" 2>/dev/full')
    assert nmap.exit == 255 and nmap.stderr == "", nmap
    assert_same(nmap, pynmap, args)


# ------------------------------------------------------------------ a closed pipe


@pytest.mark.parametrize("reader", ["head -3", "grep -q open"])
def test_closed_pipe_leaves_complete_files(ports_ns: Netns, tmp_path: Path, reader: str) -> None:
    """`| head -3`: the reader is gone before the scan ends (one host at a time,
    each waiting on a dropped port); the rest of stdout is lost, nothing else."""
    args = ["-n", "--max-hostgroup", "1", "--initial-rtt-timeout", "50ms",
            "--max-rtt-timeout", "100ms", "-p", "22,80,45000", "-oX", "out.xml",
            "-oN", "out.nmap", "127.0.0.1-2"]
    # the program's own exit status is kept in a file: the pipeline's is the reader's
    shell = f'{{ "$@"; echo $? >status; }} | {reader}'
    nmap, pynmap = _both(ports_ns, tmp_path, args, shell=shell,
                         outputs=("status", "out.xml", "out.nmap"))
    assert nmap.files["status"] == "0\n" and nmap.stderr == "", nmap
    assert (nmap.files["out.xml"] or "").count("</host>") == 2
    assert (nmap.files["out.xml"] or "").endswith("</nmaprun>\n")
    assert NORMAL_DONE in (nmap.files["out.nmap"] or "")
    assert_same(nmap, pynmap, args)


# ------------------------------------------------ files that cannot be opened


@pytest.mark.parametrize("args", [
    pytest.param([*SCAN, "-oN", "/nonexistent/x"], id="oN-no-directory"),
    pytest.param([*SCAN, "-oN", "adir"], id="oN-a-directory"),
    pytest.param([*SCAN, "-oG", "out.gnmap", "-oX", "adir"], id="oX-a-directory"),
    pytest.param(["-n", "-p", "22", "-iL", "missing.txt"], id="iL-missing"),
])
def test_unopenable_file_is_fatal(ports_ns: Netns, tmp_path: Path, args: list[str]) -> None:
    nmap, pynmap = _both(ports_ns, tmp_path, args, outputs=("out.gnmap",),
                         setup_files={"adir/keep": ""})
    assert nmap.exit == 1 and nmap.stderr.startswith("Failed to open "), nmap
    assert_same(nmap, pynmap, args)


def test_unreadable_target_list(ports_ns: Netns, tmp_path: Path) -> None:
    """A list the user may not read (root without CAP_DAC_OVERRIDE: mode 000 holds)."""
    args = ["-n", "-p", "22", "-iL", "targets.txt"]
    shell = ('chmod 000 targets.txt && '
             'exec setpriv --bounding-set -dac_override,-dac_read_search "$@"')
    nmap, pynmap = _both(ports_ns, tmp_path, args, shell=shell,
                         setup_files={"targets.txt": "127.0.0.1\n"})
    assert nmap.exit == 1, nmap
    assert nmap.stderr == ("Failed to open input file targets.txt for reading: "
                           "Permission denied (13)\n")
    assert_same(nmap, pynmap, args)


# ------------------------------------------- a write that overflows stdio's buffer

# nmap checks each fwrite() to an output file: one that does not fit in the
# 4 KiB left in the FILE's buffer makes stdio write it out, and if that fails
# nmap quits: `Failed to write N bytes of data to (logt==L) stream` (exit 1),
# its XML closed with that message.  300 open ports make a port table of 7 KiB.
MANY_OPEN = range(10000, 10300)
BIG = ["-n", "-p", f"{MANY_OPEN[0]}-{MANY_OPEN[-1]}", "127.0.0.1"]


@pytest.fixture(scope="module")
def many_open_ns(nmap_oracle: str) -> Iterator[Netns]:
    with netns_for_tests("pynmap-wfull") as ns, listening(ns, MANY_OPEN):
        yield ns


@pytest.mark.parametrize(("args", "outputs", "logt", "size"), [
    pytest.param([*BIG, "-oN", "/dev/full", "-oX", "out.xml", "-oG", "out.gnmap"],
                 ("out.xml", "out.gnmap"), 1, 7322, id="normal"),
    pytest.param([*BIG, "-oG", "/dev/full", "-oX", "out.xml", "-oN", "out.nmap"],
                 ("out.xml", "out.nmap"), 2, 19, id="grepable"),
    pytest.param([*BIG, "-oS", "/dev/full", "-oX", "out.xml", "-oN", "out.nmap"],
                 ("out.xml", "out.nmap"), 4, 7322, id="kiddie"),
    pytest.param([*BIG, "-oN", "/proc/version", "-oX", "out.xml"], ("out.xml",), 1, 7322,
                 id="normal-EIO"),
])
def test_overflowing_write_to_a_failing_file_is_fatal(
    many_open_ns: Netns, tmp_path: Path, args: list[str], outputs: tuple[str, ...],
    logt: int, size: int,
) -> None:
    nmap, pynmap = _both(many_open_ns, tmp_path, args, outputs=outputs)
    message = (f"Failed to write {size} bytes of data to (logt=={logt}) stream. "
               "fwrite returned 0.  Quitting.")
    assert (nmap.exit, nmap.stderr) == (1, f"{message}\nQUITTING!\n"), nmap
    assert f'errormsg="{message}"' in (nmap.files["out.xml"] or "")
    assert_same(nmap, pynmap, args)


@pytest.mark.parametrize("args", [
    pytest.param([*BIG, "-oN", "out.nmap"], id="normal"),
    pytest.param([*BIG, "-oG", "out.gnmap"], id="grepable"),
])
def test_file_that_fails_at_the_overflowing_write(
    many_open_ns: Netns, tmp_path: Path, args: list[str],
) -> None:
    """A file limited to 4 KiB (ulimit -f, SIGXFSZ ignored: EFBIG) takes the header;
    the first write that fails is the one that overflows the buffer: fatal."""
    nmap, pynmap = _both(many_open_ns, tmp_path, args, outputs=("out.nmap", "out.gnmap"),
                         shell='trap "" XFSZ; ulimit -f 8; exec "$@"')
    assert nmap.exit == 1 and nmap.stderr.startswith("Failed to write "), nmap
    # Each file holds exactly the 4 KiB the limit lets through; where that cuts
    # the last line moves with the length of the latency figure before it
    # ("0.00011s" or "0.000097s"), so the cut-off line is left out.
    name = args[-1]
    for run in (nmap, pynmap):
        text = run.files[name]
        assert text is not None and len(text.encode("utf-8", "surrogateescape")) == 4096, run
        run.files[name] = text[: text.rfind("\n") + 1]
    assert_same(nmap, pynmap, args)


@pytest.mark.parametrize("args", [
    pytest.param([*BIG, "-oN", "-", "-oX", "out.xml"], id="normal"),
    pytest.param([*BIG, "-oN", "-", "-oG", "-", "-oX", "out.xml"], id="normal-grepable"),
])
def test_overflowing_write_of_a_format_on_stdout(
    many_open_ns: Netns, tmp_path: Path, args: list[str],
) -> None:
    """The same for formats sent to stdout ("-"), which share its buffer: nmap
    checks those writes, not the interactive ones."""
    nmap, pynmap = _both(many_open_ns, tmp_path, args, shell='exec "$@" >/dev/full',
                         outputs=("out.xml",))
    assert nmap.exit == 1 and nmap.stderr.startswith("Failed to write "), nmap
    assert_same(nmap, pynmap, args)


def test_big_reports_to_working_outputs(many_open_ns: Netns, tmp_path: Path) -> None:
    """Written in nmap's calls (the reports can overflow the buffers), they are the
    same reports."""
    args = [*BIG, "-oN", "-", "-oG", "-", "-oX", "out.xml", "-oS", "out.skid"]
    nmap, pynmap = _both(many_open_ns, tmp_path, args, outputs=("out.xml",))
    assert nmap.exit == 0 and nmap.stdout.count("/open/tcp//") == len(MANY_OPEN), nmap
    assert_same(nmap, pynmap, args)


def test_overflowing_xml_write(many_open_ns: Netns, tmp_path: Path) -> None:
    """nmap writes XML attribute by attribute, pynmap a <port> element at a time: the
    failing write is another size and comes a few ports earlier (README)."""
    args = [*BIG, "-oX", "/dev/full", "-oN", "out.nmap"]
    nmap, pynmap = _both(many_open_ns, tmp_path, args, outputs=("out.nmap",))
    pattern = re.compile(r"Failed to write \d+ bytes of data to \(logt==8\) stream\. "
                         r"fwrite returned 0\.  Quitting\.\nQUITTING!\n")
    assert nmap.exit == 1 and pattern.fullmatch(nmap.stderr), nmap
    assert pynmap.exit == 1 and pattern.fullmatch(pynmap.stderr), pynmap
    assert mask(pynmap.stdout) == mask(nmap.stdout)


def test_list_scan_to_failing_files_is_not_fatal(ports_ns: Netns, tmp_path: Path) -> None:
    """nmap flushes each list-scan line, so no write overflows: it finishes, exit 0."""
    args = ["-sL", "-n", "192.0.2.0/22", "-oN", "/dev/full", "-oG", "/dev/full",
            "-oX", "out.xml"]
    nmap, pynmap = _both(ports_ns, tmp_path, args, outputs=("out.xml",))
    assert nmap.exit == 0 and nmap.stderr == "", nmap
    assert (nmap.files["out.xml"] or "").endswith("</nmaprun>\n")
    assert_same(nmap, pynmap, args)
