"""--privileged's facts in every output: where nmap puts the MAC line and element, the
echo reply's TTL, and the Report (-oJ, from_xml, to_normal) carrying both.

Positions and spellings are nmap 7.93's as root (output.cc: printmacinfo after
the port table, before "Service Info"; print_MAC_XML_Info after the IP address,
in <host> and <hosthint>; "Unknown" without a vendor; " ttl N" after the
reason), as the lab (tests/lab/test_lan_facts.py) confirms against nmap itself.
"""

from __future__ import annotations

import io
import json
import random
import socket
from pathlib import Path

import pytest

from pynmap.output import OutputSpec, Reporter
from pynmap.report import Report, Service
from pynmap.results import HostResult, PortResult, RunStats, Times

T0 = 1795576136.25
pytestmark = pytest.mark.usefixtures("utc")


def names(port: int) -> str | None:
    return {22: "ssh", 80: "http"}.get(port)


def run(tmp: Path, hosts: list[HostResult], scan_type: str = "connect", *,
        reason: bool = False, hint: bool = False) -> dict[str, str]:
    out = io.StringIO()
    spec = OutputSpec(normal=str(tmp / "o.nmap"), grepable=str(tmp / "o.gnmap"),
                      xml=str(tmp / "o.xml"), json=str(tmp / "o.json"), stylesheet=None,
                      reason=reason)
    rep = Reporter(spec, names, stdout=out, stderr=io.StringIO(), rng=random.Random(1))
    rep.open_files()
    rep.begin(args=["nmap"], start=T0, scan_ports=[22] if scan_type == "connect" else None,
              scan_type=scan_type)
    for host in hosts:
        if hint:
            rep.hosthint(host)
        rep.host(host, scan_type=scan_type)
    rep.finish(stats=RunStats(len(hosts), len(hosts), 0), end=T0, elapsed=0.0)
    files = {ext: (tmp / f"o.{ext}").read_text() for ext in ("nmap", "gnmap", "xml", "json")}
    files["stdout"] = out.getvalue()
    return files


def lan_host(address: str = "198.18.0.10", mac: str | None = "00:30:48:5A:00:0A",
             vendor: str | None = "Super Micro Computer", **more: object) -> HostResult:
    host = HostResult(address, socket.AF_INET, status="up", reason="echo-reply",
                      times=Times(96, 1600, 100000), ports=[PortResult(22, "open", "syn-ack")],
                      start_time=T0, end_time=T0, mac=mac, mac_vendor=vendor)
    for key, value in more.items():
        setattr(host, key, value)
    return host


def test_mac_line_after_the_port_table_and_before_service_info(tmp_path: Path) -> None:
    probed = Service(name="ssh", method="probed", conf=10, product="OpenSSH", ostype="Linux")
    host = lan_host(ports=[PortResult(22, "open", "syn-ack", service=probed)])
    lines = run(tmp_path, [host])["nmap"].splitlines()
    at = lines.index("MAC Address: 00:30:48:5A:00:0A (Super Micro Computer)")
    assert lines[at - 1].startswith("22/tcp open")
    assert lines[at + 1] == "Service Info: OS: Linux"


def test_mac_line_of_a_ping_scan_follows_the_status(tmp_path: Path) -> None:
    files = run(tmp_path, [lan_host(ports=[])], "ping")
    assert files["nmap"].splitlines()[1:4] == [
        "Nmap scan report for 198.18.0.10",
        "Host is up (0.000096s latency).",
        "MAC Address: 00:30:48:5A:00:0A (Super Micro Computer)",
    ]
    assert "MAC" not in files["gnmap"]  # nmap's grepable output has no MAC field


def test_no_vendor_is_unknown_and_no_xml_attribute(tmp_path: Path) -> None:
    files = run(tmp_path, [lan_host(mac="02:00:5E:5A:00:0C", vendor=None)])
    assert "MAC Address: 02:00:5E:5A:00:0C (Unknown)\n" in files["nmap"]
    assert '<address addr="02:00:5E:5A:00:0C" addrtype="mac"/>\n' in files["xml"]


def test_xml_element_after_the_ip_address_escaped(tmp_path: Path) -> None:
    files = run(tmp_path, [lan_host(mac="00:00:21:5A:00:0B", vendor="Sureman COMP. & Commun.")],
                hint=True)
    element = ('<address addr="198.18.0.10" addrtype="ipv4"/>\n<address addr="00:00:21:5A:00:0B" '
               'addrtype="mac" vendor="Sureman COMP. &amp; Commun."/>\n')
    assert files["xml"].count(element) == 2  # in <hosthint> and in <host>


def test_a_timed_out_host_has_its_element_not_its_line(tmp_path: Path) -> None:
    """nmap prints the MAC line with the port table, which a timed-out host lacks;
    its XML header (write_host_header) still has the element."""
    files = run(tmp_path, [lan_host(timed_out=True)])
    assert "MAC Address" not in files["nmap"]
    assert 'addrtype="mac"' in files["xml"]


def test_echo_reply_ttl(tmp_path: Path) -> None:
    host = lan_host(address="198.19.0.5", mac=None, vendor=None, reason_ttl=63)
    files = run(tmp_path, [host], reason=True, hint=True)
    assert "Host is up, received echo-reply ttl 63 (0.000096s latency).\n" in files["nmap"]
    assert '<status state="up" reason="echo-reply" reason_ttl="63"/>' in files["xml"]
    # the hint shows the reason the host had before it answered, with no TTL
    assert '<hosthint><status state="up" reason="unknown-response" reason_ttl="0"/>' \
        in files["xml"]
    (tmp_path / "plain").mkdir()
    assert "ttl" not in run(tmp_path / "plain", [host])["nmap"]  # only with --reason


def test_the_report_carries_mac_and_ttl_both_ways(tmp_path: Path) -> None:
    files = run(tmp_path, [lan_host(reason_ttl=64)], reason=True)
    from_json = Report.from_json(files["json"])
    from_xml = Report.from_xml(files["xml"])
    assert from_json.hosts == from_xml.hosts
    [host] = from_xml.hosts
    assert host.reason_ttl == 64
    assert [(a.addr, a.addrtype.value, a.vendor) for a in host.addresses] == [
        ("198.18.0.10", "ipv4", None), ("00:30:48:5A:00:0A", "mac", "Super Micro Computer")]
    assert json.loads(files["json"])["hosts"][0]["addresses"][1]["addrtype"] == "mac"
    # and back to nmap's normal output (Report.to_normal has no run-time lines)
    assert "MAC Address: 00:30:48:5A:00:0A (Super Micro Computer)\n" in from_xml.to_normal()
