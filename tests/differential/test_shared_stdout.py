"""Several output formats on stdout at once, pynmap against the live nmap.

nmap writes each piece of a report to every log that takes it, so with
`-oN - -oG -` or `-oX - -oN -` the formats interleave piece by piece
(`# # Nmap ... as: ...Nmap ... as: ...`, a grepable Ports line running into
the port table, `# Nmap done at` inside the XML's last element).  Warnings
go to -oN and stderr call by call, which shows when stderr is stdout too.
The namespace is tests.support.loopback_ports.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from tests.support.compare import assert_same, run_both
from tests.support.loopback_ports import DROPPED_PORTS, REJECTED_HOST, REJECTED_PORT
from tests.support.mask import mask
from tests.support.netns import Netns, base_env, nmap_command, pynmap_command

pytestmark = [pytest.mark.nmap, pytest.mark.lab]

ALL = ["-oX", "-", "-oN", "-", "-oG", "-"]
NG = ["-oN", "-", "-oG", "-"]
XN = ["-oX", "-", "-oN", "-"]
DROPPED = f"{DROPPED_PORTS[0]}-{DROPPED_PORTS[0] + 39}"

CASES = {
    "normal_grepable": ["-n", "-sT", "-p", "21-23", *NG, "127.0.0.1-2"],
    "xml_normal": ["-n", "-sT", "-p", "21-23", *XN, "127.0.0.1-2"],
    "xml_grepable": ["-n", "-sT", "-p", "21-23", "-oX", "-", "-oG", "-", "127.0.0.1"],
    # down host, reasons, # Ports scanned, the -v task lines in the XML
    "all_verbose": ["-n", "-sT", "-v", "--reason", "-p", f"21-23,{REJECTED_PORT}", *ALL,
                    "127.0.0.1", REJECTED_HOST],
    # two collapsed states, the filtered one with two reasons
    "not_shown": ["-n", "-sT", "-p", f"1-60,{REJECTED_PORT},{DROPPED}", *ALL, "127.0.0.1"],
    # every port collapsed: grepable writes its fields inside the collapsed-state loop
    "all_ignored": ["-n", "-sT", "-p", "23-60", *ALL, "127.0.0.2"],
    "list_scan": ["-n", "-sL", *ALL, "127.0.0.1-3"],
    "ping_scan": ["-n", "-sn", "-v", *ALL, "127.0.0.1", REJECTED_HOST],
    "timeout": ["-n", "-sT", "-p", DROPPED, "--max-rate", "10", "--host-timeout", "1s", *ALL,
                "127.0.0.1"],
}


@pytest.mark.parametrize("case", list(CASES))
def test_formats_sharing_stdout_match_nmap(case: str, ports_ns: Netns, tmp_path: Path) -> None:
    args = CASES[case]
    nmap, pynmap = run_both(args, ports_ns, tmp_path)
    assert nmap.exit == 0, nmap.stderr
    if "-oG" in args and "-oN" in args:  # the setup works: nmap did interleave
        assert "# # Nmap 7.93 scan initiated" in nmap.stdout, nmap.stdout
    assert_same(nmap, pynmap, args)


def _merged(command: Sequence[str], args: Sequence[str], ns: Netns, workdir: Path) -> str:
    """stdout and stderr on one pipe, as `2>&1` gives them."""
    workdir.mkdir()
    done = subprocess.run([*ns.exec_prefix(), *command, *args], cwd=workdir,
                          env=base_env(workdir), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=60, check=False)
    return done.stdout.decode("utf-8", "surrogateescape")


@pytest.mark.parametrize("args", [
    ["-n", "-sT", "-p", "21", *ALL, "nosuch..name", "127.0.0.1"],  # error(): warnings
    ["-n", "-sT", "-p", "0-70000", *NG, "127.0.0.1"],  # fatal(): message, QUITTING!
], ids=["warning", "fatal"])
def test_errors_on_a_shared_stdout_and_stderr(args: list[str], ports_ns: Netns,
                                              tmp_path: Path) -> None:
    nmap = mask(_merged(nmap_command(), args, ports_ns, tmp_path / "nmap"))
    pynmap = mask(_merged(pynmap_command(), args, ports_ns, tmp_path / "pynmap"))
    # nmap writes the message to -oN, then to stderr, then each one's newline
    assert "QUITTING!\n\nQUITTING!" in nmap or '".Failed to resolve "' in nmap, nmap
    assert pynmap == nmap


# -oS substitutes letters at random and leaves digits alone: compare what no
# substitution touches (as the golden tests do), with times' digits dropped too
_SKID_AMBIGUOUS = str.maketrans("", "", "0123456789aeiosz!|$")


def _skeleton(text: str) -> list[str]:
    return [line.lower().translate(_SKID_AMBIGUOUS) for line in text.splitlines()]


def test_normal_and_kiddie_on_stdout(ports_ns: Netns, tmp_path: Path) -> None:
    args = ["-n", "-sT", "-p", f"1-30,{REJECTED_PORT}", "-oN", "-", "-oS", "-", "127.0.0.1",
            REJECTED_HOST]
    nmap, pynmap = run_both(args, ports_ns, tmp_path)
    # each of nmap's calls goes to -oN, then -oS: "Host is up" comes twice before its latency
    assert any(line.startswith("ht  upht  up") for line in _skeleton(nmap.stdout)), nmap.stdout
    assert _skeleton(pynmap.stdout) == _skeleton(nmap.stdout)


# Outputs that lead to one file through different descriptors: each of nmap's
# stdio buffers reaches the file when nmap flushes it, at its own offset (one
# file: the logs overwrite each other) or in turn (one pipe).  A list scan
# keeps every length fixed, so the overwritten bytes are the same in both.
def test_formats_written_to_one_file(ports_ns: Netns, tmp_path: Path) -> None:
    args = ["-n", "-sL", "--no-stylesheet", "-oX", "f", "-oN", "f", "-oG", "f", "127.0.0.1-3"]
    nmap, pynmap = run_both(args, ports_ns, tmp_path, outputs=["f"])
    theirs, ours = nmap.files["f"] or "", pynmap.files["f"] or ""
    # the harness: the normal header, written last, overwrote the XML prologue
    assert theirs.startswith("# Nmap 7.93 scan initiated"), theirs
    # dates and times may be cut anywhere by the overwriting, past what the mask
    # can recognise: every digit is compared as a digit (the lengths are fixed)
    digits = str.maketrans("0123456789", "0000000000")
    assert ours.translate(digits) == theirs.translate(digits), f"nmap:\n{theirs}\npynmap:\n{ours}"
    assert_same(replace(nmap, files={}), replace(pynmap, files={}), args)


@pytest.mark.parametrize("args", [
    ["-n", "-sT", "-p", "21-23", "-oN", "/dev/stderr", "-oG", "/dev/stdout", "127.0.0.1-2"],
    ["-n", "-sT", "-vv", "-p", "21-23", "--no-stylesheet", "-oX", "/dev/stdout", "-oN",
     "/dev/stderr", "127.0.0.1", REJECTED_HOST],
    ["-n", "-sL", "-oN", "/dev/stderr", "-oG", "/dev/stdout", "127.0.0.1-2", "nosuch..name"],
    ["-n", "-sn", "-d", "-oN", "/dev/stdout", "127.0.0.1-2"],
], ids=["port_scan", "verbose_xml", "list_scan", "ping_scan_debug"])
def test_output_files_on_the_stdout_pipe(args: list[str], ports_ns: Netns,
                                         tmp_path: Path) -> None:
    nmap = mask(_merged(nmap_command(), args, ports_ns, tmp_path / "nmap"))
    pynmap = mask(_merged(pynmap_command(), args, ports_ns, tmp_path / "pynmap"))
    assert nmap.count(" scan initiated ") == args.count("-oN") + args.count("-oG") + (
        "-oX" in args), nmap  # the harness: every file reached the pipe
    assert pynmap == nmap
