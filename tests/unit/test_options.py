"""Option semantics, against the reference's tables (sections 1.2 and 1.5) and badargs."""

from __future__ import annotations

import csv
import shlex
import socket
import time

import pytest

from pynmap.errors import NmapError, PlainExit
from pynmap.options import Options, output_filename, parse_options
from tests.support.reference import REFERENCE


def parse(line: str) -> tuple[Options, list[str]]:
    warnings: list[str] = []
    opts = parse_options(shlex.split(line), warn=warnings.append, say=warnings.append,
                         usage=lambda: "USAGE\n", version=lambda: "VERSION\n")
    return opts, warnings


def fatal_of(line: str) -> str:
    with pytest.raises(NmapError) as info:
        parse(line)
    return info.value.text


# The -d timing report values of the reference table (section 1.5): init, min, max rtt,
# max-retries, scan-delay, max-scan-delay, max-parallelism, host-timeout.
TEMPLATE_TABLE = {
    "-T0": (300000, 100, 300000, 10, 300000, 1000, 1, 0),
    "-T1": (15000, 100, 15000, 10, 15000, 1000, 1, 0),
    "-T2": (1000, 100, 10000, 10, 400, 1000, 1, 0),
    "-T3": (1000, 100, 10000, 10, 0, 1000, 0, 0),
    "-T4": (500, 100, 1250, 6, 0, 10, 0, 0),
    "-T5": (250, 50, 300, 2, 0, 5, 0, 900000),
    "-Tinsane": (250, 50, 300, 2, 0, 5, 0, 900000),
    "-TPolite": (1000, 100, 10000, 10, 400, 1000, 1, 0),
    "-T4x": (500, 100, 1250, 6, 0, 10, 0, 0),   # only the first digit counts
    "-T45": (500, 100, 1250, 6, 0, 10, 0, 0),
    "-T44": (500, 100, 1250, 6, 0, 10, 0, 0),
    "-T12": (15000, 100, 15000, 10, 15000, 1000, 1, 0),
}


@pytest.mark.parametrize("flag", sorted(TEMPLATE_TABLE))
def test_timing_templates(flag: str) -> None:
    opts, _ = parse(f"nmap {flag} -sL 127.0.0.1")
    t = opts.timing
    assert (t.initial_rtt_timeout, t.min_rtt_timeout, t.max_rtt_timeout, t.max_retries,
            t.scan_delay, t.max_scan_delay, t.max_parallelism, t.host_timeout) == TEMPLATE_TABLE[flag]


def test_explicit_timing_overrides_template_whatever_the_order() -> None:
    opts, _ = parse("nmap --max-retries 3 -T4 --max-rtt-timeout 2s 127.0.0.1")
    assert opts.timing.max_retries == 3
    assert opts.timing.max_rtt_timeout == 2000


def test_rtt_bounds_drag_each_other() -> None:
    opts, _ = parse("nmap --max-rtt-timeout 300ms 127.0.0.1")
    assert (opts.timing.initial_rtt_timeout, opts.timing.max_rtt_timeout) == (300, 300)
    opts, _ = parse("nmap --min-rtt-timeout 2s 127.0.0.1")
    assert (opts.timing.min_rtt_timeout, opts.timing.initial_rtt_timeout) == (2000, 2000)


def test_scan_delay_raises_max_scan_delay_and_warns_about_parallelism() -> None:
    opts, warnings = parse("nmap --scan-delay 2s --max-parallelism 5 127.0.0.1")
    assert opts.timing.max_scan_delay == 2000
    assert warnings == ["Warning: --min-parallelism and --max-parallelism are ignored with "
                        "--scan-delay."]


def test_T11_is_insane_with_a_greeting() -> None:
    opts, warnings = parse("nmap -T11 127.0.0.1")
    assert opts.timing.level == 5
    assert warnings == ["ok nigel"]


def test_verbosity_and_debugging_rules() -> None:
    assert parse("nmap -v -v 127.0.0.1")[0].verbosity == 2
    assert parse("nmap -vv -v3 127.0.0.1")[0].verbosity == 3
    assert parse("nmap -vvv 127.0.0.1")[0].verbosity == 3
    opts, _ = parse("nmap -d2 127.0.0.1")
    assert (opts.debugging, opts.verbosity, opts.reason) == (2, 2, True)
    opts, _ = parse("nmap -v -dd 127.0.0.1")
    assert (opts.debugging, opts.verbosity) == (2, 3)
    assert parse("nmap -vv 127.0.0.1")[0].reason is True  # -vv implies --reason
    assert parse("nmap -v0 127.0.0.1")[0].stdout_muted is True
    assert fatal_of("nmap -vx 127.0.0.1") == 'Invalid argument to -v: "x".\nQUITTING!\n'


def test_default_scan_is_connect_and_list_scan_skips_ports() -> None:
    opts, _ = parse("nmap 127.0.0.1")
    assert opts.connect_scan and opts.port_scan
    opts, _ = parse("nmap -sL 127.0.0.1")
    assert opts.list_scan and not opts.port_scan and not opts.connect_scan


def test_pn_message_only_when_verbose_came_first() -> None:
    message = ("Host discovery disabled (-Pn). All addresses will be marked 'up' and scan "
               "times may be slower.")
    assert parse("nmap -v -Pn 127.0.0.1")[1] == [message]
    assert parse("nmap -Pn -v 127.0.0.1")[1] == []


def test_deprecation_warnings_need_verbosity() -> None:
    assert parse("nmap -PN 127.0.0.1")[1] == []
    assert parse("nmap -PN -v 127.0.0.1")[1] == [
        "Warning: The -PN option is deprecated. Please use -Pn"]


def test_ipv6_and_conflict() -> None:
    assert parse("nmap -6 ::1")[0].af == socket.AF_INET6
    assert fatal_of("nmap -4 -6 ::1") == "Cannot use both -4 and -6 in one scan.\nQUITTING!\n"


def test_outputs_last_one_wins_and_oA() -> None:
    opts, _ = parse("nmap -oN a.txt -oN b.txt -oA base 127.0.0.1")
    assert (opts.normal_file, opts.grepable_file, opts.xml_file) == (
        "base.nmap", "base.gnmap", "base.xml")


def test_servicedb_implies_fast() -> None:
    assert parse("nmap --servicedb x 127.0.0.1")[0].fast is True


def test_version_detection_options_are_kept() -> None:
    """--versiondb names nmap-service-probes; the intensity options set one level, the last
    one given winning (nmap's getopt loop assigns o.version_intensity for each)."""
    opts, _ = parse("nmap -sV --versiondb probes.txt 127.0.0.1")
    assert (opts.versiondb, opts.servicedb, opts.fast) == ("probes.txt", None, False)
    assert parse("nmap 127.0.0.1")[0].version_intensity == 7
    assert parse("nmap --version-all --version-light 127.0.0.1")[0].version_intensity == 2
    assert parse("nmap --version-light --version-all 127.0.0.1")[0].version_intensity == 9
    assert parse("nmap --version-all --version-intensity 4 127.0.0.1")[0].version_intensity == 4
    assert parse("nmap --version-intensity 4 --version-light 127.0.0.1")[0].version_intensity == 2
    assert parse("nmap --version-intensity 0 127.0.0.1")[0].version_intensity == 0


def test_help_and_version_exit_zero() -> None:
    with pytest.raises(PlainExit) as info:
        parse("nmap -h")
    assert (info.value.exit_code, info.value.stdout_text) == (0, "USAGE\n")
    with pytest.raises(PlainExit) as info:
        parse("nmap --version")
    assert (info.value.exit_code, info.value.stdout_text) == (0, "VERSION\n")


def test_first_error_on_the_line_wins() -> None:
    # options are handled in order: the fatal -T comes before the later bad -p
    assert fatal_of("nmap -T9 -p 1 -p 2").startswith("Unknown timing mode")
    assert fatal_of("nmap -p 1 -p 2 -T9").startswith("Only 1 -p option allowed")


def test_output_filename_escapes() -> None:
    when = time.mktime((2026, 3, 4, 5, 6, 7, 0, 0, -1))
    assert output_filename("scan-%F-%T-%D-%R-%%-%q.xml", when) == \
        "scan-2026-03-04-050607-030426-0506-%-q.xml"
    assert output_filename("trailing%", when) == "trailing"


def parse_time_rows() -> list[tuple[str, str, str]]:
    """badargs rows that fail while options are read: no stdout line, exit 1."""
    rows = []
    with open(REFERENCE / "badargs.tsv", newline="") as stream:
        for row in csv.DictReader(stream, delimiter="\t"):
            # output files are opened after parsing and --resume is handled before it
            if (row["exit"] == "1" and row["stdout_lines"] == "0" and "-iL" not in row["cmd"]
                    and "--resume" not in row["cmd"]
                    and not row["stderr"].startswith("Failed to open")):
                rows.append((row["cmd"], row["stderr"].replace("\\n", "\n"), row["exit"]))
    return rows


PARSE_TIME = parse_time_rows()


@pytest.mark.parametrize(("cmd", "stderr", "status"), PARSE_TIME, ids=[r[0] for r in PARSE_TIME])
def test_parse_time_fatals_match_badargs(cmd: str, stderr: str, status: str) -> None:
    """Every fatal nmap reports before its banner is found while reading options."""
    with pytest.raises(NmapError) as info:
        parse(cmd)
    assert info.value.text == stderr
    assert info.value.exit_code == int(status)


def test_json_outputs_and_oa_stays_nmaps() -> None:
    opts, _ = parse("nmap -oJ x.json --json-lines - -oA base 127.0.0.1")
    assert (opts.json_file, opts.json_lines_file) == ("x.json", "-")
    assert (opts.normal_file, opts.grepable_file, opts.xml_file) == (
        "base.nmap", "base.gnmap", "base.xml")
    assert parse("nmap -oA base 127.0.0.1")[0].json_file is None


@pytest.mark.parametrize("line", ["nmap -oJ - -oX - t", "nmap -oN - --json-lines - t",
                                  "nmap -oJ - --json-lines - t"])
def test_json_on_stdout_must_be_alone(line: str) -> None:
    assert fatal_of(line) == "Cannot display multiple output types to stdout.\nQUITTING!\n"


def test_json_output_name_checks_are_nmaps() -> None:
    assert fatal_of("nmap -oJ -x t").startswith("Output filename begins with '-'. Try '-oJ ./-x'")


# -- --privileged: ICMP echo through ping sockets (pynmap.lan) ------------------------------

NOT_ROOT = "Warning:  You are not root -- using TCP pingscan rather than ICMP"


@pytest.mark.parametrize("line,allowed,echo,connect,falls_back", [
    ("--privileged", True, True, True, False),  # nmap's default as root: echo and TCP
    ("--privileged -PE", True, True, False, False),  # echo alone
    ("--privileged -PI", True, True, False, False),
    ("--privileged -PE -PS22", True, True, True, False),
    ("--privileged -PB", True, True, True, False),  # the default types, ACK to 80
    ("--privileged -PP", True, False, True, True),  # ping sockets send echo only
    ("--privileged -PM", True, False, True, True),
    ("--privileged -PE -PP", True, True, True, True),  # echo, and -PP's TCP fallback
    ("--privileged -PE", False, False, True, True),  # not allowed: unprivileged nmap's way
    ("--privileged", False, False, True, False),
    ("--privileged -Pn -PE", True, False, True, False),
    ("--privileged -PE --unprivileged", True, False, True, True),  # the last one wins
    ("-PE", True, False, True, True),  # without --privileged nothing changes
    # an echo request would go around --proxies' chain: unprivileged nmap's way
    ("--privileged --proxies socks4://198.18.0.1:1080", True, False, True, False),
    ("--privileged -PE --proxies socks4://198.18.0.1:1080", True, False, True, True),
    ("", True, False, True, False),
])
def test_privileged_icmp_pings(line: str, allowed: bool, echo: bool, connect: bool,
                               falls_back: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[int] = []

    def ping_sockets(family: int) -> bool:
        asked.append(family)
        return allowed

    monkeypatch.setattr("pynmap.lan.ping_sockets_allowed", ping_sockets)
    opts, warnings = parse(f"nmap -sn {line} 198.18.0.10")
    assert (opts.ping_echo, opts.ping_connect, opts.ping_icmp) == (echo, connect, falls_back)
    assert warnings == ([NOT_ROOT] if falls_back else [])
    assert not asked or "--privileged" in line


def test_privileged_pings_ask_for_the_scans_family(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[int] = []
    monkeypatch.setattr("pynmap.lan.ping_sockets_allowed", lambda f: asked.append(f) or True)
    parse("nmap -6 --privileged -PE ::1")
    assert asked == [socket.AF_INET6]


def test_privileged_echo_with_a_raw_ping_type_refuses_that_type(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """-PU is not replaced when echo requests go through ping sockets: refused, with
    unprivileged nmap's message."""
    monkeypatch.setattr("pynmap.lan.ping_sockets_allowed", lambda family: True)
    assert fatal_of("nmap --privileged -PE -PU 198.18.0.10").startswith(
        "Sorry, UDP Ping (-PU) only works if you are root")


@pytest.mark.parametrize("line,ports", [
    ("--privileged", (80, 443)),
    ("--privileged -PE", None),  # no connect ping at all: nor its --exclude-ports warning
    ("--privileged -PE -PS22", (22,)),
    ("--privileged -PE -PP", (80,)),  # -PP's fallback
])
def test_privileged_connect_ping_ports(line: str, ports: tuple[int, ...] | None,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from pynmap.session import Session

    monkeypatch.setattr("pynmap.lan.ping_sockets_allowed", lambda family: True)
    opts, _ = parse(f"nmap {line} 198.18.0.10")
    assert Session(opts, stdout=io.StringIO(), stderr=io.StringIO())._ping_ports() == ports
