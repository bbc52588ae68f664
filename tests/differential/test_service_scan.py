"""The service scan (-sV) against Python services: what nmap finds, pynmap finds.

One namespace serves Python's http.server, the same over TLS, an SSH banner,
a banner no probe matches, one that only softmatches (ftp), a port that
closes at once and a silent one
(tests.support.pyservices).  nmap runs once at the default intensity on all
but the silent port (a silent port walks every probe's 5 s: minutes), and
once with --version-intensity 0 on the silent port alone (the NULL probe's
6 s).  Each run is first checked against what the services are, then
pynmap's -oX of the same command line must give the same <service> fields:
name, product, version, extrainfo, ostype, method, conf, tunnel, cpe and
servicefp (its date and time fields masked).  nmap and pynmap run at the
same time, the services being stateless.

The -v task and NSE lines of the CLI are compared on the silent run.
"""

from __future__ import annotations

import re
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.netns import Netns, base_env, netns_for_tests, nmap_command, pynmap_command
from tests.support.pyservices import python_services

HTTP, HTTPS, SSH, UNKNOWN, WRAPPED, SILENT, SOFT = 8000, 8443, 2222, 7003, 7002, 7001, 2121
SSH_BANNER = "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"
# softmatched by the NULL probe (ftp, with a hostname), hard-matched by no later probe
FTP_BANNER = "220 Welcome to zq9.example FTP service\r\n"
KINDS = {HTTP: "http", HTTPS: "https", SSH: f"banner:{SSH_BANNER}",
         UNKNOWN: "banner:zq9 k7 hello\r\n", WRAPPED: "close", SILENT: "silent",
         SOFT: f"banner:{FTP_BANNER}"}
MAIN = (HTTP, HTTPS, SSH, UNKNOWN, WRAPPED, SOFT)
FIELDS = ("name", "product", "version", "extrainfo", "hostname", "ostype", "devicetype",
          "method", "conf", "tunnel", "servicefp")

def _masked(fp: str | None) -> str | None:
    if fp is None:
        return None
    return re.sub(r"%D=\d+/\d+%Time=[0-9A-F]+%", "%D=M/D%Time=T%", fp)


def _nmap_services(xml: str) -> dict[int, dict[str, object]]:
    out: dict[int, dict[str, object]] = {}
    for port in ET.fromstring(xml).iter("port"):
        service = port.find("service")
        assert service is not None
        fields: dict[str, object] = {k: service.get(k) for k in FIELDS}
        fields["conf"] = int(str(fields["conf"]))
        fields["servicefp"] = _masked(service.get("servicefp"))
        fields["cpe"] = tuple(c.text for c in service.findall("cpe"))
        out[int(port.get("portid", "0"))] = fields
    return out


def _start(ns: Netns, cwd: Path, command: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([*ns.exec_prefix(), *command], cwd=cwd, env=base_env(cwd),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _finish(proc: subprocess.Popen[bytes]) -> str:
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err.decode()
    return out.decode("utf-8", "surrogateescape")


class Runs:
    """Both programs' results: nmap's XML services, pynmap's, and both -v outputs."""

    def __init__(self, nmap: dict[int, dict[str, object]], pynmap: dict[int, dict[str, object]],
                 nmap_v: str, pynmap_v: str) -> None:
        self.nmap, self.pynmap, self.nmap_v, self.pynmap_v = nmap, pynmap, nmap_v, pynmap_v


@pytest.fixture(scope="module")
def runs(nmap_oracle: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    cwd = tmp_path_factory.mktemp("svscan")
    with netns_for_tests("pynmap-sv") as ns, python_services(ns, cwd, KINDS):
        main = ",".join(map(str, MAIN))
        procs = [
            _start(ns, cwd, [*nmap_command(), "-sV", "-n", "-Pn", "-p", main, "-oX", "-",
                             "127.0.0.1"]),
            _start(ns, cwd, [*nmap_command(), "-sV", "-v", "--version-intensity", "0", "-n",
                             "-Pn", "-p", str(SILENT), "-oX", "silent.xml", "127.0.0.1"]),
            _start(ns, cwd, [*pynmap_command(), "-sV", "-n", "-Pn", "-p", main, "-oX", "-",
                             "127.0.0.1"]),
            _start(ns, cwd, [*pynmap_command(), "-sV", "-v", "--version-intensity", "0", "-n",
                             "-Pn", "-p", str(SILENT), "-oX", "silent-pynmap.xml",
                             "127.0.0.1"]),
        ]
        nmap_xml, nmap_v, pynmap_xml, pynmap_v = (_finish(p) for p in procs)
    nmap = _nmap_services(nmap_xml)
    nmap.update(_nmap_services((cwd / "silent.xml").read_text()))
    pynmap = _nmap_services(pynmap_xml)
    pynmap.update(_nmap_services((cwd / "silent-pynmap.xml").read_text()))
    yield Runs(nmap, pynmap, nmap_v, pynmap_v)


def test_nmap_sees_the_services_as_declared(runs: Runs) -> None:
    got = runs.nmap
    assert (got[HTTP]["name"], got[HTTP]["product"], got[HTTP]["conf"]) == (
        "http", "SimpleHTTPServer", 10)
    assert (got[HTTPS]["name"], got[HTTPS]["tunnel"], got[HTTPS]["product"]) == (
        "http", "ssl", "SimpleHTTPServer")
    assert (got[SSH]["name"], got[SSH]["product"], got[SSH]["version"]) == (
        "ssh", "OpenSSH", "9.2p1 Debian 2+deb12u3")
    assert (got[WRAPPED]["name"], got[WRAPPED]["method"], got[WRAPPED]["conf"]) == (
        "tcpwrapped", "probed", 8)
    assert (got[UNKNOWN]["method"], got[UNKNOWN]["conf"]) == ("table", 3)
    assert str(got[UNKNOWN]["servicefp"]).startswith("SF-Port7003-TCP:V=7.93%I=7%D=M/D")
    assert "%r(NULL,E,\"zq9\\x20k7\\x20hello\\r\\n\")" in str(got[UNKNOWN]["servicefp"])
    assert (got[SILENT]["method"], got[SILENT]["conf"], got[SILENT]["servicefp"]) == (
        "table", 3, None)
    assert (got[SOFT]["name"], got[SOFT]["method"], got[SOFT]["conf"], got[SOFT]["hostname"]) == (
        "ftp", "probed", 10, "zq9.example")
    assert str(got[SOFT]["servicefp"]).startswith("SF-Port2121-TCP:")


@pytest.mark.parametrize("port", [HTTP, HTTPS, SSH, UNKNOWN, WRAPPED, SILENT, SOFT],
                         ids=["http", "https", "ssh", "unknown", "tcpwrapped", "silent",
                              "softmatch"])
def test_pynmap_finds_what_nmap_finds(runs: Runs, port: int) -> None:
    assert runs.pynmap[port] == runs.nmap[port]


_TASK_LINES = re.compile(r"^(Initiating|Scanning|Completed|NSE:).*$", re.M)


def _task_lines(stdout: str) -> list[str]:
    lines = [m.group(0) for m in _TASK_LINES.finditer(stdout)]
    return [re.sub(r"\d\d:\d\d(, [\d.]+s elapsed)?", "HH:MM", line) for line in lines]


def test_the_v_task_and_script_engine_lines_are_nmaps(runs: Runs) -> None:
    nmap_lines = _task_lines(runs.nmap_v)
    assert "Scanning 1 service on 127.0.0.1" in nmap_lines
    assert "NSE: Script scanning 127.0.0.1." in nmap_lines
    assert _task_lines(runs.pynmap_v) == nmap_lines
