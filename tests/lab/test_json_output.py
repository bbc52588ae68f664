"""-oJ and --json-lines against the XML of the same run (pynmap/output/jsonout.py).

The namespace: listeners on 127.0.0.1 (22 and 2222 open), 127.0.0.1:8080
dropped (filtered, no-response), every connection attempt to 127.0.0.2
dropped (the host is down), the rest of 127.0.0.0/8 refused (closed).  nmap
scans it first and must see exactly that; then pynmap's -oX, -oJ and
--json-lines of one run must say the same thing: the JSON validates against
the shipped schema, reads back equal (==) to the XML, and the JSON Lines are
its hosts then its summary.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from pynmap.report import HostState, Report, State, schema_path
from tests.support.netns import Netns, listening, netns_for_tests, run_nmap, run_pynmap

pytestmark = [pytest.mark.lab, pytest.mark.nmap]

FILTERED = 8080
PORTS = f"1-60,2222,{FILTERED}"
# short timeouts: the dropped port and host cost a fraction of a second each try
SCAN = ["-sT", "-n", "-v", "--reason", "--max-retries", "1", "--max-rtt-timeout", "200ms",
        "-p", PORTS, "127.0.0.1-3"]


@pytest.fixture(scope="module")
def json_ns(nmap_oracle: str) -> Iterator[Netns]:
    with netns_for_tests("pynmap-json") as ns:
        for rule in (["-d", "127.0.0.1", "--dport", str(FILTERED)], ["-d", "127.0.0.2"]):
            subprocess.run([*ns.exec_prefix(), "iptables", "-A", "INPUT", "-p", "tcp", *rule,
                            "--syn", "-j", "DROP"], check=True, timeout=30)
        with listening(ns, [22, 2222]):
            yield ns


def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(schema_path().read_text())
    return schema


def _validate_lines(lines: list[str], report: Report) -> None:
    """Each line validates against its $defs entry; hosts, then the summary."""
    schema = _schema()
    objects = [json.loads(line) for line in lines]
    def line_schema(name: str) -> dict[str, Any]:
        return {"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": f"#/$defs/{name}"}

    for obj in objects[:-1]:
        jsonschema.validate(obj, line_schema("hostLine"))
    jsonschema.validate(objects[-1], line_schema("summaryLine"))
    assert objects == [json.loads(line) for line in report.to_jsonl()]


def _assert_truth(report: Report) -> None:
    """What the namespace declares, as a report of a -v scan sees it."""
    by_addr = {h.address: h for h in report.hosts}
    assert set(by_addr) == {"127.0.0.1", "127.0.0.2", "127.0.0.3"}
    one, two, three = by_addr["127.0.0.1"], by_addr["127.0.0.2"], by_addr["127.0.0.3"]
    assert two.state is HostState.DOWN and two.ports == ()
    assert [p.portid for p in one.ports_in(State.OPEN)] == [22, 2222]
    assert [(p.portid, p.reason) for p in one.ports_in(State.FILTERED)] == [
        (FILTERED, "no-response")]
    # 59 closed ports: more than -v's 50, so "Not shown" (extraports), by reason
    assert [(x.state, x.count, [(r.reason, r.count) for r in x.reasons])
            for x in one.extraports] == [(State.CLOSED, 59, [("conn-refused", 59)])]
    assert [(x.state, x.count) for x in three.extraports] == [(State.CLOSED, 62)]
    assert three.state is HostState.UP and three.ports == ()
    assert report.runstats.up == 2 and report.runstats.total == 3


def test_oj_and_json_lines_match_the_xml(json_ns: Netns, tmp_path: Path) -> None:
    (tmp_path / "nmap").mkdir()
    nmap = run_nmap([*SCAN, "-oX", "x.xml"], json_ns, tmp_path / "nmap")
    assert nmap.exit == 0, nmap
    _assert_truth(Report.from_xml(tmp_path / "nmap" / "x.xml"))

    (tmp_path / "pynmap").mkdir()
    out = run_pynmap([*SCAN, "-oX", "x.xml", "-oJ", "x.json", "--json-lines", "x.jsonl"],
                     json_ns, tmp_path / "pynmap")
    assert out.exit == 0 and out.stderr == "", out
    xml = Report.from_xml(tmp_path / "pynmap" / "x.xml")
    _assert_truth(xml)
    text = (tmp_path / "pynmap" / "x.json").read_text()
    jsonschema.validate(json.loads(text), _schema())
    assert Report.from_json(text) == xml
    _validate_lines((tmp_path / "pynmap" / "x.jsonl").read_text().splitlines(), xml)


def test_oj_to_stdout(json_ns: Netns, tmp_path: Path) -> None:
    """-oJ -: stdout holds the JSON document and nothing else (like -oX -, the
    interactive output is muted), with the hosts the XML reports."""
    # without -v the down 127.0.0.2 is in no report, JSON included
    args = ["-sT", "-n", "--reason", "--max-retries", "1", "--max-rtt-timeout", "200ms", "-p",
            "20-25,2222", "127.0.0.1-3"]
    out = run_pynmap([*args, "-oJ", "-", "-oX", "x.xml"], json_ns, tmp_path)
    assert out.exit == 0 and out.stderr == "", out
    data = json.loads(out.stdout)
    jsonschema.validate(data, _schema())
    report = Report.from_dict(data)
    assert report == Report.from_xml(tmp_path / "x.xml")
    assert [(h.address, [p.portid for p in h.ports_in(State.OPEN)]) for h in report.hosts] == [
        ("127.0.0.1", [22, 2222]), ("127.0.0.3", [])]


def test_list_scan_json_lines_to_stdout(json_ns: Netns, tmp_path: Path) -> None:
    """A list scan (with a target word that is skipped) through --json-lines - ."""
    out = run_pynmap(["-sL", "-n", "127.0.0.1/30", "127.0.0.9/x", "-oX", "x.xml", "-oJ",
                      "x.json", "--json-lines", "-"], json_ns, tmp_path)
    xml = Report.from_xml(tmp_path / "x.xml")
    assert [h.address for h in xml.hosts] == [f"127.0.0.{i}" for i in range(4)]
    assert out.exit == 0, out
    _validate_lines(out.stdout.splitlines(), xml)
    assert Report.from_json((tmp_path / "x.json").read_text()) == xml


def test_unwritable_json_path_is_nmaps_open_failure(json_ns: Netns, tmp_path: Path) -> None:
    """-oJ / --json-lines to a path that cannot be opened: nmap's message for -oX,
    naming the format, and nmap's exit code."""
    nmap = run_nmap(["-sL", "-n", "127.0.0.1", "-oX", "/nonexistent/dir/x"], json_ns, tmp_path)
    assert nmap.exit == 1
    assert nmap.stderr == ("Failed to open XML output file /nonexistent/dir/x for writing: "
                           "No such file or directory (2)\n")
    for option, name in (("-oJ", "JSON"), ("--json-lines", "JSON Lines")):
        out = run_pynmap(["-sL", "-n", "127.0.0.1", option, "/nonexistent/dir/x"], json_ns,
                         tmp_path)
        assert (out.exit, out.stdout) == (nmap.exit, nmap.stdout)
        assert out.stderr == nmap.stderr.replace("XML", name)
