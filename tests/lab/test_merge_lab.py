"""`pynmap merge` in the lab: nmap's shards of a scan merge into nmap's unsharded scan.

nmap scans five lab hosts (open, closed, filtered and ICMP-rejected ports,
one host down) in one run, then again in three runs over disjoint parts of
the target list, one of them run twice (a re-run).  After nmap's unsharded
run is held against the lab's declared truth, the merge of the four shard
files must be DTD-valid, ndiff must find no host or port difference between
it and the unsharded XML, the host counts must be nmap's, and its normal
and grepable outputs must be nmap's after the mask (but for the command
line in their first line: the merge keeps the options all shards share and
every shard's targets, not the unsharded run's output file names).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.lab.test_scenarios import check_nmap
from tests.support.compare import Run, first_difference, run_one
from tests.support.lab import SCENARIOS, lab
from tests.support.lab.results import port_table
from tests.support.lab.scenario import Host, Scenario
from tests.support.mask import mask

pytestmark = [pytest.mark.lab, pytest.mark.nmap]

# the mixed hosts (198.18.0.10-13) and 198.18.0.14, down
SCENARIO = Scenario("merge", (*SCENARIOS["mixed"].hosts, Host(14, down=True)),
                    about="4 hosts with every kind of port, 1 down")
# 1-30 makes "Not shown: ... closed tcp ports" on every host up
PORTS = [*range(1, 31), 80, 443, 2000, 2001, 2002, 2003, 2004, 3306, 8080]
SPEC = "1-30,80,443,2000-2004,3306,8080"
SHARDS = {"s1.xml": [10, 13], "s2.xml": [11, 14], "s3.xml": [12], "s3again.xml": [12]}
DTD = "/usr/share/nmap/nmap.dtd"


def addresses(numbers: list[int]) -> list[str]:
    return [f"198.18.0.{n}" for n in numbers]


def without_command_line(text: str) -> str:
    return mask(text).split("\n", 1)[1]


def test_merged_shards_equal_the_unsharded_scan(nmap_oracle: str, tmp_path: Path) -> None:
    options = ["-n", "--reason", "-p", SPEC]
    # check_nmap (the lab's truth) reads out.xml
    whole = ["-oX", "out.xml", "-oN", "out.nmap", "-oG", "out.gnmap"]
    with lab(SCENARIO) as running:
        def nmap(name: str, outputs: list[str], targets: list[int]) -> Callable[[], Run]:
            return lambda: run_one("nmap", [*options, *outputs, *addresses(targets)],
                                   running.scanner, tmp_path / name, outputs=outputs[1::2])

        jobs = {"whole": nmap("whole", whole, [10, 11, 12, 13, 14])}
        jobs.update((name, nmap(name, ["-oX", name], numbers))
                    for name, numbers in SHARDS.items())
        with ThreadPoolExecutor(len(jobs)) as pool:
            futures = {name: pool.submit(job) for name, job in jobs.items()}
            runs = {name: future.result() for name, future in futures.items()}
        shard_files = {name: runs[name].files[name] or "" for name in SHARDS}
        merged = run_one("pynmap", ["merge", "-oX", "merged.xml", "-oN", "merged.nmap",
                                    "-oG", "merged.gnmap", *SHARDS], running.scanner,
                         tmp_path / "merge", setup_files=shard_files,
                         outputs=["merged.xml", "merged.nmap", "merged.gnmap"])

    unsharded = runs["whole"]
    check_nmap(unsharded, SCENARIO.truth(PORTS))
    for name in SHARDS:
        assert runs[name].exit == 0 and shard_files[name], f"harness: nmap {name}: " \
                                                           f"{runs[name].stderr}"
    assert (merged.exit, merged.stderr) == (0, "")
    merged_xml = merged.files["merged.xml"] or ""
    whole_xml = unsharded.files["out.xml"] or ""

    valid = subprocess.run(["xmllint", "--noout", "--dtdvalid", DTD,
                            str(tmp_path / "merge" / "merged.xml")], capture_output=True, text=True)
    assert valid.returncode == 0, valid.stderr
    ndiff = subprocess.run(["ndiff", str(tmp_path / "whole" / "out.xml"),
                            str(tmp_path / "merge" / "merged.xml")], capture_output=True, text=True)
    assert ndiff.returncode == 0, ndiff.stdout + ndiff.stderr
    # what ndiff may print: the two "Nmap ... scan initiated ... as:" lines
    assert all(line[1:].startswith("Nmap 7.93 scan initiated ") for line in
               ndiff.stdout.splitlines() if line), ndiff.stdout
    assert port_table(merged_xml) == port_table(whole_xml)
    counts = ['<hosts up="4" down="1" total="5"/>' in xml for xml in (whole_xml, merged_xml)]
    assert counts == [True, True]
    assert merged_xml.count("<!-- <shard ") == 4

    for theirs, ours in (("out.nmap", "merged.nmap"), ("out.gnmap", "merged.gnmap")):
        want = without_command_line(unsharded.files[theirs] or "")
        got = without_command_line(merged.files[ours] or "")
        assert got == want, f"{ours}: {first_difference(want, got)}"
