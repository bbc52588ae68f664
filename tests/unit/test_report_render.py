"""Report.to_xml / to_normal / to_grepable against nmap's own files of the reference cases.

Each complete capture's XML is read with Report.from_xml and rendered in the
three formats; each rendering must equal what nmap wrote in that run (its
-oX, and its -oN/-oG where the case captured them), after the usual mask of
run-dependent values (tests/support/mask.py).  The only lines taken out of
nmap's files first are the ones a Report does not hold, which
Report.to_xml/to_normal document: the XML's <hosthint> and <task*> elements,
-v's "Read data files from" line, and a fatal error's message in -oN.  Every
rendered XML validates against nmap.dtd (but for the bare document of an
early fatal error, which nmap's does not either).  (The byte-for-byte check against
pynmap's own files of the same scan is tests/lab/test_lab_renderings.py.)
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lxml import etree

from pynmap.report import Report
from tests.support.mask import mask
from tests.support.reference import CASES, SERVICE

# with nmap's -sV captures (tools/capture_sv.py): VERSION column, fingerprints,
# Service Info, <service> attributes, the closing note
XMLS = [p for p in sorted([*CASES.glob("*/*.xml"), *SERVICE.glob("*/*.xml")])
        if p.read_bytes().rstrip().endswith(b"</nmaprun>")]
DTD = Path("/usr/share/nmap/nmap.dtd")
# what a Report does not hold (see Report.to_xml and Report.to_normal)
NOT_IN_XML = re.compile(r"<(?:taskbegin|taskend|taskprogress) [^>]*/>\n|<hosthint>.*?</hosthint>\n",
                        re.S)
NOT_IN_NORMAL = re.compile(r"^Read data files from: .*\n", re.M)


def _id(path: Path) -> str:
    return path.parent.name


def test_the_cases_cover_the_three_formats() -> None:
    assert len(XMLS) >= 50
    assert sum(p.with_suffix(".gnmap").exists() for p in XMLS) >= 20
    assert sum(p.with_suffix(".nmap").exists() for p in XMLS) >= 4


@pytest.mark.parametrize("path", XMLS, ids=_id)
def test_a_report_renders_as_nmap_wrote_it(path: Path) -> None:
    report = Report.from_xml(path)
    xml = report.to_xml()
    assert mask(xml) == mask(NOT_IN_XML.sub("", path.read_text()))
    # and reads back to the same report
    assert Report.from_xml(xml) == report
    grepable = path.with_suffix(".gnmap")
    if grepable.exists():
        assert mask(report.to_grepable()) == mask(grepable.read_text())
    normal = path.with_suffix(".nmap")
    if normal.exists():
        expected = NOT_IN_NORMAL.sub("", normal.read_text())
        if not report.ok:  # the error message is not rebuilt: only the header stays
            expected = expected.partition("\n")[0] + "\n" if report.args else ""
        assert mask(report.to_normal()) == mask(expected)


@pytest.mark.skipif(not DTD.exists(), reason="nmap.dtd is not installed")
def test_every_rendering_validates_against_nmap_dtd() -> None:
    """... exactly when nmap's own file does (the bare <nmaprun> nmap writes for
    a fatal error before its header has none of the attributes the DTD requires)."""
    dtd = etree.DTD(str(DTD))
    invalid = []
    for path in XMLS:
        ours = dtd.validate(etree.fromstring(Report.from_xml(path).to_xml().encode()))
        assert ours == dtd.validate(etree.parse(str(path))), (path, dtd.error_log)
        if not ours:
            invalid.append(path.parent.name)
    assert invalid == ["fatal_before_xml_header"]


def test_stylesheet_choice() -> None:
    report = Report.from_xml(CASES / "multi_hosts" / "out.xml")
    assert "<?xml-stylesheet" not in report.to_xml(stylesheet=None)
    assert '<?xml-stylesheet href="my.xsl" type="text/xsl"?>\n' in report.to_xml(stylesheet="my.xsl")


def test_reason_and_open_come_from_the_command_line_unless_given() -> None:
    """--reason in `args` gives the REASON column; reason=False takes it away."""
    with_reason = Report.from_xml(CASES / "Pn" / "out.xml")
    assert "--reason" in (with_reason.args or "")
    assert "PORT     STATE  SERVICE REASON\n" in with_reason.to_normal()
    assert "PORT     STATE  SERVICE\n" in with_reason.to_normal(reason=False)
    plain = Report.from_xml(CASES / "multi_hosts" / "out.xml")
    assert "REASON" not in plain.to_normal()
    assert "Host is up, received conn-refused (" in plain.to_normal(reason=True)


def test_extrareasons_without_a_port_list() -> None:
    """nmap before 7.80 wrote <extrareasons> without `ports`: the counts still
    come from the element, not from a port list it does not have."""
    text = (CASES / "all_ignored_two_states" / "out.xml").read_text()
    old = re.sub(r' ports="[^"]*"', "", text)
    assert old != text
    report = Report.from_xml(old)
    assert "Not shown: 100 filtered tcp ports (no-response), 38 closed tcp ports (conn-refused)\n" \
        in report.to_normal()
    assert mask(report.to_xml()) == mask(NOT_IN_XML.sub("", old))
