"""pynmap.report: nmap's XML read back into the report objects, and their JSON.

The oracle is nmap's own XML (every recorded reference case), read here with
lxml directly, independently of the reader under test.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import types
import typing
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from lxml import etree

from pynmap import report as rp
from pynmap.engine import probe
from pynmap.errors import InputError, NmapError
from pynmap.report import Host, Port, Reason, Report, ReportError, State
from tests.support.reference import CASES, SERVICE

# the -sV captures too: their <service> elements carry every attribute nmap writes
ALL_XML = sorted([*CASES.glob("*/*.xml"), *SERVICE.glob("*/*.xml")])
# nmap writes no </nmaprun> when it is interrupted: the one cut-off capture
CUT_OFF = [p for p in ALL_XML if not p.read_bytes().rstrip().endswith(b"</nmaprun>")]
COMPLETE = [p for p in ALL_XML if p not in CUT_OFF]
SCHEMA = json.loads(rp.schema_path().read_text())
jsonschema.Draft202012Validator.check_schema(SCHEMA)
# one validator each for a run, a JSON Lines host line and the summary line
VALIDATE = {name: jsonschema.Draft202012Validator(
                schema if name == "run" else {"$defs": SCHEMA["$defs"], "$ref": f"#/$defs/{name}"}
            ).validate
            for name, schema in [("run", SCHEMA), ("hostLine", None), ("summaryLine", None)]}


def _id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def test_the_captures_are_what_the_tests_expect() -> None:
    assert len(COMPLETE) >= 50
    assert [_id(p) for p in CUT_OFF] == ["interrupted/scan.xml"]


# -- what lxml sees, the test's own reading ----------------------------------------


def _host_facts_from_xml(h: etree._Element) -> dict[str, Any]:
    def times() -> tuple[int, ...] | None:
        t = h.find("times")
        return None if t is None else (int(t.get("srtt")), int(t.get("rttvar")), int(t.get("to")))

    return {
        "status": (h.xpath("string(status/@state)"), h.xpath("string(status/@reason)")),
        "addresses": [(a.get("addr"), a.get("addrtype")) for a in h.xpath("address")],
        "hostnames": [(n.get("name"), n.get("type")) for n in h.xpath("hostnames/hostname")],
        "ports": [(p.get("protocol"), int(p.get("portid")), p.xpath("string(state/@state)"),
                   p.xpath("string(state/@reason)"), p.xpath("string(service/@name)") or None)
                  for p in h.xpath("ports/port")],
        "extraports": [(x.get("state"), int(x.get("count")),
                        [(r.get("reason"), int(r.get("count")), r.get("ports"))
                         for r in x.xpath("extrareasons")])
                       for x in h.xpath("ports/extraports")],
        "times": times(),
        "span": (h.get("starttime"), h.get("endtime")),
    }


def _host_facts_from_report(h: Host) -> dict[str, Any]:
    return {
        "status": (h.state, h.reason),
        "addresses": [(a.addr, a.addrtype) for a in h.addresses],
        "hostnames": [(n.name, n.type) for n in h.hostnames],
        "ports": [(p.protocol, p.portid, p.state, p.reason, p.service.name if p.service else None)
                  for p in h.ports],
        "extraports": [(x.state, x.count, [(r.reason, r.count, r.ports) for r in x.reasons])
                       for x in h.extraports],
        "times": None if h.times is None else (h.times.srtt, h.times.rttvar, h.times.to),
        "span": (None if h.starttime is None else str(h.starttime),
                 None if h.endtime is None else str(h.endtime)),
    }


@pytest.mark.parametrize("path", COMPLETE, ids=_id)
def test_from_xml_holds_what_lxml_sees(path: Path) -> None:
    root = etree.parse(str(path)).getroot()
    report = Report.from_xml(path)

    assert report.args == root.get("args")
    assert report.start == (int(root.get("start")) if root.get("start") else None)
    if report.start_time is not None:
        assert report.start_time.timestamp() == report.start
    assert report.version == root.get("version")
    assert [(s.type, s.protocol, s.numservices, s.services) for s in report.scaninfo] == [
        (s.get("type"), s.get("protocol"), int(s.get("numservices")), s.get("services"))
        for s in root.xpath("scaninfo")]
    assert report.verbose == int(root.xpath("string(verbose/@level)") or 0)
    assert [t.specification for t in report.targets] == root.xpath("target/@specification")

    hosts = root.xpath("host")
    assert len(report.hosts) == len(hosts)
    for ours, theirs in zip(report.hosts, hosts, strict=True):
        assert _host_facts_from_report(ours) == _host_facts_from_xml(theirs)
    assert sum(len(h.ports) for h in report.hosts) == len(root.xpath("//host/ports/port"))

    finished, counts = root.find("runstats/finished"), root.find("runstats/hosts")
    rs = report.runstats
    assert (rs.time, rs.elapsed, rs.exit, rs.errormsg, rs.summary) == (
        int(finished.get("time")), float(finished.get("elapsed")), finished.get("exit"),
        finished.get("errormsg"), finished.get("summary"))
    assert (rs.up, rs.down, rs.total) == tuple(int(counts.get(k)) for k in ("up", "down", "total"))
    assert report.ok == (finished.get("exit") == "success")


def test_the_reference_cases_cover_what_a_connect_scan_shows() -> None:
    # So the structural test above is not vacuous: the captures hold every
    # state, reason and element the reader has to get right.
    reports = [Report.from_xml(p) for p in COMPLETE]
    ports = [p for r in reports for h in r.hosts for p in h.ports]
    assert {p.state for p in ports} >= {State.OPEN, State.CLOSED, State.FILTERED}
    assert {p.reason for p in ports} >= {Reason.SYN_ACK, Reason.CONN_REFUSED, Reason.NO_RESPONSE,
                                         Reason.HOST_UNREACH, Reason.NET_UNREACH}
    hosts = [h for r in reports for h in r.hosts]
    assert {h.state for h in hosts} >= {rp.HostState.UP, rp.HostState.DOWN}
    assert any(x.reasons for h in hosts for x in h.extraports)
    assert any(h.times for h in hosts) and any(r.targets for r in reports)
    assert any(a.addrtype is rp.AddressType.IPV6 for h in hosts for a in h.addresses)
    assert any(not r.ok and r.runstats.errormsg for r in reports)


# -- nothing lost: every attribute in the XML is in the JSON ----------------------

# Not part of the model (pynmap.report's docstring says why).
_UNMODELLED = {"hosthint", "taskbegin", "taskprogress", "taskend", "output"}
# Values the model fills in where the XML has none.
_DEFAULTS = {("timedout", "false"), ("scanner", "nmap"), ("verbose", "0"), ("debugging", "0")}


def _xml_pairs(root: etree._Element) -> Counter[tuple[str, str]]:
    pairs: Counter[tuple[str, str]] = Counter()

    def walk(el: etree._Element) -> None:
        if not isinstance(el.tag, str) or el.tag in _UNMODELLED:
            return
        for name, value in el.attrib.items():
            if name == "level":  # <verbose level=>, <debugging level=>
                name = el.tag
            if name == "elapsed":
                value = repr(float(value))
            pairs[name, value] += 1
        if el.tag == "cpe":
            pairs["cpe", el.text or ""] += 1
        for child in el:
            walk(child)

    walk(root)
    return pairs


def _json_pairs(value: Any, key: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _json_pairs(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from _json_pairs(v, key)
    else:
        # XML writes true/false; elapsed is compared as the number it is
        text = json.dumps(value) if isinstance(value, bool) else str(value)
        yield key, repr(value) if isinstance(value, float) else text


@pytest.mark.parametrize("path", COMPLETE, ids=_id)
def test_json_carries_every_attribute_of_the_xml(path: Path) -> None:
    report = Report.from_xml(path)
    document = json.loads(report.to_json())
    VALIDATE["run"](document)

    xml = _xml_pairs(etree.parse(str(path)).getroot())
    ours = Counter(_json_pairs(document))
    assert xml - ours == Counter(), "in the XML, not in the JSON"
    assert set(ours - xml) <= _DEFAULTS, "in the JSON, not in the XML"

    assert Report.from_json(report.to_json(indent=1)) == report


@pytest.mark.parametrize("path", COMPLETE, ids=_id)
def test_jsonl_is_one_line_per_host_then_a_summary(path: Path) -> None:
    report = Report.from_xml(path)
    lines = list(report.to_jsonl())
    assert all("\n" not in line for line in lines)
    objects = [json.loads(line) for line in lines]
    assert [o["type"] for o in objects] == ["host"] * len(report.hosts) + ["summary"]
    for o in objects:
        kind = "hostLine" if o["type"] == "host" else "summaryLine"
        VALIDATE[kind](o)
    whole = report.to_dict()
    assert [{k: v for k, v in o.items() if k != "type"} for o in objects[:-1]] == whole["hosts"]
    assert {k: v for k, v in objects[-1].items() if k != "type"} == {
        k: v for k, v in whole.items() if k != "hosts"}


def test_pynmaps_own_xml_reads_back() -> None:
    # A list scan with -n sends nothing: safe outside a namespace.
    out = subprocess.run([sys.executable, "-m", "pynmap", "-sL", "-n", "198.18.0.0/30", "-oX", "-"],
                         capture_output=True, check=True).stdout
    xml = out[out.index(b"<?xml"):]
    report = Report.from_xml(xml)
    assert [h.address for h in report.hosts] == [f"198.18.0.{i}" for i in range(4)]
    assert {(h.state, h.reason) for h in report.hosts} == {(rp.HostState.UNKNOWN, Reason.USER_SET)}
    assert report.runstats.total == 4 and report.ok


# -- what cannot be read ------------------------------------------------------------


@pytest.mark.parametrize("path", CUT_OFF, ids=_id)
def test_an_interrupted_scans_xml_is_a_report_error(path: Path) -> None:
    with pytest.raises(ReportError, match="Not a complete, well-formed XML document: Premature end"):
        Report.from_xml(path)


def test_xml_cut_anywhere_is_a_report_error_and_nothing_else() -> None:
    data = (CASES / "reason" / "out.xml").read_bytes()
    for end in range(0, len(data.rstrip()), 37):
        with pytest.raises(ReportError):
            Report.from_xml(data[:end])


@pytest.mark.parametrize(("text", "message"), [
    ("<foo/>", "root element is <foo>"),
    ("<nmaprun/>", "no <runstats>"),
    ("<nmaprun><runstats><finished time='1' elapsed='x'/><hosts total='0'/></runstats></nmaprun>",
     "elapsed='x' is not a number"),
    ("<nmaprun><runstats><finished elapsed='1'/><hosts total='0'/></runstats></nmaprun>",
     "<finished> .line 1. has no time attribute"),
    ("<nmaprun><host><status state='up' reason='bogus' reason_ttl='0'/></host>"
     "<runstats><finished time='1' elapsed='1'/><hosts total='1'/></runstats></nmaprun>",
     "reason='bogus' is not a known Reason"),
    ("<nmaprun><host><status state='up' reason='syn-ack' reason_ttl='0'/><ports><port protocol='tcp'"
     " portid='80'><state state='opened' reason='syn-ack' reason_ttl='0'/></port></ports></host>"
     "<runstats><finished time='1' elapsed='1'/><hosts total='1'/></runstats></nmaprun>",
     "state='opened' is not a known State"),
    ("<!DOCTYPE nmaprun [<!ENTITY x SYSTEM 'file:///etc/passwd'>]><nmaprun args='&x;'>"
     "<runstats><finished time='1' elapsed='1'/><hosts total='0'/></runstats></nmaprun>",
     "references external entity"),  # never fetched
])
def test_bad_documents_are_report_errors(text: str, message: str) -> None:
    with pytest.raises(ReportError, match=message):
        Report.from_xml(text)


def test_a_missing_file_is_a_report_error(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match=r"Failed to open XML file .*nope\.xml: No such file"):
        Report.from_xml(tmp_path / "nope.xml")
    assert issubclass(ReportError, NmapError) and issubclass(ReportError, ValueError)
    with pytest.raises(InputError) as refused:
        Report.from_xml(tmp_path / "nope.xml")
    # the message alone on stderr, exit 1
    assert refused.value.text == refused.value.message + "\n" and refused.value.exit_code == 1


def test_from_json_refuses_what_the_model_cannot_hold() -> None:
    good = Report.from_xml(CASES / "reason" / "out.xml").to_dict()
    with pytest.raises(ReportError, match=r"report.hosts\[0\].ports\[0\].state"):
        bad = json.loads(json.dumps(good))
        bad["hosts"][0]["ports"][0]["state"] = "ajar"
        Report.from_dict(bad)
    with pytest.raises(ReportError, match="missing runstats"):
        Report.from_dict({k: v for k, v in good.items() if k != "runstats"})
    with pytest.raises(ReportError, match="portid: expected int"):
        bad = json.loads(json.dumps(good))
        bad["hosts"][0]["ports"][0]["portid"] = "22"
        Report.from_dict(bad)
    with pytest.raises(ReportError, match="reason_ttl: expected int"):
        bad = json.loads(json.dumps(good))
        bad["hosts"][0]["reason_ttl"] = True  # a bool is an int to Python, not to JSON
        Report.from_dict(bad)
    # JSON has one number type: a whole elapsed time is still a float
    whole = json.loads(json.dumps(good))
    whole["runstats"]["elapsed"] = 2
    assert Report.from_dict(whole).runstats.elapsed == 2.0
    assert isinstance(Report.from_dict(whole).runstats.elapsed, float)


# -- the model: words, schema, immutability --------------------------------------


def test_every_reason_and_state_the_engine_produces_is_nmaps_word() -> None:
    outcomes = [probe.classify(err) for err in probe._TABLE]
    produced = {o.reason for o in outcomes if o.reason} | {"user-set", "unknown-response"}
    assert produced <= {r.value for r in Reason}
    assert {o.state for o in outcomes if o.state} <= {s.value for s in State}


def _nullable(hint: Any) -> bool:
    return typing.get_origin(hint) is types.UnionType and type(None) in typing.get_args(hint)


@pytest.mark.parametrize("cls", [rp.ScanInfo, rp.Target, rp.Address, rp.Hostname, rp.Script,
                                 rp.Service, rp.Port, rp.ExtraReasons, rp.ExtraPorts, rp.Times,
                                 rp.Host, rp.RunStats, rp.Shard, rp.Report])
def test_the_schema_describes_each_class(cls: type[Any]) -> None:
    name = cls.__name__[0].lower() + cls.__name__[1:]
    schema = SCHEMA if cls is Report else SCHEMA["$defs"][name]
    hints = typing.get_type_hints(cls)
    # Report.warnings (the run's warning lines) is the one field not in the JSON
    fields = [f.name for f in dataclasses.fields(cls) if f.metadata.get("json", True)]
    assert [f.name for f in dataclasses.fields(cls) if f.name not in fields] == (
        ["warnings"] if cls is Report else [])
    assert list(schema["properties"]) == fields
    assert schema["required"] == [f for f in fields if not _nullable(hints[f])]
    assert schema["additionalProperties"] is False
    assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
    assert "__slots__" in cls.__dict__


@pytest.mark.parametrize(("enum", "defn"), [(State, "state"), (rp.HostState, "hostState"),
                                            (Reason, "reason"), (rp.Protocol, "protocol")])
def test_the_schema_has_the_words_of_each_enum(enum: type[Any], defn: str) -> None:
    assert SCHEMA["$defs"][defn]["enum"] == [e.value for e in enum]


def test_reports_are_immutable() -> None:
    host = Report.from_xml(CASES / "reason" / "out.xml").hosts[0]
    assert isinstance(host.ports, tuple)
    with pytest.raises(dataclasses.FrozenInstanceError):
        host.ports[0].state = State.CLOSED  # type: ignore[misc]
    assert host.ports_in(State.FILTERED) == tuple(p for p in host.ports if p.state == "filtered")
    assert isinstance(host.ports[0], Port) and host.ports[0].state == "open"
    assert rp.ExtraReasons(reason=Reason.CONN_REFUSED, count=5,
                           ports="1-3,7,9").port_numbers() == (1, 2, 3, 7, 9)


def test_importing_the_report_model_leaves_lxml_out() -> None:
    code = "import sys, pynmap.report; print('lxml' in sys.modules, 'json' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_the_schema_ships_inside_the_package() -> None:
    assert rp.schema_path().is_file()
    assert rp.schema_path().parent.parent == Path(rp.__file__).parent
