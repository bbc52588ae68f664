"""python-nmap and python3-nmap read the same service versions from pynmap as from nmap.

Both libraries run `nmap` themselves with -sV: python-nmap's default
`PortScanner().scan(hosts, ports)` (arguments "-sV") and python3-nmap's
`Nmap().nmap_version_detection(target)` (`nmap -v -oX - TARGET -sV`).  In
the service lab (tests/support/servicelab.py; its hosts file names the
targets, so the reverse lookups wait on no DNS server), with nmap and then pynmap
standing as `nmap` on PATH, each library's view of the services (name,
product, version, extra info, CPE) must be the same; nmap's is first
checked against what the lab declares.  The services answer the NULL
probe (their banner) or hang up at once, so each run takes well under a
second.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.compat.test_xml_consumers import _nmap_on_path, _python_nmap
from tests.support.netns import Netns
from tests.support.servicelab import MAIN, ServiceLab, pick, port_list, service_lab

pytestmark = [pytest.mark.lab, pytest.mark.nmap]

CHOSEN = pick("vsftpd", "openssh", "exim", "tcpwrapped")
PORTS = port_list(CHOSEN)


@pytest.fixture(scope="module")
def svlab(nmap_oracle: str) -> Iterator[ServiceLab]:
    with service_lab() as running:
        yield running


def test_python_nmap_default_scan_reads_the_same_versions(svlab: ServiceLab, nmap_oracle: str,
                                                          tmp_path: Path) -> None:
    scan = [MAIN, PORTS]  # PortScanner().scan(hosts, ports): arguments="-sV"
    theirs = _python_nmap(svlab.scanner, _nmap_on_path(tmp_path, nmap_oracle), scan)
    assert theirs["scaninfo"]["tcp"]["method"] == "connect"
    tcp = theirs["scan"][MAIN]["tcp"]
    for service in CHOSEN:  # nmap, as the lab declares (python-nmap keeps the last CPE)
        got, truth = tcp[str(service.port)], service.truth
        assert (got["name"], got["product"], got["version"]) == (
            truth.name, truth.product or "", truth.version or ""), service.label
        assert got["cpe"] == (truth.cpe[-1] if truth.cpe else ""), service.label
    ours = _python_nmap(svlab.scanner, _nmap_on_path(tmp_path, "pynmap"), scan)
    assert ours["error"] is None, ours["error"]
    _assert_same_ports(ours["scan"][MAIN]["tcp"], tcp)


def _assert_same_ports(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    """Port by port, each field in which pynmap's view differs from nmap's."""
    __tracebackhide__ = True
    found = [f"port {port}: {key}: pynmap {ours.get(port, {}).get(key)!r}, nmap {value!r}"
             for port, fields in theirs.items() for key, value in fields.items()
             if ours.get(port, {}).get(key) != value]
    found += [f"port {port}: only pynmap has it" for port in ours.keys() - theirs.keys()]
    assert found == [], "\n".join(found)


_DRIVER3 = """
import json, sys, nmap3
result = nmap3.Nmap(sys.argv[1]).nmap_version_detection(sys.argv[2], args=sys.argv[3])
print(json.dumps({k: v["ports"] for k, v in result.items() if isinstance(v, dict) and "ports" in v}))
"""


def _python3_nmap(ns: Netns, bindir: Path, target: str, args: str) -> dict[str, Any]:
    """python3-nmap's nmap_version_detection(target, args=args) with `bindir`/nmap, run in `ns`:
    address -> its list of ports as python3-nmap parses them."""
    done = subprocess.run(
        [*ns.exec_prefix(), "env", f"PATH={bindir}:/usr/bin:/bin", "NMAP_UNPRIVILEGED=1",
         f"HOME={bindir}", "TZ=UTC", sys.executable, "-c", _DRIVER3, str(bindir / "nmap"),
         target, args],
        capture_output=True, text=True, timeout=120, cwd=bindir)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_python3_nmap_version_detection_reads_the_same_versions(
        svlab: ServiceLab, nmap_oracle: str, tmp_path: Path) -> None:
    args = f"-p {PORTS}"
    theirs = _python3_nmap(svlab.scanner, _nmap_on_path(tmp_path, nmap_oracle), MAIN, args)
    by_port = {int(p["portid"]): p for p in theirs[MAIN]}
    for service in CHOSEN:
        got, truth = by_port[service.port], service.truth
        assert (got["service"]["name"], got["service"].get("product"),
                got["service"].get("version")) == (truth.name, truth.product, truth.version)
        assert [c["cpe"] for c in got.get("cpe", [])] == list(truth.cpe), service.label
    ours = _python3_nmap(svlab.scanner, _nmap_on_path(tmp_path, "pynmap"), MAIN, args)
    _assert_same_ports({p["portid"]: p for p in ours[MAIN]}, {p["portid"]: p for p in theirs[MAIN]})
    assert ours.keys() == theirs.keys()
