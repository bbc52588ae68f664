"""The tools that read nmap's XML read pynmap's the same way.

nmap and pynmap scan the same namespace (listeners on two ports, one
port whose connection attempts are dropped, a second address with every
port closed, names from the namespace's hosts file) with the same command
line; python-libnmap, python-nmap, ndiff and nmap.xsl (through xsltproc)
then read both XML files and must report the same hosts, names, ports,
states and services.  Last, python-nmap drives pynmap itself as `nmap`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import html

from tests.support.compare import run_both
from tests.support.netns import Netns, listening, netns_for_tests, pynmap_command

pytestmark = [pytest.mark.lab, pytest.mark.nmap]

OPEN = (22, 8080)
DROPPED = 44444
SCANS = {
    # numeric: a filtered port, a host with every port closed
    "numeric": ["-sT", "-n", "--reason", "-p", f"20-25,80,{DROPPED},{','.join(map(str, OPEN))}",
                "-oX", "out.xml", "127.0.0.1", "127.0.0.2"],
    # names: a typed hostname (user and PTR names), a PTR name, -v's task elements
    "names": ["-sT", "-v", "-p", "21-23,8080", "-oX", "out.xml", "localhost", "127.0.0.2"],
}
XSL = Path("/usr/share/nmap/nmap.xsl")


@pytest.fixture(scope="module")
def scan_ns() -> Iterator[Netns]:
    with netns_for_tests("pynmap-compat") as ns:
        rule = ["-A", "INPUT", "-p", "tcp", "--syn", "--dport", str(DROPPED), "-j", "DROP"]
        subprocess.run([*ns.exec_prefix(), "iptables", *rule], check=True, timeout=30)
        # both programs read the hosts file (bind-mounted at each `ip netns exec`) and
        # ask no DNS server for a name it holds
        with (ns.etc / "hosts").open("a") as hosts:
            hosts.write("127.0.0.2 alpha.test\n")
        with listening(ns, OPEN):
            yield ns


@pytest.fixture(scope="module", params=sorted(SCANS))
def xml_pair(request: pytest.FixtureRequest, scan_ns: Netns, nmap_oracle: str,
             tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    workdir = tmp_path_factory.mktemp(f"compat-{request.param}")
    nmap, pynmap = run_both(SCANS[request.param], scan_ns, workdir, outputs=["out.xml"])
    assert nmap.exit == 0 and pynmap.exit == 0, (nmap.stderr, pynmap.stderr)
    paths = workdir / "nmap" / "out.xml", workdir / "pynmap" / "out.xml"
    # the oracle must have seen the namespace as declared
    truth = _libnmap_view(paths[0])
    assert truth["127.0.0.1"]["ports"][8080][0] == "open"
    assert "open" not in {state for state, *_r in truth["127.0.0.2"]["ports"].values()}
    if DROPPED in truth["127.0.0.2"]["ports"]:
        assert truth["127.0.0.2"]["ports"][DROPPED][0] == "filtered"
    return paths


def _libnmap_view(path: Path) -> dict[str, dict[str, Any]]:
    from libnmap.parser import NmapParser

    report = NmapParser.parse_fromstring(path.read_text())
    return {host.address: {"status": host.status, "hostnames": host.hostnames,
                           "ports": {svc.port: (svc.state, svc.service, svc.reason)
                                     for svc in host.services}}
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
        return {address: {"status": host["status"], "hostnames": host["hostnames"],
                          "tcp": host.get("tcp")}
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
    done = subprocess.run(["xsltproc", str(XSL), str(path)], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    page = html.fromstring(done.stdout)
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


_DRIVER = """
import json, sys, nmap
scanner = nmap.PortScanner()
result = scanner.scan(*json.loads(sys.argv[1]))
info = result["nmap"]["scaninfo"]
print(json.dumps({"version": scanner.nmap_version(), "scan": result["scan"],
                  "scaninfo": {k: v for k, v in info.items() if k not in ("error", "warning")},
                  "error": info.get("error"), "warning": info.get("warning")}))
"""


def _python_nmap(ns: Netns, bindir: Path, scan: list[str]) -> dict[str, Any]:
    """python-nmap's PortScanner().scan(*scan) run in `ns`, finding `nmap` in `bindir` first
    on PATH (the test process cannot enter the namespace, so a small script does)."""
    done = subprocess.run(
        [*ns.exec_prefix(), "env", f"PATH={bindir}:/usr/bin:/bin", "NMAP_UNPRIVILEGED=1",
         f"HOME={bindir}", "TZ=UTC", sys.executable, "-c", _DRIVER, json.dumps(scan)],
        capture_output=True, text=True, timeout=120, cwd=bindir)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _nmap_on_path(tmp_path: Path, program: str) -> Path:
    """A directory holding an `nmap` that is `program`: pynmap's console script (linked,
    so pynmap's argv[0] reads "nmap"), or a script that execs the real nmap at that path."""
    bindir = tmp_path / Path(program).name
    bindir.mkdir()
    if program == "pynmap":
        (bindir / "nmap").symlink_to(pynmap_command()[-1])
    else:
        (bindir / "nmap").write_text(f'#!/bin/sh\nexec {program} "$@"\n')
        (bindir / "nmap").chmod(0o755)
    return bindir


def test_python_nmap_drives_pynmap_as_nmap(scan_ns: Netns, nmap_oracle: str,
                                          tmp_path: Path) -> None:
    """python-nmap runs `nmap -V`, then `nmap -oX - 127.0.0.1 -p 22-25 -sT`: with pynmap
    standing in for nmap on PATH it must get what it gets from nmap, and no error."""
    scan = ["127.0.0.1", "22-25", "-sT"]
    ours = _python_nmap(scan_ns, _nmap_on_path(tmp_path, "pynmap"), scan)
    theirs = _python_nmap(scan_ns, _nmap_on_path(tmp_path, nmap_oracle), scan)
    assert theirs["scan"]["127.0.0.1"]["tcp"][str(OPEN[0])]["state"] == "open"  # the harness
    assert ours["error"] is None and ours["warning"] is None
    assert ours == theirs


def test_python_nmap_default_version_scan_runs_without_a_note(
        scan_ns: Netns, tmp_path: Path) -> None:
    """python-nmap's default arguments are -sV, which pynmap now performs: no note on
    stderr (python-nmap would list it among its warnings), no error, and the scan
    comes back."""
    report = _python_nmap(scan_ns, _nmap_on_path(tmp_path, "pynmap"), ["127.0.0.1", "20-23"])
    assert report["version"] == [7, 93]
    assert report["error"] is None, report["error"]
    tcp = report["scan"]["127.0.0.1"]["tcp"]
    assert tcp["22"]["state"] == "open" and tcp["21"]["state"] == "closed"
    assert not any("version detection" in w for w in report["warning"] or [])


def test_python3_nmap_reads_every_version_line(nmap_oracle: str) -> None:
    """python3-nmap's nmap_version() reads -V line by line (no scan, no namespace): pynmap's
    lines are nmap's, in nmap's order and shape, each with a value of pynmap's own."""
    import nmap3

    theirs = nmap3.Nmap(nmap_oracle).nmap_version()
    ours = nmap3.Nmap(pynmap_command()[-1]).nmap_version()
    assert set(theirs) == {"nmap", "compiled_with", "compiled_without", "nsock_engines"}
    assert set(ours) == set(theirs)
    assert ours["nmap"] == theirs["nmap"] == (7, 93)
    assert any(item.startswith("python-3.") for item in ours["compiled_with"])
    # -sV's TLS is Python's ssl module: the OpenSSL it was built with, as nmap names its own
    import ssl

    assert f"openssl-{ssl.OPENSSL_VERSION.split()[1]}" in ours["compiled_with"]
    assert "liblua" in ours["compiled_without"]  # pynmap runs no scripts
    # the service scan's loop and the connect scan's
    assert ours["nsock_engines"] == ("epoll", "poll")
    labels = [
        [line.split(":")[0] for line in subprocess.run(
            [program, "-V"], capture_output=True, text=True, check=True).stdout.splitlines()[1:]]
        for program in (nmap_oracle, pynmap_command()[-1])
    ]
    assert labels[0] == labels[1] == ["Platform", "Compiled with", "Compiled without",
                                      "Available nsock engines"]
