"""--shard I/N and --seed S (pynmap.shard): the split, its options, its memory.

Nothing here sends a packet: target streams get fake resolvers, command
lines are list scans with -n of numeric targets and excludes (no lookup is
made), and the one subprocess lists a range without touching it.
"""

from __future__ import annotations

import collections
import hashlib
import io
import ipaddress
import itertools
import os
import resource
import socket
import subprocess
import sys
import tempfile
import tracemalloc
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pynmap
from pynmap import api, targets
from pynmap.cli.app import run_cli
from pynmap.errors import Fatal
from pynmap.shard import DEFAULT_SEED, MAX_SHARDS, Shard, shard_of
from pynmap.targets import (
    ResolveError,
    Skipped,
    Target,
    expand_targets,
    parse_excludes,
    read_target_words,
)

V4, V6 = socket.AF_INET, socket.AF_INET6
SETTINGS = settings(max_examples=100, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


# -- the definition ------------------------------------------------------------------------


def reference_shard(address: str, count: int, seed: int) -> int:
    """The hash as pynmap.shard's docstring defines it, written out the slow way."""
    parsed = ipaddress.ip_address(address)
    value = int(parsed) | (0xFFFF << 32 if parsed.version == 4 else 0)
    stream = hashlib.shake_256(b"pynmap-shard-v1\0" + seed.to_bytes(8, "big")
                               + (value & ~0xFF).to_bytes(16, "big")).digest(2048)
    at = 8 * (value & 0xFF)
    return int.from_bytes(stream[at:at + 8], "little") % count


def hosts_of(word: str, shard: Shard, ipv6: bool = False) -> list[str]:
    return [t.address for t in expand_targets([word], ipv6=ipv6, excludes=None,
                                              resolve=no_resolver, warn=print, shard=shard)
            if isinstance(t, Target)]


@SETTINGS
@given(row=st.integers(0, 2**24 - 1), count=st.integers(1, MAX_SHARDS),
       seed=st.integers(0, 2**64 - 1), data=st.data())
def test_the_stream_cuts_as_the_definition_says(row: int, count: int, seed: int,
                                                data: st.DataObject) -> None:
    """What makes shards cut on different machines and versions agree: the
    stream's fast path (a /24's words at a time) is the documented hash."""
    index = data.draw(st.integers(0, count - 1))
    prefix = ".".join(str(row >> shift & 0xFF) for shift in (16, 8, 0))
    assert hosts_of(f"{prefix}.0/24", Shard(index, count, seed)) == [
        f"{prefix}.{d}" for d in range(256)
        if reference_shard(f"{prefix}.{d}", count, seed) == index]
    some = f"{prefix}.{data.draw(st.integers(0, 255))}"
    assert shard_of(some, count, seed) == reference_shard(some, count, seed)


def test_ipv4_and_its_mapped_ipv6_form_are_one_host() -> None:
    for d in range(40):
        v4 = hosts_of(f"192.0.2.{d}", Shard(1, 3, 5))
        v6 = hosts_of(f"::ffff:192.0.2.{d}", Shard(1, 3, 5), ipv6=True)
        assert len(v4) == len(v6) == (reference_shard(f"192.0.2.{d}", 3, 5) == 1)


def test_shards_are_balanced_and_the_seed_redraws_them() -> None:
    for seed in (DEFAULT_SEED, 1):
        counts = [len(hosts_of("10.9.0.0/16", Shard(i, 4, seed))) for i in range(4)]
        assert sum(counts) == 65536
        assert all(abs(n - 16384) < 1000 for n in counts)  # 9 standard deviations
    assert hosts_of("10.9.0.0/24", Shard(0, 2, 0)) != hosts_of("10.9.0.0/24", Shard(0, 2, 1))


# -- the property: disjoint shards that give back the unsharded list ---------------------


def no_resolver(name: str, family: int) -> list[tuple[int, str]]:
    raise ResolveError("Name or service not known")


NAMES: dict[str, list[tuple[int, str]]] = {
    "alpha.t": [(V4, "10.0.0.5"), (V6, "2001:db8::5")],
    "multi.t": [(V4, "10.0.1.7"), (V4, "10.0.0.9"), (V6, "2001:db8::9")],
    "six.t": [(V6, "2001:db8::1:3")],
}


def fake_resolver(name: str, family: int) -> list[tuple[int, str]]:
    found = [a for a in NAMES.get(name, []) if family in (socket.AF_UNSPEC, a[0])]
    if not found:
        raise ResolveError("Name or service not known")
    return found


def _octet(low: int, high: int) -> st.SearchStrategy[str]:
    value = st.integers(low, high)
    return st.one_of(
        value.map(str),
        st.tuples(value, value).map(lambda t: f"{min(t)}-{max(t)}"),
        st.lists(value, min_size=1, max_size=3).map(lambda v: ",".join(map(str, v))),
    )


# a small space (10.0.0-1.x, 2001:db8::0-1:ff) so that words, duplicates and excludes overlap
ipv4_word = st.one_of(
    st.tuples(_octet(0, 1), _octet(0, 40)).map(lambda t: f"10.0.{t[0]}.{t[1]}"),
    st.tuples(st.integers(0, 1), st.integers(0, 255), st.integers(25, 32)).map(
        lambda t: f"10.0.{t[0]}.{t[1]}/{t[2]}"),
)
ipv6_word = st.tuples(st.integers(0, 1), st.integers(0, 255), st.integers(122, 128)).map(
    lambda t: f"2001:db8::{t[0]:x}:{t[1]:x}/{t[2]}")
ipv4_exclude = st.one_of(
    st.tuples(_octet(0, 1), _octet(0, 40)).map(lambda t: f"10.0.{t[0]}.{t[1]}"),
    st.tuples(st.integers(0, 1), st.integers(0, 255), st.integers(26, 31)).map(
        lambda t: f"10.0.{t[0]}.{t[1]}/{t[2]}"),
)
ipv6_exclude = st.tuples(st.integers(0, 1), st.integers(0, 255), st.integers(124, 127)).map(
    lambda t: f"2001:db8::{t[0]:x}:{t[1]:x}/{t[2]}")
odd_word = st.sampled_from(["alpha.t", "multi.t", "six.t", "nosuch.t", "10.0.0.1/x"])


@st.composite
def scans(draw: st.DrawFn, *, names: bool) -> tuple[list[str], list[str], bool]:
    """(target words with repeats, exclude words, -6)"""
    ipv6 = draw(st.booleans())
    word = ipv6_word if ipv6 else ipv4_word
    if names:
        word = st.one_of(word, odd_word)
    words = draw(st.lists(word, min_size=1, max_size=6))
    words += draw(st.lists(st.sampled_from(words), max_size=3))  # given twice
    words = draw(st.permutations(words))
    excludes = draw(st.lists(ipv6_exclude if ipv6 else ipv4_exclude, max_size=3, unique=True))
    return words, excludes, ipv6


def check_partition(unsharded: Sequence[str], shards: Sequence[Sequence[str]]) -> None:
    """Shards are disjoint, and merged by position they are exactly `unsharded`:
    each is a subsequence of it, and every item (repeats too) is in one of them."""
    owners: dict[str, int] = {}
    for index, shard in enumerate(shards):
        for address in shard:
            assert owners.setdefault(address, index) == index, f"{address} in two shards"
    pending = [collections.deque(shard) for shard in shards]
    for address in unsharded:
        heads = [queue for queue in pending if queue and queue[0] == address]
        assert len(heads) == 1, f"{address} is not next in exactly one shard"
        heads[0].popleft()
    assert not any(pending), "a shard lists a host the unsharded run does not"


def stream_items(words: Iterable[str], excludes: list[str], ipv6: bool, unique: bool,
                 shard: Shard | None) -> tuple[list[str], list[Skipped], list[str]]:
    warned: list[str] = []
    exclude_set = (parse_excludes(excludes, ipv6=ipv6, resolve=fake_resolver)
                   if excludes else None)
    stream = expand_targets(words, ipv6=ipv6, excludes=exclude_set, resolve=fake_resolver,
                            warn=warned.append, verbosity=2, unique=unique, shard=shard)
    items = list(stream) + list(stream.requery())
    return ([t.address for t in items if isinstance(t, Target)],
            [s for s in items if isinstance(s, Skipped)], warned)


@SETTINGS
@given(scan=scans(names=True), count=st.integers(1, 6), seed=st.integers(0, 2**64 - 1),
       from_file=st.booleans(), unique=st.booleans())
def test_shards_split_the_target_stream_exactly(scan: tuple[list[str], list[str], bool],
                                                count: int, seed: int, from_file: bool,
                                                unique: bool) -> None:
    words, excludes, ipv6 = scan

    def word_source() -> Iterable[str]:
        if not from_file:
            return words
        text = "".join(f"{w}{' # a comment' if i % 3 == 1 else ''}\n\t"
                       for i, w in enumerate(words))
        return read_target_words(io.StringIO(text, newline=""))

    try:
        unsharded, skipped, warned = stream_items(word_source(), excludes, ipv6, unique, None)
    except Fatal:  # the same /32 excluded twice: nmap's "Malloc Failed!"
        return
    shards = []
    for index in range(count):
        targets, shard_skipped, shard_warned = stream_items(
            word_source(), excludes, ipv6, unique, Shard(index, count, seed))
        assert all(shard_of(a, count, seed) == index for a in targets)
        # what is not a host (a failed name, a bad word) and every warning is in every shard
        assert (shard_skipped, shard_warned) == (skipped, warned)
        shards.append(targets)
    check_partition(unsharded, shards)


def list_scan(args: Sequence[str]) -> tuple[int, list[str], str, str]:
    """pynmap -sL -n ARGS in-process: (status, hosts listed, "Nmap done" line, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    status = run_cli(["pynmap", "-sL", "-n", *args], out, err, {})
    lines = out.getvalue().splitlines()
    hosts = [line.removeprefix("Nmap scan report for ") for line in lines
             if line.startswith("Nmap scan report for ")]
    done = [line for line in lines if line.startswith("Nmap done: ")]
    return status, hosts, done[0] if done else "", err.getvalue()


def done_line(hosts: int) -> str:
    return f"Nmap done: {hosts} IP address{'' if hosts == 1 else 'es'} (0 hosts up)"


NO_TARGETS = "WARNING: No targets were specified, so 0 hosts scanned.\n"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scan=scans(names=False), count=st.integers(1, 5), seed=st.integers(0, 2**64 - 1),
       from_file=st.booleans())
def test_shards_of_a_command_line_split_its_list_scan(scan: tuple[list[str], list[str], bool],
                                                      count: int, seed: int,
                                                      from_file: bool) -> None:
    """The same through the command line, -iL and --excludefile files included:
    each shard's run lists and counts only its hosts, and together they list
    the unsharded run's, in its order.  (The words are numeric: a lookup
    would fail the test rather than leave the machine.)"""
    words, excludes, ipv6 = scan
    asked: list[str] = []

    def refuse(name: str, family: int) -> list[tuple[int, str]]:
        asked.append(name)
        raise ResolveError("Name or service not known")

    with tempfile.TemporaryDirectory() as tmp, mock.patch.object(targets, "system_resolver",
                                                                 refuse):
        args = ["-6"] if ipv6 else []
        if excludes:  # a file, not --exclude: an octet list's commas would split the word
            Path(tmp, "excludes.txt").write_text(" ".join(excludes) + "\n")
            args += ["--excludefile", str(Path(tmp, "excludes.txt"))]
        if from_file:
            Path(tmp, "targets.txt").write_text("\n".join(words) + "\n")
            args += ["-iL", str(Path(tmp, "targets.txt"))]
        else:
            args += words
        status, unsharded, done, stderr = list_scan(args)
        if status != 0:  # the same /32 excluded twice: every shard fails alike
            assert "Malloc Failed" in stderr
            assert all(list_scan([*args, "--shard", f"{i}/{count}"])[0] == status
                       for i in range(count))
            return
        assert done.startswith(done_line(len(unsharded)))
        shards = []
        for index in range(count):
            seed_args = ["--seed", str(seed)] if seed or index % 2 else []
            status, hosts, done, shard_stderr = list_scan(
                [*args, *seed_args, f"--shard={index}/{count}"])
            assert status == 0
            # an empty shard is a run whose targets were all excluded, as nmap words it
            assert shard_stderr.removesuffix(NO_TARGETS) == stderr.removesuffix(NO_TARGETS)
            assert shard_stderr.endswith(NO_TARGETS) == (not hosts)
            assert done.startswith(done_line(len(hosts)))
            shards.append(hosts)
    assert asked == []
    check_partition(unsharded, shards)


# -- memory ---------------------------------------------------------------------------------


def peak_while_pulling(hosts: int) -> tuple[int, str]:
    """Peak traced memory while the first `hosts` hosts of a /8's shard are pulled."""
    tracemalloc.start()
    try:
        stream = expand_targets(["10.0.0.0/8"], ipv6=False, excludes=None, resolve=no_resolver,
                                warn=print, shard=Shard(1, 4, 7))
        last = collections.deque(itertools.islice(stream, hosts), maxlen=1)
        assert isinstance(last[0], Target)
        return tracemalloc.get_traced_memory()[1], last[0].address
    finally:
        tracemalloc.stop()


def test_a_slash_8_shards_in_constant_memory() -> None:
    """Nothing holds the range or what was already handed out: the peak is the
    same after 50 000 hosts as after 5 000 (about 35 KB, one block's answers)."""
    few, _ = peak_while_pulling(5_000)
    many, last = peak_while_pulling(50_000)
    assert ipaddress.ip_address(last) in ipaddress.ip_network("10.0.0.0/8")
    assert many < 128 * 1024
    assert many - few < 32 * 1024


def test_the_command_line_streams_a_sharded_slash_8() -> None:
    """`-sL -n 10.0.0.0/8 --shard 0/4` under a 512 MB address-space limit (a list of
    the /8, or of its shard, would not fit): its first hosts are printed while it
    runs (then it is stopped), each of them this shard's."""
    limit = 512 * 1024 * 1024

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    proc = subprocess.Popen([sys.executable, "-m", "pynmap", "-sL", "-n", "10.0.0.0/8",
                             "--shard", "0/4"], stdout=subprocess.PIPE, text=True,
                            preexec_fn=cap, env={**os.environ, "NMAP_ARGS": ""})
    assert proc.stdout is not None
    try:
        hosts = []
        for line in proc.stdout:
            if line.startswith("Nmap scan report for "):
                hosts.append(line.split()[-1])
                if len(hosts) == 2000:
                    break
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    assert len(hosts) == 2000
    assert all(shard_of(a, 4) == 0 for a in hosts)
    assert hosts == sorted(hosts, key=lambda a: int(ipaddress.ip_address(a)))


# -- the options ----------------------------------------------------------------------------


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = run_cli(["pynmap", *args], out, err, {})
    return status, out.getvalue(), err.getvalue()


SHARD_ERROR = ("Bogus --shard argument specified, must be I/N with 0 <= I < N <= 65536 "
               "(shards are numbered from 0)\nQUITTING!\n")
SEED_ERROR = ("Bogus --seed argument specified, must be an integer from 0 to "
              "18446744073709551615\nQUITTING!\n")


@pytest.mark.parametrize("value", [
    "4/4", "1/1", "-1/4", "a/b", "0/0", "1", "", "/4", "0/", "0/4/", "1/4/4", "0//4",
    " 0/4", "0/4 ", "+0/4", "0/+4", "0/-4", "0x1/4", "0/4.0", "0/65537", "65536/65536",
    "99999999999999999999/99999999999999999999", "0/" + "9" * 5000, "\u0661/4", "0/\uff14",
])
def test_a_bad_shard_is_refused_as_nmap_refuses_a_bad_value(value: str) -> None:
    assert cli("-sL", "-n", "--shard", value, "10.0.0.1") == (1, "", SHARD_ERROR)


@pytest.mark.parametrize("value", [
    "", "-1", "x", "1.5", "18446744073709551616", "0x10", " 1", "1 ", "+1", "9" * 5000,
])
def test_a_bad_seed_is_refused(value: str) -> None:
    assert cli("-sL", "-n", "--shard", "0/2", "--seed", value, "10.0.0.1") == (
        1, "", SEED_ERROR)


def test_a_seed_needs_a_shard() -> None:
    assert cli("-sL", "-n", "--seed", "5", "10.0.0.1") == (
        1, "", "--seed only applies with --shard I/N\nQUITTING!\n")


def test_nmaps_checks_come_first() -> None:
    """The shard options are checked where nmap's own are, in command-line order,
    and the cross-check after all of nmap's."""
    assert cli("--max-retries", "-1", "--shard", "9/4", "10.0.0.1")[2].startswith(
        "max-retries must be positive")
    assert cli("--shard", "9/4", "--max-retries", "-1", "10.0.0.1")[2] == SHARD_ERROR
    assert cli("--seed", "1", "-sL", "-sT", "10.0.0.1")[2].startswith(
        "-sL and -sn (skip port scan) are not valid")


@pytest.mark.parametrize("spelling", [
    ["--shard", "2/3"], ["-shard", "2/3"], ["--shard=2/3"], ["-shard=2/3"],
    ["--shard", "0/3", "--shard", "02/03"],  # the last one counts
])
def test_shard_spellings(spelling: list[str]) -> None:
    status, out, err = cli("-sL", "-n", *spelling, "-seed=11", "10.0.0.0/28")
    assert (status, err) == (0, "")
    listed = [line.split()[-1] for line in out.splitlines() if "scan report" in line]
    assert listed == [f"10.0.0.{d}" for d in range(16) if shard_of(f"10.0.0.{d}", 3, 11) == 2]


def test_randomize_hosts_shuffles_the_shards_hosts() -> None:
    words = ["-sL", "-n", "--shard", "1/3", "10.0.0.0/24"]
    ordered = [x.split()[-1] for x in cli(*words)[1].splitlines() if "report" in x]
    shuffled = [x.split()[-1] for x in cli("--randomize-hosts", *words)[1].splitlines()
                if "report" in x]
    assert sorted(shuffled) == sorted(ordered) and shuffled != ordered


@pytest.mark.parametrize(("args", "message"), [
    (["--shar", "0/2"], "unrecognized option '--shar'"),  # pynmap's own: spelled in full
    (["--see", "1"], "unrecognized option '--see'"),
    (["--shard"], "option '--shard' requires an argument"),
])
def test_getopts_errors(args: list[str], message: str) -> None:
    status, _, err = cli("-sL", "-n", "10.0.0.1", *args)
    assert (status, err.splitlines()[0]) == (255, f"pynmap: {message}")


def test_the_default_seed_is_documented_and_fixed() -> None:
    assert DEFAULT_SEED == 0
    without = cli("-sL", "-n", "--shard", "1/3", "10.0.0.0/26")[1]
    with_zero = cli("-sL", "-n", "--shard", "1/3", "--seed", "0", "10.0.0.0/26")[1]
    assert [x for x in without.splitlines() if "report" in x] == [
        x for x in with_zero.splitlines() if "report" in x]
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert "without `--seed` the seed is 0" in " ".join(readme.split())


def test_the_api_shards_as_the_command_line_does() -> None:
    spelled: dict[str, Any] = {"shard": (1, 3)}
    assert api.build_argv("10.0.0.0/28", **spelled) == ["pynmap", "--shard", "1/3",
                                                        "10.0.0.0/28"]
    shards = [pynmap.scan("10.0.0.0/28", list_scan=True, resolve="never", shard=f"{i}/3",
                          seed=4) for i in range(3)]
    listed = [[h.addresses[0].addr for h in report.hosts] for report in shards]
    check_partition([f"10.0.0.{d}" for d in range(16)], listed)
    for index, report in enumerate(shards):
        assert report.runstats.total == len(listed[index])
        assert f"--shard {index}/3 --seed 4" in (report.args or "")
        assert all(shard_of(a, 3, 4) == index for a in listed[index])
    with pytest.raises(pynmap.OptionError) as caught:
        pynmap.scan("10.0.0.1", list_scan=True, resolve="never", shard="3/3")
    assert (caught.value.text, caught.value.exit_code) == (SHARD_ERROR, 1)


def test_list_scan_xml_counts_only_the_shard(tmp_path: Path) -> None:
    status, out, _ = cli("-sL", "-n", "--shard", "0/2", "-oX", "-", "10.0.0.0/29",
                         "10.0.0.3")
    assert status == 0
    from lxml import etree

    root = etree.fromstring(out.encode())
    listed = root.xpath("host/address/@addr")
    expected = [a for a in [f"10.0.0.{d}" for d in range(8)] + ["10.0.0.3"]
                if shard_of(a, 2) == 0]
    assert listed == expected
    hosts = root.find("runstats/hosts")
    assert hosts is not None
    assert (hosts.get("total"), hosts.get("down")) == (str(len(expected)), str(len(expected)))
    assert "--shard 0/2" in str(root.get("args"))
