"""The API keeps nmap's warnings: `report.warnings`.

The namespace is tests/lab/test_json_output.py's (22 open on 127.0.0.1,
127.0.0.1:8080 dropped, so filtered).  nmap runs each command line first;
the lines it prints as warnings are the oracle:

* a list scan with -v -Pn and a target word that does not parse: nmap's
  stderr holds the -Pn warning of its option checks and "Unable to split
  netmask ..." (also written to -oN);
* a port scan of the dropped port with --max-retries 0: nmap's stdout holds
  "Warning: 127.0.0.1 giving up on port because retransmission cap hit (0)."

The same scans through pynmap.scan must give exactly those lines, in
nmap's order, as report.warnings, and print nothing themselves.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from pynmap.api import build_argv
from tests.lab.test_json_output import FILTERED, json_ns  # noqa: F401
from tests.support.netns import Netns, run_command, run_nmap

pytestmark = [pytest.mark.lab, pytest.mark.nmap]

SCANS: list[tuple[list[str], str | None, dict[str, object]]] = [
    (["127.0.0.0/31", "127.0.0.9/x"], None,
     {"list_scan": True, "resolve": "never", "verbose": 1, "skip_discovery": True}),
    (["127.0.0.1"], f"22,{FILTERED}",
     {"resolve": "never", "skip_discovery": True, "max_retries": 0}),
]
CAP = "Warning: 127.0.0.1 giving up on port because retransmission cap hit (0)."

PROGRAM = """
import json, sys
import pynmap

out = []
for targets, ports, keywords in json.loads(sys.argv[1]):
    out.append(list(pynmap.scan(targets, ports, **keywords).warnings))
print(json.dumps(out))
"""


def test_report_warnings_are_nmaps(json_ns: Netns, tmp_path: Path) -> None:  # noqa: F811
    expected = []
    for targets, ports, keywords in SCANS:
        argv = build_argv(targets, ports, **keywords)[1:]
        nmap = run_nmap(argv, json_ns, tmp_path)
        assert nmap.exit == 0, nmap
        warned = nmap.stderr.splitlines()
        warned += [line for line in nmap.stdout.splitlines() if line.startswith("Warning: ")]
        expected.append(warned)
    assert expected == [
        ["Host discovery disabled (-Pn). All addresses will be marked 'up' and scan times may "
         "be slower.", 'Unable to split netmask from target expression: "127.0.0.9/x"'],
        [CAP]]

    run = run_command([sys.executable, "-c", PROGRAM, json.dumps(SCANS)], json_ns, tmp_path)
    assert (run.exit, run.stderr) == (0, ""), run
    assert json.loads(run.stdout) == expected
