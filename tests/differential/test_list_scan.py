"""List scans (-sL): pynmap against the live nmap, target expressions in depth.

-sL sends no probe, and -n keeps it from resolving names through DNS; the few
cases that do look a name up find it in the namespace's hosts file or fail at
once against a nameserver address where nothing listens.  stdout, stderr,
the exit code and every output file must agree after masking.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from tests.support.compare import assert_same, run_both
from tests.support.netns import Netns

pytestmark = pytest.mark.nmap


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]
    files: Mapping[str, str | bytes] = field(default_factory=dict)
    stdin: str | None = None
    outputs: tuple[str, ...] = ()
    # How many "Nmap scan report" lines nmap itself must print: checks the
    # harness (namespace, resolver files) before pynmap is judged.
    hosts: int | None = None


def sl(*words: str) -> tuple[str, ...]:
    return ("-sL", "-n", *words)


TARGETS_FILE = """\
# targets for a list scan
127.0.0.1   # trailing comment
10.0.0.1-3
  10.0.1.0/30\t10.0.2.5
#127.0.0.9
127.0.0.1
"""

EXCLUDE_FILE = """\
# never these
10.0.0.2
10.0.1.0/31  # two of them
"""

CASES: list[Case] = [
    # single IPv4 addresses
    Case("single", sl("127.0.0.1"), hosts=1),
    Case("single_private", sl("10.1.2.3"), hosts=1),
    Case("all_zero", sl("0.0.0.0"), hosts=1),
    Case("broadcast", sl("255.255.255.255"), hosts=1),
    Case("leading_zeros", sl("01.02.03.04"), hosts=1),
    Case("three_octets", sl("1.2.3"), hosts=1),
    Case("hex_octet", sl("0x7f.0.0.1"), hosts=1),
    Case("integer_address", sl("2130706433"), hosts=1),
    Case("five_octets", sl("1.2.3.4.5"), hosts=0),
    # CIDR
    Case("cidr_32", sl("127.0.0.1/32"), hosts=1),
    Case("cidr_31", sl("127.0.0.5/31"), hosts=2),
    Case("cidr_30", sl("127.0.0.0/30"), hosts=4),
    Case("cidr_28_host_bits", sl("10.20.30.40/28"), hosts=16),
    Case("cidr_24", sl("192.168.1.77/24"), hosts=256),
    Case("cidr_16", sl("10.9.0.0/16"), hosts=65536),
    Case("cidr_33", sl("127.0.0.1/33"), hosts=1),
    Case("cidr_99", sl("127.0.0.1/99"), hosts=1),
    Case("cidr_x", sl("127.0.0.1/x"), hosts=0),
    Case("cidr_empty_mask", sl("127.0.0.1/"), hosts=0),
    Case("cidr_negative", sl("127.0.0.1/-1"), hosts=0),
    Case("cidr_with_range", sl("10.0.0.1-2/31"), hosts=4),
    Case("cidr_of_name", sl("localhost/30"), hosts=4),
    Case("cidr_bad_octet", sl("300.1.1.1/30"), hosts=0),
    # octet ranges, lists, wildcards
    Case("range_last", sl("127.0.0.1-3"), hosts=3),
    Case("list_order_dups", sl("127.0.0.3,1,2,1"), hosts=3),
    Case("ranges_two_octets", sl("10.0.0-2.1,3"), hosts=6),
    Case("star_last", sl("10.0.0.*"), hosts=256),
    Case("star_middle", sl("10.0.*.1"), hosts=256),
    Case("open_start", sl("10.0.0.-3"), hosts=4),
    Case("open_end", sl("10.0.0.250-"), hosts=6),
    Case("dash_alone", sl("10.0.0.-"), hosts=256),
    Case("one_value_range", sl("10.0.0.1-1"), hosts=1),
    Case("backwards_range", sl("10.0.0.5-3"), hosts=0),
    Case("list_in_third", sl("127.0.0,1.1"), hosts=2),
    Case("mixed_list_range", sl("127.0.0.1,2-3,5"), hosts=4),
    Case("octet_300", sl("127.0.0.300"), hosts=0),
    Case("range_to_300", sl("127.0.0.1-300"), hosts=0),
    # several targets: order and duplicates are kept
    Case("duplicates", sl("127.0.0.1", "127.0.0.1", "127.0.0.1/32"), hosts=3),
    Case("order_kept", sl("127.0.0.9", "127.0.0.2", "10.0.0.1"), hosts=3),
    Case("good_bad_good", sl("127.0.0.1", "127.0.0.300", "127.0.0.2"), hosts=2),
    Case("options_after_targets", ("127.0.0.1", "-sL", "127.0.0.2", "-n"), hosts=2),
    Case("double_dash", ("-sL", "-n", "--", "127.0.0.1"), hosts=1),
    Case("bare_dash", sl("-", "127.0.0.1"), hosts=1),
    Case("empty_word", sl("", "127.0.0.1"), hosts=1),
    Case("no_target", sl(), hosts=0),
    # names: the hosts file answers, anything else fails at once
    Case("localhost", sl("localhost"), hosts=1),
    Case("unresolvable", sl("nosuch.invalid", "127.0.0.1"), hosts=1),
    Case("blank_inside", sl("a b"), hosts=0),
    # bytes that are not UTF-8 are printed as they came, in every output
    Case(
        "non_utf8_target",
        sl("ab\udce9c", "127.0.0.1", "-oN", "o.nmap", "-oG", "o.gnmap", "-oX", "o.xml"),
        outputs=("o.nmap", "o.gnmap", "o.xml"),
        hosts=1,
    ),
    Case("non_utf8_target_oN_stdout", sl("-oN", "-", "\udce9", "127.0.0.1"), hosts=1),
    Case("non_utf8_iL", sl("-iL", "t.txt"), files={"t.txt": b"ab\xe9c\n127.0.0.1\n"}, hosts=1),
    # IPv6
    Case("v6_without_6", sl("::1", "127.0.0.1"), hosts=1),
    Case("v6_loopback", sl("-6", "::1"), hosts=1),
    Case("v6_cidr_126", sl("-6", "fd00:18::/126"), hosts=4),
    Case("v6_cidr_128", sl("-6", "fd00:18::7/128"), hosts=1),
    Case("v6_cidr_129", sl("-6", "fd00:18::7/129"), hosts=1),
    Case("v6_mapped", sl("-6", "::ffff:127.0.0.1"), hosts=1),
    Case("v6_ipv4_target", sl("-6", "127.0.0.1"), hosts=0),
    Case("v6_name", sl("-6", "ip6-localhost"), hosts=1),
    Case("v6_name_v4_only", sl("-6", "localhost"), hosts=0),
    Case("v6_range_not_allowed", sl("-6", "fd00:18::1-3"), hosts=0),
    # -iL
    Case("iL_file", sl("-iL", "targets.txt"), files={"targets.txt": TARGETS_FILE}, hosts=10),
    Case(
        "iL_ignores_cmdline",
        sl("-iL", "targets.txt", "127.0.0.99"),
        files={"targets.txt": TARGETS_FILE},
        hosts=10,
    ),
    Case("iL_stdin", sl("-iL", "-"), stdin="127.0.0.2\n10.0.0.0/31 # two\n", hosts=3),
    Case("iL_empty", sl("-iL", "empty.txt"), files={"empty.txt": ""}, hosts=0),
    Case(
        "iL_only_comments",
        sl("-iL", "c.txt"),
        files={"c.txt": "# nothing\n   # here either\n"},
        hosts=0,
    ),
    Case("iL_crlf", sl("-iL", "crlf.txt"), files={"crlf.txt": "127.0.0.1\r\n127.0.0.2\r\n"}),
    Case("iL_no_newline", sl("-iL", "t.txt"), files={"t.txt": "127.0.0.4 127.0.0.5"}, hosts=2),
    # a directory opens (fopen) and reads as empty
    Case("iL_directory", sl("-iL", "dir"), files={"dir/t.txt": "127.0.0.1\n"}, hosts=0),
    Case(
        "excludefile_directory",
        sl("--excludefile", "dir", "127.0.0.1-2", "-oN", "out.nmap"),
        files={"dir/t.txt": "127.0.0.1\n"},
        outputs=("out.nmap",),
        hosts=2,
    ),
    # excludes
    Case("exclude_one", sl("--exclude", "127.0.0.2", "127.0.0.0/29"), hosts=7),
    Case("exclude_list", sl("--exclude", "127.0.0.0/30,127.0.0.6", "127.0.0.0/29"), hosts=3),
    Case("exclude_all", sl("--exclude", "10.0.0.0/24", "10.0.0.1-5"), hosts=0),
    Case("exclude_name", sl("--exclude", "localhost", "127.0.0.1-2"), hosts=1),
    Case(
        "excludefile",
        sl("--excludefile", "ex.txt", "10.0.0.0-3", "10.0.1.0-3"),
        files={"ex.txt": EXCLUDE_FILE},
        hosts=5,
    ),
    # words are added as they are read: whichever bad word comes first is reported
    Case(
        "excludefile_bad_name_then_long_word",
        sl("--excludefile", "ex.txt", "127.0.0.1"),
        files={"ex.txt": "10.0.0.1\nnosuch.invalid 10.0.0.2\n" + "a" * 1100 + "\n"},
        hosts=0,
    ),
    Case(
        "excludefile_long_word_then_bad_name",
        sl("--excludefile", "ex.txt", "127.0.0.1"),
        files={"ex.txt": "a" * 1100 + "\nnosuch.invalid\n"},
        hosts=0,
    ),
    Case(
        "exclude_with_iL",
        sl("-iL", "targets.txt", "--exclude", "10.0.0.2"),
        files={"targets.txt": TARGETS_FILE},
        hosts=9,
    ),
    # verbosity
    Case("verbose", ("-sL", "-n", "-v", "127.0.0.1-2")),
    Case("very_verbose", ("-sL", "-n", "-vv", "127.0.0.1-2")),
    Case("verbose_zero", ("-sL", "-n", "-v0", "127.0.0.1-2")),
    # output files
    Case("oN", sl("-oN", "out.nmap", "127.0.0.1-3"), outputs=("out.nmap",)),
    Case("oG_v", sl("-v", "-oG", "out.gnmap", "127.0.0.1-3"), outputs=("out.gnmap",)),
    Case("oX", sl("-oX", "out.xml", "127.0.0.1,3"), outputs=("out.xml",)),
    Case(
        "oA_v",
        sl("-v", "-oA", "scan", "10.0.0.0/30", "::1"),
        outputs=("scan.nmap", "scan.gnmap", "scan.xml"),
    ),
    Case("oX_stdout", sl("-oX", "-", "127.0.0.1-2")),
    Case("oG_stdout", sl("-oG", "-", "127.0.0.1-2")),
    Case(
        "append_output",
        sl("--append-output", "-oN", "old.nmap", "127.0.0.7"),
        files={"old.nmap": "an earlier run\n"},
        outputs=("old.nmap",),
    ),
    Case(
        "oX_empty_iL",
        sl("-iL", "empty.txt", "-oX", "out.xml"),
        files={"empty.txt": ""},
        outputs=("out.xml",),
    ),
    Case(
        "oA_v6_exclude",
        sl("-6", "--exclude", "fd00:18::1", "-oA", "v6", "fd00:18::/126"),
        outputs=("v6.nmap", "v6.gnmap", "v6.xml"),
    ),
]


def _reports(stdout: str) -> int:
    return sum(1 for line in stdout.splitlines() if line.startswith("Nmap scan report for "))


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_list_scan_matches_nmap(case: Case, oracle_ns: Netns, tmp_path: Path) -> None:
    nmap, pynmap = run_both(
        case.args,
        oracle_ns,
        tmp_path,
        setup_files=case.files,
        stdin=case.stdin,
        outputs=case.outputs,
    )
    if case.hosts is not None:
        assert _reports(nmap.stdout) == case.hosts, f"harness: nmap itself said\n{nmap.stdout}"
    assert_same(nmap, pynmap, case.args)


def test_enough_cases() -> None:
    assert len(CASES) >= 45
    assert len({case.id for case in CASES}) == len(CASES)


def _listed(stdout: str) -> list[str]:
    prefix = "Nmap scan report for "
    return [line[len(prefix):] for line in stdout.splitlines() if line.startswith(prefix)]


def test_randomize_hosts_shuffles_within_each_host_batch(oracle_ns: Netns, tmp_path: Path) -> None:
    """--randomize-hosts: nmap reads 16384 targets ahead (four times its usual batch) and
    shuffles each batch, list scans included.  Same hosts, same batches, other orders.
    Words that name no target (names that do not resolve) take no place in a batch."""
    # two batches of 16384, after three words that are skipped
    args = sl("--randomize-hosts", "a.invalid", "b.invalid", "c.invalid", "10.0.0.0/17")
    nmap, pynmap = run_both(args, oracle_ns, tmp_path)
    in_order = [f"10.0.{n >> 8}.{n & 255}" for n in range(32768)]
    batches = (slice(0, 16384), slice(16384, None))
    theirs, ours = _listed(nmap.stdout), _listed(pynmap.stdout)
    # the harness: nmap itself shuffled, and within two batches of 16384
    assert len(theirs) == 32768 and theirs != in_order
    assert all(sorted(theirs[b]) == sorted(in_order[b]) for b in batches)
    assert len(ours) == 32768 and ours != in_order and ours != theirs
    assert all(sorted(ours[b]) == sorted(in_order[b]) for b in batches)
    # a batch larger than the usual 4096: the first 4096 reach beyond the first 4096
    assert set(theirs[:4096]) != set(in_order[:4096])
    assert set(ours[:4096]) != set(in_order[:4096])
    # everything else is nmap's
    assert_same(*(replace(run, stdout=_without_reports(run.stdout)) for run in (nmap, pynmap)),
                args)


def _without_reports(stdout: str) -> str:
    return "".join(line for line in stdout.splitlines(True) if "scan report" not in line)
