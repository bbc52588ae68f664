"""Property tests for pynmap.targets: random words never crash it, and its invariants hold.

Names go to fake resolvers (no DNS query is ever sent); the module's own
numeric parsing uses getaddrinfo with AI_NUMERICHOST, which sends nothing.
"""

from __future__ import annotations

import io
import ipaddress
import socket
from itertools import islice

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pynmap.errors import Fatal, PlainExit
from pynmap.targets import (
    ResolveError,
    Skipped,
    Target,
    expand_targets,
    parse_excludes,
    read_target_words,
    split_exclude_spec,
)

V4, V6 = socket.AF_INET, socket.AF_INET6
DUPLICATE = "Malloc Failed! Probably out of space."
SETTINGS = settings(max_examples=100, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def failing_resolver(name: str, family: int) -> list[tuple[int, str]]:
    raise ResolveError("Name or service not known")


def some_resolver(name: str, family: int) -> list[tuple[int, str]]:
    """Answers for some names (both families), fails for the rest."""
    if len(name) % 3 == 0:
        raise ResolveError("Name or service not known")
    found = [(V4, "192.0.2.7"), (V6, "2001:db8::7"), (V4, "192.0.2.8")]
    return [a for a in found if family in (socket.AF_UNSPEC, a[0])]


octet_item = st.one_of(
    st.integers(0, 300).map(str),
    st.tuples(st.integers(0, 260), st.integers(0, 260)).map(lambda t: f"{t[0]}-{t[1]}"),
    st.integers(0, 260).map(lambda n: f"-{n}"),
    st.integers(0, 260).map(lambda n: f"{n}-"),
    st.just("-"), st.just("*"), st.just(""),
)
octet = st.lists(octet_item, min_size=1, max_size=3).map(",".join)
ipv4ish = st.lists(octet, min_size=3, max_size=5).map(".".join)
netmask = st.one_of(st.integers(0, 140).map(str), st.sampled_from(["", "x", "-1", "+8", "08",
                                                                    "99999999999999999999"]))
word = st.one_of(
    ipv4ish,
    st.tuples(ipv4ish, netmask).map("/".join),
    st.sampled_from(["::1", "fe80::1%1", "::ffff:1.2.3.4", "2001:db8::/120", "::1/129", "-",
                     "", "name.example", "name.example/30", "a/b/c", "127.1", "1::2::3"]),
    st.tuples(st.sampled_from(["::1", "2001:db8::1", "ab.cd"]), netmask).map("/".join),
    st.text(alphabet="0123456789.-,*/:abcdefx%# \t\n", max_size=30),
    st.text(max_size=12),
)


@SETTINGS
@given(words=st.lists(word, max_size=6), ipv6=st.booleans(), verbosity=st.integers(0, 3),
       resolve_all=st.booleans(), named=st.booleans())
def test_expand_never_crashes(words: list[str], ipv6: bool, verbosity: int, resolve_all: bool,
                              named: bool) -> None:
    warned: list[str] = []
    stream = expand_targets(words, ipv6=ipv6, excludes=None,
                            resolve=some_resolver if named else failing_resolver,
                            warn=warned.append, verbosity=verbosity, debugging=2,
                            resolve_all=resolve_all)
    try:
        items = list(islice(stream, 300))
        items.extend(islice(stream.requery(), 300))
    except Fatal:
        return
    family = V6 if ipv6 else V4
    for item in items:
        if isinstance(item, Target):
            assert item.family == family
            assert socket.inet_ntop(family, socket.inet_pton(family, item.address)) == item.address
        else:
            assert isinstance(item, Skipped)
            assert item.messages
    assert all(isinstance(line, str) for line in warned)


@SETTINGS
@given(specs=st.lists(word, max_size=5), ipv6=st.booleans(), named=st.booleans())
def test_parse_excludes_raises_only_fatal(specs: list[str], ipv6: bool, named: bool) -> None:
    try:
        excludes = parse_excludes(specs, ipv6=ipv6,
                                  resolve=some_resolver if named else failing_resolver)
    except Fatal as error:
        # log_user() texts carry their own newline; the duplicate-address one is a plain fatal()
        assert error.message.endswith("\n") or error.message == DUPLICATE
        return
    for probe in ("0.0.0.0", "10.1.2.3", "255.255.255.255", "::1", "2001:db8::1", "::ffff:1.2.3.4"):
        assert isinstance(probe in excludes, bool)


@SETTINGS
@given(text=st.text(max_size=60), exclude=st.booleans())
def test_input_words_are_clean(text: str, exclude: bool) -> None:
    try:
        words = list(read_target_words(io.StringIO(text, newline=""), exclude_file=exclude))
    except (Fatal, PlainExit):
        return
    for w in words:
        assert w and not any(c in w for c in " \t\r\n\0#")
    # whatever survives the comments, in order, is what the words are made of
    visible = "".join(line.split("#", 1)[0] for line in text.split("\n"))
    assert "".join(words) == "".join(c for c in visible if c not in " \t\r\0")


@SETTINGS
@given(text=st.text(alphabet="ab,", max_size=12))
def test_split_exclude_spec_keeps_inner_empties(text: str) -> None:
    items = split_exclude_spec(text)
    assert ",".join(items) == (text[:-1] if text.endswith(",") else text)
    assert len(items) == (text.count(",") + (0 if text.endswith(",") else 1) if text else 0)


@st.composite
def ipv4_blocks(draw: st.DrawFn) -> str:
    """Small IPv4 range expressions (at most 4 values an octet)."""
    parts = []
    for _ in range(4):
        low = draw(st.integers(0, 255))
        high = draw(st.integers(low, min(255, low + 2)))
        extra = draw(st.integers(0, 255))
        parts.append(draw(st.sampled_from([f"{low}", f"{low}-{high}", f"{low},{extra}",
                                           f"{extra},{low}-{high}"])))
    return ".".join(parts)


@SETTINGS
@given(block=ipv4_blocks(), bits=st.one_of(st.none(), st.integers(26, 32)))
def test_ranges_come_out_ascending_without_repeats(block: str, bits: int | None) -> None:
    word = block if bits is None else f"{block}/{bits}"
    stream = expand_targets([word], ipv6=False, excludes=None, resolve=failing_resolver,
                            warn=lambda line: None)
    values = [int(ipaddress.IPv4Address(t.address)) for t in stream if isinstance(t, Target)]
    assert values == sorted(set(values))
    octet_sets = [set() for _ in range(4)]
    for part, values_of in zip(block.split("."), octet_sets, strict=True):
        for item in part.split(","):
            low, _, high = item.partition("-")
            values_of.update(range(int(low), int(high or low) + 1))
    if bits is None:  # every combination of the octets' values, and nothing else
        expected = 1
        for values_of in octet_sets:
            expected *= len(values_of)
        assert len(values) == expected


cidr4 = st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 32)).map(
    lambda t: ipaddress.IPv4Network((t[0] >> (32 - t[1]) << (32 - t[1]) if t[1] else 0, t[1])))


@SETTINGS
@given(networks=st.lists(cidr4, min_size=1, max_size=6, unique=True),
       probes=st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=20))
def test_exclude_matches_like_cidr_membership(networks: list[ipaddress.IPv4Network],
                                              probes: list[int]) -> None:
    # nmap's trie is a true union when wider netmasks come first (a wider one
    # inserted after a narrower one inside it may cover only part of itself)
    networks.sort(key=lambda n: n.prefixlen)
    excludes = parse_excludes([str(n) for n in networks], ipv6=False, resolve=failing_resolver)
    near = [int(n.network_address) + d for n in networks for d in (-1, 0)]
    near += [int(n.broadcast_address) + d for n in networks for d in (0, 1)]
    for value in probes + [v for v in near if 0 <= v < 2**32]:
        address = ipaddress.IPv4Address(value)
        assert (str(address) in excludes) == any(address in n for n in networks)


@SETTINGS
@given(block=ipv4_blocks(), bits=st.integers(26, 32),
       excluded=st.lists(st.one_of(ipv4_blocks(), cidr4.map(str)), min_size=1, max_size=4))
def test_block_exclusion_agrees_with_per_address_lookup(block: str, bits: int,
                                                        excluded: list[str]) -> None:
    try:
        excludes = parse_excludes(excluded, ipv6=False, resolve=failing_resolver)
    except Fatal as error:
        assert error.message == DUPLICATE  # the same /32 twice
        return

    def run(with_excludes: bool) -> list[str]:
        stream = expand_targets([f"{block}/{bits}"], ipv6=False,
                                excludes=excludes if with_excludes else None,
                                resolve=failing_resolver, warn=lambda line: None)
        return [t.address for t in stream if isinstance(t, Target)]

    assert run(True) == [a for a in run(False) if a not in excludes]
