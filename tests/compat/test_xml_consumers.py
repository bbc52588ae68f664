"""The tools that read nmap's XML read pynmap's the same way.

nmap and pynmap scan the same namespace (listeners on two ports, one
port whose connection attempts are dropped, a second address with every
port closed); python-libnmap, python-nmap, ndiff and nmap.xsl then read
both XML files and must report the same hosts, ports, states and services.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree, html

from tests.support.compare import run_both
from tests.support.netns import Netns, listening, netns_for_tests, pynmap_command

pytestmark = [pytest.mark.lab, pytest.mark.nmap]

OPEN = (22, 8080)
DROPPED = 44444
SCAN = ["-sT", "-n", "--reason", "-p", f"20-25,80,{DROPPED},{','.join(map(str, OPEN))}",
        "-oX", "out.xml", "127.0.0.1", "127.0.0.2"]
XSL = Path("/usr/share/nmap/nmap.xsl")


@pytest.fixture(scope="module")
def scan_ns() -> Iterator[Netns]:
    with netns_for_tests("pynmap-compat") as ns:
        rule = ["-A", "INPUT", "-p", "tcp", "--syn", "--dport", str(DROPPED), "-j", "DROP"]
        subprocess.run([*ns.exec_prefix(), "iptables", *rule], check=True, timeout=30)
        with listening(ns, OPEN):
            yield ns


@pytest.fixture(scope="module")
def xml_pair(scan_ns: Netns, nmap_oracle: str, tmp_path_factory: pytest.TempPathFactory
             ) -> tuple[Path, Path]:
    workdir = tmp_path_factory.mktemp("compat")
    nmap, pynmap = run_both(SCAN, scan_ns, workdir, outputs=["out.xml"])
    assert nmap.exit == 0 and pynmap.exit == 0, (nmap.stderr, pynmap.stderr)
    paths = workdir / "nmap" / "out.xml", workdir / "pynmap" / "out.xml"
    # the oracle must have seen the namespace as declared
    truth = _libnmap_view(paths[0])
    assert {p for p, (state, *_r) in truth["127.0.0.1"].items() if state == "open"} == set(OPEN)
    assert truth["127.0.0.1"][DROPPED][0] == "filtered"
    return paths


def _libnmap_view(path: Path) -> dict[str, dict[int, tuple[str, str, str]]]:
    from libnmap.parser import NmapParser

    report = NmapParser.parse_fromstring(path.read_text())
    return {host.address: {svc.port: (svc.state, svc.service, svc.reason)
                           for svc in host.services}
            for host in report.hosts}


def test_python_libnmap_reads_the_same_scan(xml_pair: tuple[Path, Path]) -> None:
    from libnmap.parser import NmapParser

    nmap_xml, pynmap_xml = xml_pair
    assert _libnmap_view(pynmap_xml) == _libnmap_view(nmap_xml)
    ours, theirs = (NmapParser.parse_fromstring(p.read_text()) for p in (pynmap_xml, nmap_xml))
    assert (ours.hosts_up, ours.hosts_total, ours.scan_type) == (
        theirs.hosts_up, theirs.hosts_total, theirs.scan_type)
    for host in ours.hosts:
        extra = host.extraports_state
        assert extra == next(h for h in theirs.hosts if h.address == host.address).extraports_state


def test_python_nmap_reads_the_same_scan(xml_pair: tuple[Path, Path]) -> None:
    import nmap

    def view(path: Path) -> dict[str, object]:
        result = nmap.PortScanner().analyse_nmap_xml_scan(path.read_text())
        return {address: {"status": host["status"], "tcp": host.get("tcp")}
                for address, host in result["scan"].items()}

    nmap_xml, pynmap_xml = xml_pair
    assert view(pynmap_xml) == view(nmap_xml)


def test_ndiff_sees_no_host_or_port_difference(xml_pair: tuple[Path, Path]) -> None:
    nmap_xml, pynmap_xml = xml_pair
    done = subprocess.run(["ndiff", str(nmap_xml), str(pynmap_xml)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode in (0, 1), done.stderr
    changed = [line for line in done.stdout.splitlines()
               if line[:1] in "+-" and "scan initiated" not in line]
    assert changed == [], done.stdout


def _port_rows(path: Path) -> list[list[str]]:
    transform = etree.XSLT(etree.parse(str(XSL)))
    page = html.fromstring(str(transform(etree.parse(str(path)))))
    rows = []
    for table in page.xpath("//table[@id]"):  # one table of ports per host
        for row in table.xpath(".//tr[td]"):
            rows.append([" ".join(td.text_content().split()) for td in row.xpath("td")])
    return rows


def test_nmap_xsl_renders_the_same_port_tables(xml_pair: tuple[Path, Path]) -> None:
    nmap_xml, pynmap_xml = xml_pair
    theirs, ours = _port_rows(nmap_xml), _port_rows(pynmap_xml)
    assert any("8080" in cell for row in theirs for cell in row), "harness: no port table found"
    assert ours == theirs


def test_python_nmap_drives_pynmap_as_nmap(scan_ns: Netns, tmp_path: Path) -> None:
    """python-nmap runs `nmap -V`, then `nmap -oX - HOSTS -p PORTS -sV`: with pynmap
    standing in for nmap on PATH it must get the scan and take the -sV note for a warning."""
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "nmap").symlink_to(pynmap_command()[-1])
    script = (
        "import json, nmap\n"
        "scanner = nmap.PortScanner()\n"
        "result = scanner.scan('127.0.0.1', '20-23')\n"
        "print(json.dumps({'version': scanner.nmap_version(),\n"
        "                  'tcp': result['scan']['127.0.0.1']['tcp'],\n"
        "                  'warnings': result['nmap']['scaninfo'].get('warning')}))\n"
    )
    done = subprocess.run(
        [*scan_ns.exec_prefix(), "env", f"PATH={shim}:/usr/bin:/bin", sys.executable, "-c",
         script], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    import json

    report = json.loads(done.stdout)
    assert report["version"] == [7, 93]
    assert report["tcp"]["22"]["state"] == "open" and report["tcp"]["21"]["state"] == "closed"
    assert any("version detection" in w for w in report["warnings"])
