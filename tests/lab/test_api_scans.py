"""The Python API (pynmap.api) scanning a namespace, against the CLI's XML of the same scan.

The namespace is tests/lab/test_json_output.py's: listeners on 127.0.0.1 (22
and 2222 open), 127.0.0.1:8080 dropped (filtered), every connection attempt
to 127.0.0.2 dropped (down), the rest of 127.0.0.0/8 refused (closed).  nmap
and pynmap's command line scan it first and must see exactly that; then a
Python program inside the namespace runs the same scan through `scan`,
`scan_iter`, two `scan_async` at once on one event loop and
`scan_async_iter`, and each must give the hosts, addresses, host and port
states and reasons and extraports of the CLI's XML (read with
Report.from_xml).  The same program checks that closing a `scan_iter`
generator stops a long scan and leaves no thread behind, and that the
same happens to an async iterator cancelled in the middle of a scan phase
(without it the scan runs for minutes and the program's timeout fails the
test), that no scan forks from its worker thread, and that the
OptionError of bad keywords carries nmap's own message and exit status.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from pynmap.api import build_argv
from pynmap.report import Report
from tests.lab.test_json_output import PORTS, SCAN, _assert_truth, json_ns  # noqa: F401
from tests.support.netns import Netns, run_command, run_nmap, run_pynmap
from tests.unit.test_api import DOCTEST_PROGRAM, readme_doctests, readme_example

pytestmark = [pytest.mark.lab, pytest.mark.nmap]

# SCAN (-sT -n -v --reason --max-retries 1 --max-rtt-timeout 200ms -p PORTS
# 127.0.0.1-3) as keywords
KEYWORDS: dict[str, Any] = {"resolve": "never", "verbose": 1, "reason": True, "max_retries": 1,
                            "max_rtt_timeout": "200ms"}
TARGETS = "127.0.0.1-3"

# Bad keywords, and the command-line words nmap gets for them
BAD: list[tuple[dict[str, Any], list[str]]] = [
    ({"max_retries": -1}, ["--max-retries", "-1"]),
    ({"timing": 9}, ["-T", "9"]),
    ({"top_ports": 0}, ["--top-ports", "0"]),
    ({"host_timeout": "soon"}, ["--host-timeout", "soon"]),
    ({"exclude_ports": "99999"}, ["--exclude-ports", "99999"]),
]

PROGRAM = """
import asyncio, json, sys, threading
import pynmap

args = json.loads(sys.argv[1])
targets, ports, kw = args["targets"], args["ports"], args["keywords"]
out = {}
progress = []
out["scan"] = pynmap.scan(targets, ports, on_host=progress.append, **kw).to_dict()
out["on_host"] = [h.to_dict() for h in progress]
gen = pynmap.scan_iter(targets, ports, **kw)
hosts = []
while True:
    try:
        hosts.append(next(gen).to_dict())
    except StopIteration as stop:
        out["iter_report"] = stop.value.to_dict()
        break
out["iter"] = hosts

async def both():
    one, two = await asyncio.gather(pynmap.scan_async(targets, ports, **kw),
                                    pynmap.scan_async(targets, ports, **kw))
    streamed = [h.to_dict() async for h in pynmap.scan_async_iter(targets, ports, **kw)]
    return one.to_dict(), two.to_dict(), streamed

out["async_one"], out["async_two"], out["async_iter"] = asyncio.run(both())

# a long scan (every port of a host whose connection attempts are dropped)
# after a quick one: closing the generator at the first host must end it
long = pynmap.scan_iter(["127.0.0.1", "127.0.0.2"], "1-65535", skip_discovery=True,
                        resolve="never", max_hostgroup=1)
out["closed_first"] = next(long).to_dict()["addresses"][0]["addr"]
long.close()
out["threads_after_close"] = threading.active_count()

# cancelled in the middle of that long phase: an async iterator's pending
# __anext__ is cancelled a second into it; the task ends once the scan has
# stopped.  A scan in a worker thread never forks (engine/split.py would
# split these 65535 ports between two processes in the main thread).
import os
real_fork, forks = os.fork, []
def counting_fork():
    forks.append(1)
    return real_fork()
os.fork = counting_fork

async def stop_midway():
    hosts = pynmap.scan_async_iter("127.0.0.2", "1-65535", skip_discovery=True, resolve="never")
    task = asyncio.ensure_future(hosts.__anext__())
    await asyncio.sleep(1)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        return "cancelled"
    return "finished"

out["midway"] = asyncio.run(stop_midway())
out["forks"] = len(forks)

errors = []
for bad in args["bad"]:
    try:
        pynmap.scan("127.0.0.1", **bad)
    except pynmap.OptionError as err:
        errors.append([err.exit_code, err.text])
out["errors"] = errors
print(json.dumps(out))
"""


def _essentials(report: Report) -> list[Any]:
    """What the API must agree with the XML on (times and run dates differ by run)."""
    return [(h.address, h.state, h.reason,
             [(p.protocol, p.portid, p.state, p.reason) for p in h.ports],
             [(x.state, x.count, [(r.reason, r.count, r.ports) for r in x.reasons])
              for x in h.extraports])
            for h in report.hosts]


def test_api_scans_equal_the_clis_xml(json_ns: Netns, tmp_path: Path) -> None:  # noqa: F811
    (tmp_path / "nmap").mkdir()
    nmap = run_nmap([*SCAN, "-oX", "x.xml"], json_ns, tmp_path / "nmap")
    assert nmap.exit == 0, nmap
    _assert_truth(Report.from_xml(tmp_path / "nmap" / "x.xml"))
    cli = run_pynmap([*SCAN, "-oX", "x.xml"], json_ns, tmp_path)
    assert cli.exit == 0, cli
    xml = Report.from_xml(tmp_path / "x.xml")
    _assert_truth(xml)
    expected = _essentials(xml)

    bad_from_nmap = []
    for _keywords, words in BAD:
        refused = run_nmap([*words, "127.0.0.1"], json_ns, tmp_path / "nmap")
        assert refused.exit != 0 and refused.stderr, refused
        bad_from_nmap.append([refused.exit, refused.stderr])

    args = {"targets": TARGETS, "ports": PORTS, "keywords": KEYWORDS,
            "bad": [keywords for keywords, _words in BAD]}
    run = run_command([sys.executable, "-c", PROGRAM, json.dumps(args)], json_ns, tmp_path,
                      timeout=180)
    assert run.exit == 0 and run.stderr == "", run
    out = json.loads(run.stdout)

    for name in ("scan", "iter_report", "async_one", "async_two"):
        report = Report.from_dict(out[name])
        assert _essentials(report) == expected, name
        # logged as the command line of the same keywords would be
        assert report.args == " ".join(build_argv(TARGETS, PORTS, **KEYWORDS))
    for name in ("on_host", "iter", "async_iter"):
        streamed = Report.from_dict({**out["scan"], "hosts": out[name]})
        assert _essentials(streamed) == expected, name

    assert out["closed_first"] == "127.0.0.1"
    assert out["threads_after_close"] == 1
    assert (out["midway"], out["forks"]) == ("cancelled", 0)
    assert out["errors"] == bad_from_nmap


def test_readme_example_runs(json_ns: Netns, tmp_path: Path) -> None:  # noqa: F811
    """The README's API example, in the namespace: port 22 open (syn-ack), 80 closed."""
    run = run_command([sys.executable, "-c", readme_example()], json_ns, tmp_path)
    assert (run.exit, run.stderr) == (0, "")
    assert run.stdout == "127.0.0.1 22 syn-ack\n"


def test_readme_doctests_run(json_ns: Netns, tmp_path: Path) -> None:  # noqa: F811
    """The `>>>` examples of the README's API section, run in the namespace."""
    run = run_command([sys.executable, "-c", DOCTEST_PROGRAM, readme_doctests()], json_ns,
                      tmp_path, timeout=120)
    assert run.exit == 0 and run.stderr == "", run
    assert run.stdout.endswith("TestResults(failed=0, attempted=8)\n"), run.stdout
