"""Version detection (-sV) in every output, against nmap's own -sV runs.

tests/reference/service holds nmap 7.93's stdout, -oN, -oG and -oX of -sV
scans of small services (tests/reference/tools/capture_sv.py): banners that
probes recognise (with hostnames, OS and device types, CPEs, long product
strings), a TLS web server, unrecognised banners (fingerprints), a silent
port, a tcpwrapped one, a closed host and a down one.

Here the Reporter, the session's renderers, is driven through each of those
runs as the session drives it: each host's HostResult has, on every open
port, the report.Service nmap's XML gives (what the service engine hands
over), and the engine's progress lines are replayed from the capture.  Every
output must equal nmap's after the usual mask, and the -oJ document must
read back as the very Report nmap's XML reads as.  (Report.from_xml of the
same XML rendered by to_normal/to_grepable/to_xml: tests/unit/test_report_render.py,
which reads these captures too.)
"""

from __future__ import annotations

import dataclasses
import io
import os
import re
import shlex
import socket
from pathlib import Path
from typing import TextIO

import pytest
from lxml import etree

from pynmap.output import OutputSpec, Reporter
from pynmap.output.context import PortRow, full_version, wrapped_fingerprint
from pynmap.report import Host, HostnameType, Report, Service, State
from pynmap.results import HostResult, PortResult, RunStats, Times
from tests.support.mask import mask
from tests.support.reference import SERVICE
from tests.unit.test_output_golden import GOLDEN_HREF, SERVICES, validate

pytestmark = [pytest.mark.usefixtures("utc")]

CAPTURES = sorted(p.name for p in SERVICE.iterdir() if (p / "cmd").is_file())
# -oA base, and -oJ beside it (the other captures: -oX base.xml)
FILES = {"normal": "base.nmap", "grepable": "base.gnmap", "xml": "base.xml", "json": "base.json"}
READ_DATA = "Read data files from: /usr/bin/../share/nmap"
_INITIATING = re.compile(r"^Initiating (.+) at \d\d:\d\d$")
# where the engine's lines end: the first host report, or the run's closing lines
_REPORTS = ("Nmap scan report for", "Note: Host seems down", "Nmap done:")
_COMPLETED = re.compile(r"^Completed (.+) at \d\d:\d\d, [\d.]+s elapsed(?: \((.*)\))?$")


def _host_result(host: Host) -> HostResult:
    """The HostResult the session reports for a host of nmap's XML: the service
    engine's report.Service on the open ports, nmap-services naming the others."""
    ports: list[PortResult] = []
    for p in host.ports:
        service = p.service if p.state is State.OPEN else None
        ports.append(PortResult(p.portid, p.state.value, p.reason.value, p.protocol.value, service))
    for extra in host.extraports:
        for group in extra.reasons:
            ports.extend(PortResult(n, extra.state.value, group.reason.value)
                         for n in group.port_numbers())
    address = host.address or ""
    times = host.times
    return HostResult(
        address=address,
        family=socket.AF_INET6 if ":" in address else socket.AF_INET,
        status=host.state.value,
        reason=host.reason.value,
        ptr_name=next((n.name for n in host.hostnames if n.type is HostnameType.PTR), None),
        times=Times() if times is None else Times(times.srtt, times.rttvar, times.to),
        ports=ports,
        scanned_ports=len(ports),
        start_time=None if host.starttime is None else float(host.starttime),
        end_time=None if host.endtime is None else float(host.endtime),
    )


def _hint(host: HostResult) -> HostResult:
    return HostResult(address=host.address, family=host.family, status="up",
                      hint_reason="unknown-response")


def _replay(case: str, tmp: Path) -> tuple[dict[str, str], Report]:
    """Drive a Reporter through the captured run; its outputs, and nmap's report."""
    directory = SERVICE / case
    report = Report.from_xml(directory / "base.xml")
    captured = (directory / "stdout").read_text()
    words = shlex.split((directory / "cmd").read_text())
    verbosity = report.verbose
    stdout: TextIO = io.StringIO()
    stderr = io.StringIO()
    files = FILES if "-oA" in words else {"json": "base.json"}
    outputs: dict[str, str] = {key: str(tmp / name) for key, name in files.items()}
    shared = False
    for flag, key in (("-oN", "normal"), ("-oG", "grepable"), ("-oX", "xml")):
        if flag in words:
            name = words[words.index(flag) + 1]
            if name == "/dev/stdout":
                # nmap's stdout was a pipe (a small report fits in its buffer)
                shared = True
                reader, writer = os.pipe()
                stdout = os.fdopen(writer, "w")
                outputs[key] = f"/dev/fd/{writer}"
            else:
                outputs[key] = name if name == "-" else str(tmp / name)
            if name not in ("-", "/dev/stdout"):
                files = {**files, key: name}
    spec = OutputSpec(**outputs, stylesheet=GOLDEN_HREF, verbosity=verbosity,  # type: ignore[arg-type]
                      reason="--reason" in words, service_scan=True)
    rep = Reporter(spec, SERVICES.get, stdout=stdout, stderr=stderr)
    assert report.start is not None
    start = float(report.start)
    hosts = [_host_result(h) for h in report.hosts]
    rep.open_files()
    rep.banner(start)
    info = report.scaninfo[0]
    ports = [n for piece in info.services.split(",")
             for n in range(int(piece.split("-")[0]), int(piece.split("-")[-1]) + 1)]
    rep.begin(args=words, start=start, scan_ports=ports, scan_type="connect")
    # the engine's lines between the banner and the first report (-v), as it sends
    # them; host discovery's <hosthint>s before it ends (at once without -v)
    before: list[str] = []
    for line in captured.splitlines()[1:]:
        if line.startswith(_REPORTS):
            break
        if not line.startswith("# Nmap "):  # -oN's header, when -oN is stdout's file
            before.append(line)
    if "-Pn" not in words and not any(line.startswith("Completed Ping Scan") for line in before):
        for host in hosts:
            if host.status == "up":
                rep.hosthint(_hint(host))
    for line in before:
        if (begun := _INITIATING.match(line)) is not None:
            rep.task_begin(begun.group(1), start)
        elif (done := _COMPLETED.match(line)) is not None:
            if done.group(1) == "Ping Scan":
                for host in hosts:
                    if host.status == "up":
                        rep.hosthint(_hint(host))
            rep.task_end(done.group(1), start, done.group(2))
        else:
            rep.interactive(line)
    for host in hosts:
        rep.host(host, scan_type="connect")
    rep.group_end()
    stats = report.runstats
    rep.finish(stats=RunStats(total=stats.total, up=stats.up, down=stats.down),
               end=float(stats.time), elapsed=stats.elapsed,
               pre_done_lines=[READ_DATA] if verbosity else (), ping_disabled="-Pn" in words)
    if shared:
        stdout.close()
        with os.fdopen(reader) as pipe:
            written = pipe.read()
    else:
        written = stdout.getvalue()  # type: ignore[attr-defined]
    out = {"stdout": written, "stderr": stderr.getvalue()}
    out.update({name: (tmp / name).read_text() for name in files.values()})
    return out, report


def test_the_captures_show_what_the_renderers_must_write() -> None:
    """The environment's truth, as nmap reported it (tools/capture_sv.py checks
    the service names when it records)."""
    assert {"sv", "sv_v", "sv_reason_hosts", "sv_many_fingerprints", "sv_host_down"} <= set(CAPTURES)
    sv = (SERVICE / "sv" / "stdout").read_text()
    for text in ("8443/tcp  open  ssl/http    SimpleHTTPServer 0.6 (Python 3.11.7)\n",
                 "9929/tcp  open  nping-echo?\n",
                 "44330/tcp open  ssl/unknown\n",
                 "3 services unrecognized despite returning data.",
                 "SF-Port44330-TCP:V=7.93%T=SSL%I=7%",
                 "Service Info: Hosts: mail.example.test, relay.example.test; OSs: Unix, Linux; "
                 "Devices: webcam, printer; CPE: cpe:/o:linux:linux_kernel, "
                 "cpe:/h:axis:2100_network_camera\n"):
        assert text in sv
    many = (SERVICE / "sv_many_fingerprints" / "stdout").read_text()
    assert "9 services unrecognized" in many and "SF-Port40009" not in many
    down = (SERVICE / "sv_host_down" / "stdout").read_text()
    assert "(0 hosts up)" in down and "Service detection performed" not in down


@pytest.mark.parametrize("case", CAPTURES)
def test_the_reporter_writes_what_nmap_wrote(case: str, tmp_path: Path) -> None:
    ours, report = _replay(case, tmp_path)
    directory = SERVICE / case
    for name in ("stdout", "stderr", "base.nmap", "base.gnmap", "base.xml"):
        if name in ("stdout", "stderr") or (directory / name).exists():
            assert mask(ours[name]) == mask((directory / name).read_text()), name
    validate(ours["base.xml"])
    # -oJ: the Report nmap's XML reads as, to the last attribute
    assert Report.from_json(ours["base.json"]) == report


# -- the rules behind the captures ---------------------------------------------------


def test_version_column_fits_nmaps_buffer() -> None:
    """populateFullVersionString's 159 characters: what the captures show, and the
    branches they cannot reach (nmap's own templates cap product and version at
    78 characters, so only a report read from elsewhere can hold longer ones)."""
    assert full_version("OpenSSH", "9.2p1", "protocol 2.0") == "OpenSSH 9.2p1 (protocol 2.0)"
    assert full_version(None, "1.0", None) == "1.0"
    assert full_version(None, None, "x") == "(x)"
    # a product longer than the room is cut with "...", and nothing else fits
    assert full_version("p" * 200, "1.0", "x") == "p" * 156 + "..."
    # a version that does not fit is cut; a part with fewer than 8 characters left is dropped
    assert full_version("p" * 100, "v" * 100, "x") == "p" * 100 + " " + "v" * 55 + "..."
    assert full_version("p" * 150, "v" * 3, "x") == "p" * 150 + " vvv"
    # extrainfo that fills the room exactly loses its closing parenthesis
    assert full_version("p" * 10, None, "e" * 146) == "p" * 10 + " (" + "e" * 146
    assert full_version("p" * 10, None, "e" * 145) == "p" * 10 + " (" + "e" * 145 + ")"


def test_fingerprint_lines_are_74_characters() -> None:
    body = "SF-Port1-TCP:V=7.93%" + "a" * 200
    lines = wrapped_fingerprint(body + ";").split("\n")
    assert [len(line) for line in lines] == [74, 74, 74, 8]
    assert all(line.startswith("SF:") for line in lines[1:])
    assert "".join([lines[0], *(line[3:] for line in lines[1:])]) == body + ";"
    # the ";" stays on a full line rather than starting one
    exact = "S" * (74 + 71)
    assert wrapped_fingerprint(exact + ";") == "S" * 74 + "\nSF:" + "S" * 71 + ";"


@pytest.mark.parametrize(("state", "service", "service_scan", "cell", "grep"), [
    ("open", None, False, "http-alt", "http-alt"),  # -sT
    ("open", None, True, "http-alt?", "http-alt?"),  # -sV, not probed
    ("closed", None, True, "http-alt", "http-alt"),  # only open ports are doubted
    ("open", Service(name="http", method="table", conf=3), True, "http?", "http?"),
    ("open", Service(name="http", method="probed", conf=10), True, "http", "http"),
    ("open", Service(name="http", method="probed", conf=10, tunnel="ssl"), True, "ssl/http",
     "ssl|http"),
    ("open", Service(name="unknown", method="table", conf=3), True, "unknown", "unknown"),
    ("open", Service(name="x" * 63, method="probed", conf=10), True, "x" * 63, "x" * 63),
    ("open", Service(name="x" * 64, method="probed", conf=10), True, "", ""),  # 64-byte buffer
])
def test_service_names(state: str, service: Service | None, service_scan: bool, cell: str,
                       grep: str) -> None:
    row = PortRow(8000, "tcp", state, "syn-ack", "http-alt", service, service_scan)
    assert (row.table_service, row.grep_service) == (cell, grep)


def test_service_info_fields_and_limits(tmp_path: Path) -> None:
    """Five values at most per field, hostnames compared without case and never
    the host's own PTR name, application CPEs left out."""
    services = [Service(name="smtp", method="probed", conf=10, hostname=f"h{i}.test",
                        cpe=(f"cpe:/a:x:{i}",)) for i in range(7)]
    services += [Service(name="ssh", method="probed", conf=10, hostname="H0.TEST", ostype="Linux",
                         devicetype="router", cpe=("cpe:/o:linux:linux_kernel",)),
                 Service(name="ssh", method="probed", conf=10, hostname="Box.Test",
                         ostype="Linux")]
    host = HostResult("127.0.0.1", socket.AF_INET, "up", "conn-refused", ptr_name="box.test",
                      ports=[PortResult(100 + i, "open", "syn-ack", "tcp", s)
                             for i, s in enumerate(services)]
                      + [PortResult(99, "closed", "conn-refused", "tcp",
                                    Service(name="x", method="probed", conf=10, ostype="Closed"))],
                      start_time=1.0, end_time=2.0)
    out = io.StringIO()
    rep = Reporter(OutputSpec(service_scan=True), SERVICES.get, stdout=out, stderr=io.StringIO())
    rep.host(host, scan_type="connect")
    assert ("Service Info: Hosts: h0.test, h1.test, h2.test, h3.test, h4.test; OS: Linux; "
            "Device: router; CPE: cpe:/o:linux:linux_kernel\n") in out.getvalue()


@pytest.mark.parametrize(("args", "expected"), [
    ("nmap -sV 127.0.0.1", True),
    ("nmap -sTV 127.0.0.1", True),
    ("nmap -sT -p 22 -sV 127.0.0.1", True),
    ("nmap -sR 127.0.0.1", True),
    ("nmap -nA 127.0.0.1", True),
    ("nmap -sT 127.0.0.1", False),
    ("nmap -p 22 --versiondb V 127.0.0.1", False),
    ("nmap -sT -oN sV 127.0.0.1", False),
    ("nmap --bogus -sV 127.0.0.1", False),  # getopt refuses the line before -sV
])
def test_a_reports_service_scan_comes_from_its_command_line(args: str, expected: bool) -> None:
    xml = (SERVICE / "sv" / "base.xml").read_text()
    old = re.search(r' args="([^"]*)"', xml)
    assert old is not None
    report = Report.from_xml(xml.replace(old.group(0), f' args="{args}"'))
    assert ("VERSION" in report.to_normal()) is expected
    assert ("Service detection performed." in report.to_normal()) is expected
    assert ("nping-echo?" in report.to_grepable()) is expected


def test_rendered_xml_is_dtd_valid_with_every_service_attribute() -> None:
    """nmap 7.93 writes no RPC attributes, but nmap.dtd has them: a report read
    from an older nmap's XML keeps them, after tunnel, and stays valid."""
    service = Service(name="rpcbind", method="probed", conf=10, product="p", version="v",
                      extrainfo="e", tunnel="ssl", proto="rpc", rpcnum=100000, lowver=2,
                      highver=4, hostname="h", ostype="o", devicetype="d", servicefp="SF:x;",
                      cpe=("cpe:/a:b", "cpe:/o:c"))
    report = Report.from_xml((SERVICE / "sv" / "base.xml").read_text())
    host = report.hosts[0]
    port = dataclasses.replace(host.ports[0], service=service)
    changed = dataclasses.replace(report, hosts=(dataclasses.replace(host, ports=(port,)),))
    document = changed.to_xml()
    validate(document)
    assert Report.from_xml(document).hosts[0].ports[0].service == service
    element = etree.fromstring(document.encode()).find(".//service")
    assert element is not None
    assert list(element.attrib) == ["name", "product", "version", "extrainfo", "hostname",
                                    "ostype", "devicetype", "servicefp", "tunnel", "proto",
                                    "rpcnum", "lowver", "highver", "method", "conf"]
    assert [c.text for c in element] == ["cpe:/a:b", "cpe:/o:c"]


def test_no_host_up_no_closing_note() -> None:
    report = Report.from_xml((SERVICE / "sv_host_down" / "base.xml").read_text())
    assert report.runstats.up == 0 and report.hosts == ()
    assert "-sV" in (report.args or "")
    assert "Service detection performed" not in report.to_normal()
