"""A bug never shows a Python traceback: one line on stderr and nmap's fatal exit status.

The exception is injected in a child Python that patches pynmap and then
runs the real entry point (pynmap.cli.app.main) with a list scan (-sL -n:
nothing is sent).  nmap's fatal() exits 1; pynmap does the same for
anything it did not expect, says `pynmap: internal error: <type>: <message>`
and shows the traceback only with -d.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

# The child's program: argv[1] names what to break, the rest is pynmap's command line.
CHILD = """
import sys
import pynmap.cli.app as app
import pynmap.command_line as command_line
import pynmap.session as session
import pynmap.output.writers as writers

def boom(*args, **kwargs):
    raise RuntimeError("injected fault")

where, argv = sys.argv[1], sys.argv[2:]
if where == "scan":  # in the middle of the run, after the headers were written
    session.Session._scan_all = boom
elif where == "options":  # before any output file is open
    command_line.parse_options = boom
elif where == "cli":  # outside the run, in the command-line layer
    app.run_cli = boom
elif where == "report":  # in the Reporter itself, while it writes a host
    writers.Reporter.host = boom
sys.exit(app.main(["pynmap", *argv]))
"""

MESSAGE = "pynmap: internal error: RuntimeError: injected fault\n"


def _run(where: str, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", CHILD, where, *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("where", ["scan", "options", "cli", "report"])
def test_unexpected_exception_is_one_line_and_exit_1(tmp_path: Path, where: str) -> None:
    done = _run(where, ["-sL", "-n", "192.0.2.1"], tmp_path)
    assert done.stderr == MESSAGE
    assert done.returncode == 1


@pytest.mark.parametrize("where", ["scan", "report"])
def test_xml_is_closed_with_the_error(tmp_path: Path, where: str) -> None:
    done = _run(where, ["-sL", "-n", "-oX", "out.xml", "-oN", "out.nmap", "192.0.2.1"],
                tmp_path)
    assert (done.returncode, done.stderr) == (1, MESSAGE)
    tree = etree.parse(str(tmp_path / "out.xml"))  # well-formed, or this raises
    finished = tree.find("runstats/finished")
    assert finished is not None and finished.get("exit") == "error"
    assert finished.get("errormsg") == "internal error: RuntimeError: injected fault"
    assert (tmp_path / "out.nmap").read_text().startswith("# Nmap 7.93 scan initiated")


def test_traceback_only_with_debugging(tmp_path: Path) -> None:
    done = _run("scan", ["-d", "-sL", "-n", "192.0.2.1"], tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("Traceback (most recent call last):\n")
    assert "in boom" in done.stderr
    assert done.stderr.endswith(MESSAGE)
