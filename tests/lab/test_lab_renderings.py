"""A pynmap scan's -oX/-oN/-oG, rebuilt from its XML by Report.to_xml/to_normal/to_grepable.

The namespace is tests/lab/test_json_output.py's (22 and 2222 open on
127.0.0.1, 127.0.0.1:8080 filtered, 127.0.0.2 down, the rest closed); nmap
scans it first and must see that.  Then pynmap's command line scans it with
-oX, -oN, -oG and -oJ at once, and the Report read from its XML, and the
one read from its -oJ (the Report the API returns), must render byte for
byte as those three files, and its XML must pass xmllint
--dtdvalid against nmap.dtd.  Without -v that holds for a -Pn port scan, a
ping scan and a list scan with a skipped target word, and for a port scan
with host discovery but for its XML's <hosthint>s, which a Report does not
hold; with -vv --open the files also hold -v's task elements and "Read data
files from", which may differ too, and nothing else.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from pynmap.report import Report
from tests.lab.test_json_output import PORTS, _assert_truth, json_ns  # noqa: F401
from tests.support.netns import Netns, run_nmap, run_pynmap

pytestmark = [pytest.mark.lab, pytest.mark.nmap]

QUICK = ["-n", "--max-retries", "1", "--max-rtt-timeout", "200ms"]
FILES = ["-oX", "x.xml", "-oN", "x.nmap", "-oG", "x.gnmap", "-oJ", "x.json"]
NOT_IN_XML = re.compile(r"<(?:taskbegin|taskend|taskprogress) [^>]*/>\n|<hosthint>.*?</hosthint>\n",
                        re.S)
NOT_IN_NORMAL = re.compile(r"^Read data files from: .*\n", re.M)
DTD = "/usr/share/nmap/nmap.dtd"


def _scan(ns: Netns, tmp_path: Path, name: str,
          args: list[str]) -> tuple[list[Report], dict[str, str]]:
    """The run's report read from its XML and from its -oJ (the API's Report),
    and its files."""
    cwd = tmp_path / name
    cwd.mkdir()
    out = run_pynmap([*args, *FILES], ns, cwd)
    assert out.exit == 0, out
    files = {ext: (cwd / f"x.{ext}").read_text() for ext in ("xml", "nmap", "gnmap")}
    files["stderr"] = out.stderr
    report = Report.from_xml(cwd / "x.xml")
    (cwd / "rendered.xml").write_text(report.to_xml())
    check = subprocess.run(["xmllint", "--noout", "--dtdvalid", DTD, str(cwd / "rendered.xml")],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr
    return [report, Report.from_json((cwd / "x.json").read_text())], files


@pytest.mark.parametrize("name,args", [
    ("port", ["-sT", "--reason", *QUICK, "-p", PORTS, "127.0.0.1-3"]),
    ("Pn", ["-sT", "-Pn", *QUICK, "-p", "20-23,2222", "127.0.0.1-3"]),
    ("ping", ["-sn", *QUICK, "127.0.0.1-3"]),
    ("list", ["-sL", "-n", "127.0.0.1/30", "127.0.0.9/x"]),
])
def test_renderings_equal_the_files_of_the_scan(json_ns: Netns, tmp_path: Path,  # noqa: F811
                                                name: str, args: list[str]) -> None:
    if name == "port":  # the namespace, as nmap sees it
        (tmp_path / "nmap").mkdir()
        nmap = run_nmap(["-v", *args, "-oX", "x.xml"], json_ns, tmp_path / "nmap")
        assert nmap.exit == 0, nmap
        _assert_truth(Report.from_xml(tmp_path / "nmap" / "x.xml"))
    reports, files = _scan(json_ns, tmp_path, name, args)
    # the warning nmap prints for the bad target word goes to stderr and -oN
    assert files["stderr"] == ('Unable to split netmask from target expression: "127.0.0.9/x"\n'
                               if name == "list" else "")
    for report in reports:
        assert len(report.hosts) == {"port": 2, "Pn": 3, "ping": 2, "list": 4}[name]
        if name == "port":  # discovery wrote a <hosthint> for each host it found up
            assert files["xml"].count("<hosthint>") == 2
            assert report.to_xml() == NOT_IN_XML.sub("", files["xml"])
        else:
            assert report.to_xml() == files["xml"]
        assert report.to_normal() == files["nmap"].replace(files["stderr"], "")
        assert report.to_grepable() == files["gnmap"]


def test_verbose_renderings_differ_only_by_what_a_report_lacks(json_ns: Netns,  # noqa: F811
                                                               tmp_path: Path) -> None:
    reports, files = _scan(json_ns, tmp_path, "vv",
                           ["-sT", "-vv", "--open", *QUICK, "-p", PORTS, "127.0.0.1-3"])
    report = reports[0]
    # --open: the one host with an open port, and only its open ports listed
    assert [(h.address, [p.portid for p in h.ports]) for h in report.hosts] == [
        ("127.0.0.1", [22, 2222])]
    assert files["stderr"] == ""
    assert "<taskbegin " in files["xml"] and "Read data files from" in files["nmap"]
    # --open, read from the report's command line, brings back nmap's note (8080 is filtered)
    assert "reported as filtered due to --defeat-rst-ratelimit\n" in files["nmap"]
    assert report.to_xml() == NOT_IN_XML.sub("", files["xml"])
    assert report.to_normal() == NOT_IN_NORMAL.sub("", files["nmap"])
    assert report.to_grepable() == files["gnmap"]
