"""Port selection: pynmap against the live nmap, read off XML <scaninfo>.

`-sT ... -oX -` without a target makes nmap build its port list, write
<scaninfo numservices services> and stop ("No targets were specified"), so
every case is a full port-list computation with no probe sent.  The
scaninfo attributes are compared first (the clearest message), then the
whole run: exit code, stdout and stderr after masking.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.compare import assert_same, run_both
from tests.support.netns import Netns

pytestmark = pytest.mark.nmap

# A small nmap-services with the awkward lines the format allows: a
# duplicate port (first wins), "n/d" and junk ratios, a missing ratio,
# other protocols, leading blanks, an upper-case name, ties in ratio.
SERVICES = """\
# custom services for the port-spec tests
alpha\t22/tcp\t0.4\t# a trailing comment
beta\t3306/tcp\t0.2
gamma\t8080/tcp\t0.2
delta\t9929/tcp\t0.2
echo\t7/udp\t0.9
zeta\t1/tcp\t1/10
eta\t2/tcp\tabc
theta\t5/tcp
alpha\t23/tcp\t0.05
iota\t22/tcp\t0.9
kappa\t100/sctp\t0.5
lambda\t200/foo\t0.5
   mu\t300/tcp\t0.30
Nu\t31337/tcp\t0.001
"""

DATADIR = {"data/nmap-services": SERVICES}
SERVICEDB = {"db/mini-services": SERVICES}


@dataclass(frozen=True)
class Case:
    id: str
    options: tuple[str, ...]
    files: Mapping[str, str] = field(default_factory=dict)
    # Facts about nmap's own answer (reference section 6), checked first so a
    # broken harness shows up as such.
    numservices: int | None = None
    services: str | None = None


def p(spec: str, *more: str) -> tuple[str, ...]:
    return ("-p", spec, *more)


TOP20 = "21-23,25,53,80,110-111,135,139,143,443,445,993,995,1723,3306,3389,5900,8080"

CASES: list[Case] = [
    # single ports and ranges
    Case("one", p("22"), numservices=1, services="22"),
    Case("zero", p("0"), numservices=1, services="0"),
    Case("max", p("65535"), numservices=1),
    Case("range", p("1-1024"), numservices=1024),
    Case("one_value_range", p("22-22"), numservices=1),
    Case("open_start", p("-100"), numservices=100),
    Case("open_end", p("65500-"), numservices=36),
    Case("all_attached", ("-p-",), numservices=65535),
    Case("all_dash", p("-"), numservices=65535),
    Case("zero_to_all", p("0-"), numservices=65536),
    Case("list", p("22,80,443"), numservices=3),
    Case("unsorted_dups", p("443,80,22,80")),
    Case("overlapping_ranges", p("1-10,5-15,12")),
    Case("blanks_around", p(" 22 , 80 ")),
    Case("attached_arg", ("-p22,25",)),
    # service names and wildcards
    Case("name", p("http")),
    Case("names", p("ssh,http,telnet")),
    Case("star_suffix", p("http*")),
    Case("star_both", p("*sql*")),
    Case("question_mark", p("ftp?data")),
    Case("star_alone", p("*")),
    Case("name_unknown", p("unknown")),
    Case("name_and_numbers", p("mysql,1-5,ssh")),
    # brackets: only ports listed in nmap-services
    Case("bracket_range", p("[1-1024]")),
    Case("bracket_all", p("[-]")),
    Case("bracket_open_end", p("[60000-]")),
    Case("bracket_list", p("[22,80,33306]"), numservices=2),
    Case("bracket_unterminated", p("[1-5")),
    Case("bracket_and_name", p("mysql,[3000-3010]")),
    # protocol prefixes
    Case("prefix_tcp", p("T:22,80"), numservices=2),
    Case("prefix_udp_too", p("T:22,U:53")),
    Case("prefix_udp_first", p("U:53,T:80")),
    Case("prefix_sctp", p("S:22,T:23")),
    Case("prefix_bracket", p("T:[1-100]")),
    Case("prefix_mixed", p("1-5,T:8-9")),
    # -F, --top-ports, --port-ratio, --exclude-ports
    Case("default_top1000", (), numservices=1000),
    Case("fast", ("-F",), numservices=100),
    Case("top_1", ("--top-ports", "1"), numservices=1, services="80"),
    Case("top_20", ("--top-ports", "20"), numservices=20, services=TOP20),
    Case("top_1000", ("--top-ports", "1000"), numservices=1000),
    Case("top_more_than_file", ("--top-ports", "10000")),
    Case("top_equals_form", ("--top-ports=5",), numservices=5),
    Case("top_within_p", ("--top-ports", "10", "-p", "1-1000"), numservices=10),
    Case("top_within_names", ("--top-ports", "3", "-p", "http*")),
    Case("top_exclude", ("--top-ports", "5", "--exclude-ports", "21-23"), numservices=5),
    Case("top_p_exclude", ("--top-ports", "5", "-p", "20-100", "--exclude-ports", "80")),
    Case("fast_and_top", ("-F", "--top-ports", "5"), numservices=5),
    Case("ratio_01", ("--port-ratio", "0.1")),
    Case("ratio_05", ("--port-ratio", "0.5")),
    Case("ratio_0", ("--port-ratio", "0")),
    Case("ratio_garbage", ("--port-ratio", "abc")),
    Case("ratio_within_p", ("--port-ratio", "0.01", "-p", "1-1000")),
    Case("exclude_range", p("1-100", "--exclude-ports", "10-90"), numservices=19),
    Case("exclude_default", ("--exclude-ports", "1-1000"), numservices=1000),
    Case("exclude_names", p("1-1000", "--exclude-ports", "http,ssh")),
    Case("exclude_most", ("-p-", "--exclude-ports", "1-65000"), numservices=535),
    # custom data files
    Case("datadir_default", ("--datadir", "data"), DATADIR, numservices=10),
    Case(
        "datadir_top3", ("--datadir", "data", "--top-ports", "3"), DATADIR, services="22,300,3306"
    ),
    Case("datadir_fast", ("--datadir", "data", "-F"), DATADIR),
    Case("datadir_ratio", ("--datadir", "data", "--port-ratio", "0.15"), DATADIR),
    Case("datadir_names", ("--datadir", "data", "-p", "alpha,mu"), DATADIR, services="22-23,300"),
    Case("datadir_brackets", ("--datadir", "data", "-p", "[1-40000]"), DATADIR),
    Case("datadir_missing", ("--datadir", "nowhere", "-p", "ssh")),
    Case("servicedb", ("--servicedb", "db/mini-services"), SERVICEDB),
    Case("servicedb_top2", ("--servicedb", "db/mini-services", "--top-ports", "2"), SERVICEDB),
]

_SCANINFO = re.compile(r"<scaninfo ([^>]*)/>")
_ATTR = re.compile(r'(\w+)="([^"]*)"')


def scaninfo(xml: str) -> list[dict[str, str]]:
    """The attributes of every <scaninfo> element, in document order."""
    return [dict(_ATTR.findall(match)) for match in _SCANINFO.findall(xml)]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_port_list_matches_nmap(case: Case, oracle_ns: Netns, tmp_path: Path) -> None:
    args = ("-sT", *case.options, "-oX", "-")
    nmap, pynmap = run_both(args, oracle_ns, tmp_path, setup_files=case.files)
    want = scaninfo(nmap.stdout)
    assert len(want) == 1, f"harness: nmap wrote no single scaninfo\n{nmap.stdout}{nmap.stderr}"
    if case.numservices is not None:
        assert want[0]["numservices"] == str(case.numservices), "harness: nmap's count"
    if case.services is not None:
        assert want[0]["services"] == case.services, "harness: nmap's list"
    assert scaninfo(pynmap.stdout) == want, f"pynmap {' '.join(args)}\nstderr: {pynmap.stderr}"
    assert_same(nmap, pynmap, args)


def test_enough_cases() -> None:
    assert len(CASES) >= 45
    assert len({case.id for case in CASES}) == len(CASES)
