"""pynmap.merge: the reports of a scan's pieces merged back into the report of the scan.

The oracle is nmap's own XML: every recorded capture is cut by host into 2
and 3 pieces (each piece a shard's XML: its hosts, its counts, `--shard I/N`
in its command line), and the merge of the pieces must be the capture
itself: the same hosts (in address order), extraports recomputed to nmap's,
the same run stats and summary text, the same command line.  Rules that a
cut capture cannot show (copies of one host, re-runs, refusals) are checked
on small reports built here, each with the outcome the rule documents.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import subprocess
from collections.abc import Sequence
from pathlib import Path

import jsonschema
import pytest
from lxml import etree

from pynmap import report as rp
from pynmap.merge import MergeError, address_order, merge_reports
from pynmap.output.fmt import port_ranges
from pynmap.report import (
    Exit,
    ExtraPorts,
    ExtraReasons,
    Host,
    HostState,
    Port,
    Protocol,
    Reason,
    Report,
    RunStats,
    ScanInfo,
    State,
)
from tests.support.reference import CASES, SERVICE

DTD = "/usr/share/nmap/nmap.dtd"
# every finished run (nmap leaves an interrupted one without </nmaprun>)
CAPTURES = sorted(p for p in [*CASES.glob("*/*.xml"), *SERVICE.glob("*/*.xml")]
                  if p.read_bytes().rstrip().endswith(b"</nmaprun>"))
# nmap scans a target named twice twice (127.0.0.1 and localhost); a merge lists an address once
TWICE = {"list_scan", "list_scan_names"}


def _id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def cut(xml: bytes, pieces: int) -> list[bytes]:
    """A capture as the XML of `pieces` shards: host j in shard j % pieces,
    `--shard I/N` in each command line, each shard's own host counts (the
    hosts the capture counted but did not list go to the first shard)."""
    root = etree.fromstring(xml)
    hosts = root.findall("host")
    counts = root.find("runstats/hosts")
    listed_up = sum(h.find("status").get("state") == "up" for h in hosts)
    unlisted_up = int(counts.get("up")) - listed_up
    unlisted_down = int(counts.get("total")) - int(counts.get("up")) - (len(hosts) - listed_up)
    out = []
    for i in range(pieces):
        piece = copy.deepcopy(root)
        for j, host in enumerate(piece.findall("host")):
            if j % pieces != i:
                piece.remove(host)
        mine = piece.findall("host")
        up = sum(h.find("status").get("state") == "up" for h in mine)
        down = len(mine) - up
        if i == 0:
            up, down = up + unlisted_up, down + unlisted_down
        piece.find("runstats/hosts").attrib.update(
            {"up": str(up), "down": str(down), "total": str(up + down)})
        words = piece.get("args").split()
        piece.set("args", " ".join([words[0], "--shard", f"{i + 1}/{pieces}", *words[1:]]))
        out.append(etree.tostring(piece, xml_declaration=True, encoding="UTF-8"))
    return out


def in_address_order(report: Report) -> Report:
    return dataclasses.replace(report, hosts=tuple(sorted(report.hosts,
                                                          key=lambda h: address_order(h.address))))


def dtd_errors(xml: str, tmp_path: Path) -> str:
    path = tmp_path / "merged.xml"
    path.write_text(xml)
    run = subprocess.run(["xmllint", "--noout", "--dtdvalid", DTD, str(path)],
                         capture_output=True, text=True)
    return "" if run.returncode == 0 else run.stderr


# -- nmap's captures, cut and merged back ---------------------------------------------


def test_the_captures_cover_what_the_merge_must_rebuild() -> None:
    reports = [Report.from_xml(p) for p in CAPTURES]
    assert len(reports) > 50
    hosts = [h for r in reports for h in r.hosts]
    assert any(x.reasons and x.count > 1 for h in hosts for x in h.extraports)
    assert any(len(h.extraports) > 1 for h in hosts)  # two ignored states
    assert any(h.state is HostState.DOWN for h in hosts)
    assert any(r.runstats.total > len(r.hosts) for r in reports)  # hosts counted, not listed
    assert any(r.runstats.up > sum(h.state is HostState.UP for h in r.hosts)
               for r in reports)  # --open
    assert any(p.service is not None and p.service.method == "probed"
               for h in hosts for p in h.ports)  # -sV


@pytest.mark.parametrize("path", [p for p in CAPTURES if p.parent.name not in TWICE], ids=_id)
def test_a_capture_cut_into_shards_merges_back_into_itself(path: Path) -> None:
    capture = Report.from_xml(path)
    if capture.args is None:  # nmap's bare document of an early fatal error: no scan
        with pytest.raises(MergeError, match="holds no scan"):
            merge_reports([capture])
        return
    for pieces in (2, 3):
        shards = [Report.from_xml(x) for x in cut(path.read_bytes(), pieces)]
        merged = merge_reports(shards)
        assert dataclasses.replace(merged, shards=None) == in_address_order(capture)
        assert [s.args for s in merged.shards or ()] == [s.args for s in shards]
        assert merged.to_normal() == in_address_order(capture).to_normal()
        assert merged.to_grepable() == in_address_order(capture).to_grepable()
    # every shard run again (to other output files): each host up has two port
    # tables, whose union is split again by the merge's own collapsing rule
    again = [dataclasses.replace(s, args=f"{s.args} -oN again.nmap") for s in shards]
    twice = merge_reports([*shards, *again])
    assert dataclasses.replace(twice, shards=None) == in_address_order(capture)


@pytest.mark.parametrize("case", sorted(TWICE))
def test_an_address_scanned_twice_is_listed_once(case: str) -> None:
    capture = Report.from_xml(CASES / case / "out.xml")
    addresses = [h.address for h in capture.hosts]
    merged = merge_reports([Report.from_xml(x) for x in cut((CASES / case / "out.xml")
                                                             .read_bytes(), 2)])
    assert sorted(h.address for h in merged.hosts) == sorted(set(addresses),
                                                            key=address_order)
    twice = len(addresses) - len(set(addresses))
    assert twice > 0
    assert merged.runstats.total == capture.runstats.total - twice
    # the copies' names are kept: "localhost" and the name typed
    names = {n.name for h in merged.hosts if h.address == "127.0.0.1" for n in h.hostnames}
    assert names == {n.name for h in capture.hosts if h.address == "127.0.0.1"
                     for n in h.hostnames}


def test_the_merged_xml_is_valid_and_reads_back(tmp_path: Path) -> None:
    path = CASES / "unpriv_host_down_v" / "out.xml"  # one host up, one down, -v --reason
    shards = [Report.from_xml(x) for x in cut(path.read_bytes(), 2)]
    merged = merge_reports(shards)
    xml = merged.to_xml()
    assert not dtd_errors(xml, tmp_path)
    assert xml.count("<!-- <shard ") == 2
    assert Report.from_xml(xml) == merged
    # the JSON carries the shards as a list; so does the JSON Lines summary line
    schema = json.loads(rp.schema_path().read_text())
    document = json.loads(merged.to_json())
    jsonschema.validate(document, schema)
    summary = json.loads(list(merged.to_jsonl())[-1])
    jsonschema.validate(summary, {"$defs": schema["$defs"], "$ref": "#/$defs/summaryLine"})
    assert summary["shards"] == document["shards"]
    assert [s["args"] for s in document["shards"]] == [s.args for s in shards]
    assert Report.from_json(merged.to_json()) == merged


def test_the_result_does_not_depend_on_the_order_of_the_inputs() -> None:
    shards = [Report.from_xml(x)
              for x in cut((CASES / "multi_hosts" / "out.xml").read_bytes(), 3)]
    merged = merge_reports(shards)
    assert merge_reports(shards[::-1]) == merged
    assert merge_reports([shards[1], shards[2], shards[0]]) == merged


def test_merged_reports_merge_as_their_shards() -> None:
    shards = [Report.from_xml(x)
              for x in cut((CASES / "multi_hosts" / "out.xml").read_bytes(), 3)]
    whole = merge_reports(shards)
    assert merge_reports([merge_reports(shards[:2]), shards[2]]) == whole
    assert merge_reports([whole, shards[1]]) == whole  # a shard seen again adds nothing


# -- small reports for the rules a cut capture cannot show ----------------------------

SCANINFO = (ScanInfo(type="connect", protocol=Protocol.TCP, numservices=31,
                     services="1-30,80"),)


def ports(states: dict[int, State]) -> tuple[tuple[ExtraPorts, ...], tuple[Port, ...]]:
    """A host's table as nmap writes it at -v0: states of more than 25 ports
    hidden (one reason per state, as a connect scan gives)."""
    reasons = {State.OPEN: Reason.SYN_ACK, State.CLOSED: Reason.CONN_REFUSED,
               State.FILTERED: Reason.NO_RESPONSE}
    by_state: dict[State, list[int]] = {}
    for number, state in sorted(states.items()):
        by_state.setdefault(state, []).append(number)
    hidden = {s for s, numbers in by_state.items() if s is not State.OPEN and len(numbers) > 25}
    extra = tuple(ExtraPorts(state=s, count=len(by_state[s]), reasons=(
        ExtraReasons(reason=reasons[s], count=len(by_state[s]), proto=Protocol.TCP,
                     ports=port_ranges(by_state[s])),)) for s in hidden)
    shown = tuple(Port(protocol=Protocol.TCP, portid=n, state=s, reason=reasons[s])
                  for n, s in sorted(states.items()) if s not in hidden)
    return extra, shown


def host(address: str, state: HostState = HostState.UP,
         table: dict[int, State] | None = None, end: int = 100) -> Host:
    extra, shown = ports(table) if table is not None else ((), ())
    return Host(state=state, reason=Reason.CONN_REFUSED if state is HostState.UP
                else Reason.NO_RESPONSE, addresses=(rp.Address(addr=address),),
                extraports=extra, ports=shown, starttime=end - 1, endtime=end)


def run(args: str, hosts: Sequence[Host], *, start: int = 100, elapsed: float = 1.0,
        total: int | None = None, up: int | None = None,
        scaninfo: tuple[ScanInfo, ...] = SCANINFO, exit: Exit = Exit.SUCCESS) -> Report:
    up = sum(h.state is HostState.UP for h in hosts) if up is None else up
    total = len(hosts) if total is None else total
    end = start + int(elapsed)
    return Report(args=args, start=start, startstr=f"start {start}", version="7.93",
                  xmloutputversion="1.05", scaninfo=scaninfo, hosts=tuple(hosts),
                  runstats=RunStats(time=end, timestr=f"end {end}", elapsed=elapsed, up=up,
                                    down=total - up, total=total, exit=exit,
                                    errormsg="interrupted" if exit is Exit.ERROR else None,
                                    summary="(the run's own)"))


ALL_CLOSED = dict.fromkeys([*range(1, 31), 80], State.CLOSED)


def test_copies_of_a_host_union_their_ports_and_recompute_extraports() -> None:
    # the first run lost 22 and found 80 filtered; the re-run found 22 open and 80 closed
    first = {**ALL_CLOSED, 22: State.FILTERED, 80: State.FILTERED}
    again = {**ALL_CLOSED, 22: State.OPEN}
    merged = merge_reports([run("nmap -p 1-30,80 10.0.0.1", [host("10.0.0.1", table=first)]),
                            run("nmap -p 1-30,80 10.0.0.1", [host("10.0.0.1", table=again)])])
    (only,) = merged.hosts
    assert [(p.portid, p.state) for p in only.ports] == [(22, State.OPEN)]
    assert only.extraports == (ExtraPorts(state=State.CLOSED, count=30, reasons=(
        ExtraReasons(reason=Reason.CONN_REFUSED, count=30, proto=Protocol.TCP,
                     ports="1-21,23-30,80"),)),)
    assert (merged.runstats.up, merged.runstats.down, merged.runstats.total) == (1, 0, 1)


def test_on_a_tie_the_port_of_the_copy_that_finished_last_is_kept() -> None:
    named = rp.Service(name="ssh", method="probed", conf=10, product="OpenSSH")
    quiet = {**ALL_CLOSED, 22: State.OPEN}
    a = host("10.0.0.1", table=quiet, end=200)  # the best copy: it finished last
    b = host("10.0.0.1", table=quiet, end=100)
    b = dataclasses.replace(b, ports=tuple(dataclasses.replace(p, service=named)
                                           for p in b.ports))
    merged = merge_reports([run("nmap -p 1-30,80 10.0.0.1", [a]),
                            run("nmap -p 1-30,80 10.0.0.1", [b])])
    assert merged.hosts[0].ports[0].service is None  # the best copy's port, as it was
    assert merged.hosts[0].endtime == 200


def test_ports_the_best_copy_hid_are_named_from_nmap_services_when_shown() -> None:
    # the best copy (it finished last) hides its 31 closed ports; the re-run found
    # 1-6 open, which leaves 25 closed: few enough to be listed, as nmap lists them
    best = host("10.0.0.1", table=ALL_CLOSED, end=200)
    other = host("10.0.0.1", table={**ALL_CLOSED, **dict.fromkeys(range(1, 7), State.OPEN)})
    merged = merge_reports([run("nmap -p 1-30,80 10.0.0.1", [other]),
                            run("nmap -p 1-30,80 10.0.0.1", [best])])
    (only,) = merged.hosts
    assert only.extraports == ()
    assert [(p.portid, p.state) for p in only.ports] == [
        *((n, State.OPEN) for n in range(1, 7)), *((n, State.CLOSED) for n in range(7, 31)),
        (80, State.CLOSED)]
    shown = {p.portid: p.service for p in only.ports if p.state is State.CLOSED}
    assert shown[21] == rp.Service(name="ftp", method="table", conf=3)
    assert shown[80] == rp.Service(name="http", method="table", conf=3)


def test_a_copy_whose_hidden_ports_are_not_listed_is_not_unioned() -> None:
    # nmap before 7.80 wrote no ports="..." in <extrareasons>
    best = host("10.0.0.1", table={**ALL_CLOSED, 80: State.OPEN}, end=200)
    old = dataclasses.replace(best, extraports=tuple(
        dataclasses.replace(x, reasons=tuple(dataclasses.replace(r, ports=None)
                                             for r in x.reasons)) for x in best.extraports))
    other = host("10.0.0.1", table={**ALL_CLOSED, 22: State.OPEN})
    merged = merge_reports([run("nmap -p 1-30,80 10.0.0.1", [other]),
                            run("nmap -p 1-30,80 10.0.0.1", [old])])
    assert merged.hosts == (old,)


def test_a_command_line_in_a_grammar_pynmap_does_not_know_is_kept_whole() -> None:
    a = run("nmap --option-of-nmap-8 -p 1-30,80 10.0.0.1", [host("10.0.0.1", table=ALL_CLOSED)])
    merged = merge_reports([a, run("nmap -p 1-30,80 10.0.0.2", [])])
    assert merged.args == "nmap 10.0.0.2"  # nothing in common; the unread targets are lost
    assert merge_reports([a]).args == a.args


def test_a_shard_comment_that_is_not_xml_is_an_error() -> None:
    xml = merge_reports([run("nmap -p 1-30,80 10.0.0.1", [])]).to_xml()
    broken = xml.replace("<!-- <shard ", "<!-- <shard <", 1)
    with pytest.raises(rp.ReportError, match="The <shard> comment on line 9 is not well-formed"):
        Report.from_xml(broken)


def test_a_host_of_a_more_verbose_run_is_split_at_the_merged_verbosity() -> None:
    # at -v nmap lists up to 50 ports of a state: all 31 closed ports are listed
    shown = tuple(Port(protocol=Protocol.TCP, portid=n, state=State.CLOSED,
                       reason=Reason.CONN_REFUSED) for n in sorted(ALL_CLOSED))
    verbose = dataclasses.replace(run("nmap -v -p 1-30,80 10.0.0.1", [
        dataclasses.replace(host("10.0.0.1"), ports=shown)]), verbose=1)
    merged = merge_reports([verbose, run("nmap -p 1-30,80 10.0.0.2", [])])
    assert merged.verbose == 0
    assert merged.hosts[0].ports == ()
    assert merged.hosts[0].extraports == ports(ALL_CLOSED)[0]


def test_a_host_up_in_one_run_and_down_in_another_is_up() -> None:
    up = host("10.0.0.1", table={**ALL_CLOSED, 80: State.OPEN}, end=50)
    down = host("10.0.0.1", state=HostState.DOWN, end=300)
    merged = merge_reports([run("nmap -v -p 1-30,80 10.0.0.1", [down]),
                            run("nmap -v -p 1-30,80 10.0.0.1", [up])])
    assert merged.hosts == (up,)
    assert (merged.runstats.up, merged.runstats.down, merged.runstats.total) == (1, 0, 1)


def test_hosts_come_in_address_order() -> None:
    addresses = ["fd00::2", "10.0.0.10", "10.0.0.9", "::1", "9.255.255.255"]
    merged = merge_reports([run("nmap -sn " + " ".join(addresses), [
        host(a) for a in addresses], scaninfo=())])
    assert [h.address for h in merged.hosts] == ["9.255.255.255", "10.0.0.9", "10.0.0.10",
                                                 "::1", "fd00::2"]


def test_run_stats_span_the_runs_and_count_each_host_once() -> None:
    # shard 1: 10.0.0.1 up, two hosts down and not listed (no -v);
    # shard 1 again (a re-run, other output file): 10.0.0.1 up;
    # shard 2: 10.0.0.4 up, 10.0.0.1 too (its target list overlaps)
    one = run("nmap --shard 1/2 -oX a.xml 10.0.0.0/30", [host("10.0.0.1")], start=100,
              elapsed=5.25, total=3)
    again = run("nmap --shard 1/2 -oX b.xml 10.0.0.0/30", [host("10.0.0.1")], start=400,
                elapsed=2.5, total=3)
    two = run("nmap --shard 2/2 -oX c.xml 10.0.0.0/30", [host("10.0.0.4"), host("10.0.0.1")],
              start=103, elapsed=30.0, total=2)
    merged = merge_reports([two, again, one])
    stats = merged.runstats
    assert (stats.up, stats.down, stats.total) == (2, 2, 4)
    assert (merged.start, merged.startstr) == (100, "start 100")
    assert (stats.time, stats.timestr, stats.elapsed) == (402, "end 402", 302.5)
    assert stats.summary == "Nmap done at end 402; 4 IP addresses (2 hosts up) scanned in " \
                            "302.50 seconds"
    assert merged.args == "nmap 10.0.0.0/30"
    assert [s.args for s in merged.shards or ()] == [one.args, again.args, two.args]


def test_hosts_a_run_counted_up_without_listing_them_stay_counted() -> None:
    # --open: a host with nothing open is up but not listed
    a = run("nmap --open -p 1-30,80 10.0.0.1-2", [host("10.0.0.1", table={**ALL_CLOSED,
                                                                         80: State.OPEN})],
            total=2, up=2)
    b = run("nmap --open -p 1-30,80 10.0.0.3", [], total=1, up=1)
    stats = merge_reports([a, b]).runstats
    assert (stats.up, stats.down, stats.total) == (3, 0, 3)


def test_common_command_line_keeps_what_all_runs_share() -> None:
    a = dataclasses.replace(run("nmap -T4 -v -p 1-30,80 -oX a.xml 10.0.0.1 10.0.0.2", []),
                            verbose=1)
    b = run("nmap -p 1-30,80 -oX b.xml -T4 --reason 10.0.0.3", [])
    merged = merge_reports([a, b])
    assert merged.args == "nmap -T4 -p 1-30,80 10.0.0.1 10.0.0.2 10.0.0.3"
    assert merged.verbose == 0


def test_a_run_that_failed_makes_the_merge_an_error() -> None:
    a = run("nmap -p 1-30,80 10.0.0.1", [host("10.0.0.1", table=ALL_CLOSED)])
    b = run("nmap -p 1-30,80 10.0.0.2", [], exit=Exit.ERROR)
    merged = merge_reports([a, b])
    assert (merged.runstats.exit, merged.runstats.errormsg) == (Exit.ERROR, "interrupted")
    assert not merged.ok


def test_the_shard_comments_escape_what_a_comment_cannot_hold(tmp_path: Path) -> None:
    a = run('nmap --shard 1/2 --script-args "x--y<&>\'" -p 1-30,80 10.0.0.1', [])
    b = run("nmap --shard 2/2 -p 1-30,80 10.0.0.2 -", [])
    merged = merge_reports([a, b])
    xml = merged.to_xml()
    assert not dtd_errors(xml, tmp_path)
    assert Report.from_xml(xml) == merged
    assert merged.args is not None and merged.args.endswith(" -- 10.0.0.1 10.0.0.2 -")


# -- refusals ------------------------------------------------------------------------

BASE = "nmap --shard 1/2 --seed 7 -p 1-30,80 10.0.0.0/24"


@pytest.mark.parametrize(("other", "what"), [
    (run("nmap --shard 2/2 --seed 7 -p 1-30,80 10.0.0.0/24", [],
         scaninfo=(dataclasses.replace(SCANINFO[0], type="syn"),)),
     "scan types differ (connect/tcp in a.xml; syn/tcp in b.xml)"),
    (run("nmap --shard 2/2 --seed 7 -p 1-30,80 10.0.0.0/24", [],
         scaninfo=(*SCANINFO, ScanInfo(type="udp", protocol=Protocol.UDP, numservices=1,
                                       services="53"))),
     "scan types differ (connect/tcp in a.xml; connect/tcp, udp/udp in b.xml)"),
    (run("nmap --shard 2/2 --seed 7 -sn 10.0.0.0/24", [], scaninfo=()),
     "scan types differ (connect/tcp in a.xml; no port scan (-sn) in b.xml)"),
    (run("nmap --shard 2/2 --seed 7 -p 1-30 10.0.0.0/24", [],
         scaninfo=(dataclasses.replace(SCANINFO[0], services="1-30", numservices=30),)),
     "ports differ (tcp 1-30,80 in a.xml; tcp 1-30 in b.xml)"),
    (run("nmap --shard 2/2 --seed 7 -sV -p 1-30,80 10.0.0.0/24", []),
     "version detection differs (none in a.xml; -sV in b.xml)"),
    (run("nmap --shard 2/2 --seed 7 -A -p 1-30,80 10.0.0.0/24", []),
     "version detection differs (none in a.xml; -sV in b.xml)"),
    (run("nmap --shard 2/2 --seed 7 --open -p 1-30,80 10.0.0.0/24", []),
     "--open differs (none in a.xml; --open in b.xml)"),
    (run("nmap --shard 2/3 --seed 7 -p 1-30,80 10.0.0.0/24", []),
     "shard counts differ (--shard ?/2 in a.xml; --shard ?/3 in b.xml)"),
    (run("nmap -p 1-30,80 10.0.0.0/24", []),
     "shard counts differ (--shard ?/2 in a.xml; no --shard in b.xml)"),
    (run("nmap --shard 2/2 --seed 8 -p 1-30,80 10.0.0.0/24", []),
     "seeds differ (--seed 7 in a.xml; --seed 8 in b.xml)"),
    (run("nmap --shard 2/2 -p 1-30,80 10.0.0.0/24", []),
     "seeds differ (--seed 7 in a.xml; no --seed in b.xml)"),
], ids=["scan_type", "protocols", "ping_scan", "ports", "sV", "A", "open", "shard_count",
        "unsharded", "seed", "no_seed"])
def test_runs_of_other_scans_are_refused(other: Report, what: str) -> None:
    with pytest.raises(MergeError) as refused:
        merge_reports([run(BASE, []), other], ["a.xml", "b.xml"])
    assert refused.value.message == f"a.xml and b.xml are not from the same scan: {what}"


def test_a_list_scan_and_a_ping_scan_are_refused() -> None:
    with pytest.raises(MergeError) as refused:
        merge_reports([run("nmap -sL 10.0.0.1", [], scaninfo=()),
                       run("nmap -sn 10.0.0.2", [], scaninfo=())], ["a.xml", "b.xml"])
    assert refused.value.message == ("a.xml and b.xml are not from the same scan: scan types "
                                     "differ (list scan (-sL) in a.xml; no port scan (-sn) in "
                                     "b.xml)")


def test_the_same_shard_twice_is_accepted() -> None:
    again = run(BASE, [host("10.0.0.1", table=ALL_CLOSED)], start=900)
    merged = merge_reports([run(BASE, [host("10.0.0.1", table=ALL_CLOSED)]), again])
    assert len(merged.hosts) == 1 and merged.runstats.total == 1
    assert merged.args == "nmap -p 1-30,80 10.0.0.0/24"  # the scan's, not one shard's


def test_nothing_to_merge_is_refused() -> None:
    with pytest.raises(MergeError, match="no reports to merge"):
        merge_reports([])
