"""The program's name as invoked: nmap prints its argv[0] in getopt's messages,
in `# Nmap ... as:` and in the XML `args`; pynmap prints the same word.

Both programs are started the same three ways from one directory holding
bin/pynmap (a link to /usr/bin/nmap for nmap's run, to pynmap's console script
for pynmap's): by a relative path, by an absolute path, and by the bare name
through PATH.  nmap's own output is first checked to name itself that way.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from libnmap.parser import NmapParser

from tests.support.compare import Run, assert_same
from tests.support.netns import NMAP, SYSTEM_PATH, Netns, pynmap_command, run_command

pytestmark = pytest.mark.nmap

LIST_SCAN = ("-sL", "-n", "-oN", "out.nmap", "-oX", "out.xml", "127.0.0.1")
OUTPUTS = ("out.nmap", "out.xml")


def _run(target: str, how: str, args: tuple[str, ...], ns: Netns, workdir: Path) -> Run:
    """Start bin/pynmap, linked to `target`, the way `how` says; collect its outputs."""
    link = workdir / "bin" / "pynmap"
    link.parent.mkdir(exist_ok=True)
    link.unlink(missing_ok=True)
    link.symlink_to(target)
    for name in OUTPUTS:
        (workdir / name).unlink(missing_ok=True)
    program = {"relative": "./bin/pynmap", "absolute": str(link), "path": "pynmap"}[how]
    done = run_command([program, *args], ns, workdir,
                       env={"PATH": f"{link.parent}:{SYSTEM_PATH}"} if how == "path" else None)
    files = {name: (workdir / name).read_text() if (workdir / name).exists() else None
             for name in OUTPUTS}
    return Run(done.exit, done.stdout, done.stderr, files)


@pytest.mark.parametrize("how", ["relative", "absolute", "path"])
def test_program_name_as_invoked(how: str, oracle_ns: Netns, tmp_path: Path) -> None:
    script = pynmap_command()[-1]
    if not Path(script).is_file():
        pytest.skip(f"pynmap is not started from a console script here: {pynmap_command()}")
    workdir = tmp_path / "w"
    workdir.mkdir()
    invoked = {"relative": "./bin/pynmap", "absolute": str(workdir / "bin" / "pynmap"),
               "path": "pynmap"}[how]

    nmap = _run(NMAP, how, ("--bogus",), oracle_ns, workdir)
    assert nmap.stderr.startswith(f"{invoked}: unrecognized option '--bogus'\n"), nmap.stderr
    assert_same(nmap, _run(script, how, ("--bogus",), oracle_ns, workdir), ("--bogus",))

    nmap = _run(NMAP, how, LIST_SCAN, oracle_ns, workdir)
    assert f' as: {invoked} -sL -n ' in (nmap.files["out.nmap"] or ""), nmap.files
    ours = _run(script, how, LIST_SCAN, oracle_ns, workdir)
    assert_same(nmap, ours, LIST_SCAN)
    # python-libnmap's report diff sees the same command line
    theirs_report = NmapParser.parse_fromstring(nmap.files["out.xml"])
    ours_report = NmapParser.parse_fromstring(ours.files["out.xml"])
    assert "commandline" not in theirs_report.diff(ours_report).changed()
