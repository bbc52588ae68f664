"""The API's progress= callback on lab scans (pynmap.apiprogress.Progress).

The namespace is tests/lab/test_json_output.py's (22 and 2222 open on
127.0.0.1).  A scan of 127.0.0.1 with --scan-delay 60ms over 31 ports takes
about 2 s, so its Connect Scan is seen part-way.  A Python program inside the
namespace runs it as the command line runs it (the Session, in-process)
with --stats-every 500ms, its stdout kept, and a progress callback (the one
the API passes down):

* every `Connect Scan Timing: About P% done; ETC: HH:MM (H:MM:SS remaining)`
  line printed must be one of the Progress reports, with the same
  percentage, ETC and time left;
* each phase ("Ping Scan", then "Connect Scan") reports from 0% to 100%,
  never going down, with several reports in between for the Connect Scan,
  and the host counts of the Stats line (1 host in each phase; at the end
  of the Connect Scan 1 up).

Then pynmap.scan, scan_iter and scan_async (a quick scan of the same ports)
must call the callback in the same way, from 0% to 100% in each phase.
nmap itself first scans the namespace with --stats-every and must print such
lines, so the format compared is nmap's.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from tests.lab.test_json_output import json_ns  # noqa: F401
from tests.support.netns import Netns, run_command, run_nmap

pytestmark = [pytest.mark.lab, pytest.mark.nmap]

SLOW = ["-sT", "-n", "--scan-delay", "60ms", "-p", "20-50", "127.0.0.1"]
TIMING = re.compile(r"^Connect Scan Timing: About (\d+\.\d\d)% done"
                    r"(?:; ETC: (\d\d:\d\d) \((\d+:\d\d:\d\d) remaining\))?$", re.M)

PROGRAM = r"""
import asyncio, dataclasses, io, json, sys
import pynmap
from pynmap.api import build_argv, parse
from pynmap.output import fmt
from pynmap.session import Session

SLOW = json.loads(sys.argv[1])
out = {}

def row(p):
    return dataclasses.asdict(p)

# 1. the command line's Session, with its status lines and the callback
seen = []
argv = ["pynmap", *SLOW, "--stats-every", "500ms"]
stdout = io.StringIO()
Session(parse(argv), stdout=stdout, stderr=io.StringIO(), progress=seen.append).run()
out["cli_stdout"] = stdout.getvalue()
def printed(p):
    # the line Reporter.task_progress prints for these numbers
    text = f"{p.task} Timing: About {p.percent:.2f}% done"
    if p.remaining is not None and p.percent >= 1:
        left = int(p.remaining + 0.5)
        text += (f"; ETC: {fmt.hhmm(p.etc)} "
                 f"({left // 3600}:{left // 60 % 60:02d}:{left % 60:02d} remaining)")
    return text
out["cli_progress_lines"] = [printed(p) for p in seen]
out["cli"] = [row(p) for p in seen]

# 2. scan, scan_iter and scan_async, quick
quick = []
pynmap.scan("127.0.0.1", "20-50", resolve="never", progress=quick.append)
out["scan"] = [row(p) for p in quick]
quick = []
gen = pynmap.scan_iter("127.0.0.1", "20-50", resolve="never", progress=quick.append)
out["iter_hosts"] = len(list(gen))
out["iter"] = [row(p) for p in quick]
quick = []
asyncio.run(pynmap.scan_async("127.0.0.1", "20-50", resolve="never", progress=quick.append))
out["async"] = [row(p) for p in quick]
print(json.dumps(out))
"""


def _phases(reports: list[dict[str, object]]) -> dict[str, list[float]]:
    phases: dict[str, list[float]] = {}
    for r in reports:
        phases.setdefault(str(r["task"]), []).append(float(r["percent"]))  # type: ignore[arg-type]
    return phases


def _assert_each_phase_rises_to_100(reports: list[dict[str, object]]) -> dict[str, list[float]]:
    phases = _phases(reports)
    assert list(phases) == ["Ping Scan", "Connect Scan"]
    for percents in phases.values():
        assert percents[0] == 0.0 and percents[-1] == 100.0
        assert percents == sorted(percents), percents
    return phases


def test_progress_reports(json_ns: Netns, tmp_path: Path) -> None:  # noqa: F811
    nmap = run_nmap([*SLOW, "--stats-every", "500ms"], json_ns, tmp_path)
    assert nmap.exit == 0, nmap
    assert "22/tcp open" in nmap.stdout
    assert len(TIMING.findall(nmap.stdout)) >= 2, nmap.stdout

    run = run_command([sys.executable, "-c", PROGRAM, json.dumps(SLOW)], json_ns, tmp_path,
                      timeout=120)
    assert run.exit == 0 and run.stderr == "", run
    out = json.loads(run.stdout)

    lines = [m.group(0) for m in TIMING.finditer(out["cli_stdout"])]
    assert len(lines) >= 2, out["cli_stdout"]
    assert set(lines) <= set(out["cli_progress_lines"]), (lines, out["cli_progress_lines"])

    phases = _assert_each_phase_rises_to_100(out["cli"])
    assert len([p for p in phases["Connect Scan"] if 0 < p < 100]) >= 2, phases
    last = out["cli"][-1]
    assert (last["hosts_in_task"], last["hosts_up"], last["remaining"]) == (1, 1, 0.0)
    assert all(r["hosts_in_task"] == 1 for r in out["cli"])
    assert all(r["etc"] is None for r in out["cli"] if r["percent"] < 1)

    assert out["iter_hosts"] == 1
    for name in ("scan", "iter", "async"):
        _assert_each_phase_rises_to_100(out[name])
