"""Reporter behaviour that no single capture shows, checked against the
reference text and the nmap source facts it cites."""

from __future__ import annotations

import io
import os
import random
import socket
from pathlib import Path

import pytest
from lxml import etree

from pynmap.errors import Fatal
from pynmap.output import OutputSpec, Reporter, expand_log_filename
from pynmap.output import stylesheet as stylesheet_mod
from pynmap.output.kiddie import kiddie
from pynmap.results import HostResult, PortResult, RunStats, Times
from tests.support.reference import CASES

T0 = 1795576136.25
OSCASE = CASES / "oS"


pytestmark = pytest.mark.usefixtures("utc")  # times print as in the captures


def names(port: int) -> str | None:
    return {22: "ssh", 80: "http"}.get(port)


def reporter(tmp: Path, **spec: object) -> tuple[Reporter, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    for key in ("normal", "grepable", "xml", "kiddie"):
        if key in spec and spec[key] != "-":
            spec[key] = str(tmp / str(spec[key]))
    spec.setdefault("stylesheet", None)
    rep = Reporter(OutputSpec(**spec), names, stdout=out, stderr=err, rng=random.Random(1))  # type: ignore[arg-type]
    rep.open_files()
    return rep, out, err


def up_host(ports: list[PortResult]) -> HostResult:
    return HostResult(
        "127.0.0.1",
        socket.AF_INET,
        status="up",
        reason="conn-refused",
        ptr_name="localhost",
        times=Times(96, 1600, 100000),
        ports=ports,
        start_time=T0,
        end_time=T0,
    )


def test_host_with_no_port_left(tmp_path: Path) -> None:
    """Reference 4: a host whose port list ended up empty (--exclude-ports took them
    all) gets an empty line after its Status line; it has no table nor <ports>.
    Confirmed by running nmap 7.93 with -p 22 --exclude-ports 22."""
    rep, _, _ = reporter(tmp_path, normal="o.nmap", grepable="o.gnmap", xml="o.xml")
    rep.begin(args=["nmap"], start=T0, scan_ports=[], scan_type="connect")
    host = up_host([])
    host.start_time = host.end_time = None  # never reached the port scan
    rep.host(host, scan_type="connect")
    rep.finish(stats=RunStats(1, 1, 0), end=T0, elapsed=0.0)
    grep = (tmp_path / "o.gnmap").read_text().splitlines()
    assert grep[1:3] == ["Host: 127.0.0.1 (localhost)\tStatus: Up", ""]
    normal = (tmp_path / "o.nmap").read_text().splitlines()
    assert normal[1:4] == [
        "Nmap scan report for localhost (127.0.0.1)",
        "Host is up (0.000096s latency).",
        "",
    ]
    xml = (tmp_path / "o.xml").read_text()
    assert "<ports>" not in xml
    # checked with nmap 7.93 (-p 22 --exclude-ports 22): the times are 0
    assert '<host starttime="0" endtime="0"><status state="up"' in xml
    assert "TCP(0;)" not in (tmp_path / "o.gnmap").read_text()  # only with -v


def test_down_host_left_out_without_verbose(tmp_path: Path) -> None:
    rep, out, _ = reporter(tmp_path, grepable="o.gnmap", xml="o.xml")
    rep.begin(args=["nmap"], start=T0, scan_ports=[22], scan_type="connect")
    rep.host(
        HostResult("127.0.0.5", socket.AF_INET, status="down", reason="no-response"),
        scan_type="connect",
    )
    rep.finish(stats=RunStats(1, 0, 1), end=T0, elapsed=0.0)
    assert "127.0.0.5" not in out.getvalue()
    assert "127.0.0.5" not in (tmp_path / "o.gnmap").read_text()
    assert "127.0.0.5" not in (tmp_path / "o.xml").read_text()
    assert "Note: Host seems down." in out.getvalue()


def test_no_host_seems_down_note_with_Pn_or_list(tmp_path: Path) -> None:
    rep, out, _ = reporter(tmp_path)
    rep.begin(args=["nmap"], start=T0, scan_ports=[22], scan_type="connect")
    rep.finish(stats=RunStats(1, 0, 1), end=T0, elapsed=0.0, ping_disabled=True)
    assert "Note:" not in out.getvalue()
    rep, out, _ = reporter(tmp_path)
    rep.begin(args=["nmap"], start=T0, scan_ports=None, scan_type="list")
    rep.finish(stats=RunStats(1, 0, 0), end=T0, elapsed=0.0)
    assert "Note:" not in out.getvalue()


def test_no_targets_warning(tmp_path: Path) -> None:
    # cases/no_targets
    rep, out, err = reporter(tmp_path, normal="o.nmap")
    rep.banner(T0)
    rep.begin(args=["nmap", "-sT", "-p", "22"], start=T0, scan_ports=[22], scan_type="connect")
    rep.finish(stats=RunStats(0, 0, 0), end=T0, elapsed=0.04)
    assert err.getvalue() == "WARNING: No targets were specified, so 0 hosts scanned.\n"
    assert out.getvalue().endswith(
        "Nmap done: 0 IP addresses (0 hosts up) scanned in 0.04 seconds\n"
    )
    assert "WARNING: No targets" in (tmp_path / "o.nmap").read_text()


def test_tasks_and_scanned_at_only_with_verbosity(tmp_path: Path) -> None:
    rep, out, _ = reporter(tmp_path, xml="o.xml", verbosity=1)
    rep.begin(args=["nmap"], start=T0, scan_ports=[22], scan_type="connect")
    rep.task_begin("Connect Scan", T0)
    rep.task_end("Connect Scan", T0 + 1.2059, "1 total ports")
    assert out.getvalue() == (
        "Initiating Connect Scan at 03:08\nCompleted Connect Scan at 03:08, 1.21s elapsed (1 total ports)\n"
    )
    rep.host(up_host([PortResult(22, "open", "syn-ack")]), scan_type="connect")
    assert "Scanned at" not in out.getvalue()
    rep, out, _ = reporter(tmp_path, verbosity=2)
    rep.host(up_host([PortResult(22, "open", "syn-ack")]), scan_type="connect")
    assert "Scanned at 2026-11-25 03:08:56 UTC for 0s\n" in out.getvalue()
    assert "Host is up, received conn-refused" in out.getvalue()  # -vv implies --reason


def test_debug_final_times_on_stdout_only(tmp_path: Path) -> None:
    rep, out, _ = reporter(tmp_path, normal="o.nmap", verbosity=1, debugging=1, reason=True)
    rep.host(up_host([PortResult(22, "open", "syn-ack")]), scan_type="connect")
    rep.close()
    line = "Final times for host: srtt: 96 rttvar: 1600  to: 100000\n"
    assert line in out.getvalue()
    assert line not in (tmp_path / "o.nmap").read_text()
    assert out.getvalue().endswith(line + "\n")


def test_task_progress_rounds_like_nmap(tmp_path: Path) -> None:
    # cases/stats_every: stdout says 0:00:19 remaining while the XML says remaining="20"
    rep, out, _ = reporter(tmp_path, xml="o.xml", verbosity=1)
    rep.begin(args=["nmap"], start=T0, scan_ports=[22], scan_type="connect")
    rep.task_progress("Connect Scan", T0, 0.05, 19.2)
    rep.task_progress("Connect Scan", T0, 0.005, None)
    rep.close()
    assert out.getvalue().splitlines() == [
        "Connect Scan Timing: About 5.00% done; ETC: 03:09 (0:00:19 remaining)",
        "Connect Scan Timing: About 0.50% done",
    ]
    xml = (tmp_path / "o.xml").read_text()
    assert (
        '<taskprogress task="Connect Scan" time="1795576136" percent="5.00" remaining="20" etc="1795576155"/>\n'
        in xml
    )
    assert '<taskprogress task="Connect Scan" time="1795576136" percent="0.50"/>\n' in xml


def test_interrupted_before_header_is_still_well_formed(tmp_path: Path) -> None:
    rep, _, _ = reporter(tmp_path, xml="o.xml")
    rep.interrupted(T0, 0.5)
    text = (tmp_path / "o.xml").read_text()
    assert text.startswith("<nmaprun><runstats><finished ")
    root = etree.fromstring(text.encode())
    assert root.find("runstats/finished").get("exit") == "error"


def test_fatal_with_normal_output_on_stdout(tmp_path: Path) -> None:
    # -oN -: the normal log is stdout, so the error shows there and on stderr
    rep, out, err = reporter(tmp_path, normal="-")
    rep.fatal(Fatal("Only 1 -p option allowed"))
    assert out.getvalue() == err.getvalue() == "Only 1 -p option allowed\nQUITTING!\n"


def test_fatal_errormsg_is_cut_like_nmaps_buffer(tmp_path: Path) -> None:
    rep, _, _ = reporter(tmp_path, xml="o.xml")
    rep.fatal(Fatal("x" * 2000), end=T0)
    finished = etree.fromstring((tmp_path / "o.xml").read_bytes()).find("runstats/finished")
    assert len(finished.get("errormsg")) == 1023


def test_appended_files_keep_old_content(tmp_path: Path) -> None:
    (tmp_path / "o.xml").write_text("OLD\n")
    rep, _, _ = reporter(tmp_path, xml="o.xml", append=True)
    rep.close()
    assert (tmp_path / "o.xml").read_text() == "OLD\n"


def test_v0_and_dash_outputs_mute_the_interactive_stream(tmp_path: Path) -> None:
    for spec in (
        {"quiet": True},
        {"xml": "-"},
        {"grepable": "-"},
        {"normal": "-"},
        {"kiddie": "-"},
    ):
        rep, out, _ = reporter(tmp_path, **spec)
        rep.banner(T0)
        rep.interactive("Initiating Connect Scan at 03:08")
        assert "Starting Nmap" not in out.getvalue()
        assert "Initiating" not in out.getvalue()


def test_each_host_report_reaches_every_file_at_once(tmp_path: Path) -> None:
    """nmap flushes its outputs after each host report: a reader of a file
    sees a host as soon as it is reported, without waiting for the next."""
    rep, out, _ = reporter(tmp_path, normal="o.nmap", grepable="o.gnmap", xml="o.xml",
                           kiddie="o.skid")
    rep.host(up_host([PortResult(22, "open", "syn-ack")]), scan_type="connect")
    for name in ("o.nmap", "o.gnmap", "o.xml", "o.skid"):
        assert "127.0.0.1" in (tmp_path / name).read_text(), name
    assert "Nmap scan report for localhost (127.0.0.1)" in out.getvalue()
    rep.close()
    # closed files are left alone afterwards: a later report goes to stdout only
    rep.host(up_host([PortResult(80, "open", "syn-ack")]), scan_type="connect")
    assert out.getvalue().count("Nmap scan report for") == 2
    assert "80/tcp" not in (tmp_path / "o.nmap").read_text()


def test_report_that_overflows_a_failing_files_buffer_is_fatal(tmp_path: Path) -> None:
    """A host's XML larger than the file's 4 KiB stdio buffer, to a file that
    refuses writes: nmap's fwrite() fails and it quits, whatever stdout is
    (here a stream of the caller's, whose writes nmap does not check)."""
    rep, _, _ = reporter(tmp_path, xml="/dev/full")
    small = up_host([PortResult(22, "open", "syn-ack")])
    rep.host(small, scan_type="connect")  # fits in the buffer: its loss goes unnoticed
    big = up_host([PortResult(port, "open", "syn-ack") for port in range(10000, 10100)])
    with pytest.raises(Fatal, match=r"Failed to write \d+ bytes of data to \(logt==8\)"):
        rep.host(big, scan_type="connect")


def test_banner_greetings_with_verbose(tmp_path: Path) -> None:
    sept1 = 1788264000  # 2026-09-01 12:00 UTC
    rep, out, _ = reporter(tmp_path, verbosity=1)
    rep.banner(sept1)
    assert out.getvalue().splitlines()[1] == "Happy 29th Birthday to Nmap, may it live to be 129!"
    xmas = 1798200000  # 2026-12-25 12:00 UTC
    rep, out, _ = reporter(tmp_path, verbosity=1)
    rep.banner(xmas)
    assert out.getvalue().splitlines()[1].startswith("Nmap wishes you a merry Christmas!")
    rep, out, _ = reporter(tmp_path)
    rep.banner(xmas)
    assert len(out.getvalue().splitlines()) == 1


def test_log_filename_escapes() -> None:
    when = 1795576136  # 2026-11-25 03:08:56 UTC
    assert expand_log_filename("scan-%F-%T.xml", when) == "scan-2026-11-25-030856.xml"
    assert expand_log_filename("%H%M%S_%R_%D_%y%m%d_%Y", when) == "030856_0308_112526_261125_2026"
    assert expand_log_filename("100%%-%q", when) == "100%-q"
    assert expand_log_filename("trailing%", when) == "trailing"


def test_stylesheet_href(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stylesheet_mod, "SYSTEM_DATADIR", str(tmp_path / "none"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("NMAPDIR", raising=False)
    monkeypatch.setattr(stylesheet_mod, "_home_of", lambda uid: str(tmp_path / "home"))
    assert stylesheet_mod.stylesheet_href() == "nmap.xsl"
    odd = tmp_path / "d[1]#?%"
    odd.mkdir()
    (odd / "nmap.xsl").write_text("x")
    href = stylesheet_mod.stylesheet_href(str(odd))
    assert href == "file://" + str(tmp_path) + "/d%5B1%5D%23%3F%25/nmap.xsl"
    monkeypatch.setenv("NMAPDIR", str(odd))
    assert stylesheet_mod.stylesheet_href() == href


def test_default_stylesheet_points_at_system_xsl() -> None:
    if not Path("/usr/share/nmap/nmap.xsl").is_file() or os.environ.get("NMAPDIR"):
        pytest.skip("no system nmap.xsl")
    if Path("~/.nmap/nmap.xsl").expanduser().is_file():
        pytest.skip("a user nmap.xsl takes precedence")
    assert OutputSpec().stylesheet == "file:///usr/share/nmap/nmap.xsl"


_KIDDIE = {
    "4": "A",
    "3": "eE",
    "!": "iI",
    "|": "iI",
    "1": "iI",
    "0": "oO",
    "$": "sS",
    "z": "sSz",
    "s": "zs",
    "S": "ZS",
}


def looks_like_kiddie(translated: str, plain: str) -> bool:
    if len(translated) != len(plain):
        return False
    for t, p in zip(translated, plain, strict=True):
        if t == p or t.lower() == p.lower():
            continue
        if p in _KIDDIE.get(t, ""):
            continue
        return False
    return True


def test_kiddie_matches_nmaps_substitutions() -> None:
    # cases/oS: the captured -oS lines are translations of the stdout lines
    plain = (OSCASE / "stdout").read_text().splitlines()
    skid = (OSCASE / "out.skid").read_text().splitlines()
    assert all(looks_like_kiddie(s, p) for s, p in zip(skid, plain, strict=True))
    rng = random.Random(7)
    for line in plain:
        assert looks_like_kiddie(kiddie(line, rng), line)
    # over many runs every substitution shows up
    seen = {kiddie("AeEiIoOsS zZ", random.Random(seed)) for seed in range(200)}
    assert len(seen) > 50


def test_kiddie_file_gets_plain_lines(tmp_path: Path) -> None:
    rep, out, _ = reporter(tmp_path, kiddie="o.skid")
    rep.banner(T0)
    rep.begin(args=["nmap"], start=T0, scan_ports=[22, 80], scan_type="connect")
    rep.host(
        up_host([PortResult(22, "open", "syn-ack"), PortResult(80, "closed", "conn-refused")]),
        scan_type="connect",
    )
    rep.finish(stats=RunStats(1, 1, 0), end=T0, elapsed=0.04)
    skid = (tmp_path / "o.skid").read_text().splitlines()
    plain = out.getvalue().splitlines()
    assert len(skid) == len(plain)
    assert all(looks_like_kiddie(s, p) for s, p in zip(skid, plain, strict=True))
