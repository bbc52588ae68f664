"""Target specifications, exclusions and -iL files, against nmap 7.93's behaviour.

Every expectation here is what `NMAP_UNPRIVILEGED=1 nmap -sL -n ...` printed
inside a private namespace whose resolver knew the names used below (the
fake resolver gives the same answers), or what a golden capture in
shared/nmap-reference/cases shows.  No DNS query is sent: names go to the
fake resolver, and the module's own numeric parsing uses AI_NUMERICHOST.
"""

from __future__ import annotations

import io
import socket
import time
from collections.abc import Iterable
from itertools import islice

import pytest

from pynmap.errors import Fatal, PlainExit
from pynmap.targets import (
    Excludes,
    ResolveError,
    Skipped,
    Target,
    TargetStream,
    expand_targets,
    parse_excludes,
    parse_ipv4_ranges,
    read_target_words,
    split_exclude_spec,
    system_resolver,
)
from tests.support.reference import CASES

V4, V6 = socket.AF_INET, socket.AF_INET6

# What getaddrinfo(AF_UNSPEC) answered in the namespace the facts were taken in.
NAMES: dict[str, list[tuple[int, str]]] = {
    "localhost": [(V4, "127.0.0.1")],
    "alpha.t": [(V4, "127.0.0.2")],
    "multi.t": [(V4, "127.0.0.2"), (V4, "127.0.0.3")],
    "dual.t": [(V4, "127.0.0.7"), (V6, "::7")],
    "v6only.t": [(V6, "::1")],
    "multi6.t": [(V4, "127.0.0.2"), (V6, "::2"), (V6, "::3")],
    "hostsdup": [(V4, "127.0.0.9"), (V4, "127.0.0.9")],  # listed twice in /etc/hosts
    "127.1": [(V4, "127.0.0.1")],  # glibc reads inet_aton forms as numbers
    "0x7f000001": [(V4, "127.0.0.1")],
    "127.0.0.1": [(V4, "127.0.0.1")],
    "far.t": [(V4, "10.1.2.3")],
}


class FakeResolver:
    """NAMES, filtered by family like getaddrinfo; anything else fails as NXDOMAIN does."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, int]] = []

    def __call__(self, name: str, family: int) -> list[tuple[int, str]]:
        self.asked.append((name, family))
        found = [a for a in NAMES.get(name, []) if family in (socket.AF_UNSPEC, a[0])]
        if name in NAMES and not found:
            raise ResolveError("No address associated with hostname", socket.EAI_NODATA)
        if not found:
            raise ResolveError("Name or service not known")
        return found


def expand(*words: str, ipv6: bool = False, exclude: Iterable[str] = (), verbosity: int = 0,
           **kwargs: object) -> tuple[list[Target | Skipped | str], TargetStream]:
    """Items in order, with warn() lines interleaved as "warn: ..." strings."""
    events: list[Target | Skipped | str] = []
    resolver = FakeResolver()
    excludes = parse_excludes(exclude, ipv6=ipv6, resolve=resolver) if exclude else None
    stream = expand_targets(words, ipv6=ipv6, excludes=excludes, resolve=resolver,
                            warn=lambda line: events.append("warn: " + line),
                            verbosity=verbosity, **kwargs)  # type: ignore[arg-type]
    events.extend(stream)
    return events, stream


def addresses(*words: str, **kwargs: object) -> list[str]:
    events, _ = expand(*words, **kwargs)  # type: ignore[arg-type]
    return [e.address for e in events if isinstance(e, Target)]


def messages(*words: str, **kwargs: object) -> list[str]:
    """stderr as nmap would print it (warn lines and Skipped messages in order)."""
    events, _ = expand(*words, **kwargs)  # type: ignore[arg-type]
    lines: list[str] = []
    for event in events:
        if isinstance(event, str):
            lines.append(event.removeprefix("warn: "))
        elif isinstance(event, Skipped):
            lines.extend(event.messages)
    return lines


# -- IPv4 ranges and netmasks ------------------------------------------------------------


@pytest.mark.parametrize(("word", "expected"), [
    ("10.0.0-2.1,3", ["10.0.0.1", "10.0.0.3", "10.0.1.1", "10.0.1.3", "10.0.2.1", "10.0.2.3"]),
    ("127.0.0.3,1,2-3,1", ["127.0.0.1", "127.0.0.2", "127.0.0.3"]),
    ("127.0.0.1,3", ["127.0.0.1", "127.0.0.3"]),  # cases/list_scan_n
    ("1.2.3.250-", [f"1.2.3.{i}" for i in range(250, 256)]),
    ("1.2.3.-2", ["1.2.3.0", "1.2.3.1", "1.2.3.2"]),
    ("127.0.0.0/30", ["127.0.0.0", "127.0.0.1", "127.0.0.2", "127.0.0.3"]),  # cases/list_scan_v
    ("10.0.0.1,9/30", [f"10.0.0.{i}" for i in (0, 1, 2, 3, 8, 9, 10, 11)]),
    ("127.0.0.1/30", ["127.0.0.0", "127.0.0.1", "127.0.0.2", "127.0.0.3"]),
    ("127.0.0.010", ["127.0.0.10"]),  # decimal, unlike inet_aton
])
def test_ipv4_expressions(word: str, expected: list[str]) -> None:
    assert addresses(word) == expected


def test_netmask_digits_are_decimal() -> None:
    # nmap -sL -n 127.0.0.1/08 listed 16777216 addresses, 127.0.0.0 first
    stream, warned = expand_lazily("127.0.0.1/08")
    assert [t.address for t in islice(stream, 3)] == ["127.0.0.0", "127.0.0.1", "127.0.0.2"]
    assert warned == []


def expand_lazily(word: str) -> tuple[TargetStream, list[str]]:
    warned: list[str] = []
    stream = expand_targets([word], ipv6=False, excludes=None, resolve=FakeResolver(),
                            warn=warned.append)
    return stream, warned


def test_wildcards_cover_whole_octets_last_octet_fastest() -> None:
    got = addresses("10.0.-.1")
    assert got == [f"10.0.{i}.1" for i in range(256)]
    got = addresses("1.2.3.*/31")
    assert got == [f"1.2.3.{i}" for i in range(256)]


def test_big_blocks_are_lazy_and_cheap() -> None:
    stream, _ = expand_lazily("10.0.0.0/8")
    start = time.process_time()
    first = list(islice(stream, 65536))
    elapsed = time.process_time() - start
    assert first[0] == Target("10.0.0.0", V4)
    assert first[-1] == Target("10.0.255.255", V4)
    assert elapsed < 1.0  # about 0.03 s; a dataclass-per-address version is 5 times slower


@pytest.mark.parametrize(("spec", "ok"), [
    ("1.2.3.4", True), ("001.2.3.4", True), ("1.2.3.-", True), ("1.2.3.0-", True),
    ("1.2.3.4.5", False), ("1..2.3", False), ("1.2.3.", False), ("1.2.3.4,", False),
    ("1.2.3.,4", False), ("1.2.3.4-5-6", False), ("1.2.3.5-4", False), ("1.2.3.--", False),
    ("1.2.3.*5", False), ("1.2.*,3.4", False), ("256.1.1.1", False), ("1.2.3.256-", False),
    (" 1.2.3.4", False), ("1.2.3.4 ", False), ("1.2.3", False), ("", False),
    ("1.2.3.+4", False), ("1.2.3.0x4", False), ("1.2.3.\u0664", False),
])
def test_range_grammar(spec: str, ok: bool) -> None:
    assert (parse_ipv4_ranges(spec) is not None) is ok
    if not ok:
        # nmap then tries the word as a name, which fails: `Failed to resolve "<word>".`
        assert messages(spec) == [f'Failed to resolve "{spec}".']


def test_netmask_messages() -> None:
    # cases/bad_target_netmask, plus variants run by hand
    events, _ = expand("127.0.0.1/33", "127.0.0.1/x", "127.0.0.1/", "127.0.0.1/-1",
                       "127.0.0.1/+8", "127.0.0.1/2147483647", "127.0.0.1/2147483648")
    assert events == [
        'warn: Illegal netmask in "127.0.0.1/33". Assuming /32 (one host)',
        Target("127.0.0.1", V4),
        Skipped("127.0.0.1/x", ('Unable to split netmask from target expression: "127.0.0.1/x"',), True),
        Skipped("127.0.0.1/", ('Unable to split netmask from target expression: "127.0.0.1/"',), True),
        Skipped("127.0.0.1/-1", ('Unable to split netmask from target expression: "127.0.0.1/-1"',), True),
        Skipped("127.0.0.1/+8", ('Unable to split netmask from target expression: "127.0.0.1/+8"',), True),
        'warn: Illegal netmask in "127.0.0.1/2147483647". Assuming /32 (one host)',
        Target("127.0.0.1", V4),
        Skipped("127.0.0.1/2147483648",
                ('Unable to split netmask from target expression: "127.0.0.1/2147483648"',), True),
    ]


def test_netmask_is_split_at_the_last_slash() -> None:
    assert messages("a/b/24") == ['Failed to resolve "a/b".']
    assert messages("127.0.0.1//24") == ['Failed to resolve "127.0.0.1/".']


# -- IPv6 ------------------------------------------------------------------------------


def test_ipv6_literal_without_dash_6() -> None:
    # cases/ipv6_without_6; the netmask warning comes first and names the whole word
    events, _ = expand("::1", "::1/64", "::1/24")
    assert events == [
        Skipped("::1", ("::1 looks like an IPv6 target specification -- you have to use the -6 option.",), True),
        Skipped("::1/64", ('Illegal netmask in "::1/64". Assuming /32 (one host)',
                           "::1 looks like an IPv6 target specification -- you have to use the -6 option."), True),
        Skipped("::1/24", ("::1 looks like an IPv6 target specification -- you have to use the -6 option.",), True),
    ]


def test_ipv6_blocks() -> None:
    assert addresses("::1/126", "::1/129", "fe80::1/127", ipv6=True) == [
        "::", "::1", "::2", "::3", "::1", "fe80::", "fe80::1"]
    assert messages("::1/129", ipv6=True) == []  # too long a mask is ignored silently
    events, _ = expand("fe80::1%1", ipv6=True)
    assert events == [Target("fe80::1", V6, scope_id=1)]


def test_ipv4_words_with_dash_6() -> None:
    # badargs: `nmap -sT -6 -p 22 127.0.0.1`; ranges are not parsed at all with -6
    assert messages("127.0.0.1", "127.0.0.1/24", "127.0.0.1-3", "localhost", ipv6=True) == [
        "Warning: Hostname 127.0.0.1 resolves, but not to any IPv6 address. Try scanning without -6",
        'Failed to resolve "127.0.0.1".',
        "Warning: Hostname 127.0.0.1 resolves, but not to any IPv6 address. Try scanning without -6",
        'Failed to resolve "127.0.0.1".',
        'Failed to resolve "127.0.0.1-3".',
        "Warning: Hostname localhost resolves, but not to any IPv6 address. Try scanning without -6",
        'Failed to resolve "localhost".',
    ]


def test_ipv6_names() -> None:
    events, _ = expand("dual.t", "v6only.t", "multi6.t", ipv6=True)
    assert events == [
        Target("::7", V6, "dual.t", ("127.0.0.7",)),
        Target("::1", V6, "v6only.t"),
        Target("::2", V6, "multi6.t", ("127.0.0.2", "::3")),
    ]


def test_ipv6_only_name_without_dash_6() -> None:
    assert messages("v6only.t") == [
        "Warning: Hostname v6only.t resolves, but not to any IPv4 address. Try scanning with -6",
        'Failed to resolve "v6only.t".',
    ]


# -- names -----------------------------------------------------------------------------


def test_names_and_other_addresses_of_any_family() -> None:
    events, _ = expand("127.0.0.1", "alpha.t", "multi.t", "dual.t", "foo..bar", "127.1")
    assert events == [
        Target("127.0.0.1", V4),
        Target("127.0.0.2", V4, "alpha.t"),
        Target("127.0.0.2", V4, "multi.t", ("127.0.0.3",)),  # cases/hostname_two_a
        Target("127.0.0.7", V4, "dual.t", ("::7",)),
        Skipped("foo..bar", ('Failed to resolve "foo..bar".',), False),
        Target("127.0.0.1", V4, "127.1"),  # nmap: "Nmap scan report for 127.1 (127.0.0.1)"
    ]


def test_many_addresses_warning_needs_vv() -> None:
    # cases/hostname_two_a_vv; duplicates from /etc/hosts are counted and shown
    assert messages("multi.t", verbosity=1) == []
    assert messages("multi.t", "multi6.t", "hostsdup", verbosity=2) == [
        "Warning: Hostname multi.t resolves to 2 IPs. Using 127.0.0.2.",
        "Warning: Hostname multi6.t resolves to 3 IPs. Using 127.0.0.2.",
        "Warning: Hostname hostsdup resolves to 2 IPs. Using 127.0.0.9.",
    ]
    events, _ = expand("hostsdup")
    assert events == [Target("127.0.0.9", V4, "hostsdup", ("127.0.0.9",))]


def test_name_with_netmask_names_only_its_own_address() -> None:
    events, _ = expand("multi.t/30", "localhost/31")
    assert events == [
        Target("127.0.0.0", V4), Target("127.0.0.1", V4),
        Target("127.0.0.2", V4, "multi.t", ("127.0.0.3",)), Target("127.0.0.3", V4),
        Target("127.0.0.0", V4), Target("127.0.0.1", V4, "localhost"),
    ]
    assert messages("alpha.t/33") == ['Illegal netmask in "alpha.t/33". Assuming /32 (one host)']
    assert messages("nosuch.t/33") == ['Illegal netmask in "nosuch.t/33". Assuming /32 (one host)',
                                       'Failed to resolve "nosuch.t".']


def test_resolve_all() -> None:
    # nmap --resolve-all multi.t/31: the mask applies to the first address only
    assert [(t.address, t.user_name) for t in expand("multi.t/31", resolve_all=True)[0]
            if isinstance(t, Target)] == [
        ("127.0.0.2", "multi.t"), ("127.0.0.3", "multi.t"), ("127.0.0.3", "multi.t")]
    events, _ = expand("multi6.t/127", ipv6=True, resolve_all=True)
    assert events == [Target("::2", V6, "multi6.t", ("127.0.0.2",)),
                      Target("::3", V6, "multi6.t", ("127.0.0.2",)),
                      Target("::3", V6, "multi6.t", ("127.0.0.2",))]


def test_bare_dash_and_empty_words() -> None:
    assert messages("-", "", ".") == [
        'Failed to resolve "-".', "Bare '-': did you put a space between '--'?",
        'Failed to resolve "".', 'Failed to resolve ".".']


def test_resolver_error_text_at_debug_2() -> None:
    assert messages("nosuch.t", debugging=2) == [
        "Error resolving nosuch.t: Name or service not known", 'Failed to resolve "nosuch.t".']


def test_duplicates_and_order_are_kept() -> None:
    # cases/iL_targets: 127.0.0.1, localhost, 127.0.0.2-3
    path = CASES / "iL_targets" / "targets.txt"
    if not path.exists():
        pytest.skip("reference captures not available")
    with open(path, newline="") as stream:
        events, _ = expand(*read_target_words(stream))
    assert events == [Target("127.0.0.1", V4), Target("127.0.0.1", V4, "localhost"),
                      Target("127.0.0.2", V4), Target("127.0.0.3", V4)]


def test_unique_drops_repeats() -> None:
    assert addresses("127.0.0.1", "localhost", "127.0.0.0/30", unique=True) == [
        "127.0.0.1", "127.0.0.0", "127.0.0.2", "127.0.0.3"]


def test_nothing_is_resolved_before_it_is_pulled() -> None:
    resolver = FakeResolver()
    stream = expand_targets(["127.0.0.1", "alpha.t"], ipv6=False, excludes=None,
                            resolve=resolver, warn=lambda line: None)
    assert next(stream) == Target("127.0.0.1", V4)
    assert resolver.asked == []
    assert next(stream) == Target("127.0.0.2", V4, "alpha.t")
    assert resolver.asked == [("alpha.t", socket.AF_UNSPEC)]


# -- the repeated "Failed to resolve" ---------------------------------------------------


def test_trailing_failure_is_asked_again() -> None:
    # nmap -sL -n 127.0.0.1 nosuch.t prints the failure twice; -sT three times
    # (cases/bad_target_mixed); each repeat is a new lookup
    resolver = FakeResolver()
    stream = expand_targets(["127.0.0.1", "nosuch.t"], ipv6=False, excludes=None,
                            resolve=resolver, warn=lambda line: None)
    assert list(stream.requery()) == []  # not exhausted yet: nmap would not ask again
    items = list(stream)
    assert items[-1] == Skipped("nosuch.t", ('Failed to resolve "nosuch.t".',), False)
    assert list(stream.requery()) == [items[-1]]
    assert list(stream.requery()) == [items[-1]]
    assert resolver.asked.count(("nosuch.t", socket.AF_UNSPEC)) == 3


@pytest.mark.parametrize(("words", "repeat"), [
    (["127.0.0.1", "-"], ('Failed to resolve "-".', "Bare '-': did you put a space between '--'?")),
    (["::1", "localhost"], ("Warning: Hostname localhost resolves, but not to any IPv6 address. "
                            "Try scanning without -6", 'Failed to resolve "localhost".')),
    (["127.0.0.1", "nosuch.t/33"], ('Failed to resolve "nosuch.t".',)),
    (["127.0.0.1", "foo..bar", "127.0.0.2"], None),
    (["127.0.0.1", "foo..bar", "127.0.0.1/x"], None),  # a parse failure clears the group
    (["127.0.0.1", "::1"], None),
    (["127.0.0.1", "alpha.t"], None),
])
def test_which_words_repeat(words: list[str], repeat: tuple[str, ...] | None) -> None:
    _, stream = expand(*words, ipv6=words[0] == "::1")
    again = list(stream.requery())
    if repeat is None:
        assert again == []
    else:
        assert [s.messages for s in again] == [repeat]  # type: ignore[union-attr]


# -- excludes --------------------------------------------------------------------------


def test_exclude_capture() -> None:
    # cases/exclude: 127.0.0.1-5 --exclude 127.0.0.2,127.0.0.4
    assert addresses("127.0.0.1-5", exclude=split_exclude_spec("127.0.0.2,127.0.0.4")) == [
        "127.0.0.1", "127.0.0.3", "127.0.0.5"]


def test_excludefile_capture() -> None:
    case = CASES / "excludefile"
    if not case.is_dir():
        pytest.skip("reference captures not available")
    with open(case / "excl.txt", newline="") as excl, open(case / "targets.txt", newline="") as tgt:
        exclude = list(read_target_words(excl, exclude_file=True))
        words = list(read_target_words(tgt))
    assert addresses(*words, exclude=exclude) == ["127.0.0.1", "127.0.0.2", "127.0.0.4"]


@pytest.mark.parametrize(("words", "exclude", "ipv6", "left"), [
    # numbers are read by getaddrinfo first: inet_aton forms, octal included
    (["10.0.0.1,8,10", "8.0.0.1"], "010.0.0.1,10.0.0.08", False, ["10.0.0.1", "10.0.0.10"]),
    (["127.0.0.1-3"], "::ffff:127.0.0.2", False, ["127.0.0.1", "127.0.0.3"]),
    (["127.0.0.1-3"], "::ffff:0:0/96", False, []),
    (["127.0.0.1-3"], "::/0", False, []),
    (["::1", "::ffff:127.0.0.1"], "127.0.0.1", True, ["::1"]),
    (["127.0.0.1"], "127.0.0.2,", False, ["127.0.0.1"]),
    (["127.0.0.1"], "", False, ["127.0.0.1"]),
    (["127.0.0.1-3"], "127.0.0.2-3/32", False, ["127.0.0.1"]),
    (["127.0.0.1-4"], "127.1.0.0/15", False, []),
    (["127.0.0.1-3"], "multi.t", False, ["127.0.0.1"]),
    (["127.0.0.1-4"], "127.0.0.2/31,127.0.0.0/30", False, ["127.0.0.4"]),
])
def test_exclude_matching(words: list[str], exclude: str, ipv6: bool, left: list[str]) -> None:
    assert addresses(*words, exclude=split_exclude_spec(exclude), ipv6=ipv6) == left


def test_exclude_trie_quirks() -> None:
    # nmap's trie: a wider netmask after a narrower one inside it covers only
    # part of itself (run by hand: nmap -sL -n 127.0.0.0/26 --exclude ...)
    left = addresses("127.0.0.0/26", exclude=["127.0.0.13/31", "127.0.0.17/27"])
    assert left == [f"127.0.0.{d}" for d in [*range(12), 14, 15, *range(32, 64)]]
    assert addresses("127.0.0.0/26", exclude=["127.0.0.17/27", "127.0.0.13/31"]) == [
        f"127.0.0.{d}" for d in range(32, 64)]
    # ::/0 goes on the zero branch only: IPv4 (mapped, leading 0) is excluded, fe80:: is not
    assert addresses("fe80::/127", "::1", ipv6=True, exclude=["::/0"]) == ["fe80::", "fe80::1"]


@pytest.mark.parametrize("spec", ["127.0.0.8,127.0.0.9,127.0.0.8", "::1,::1", "127.0.0.2,alpha.t",
                                  "alpha.t,alpha.t"])
def test_exclude_same_address_twice(spec: str) -> None:
    # nmap 7.93 loops allocating trie nodes until "Malloc Failed! Probably out of space."
    # (run with ulimit -v; "alpha.t,127.0.0.2" happened to escape: stack garbage decides)
    with pytest.raises(Fatal) as caught:
        parse_excludes(split_exclude_spec(spec), ipv6=False, resolve=FakeResolver())
    assert caught.value.text == "Malloc Failed! Probably out of space.\nQUITTING!\n"
    # a wider netmask first absorbs the address, and then repeats are harmless
    assert addresses("127.0.0.9", exclude=["127.0.0.0/24", "127.0.0.9", "127.0.0.9"]) == []


def test_exclude_rows_and_cut_rows() -> None:
    # 10.0.0-3.* minus a /24, a /25 and a range: checked with nmap -sL -n
    left = addresses("10.0.0-3.*", exclude=["10.0.1.0/24", "10.0.2.128/25", "10.0.0-3.5-250"])
    expected = [f"10.0.{c}.{d}" for c in (0, 2, 3) for d in range(256)
                if not 5 <= d <= 250 and not (c == 2 and d >= 128)]
    assert left == expected


@pytest.mark.parametrize(("spec", "ipv6", "text"), [
    ("127.0.0.1/99", False, 'Illegal netmask in "127.0.0.1/99". Must be smaller than address bit length.\n'),
    ("::1/129", True, 'Illegal netmask in "::1/129". Must be smaller than address bit length.\n'),
    ("127.0.0.1-2/33", False, 'Illegal netmask in "127.0.0.1-2/33". Must be between 0 and 32.\n'),
    ("alpha.t/33", False, 'Illegal netmask in "alpha.t/33". Must be between 0 and 32.\n'),
    ("v6only.t/129", True, 'Illegal netmask in "v6only.t/129". Must be between 0 and 128.\n'),
    ("foo..bar", False, 'Error resolving name "foo..bar": Name or service not known\n'),
    ("alpha.t", True, 'Error resolving name "alpha.t": No address associated with hostname\n'),
    ("127.0.0.1/x", False, 'Error parsing netmask in "127.0.0.1/x".\n'),
    ("127.0.0.1/", False, 'Error parsing netmask in "127.0.0.1/".\n'),
    ("127.0.0.1/99999999999999999999", False,
     'Error parsing netmask in "127.0.0.1/99999999999999999999".\n'),
    ("127.0.0.2/24/1", False, 'Error parsing netmask in "127.0.0.2/24/1".\n'),
    ("", False, 'Error resolving name "": Name or service not known\n'),
])
def test_exclude_errors(spec: str, ipv6: bool, text: str) -> None:
    with pytest.raises(Fatal) as caught:
        parse_excludes([spec], ipv6=ipv6, resolve=FakeResolver())
    assert caught.value.message == text
    if spec == "127.0.0.1/99":  # badargs.md / cases/bad_exclude, verbatim
        assert caught.value.text == text + "\nQUITTING!\n"


def test_split_exclude_spec() -> None:
    assert split_exclude_spec(",127.0.0.2") == ["", "127.0.0.2"]  # then: Error resolving name ""
    assert split_exclude_spec("a,,b,") == ["a", "", "b"]
    assert split_exclude_spec("") == []


def test_exclude_debug_lines() -> None:
    # nmap -d: log_debug is error(), so each line is followed by an empty one
    lines: list[str] = []
    parse_excludes(["127.0.0.2", "127.0.0.1-2/0", "fe80::1%1", "far.t", "far.t/0"], ipv6=False,
                   resolve=FakeResolver(), warn=lines.append, debugging=1)
    assert lines == ["Add IP 127.0.0.2/-1 to addrset (trie).\n",
                     "Add IPv4 range 127.0.0.1-2/32 to addrset.\n",
                     "Add IP fe80::1%lo/-1 to addrset (trie).\n",
                     "Add IPv4 10.1.2.3/32 to addrset (trie).\n",
                     "Add IPv4 10.1.2.3/32 to addrset (trie).\n"]


def test_excludes_membership_by_text() -> None:
    excludes = parse_excludes(["10.0.0.0/8", "2001:db8::/32", "192.168.1-2.*"], ipv6=False,
                              resolve=FakeResolver())
    assert "10.1.2.3" in excludes
    assert "11.0.0.0" not in excludes
    assert "2001:db8::1" in excludes
    assert "192.168.2.7" in excludes
    assert "::ffff:192.168.2.7" not in excludes  # IPv4 ranges only match IPv4 targets
    assert "::ffff:10.0.0.1" in excludes
    assert "garbage" not in excludes
    assert not Excludes()


# -- -iL files -------------------------------------------------------------------------


def test_input_file_words() -> None:
    text = ("127.0.0.1#c 127.0.0.2\n127.0.0.3\r127.0.0.4\t127.0.0.5\v127.0.0.6\f127.0.0.7"
            " # x 127.0.0.8\n\n7.0.0.9#\n  ")
    # nmap -iL of this file: .1 .3 .4 7.0.0.9, and Failed to resolve "127.0.0.5\v127.0.0.6\f127.0.0.7"
    assert list(read_target_words(io.StringIO(text, newline=""))) == [
        "127.0.0.1", "127.0.0.3", "127.0.0.4", "127.0.0.5\v127.0.0.6\f127.0.0.7", "7.0.0.9"]
    # NUL separates words too: nmap listed .1 .2 .4 .6 for this one
    text = "127.0.0.1\x00127.0.0.2#127.0.0.3\n127.0.0.4 #\n#127.0.0.5\n127.0.0.6"
    assert list(read_target_words(io.StringIO(text, newline=""))) == [
        "127.0.0.1", "127.0.0.2", "127.0.0.4", "127.0.0.6"]


class Trickle(io.StringIO):
    """A stream that gives one character per read, to cross every chunk boundary."""

    def readline(self, size: int | None = -1) -> str:  # type: ignore[override]
        return super().read(1)


def test_input_file_words_across_reads() -> None:
    text = "127.0.0.1 # comment\n alpha.t#x\n\nbeta  gamma\n#end"
    assert list(read_target_words(Trickle(text))) == ["127.0.0.1", "alpha.t", "beta", "gamma"]


def test_empty_input_file() -> None:
    assert list(read_target_words(io.StringIO(""))) == []  # cases/empty_iL
    assert list(read_target_words(io.StringIO("# only a comment\n \n"))) == []


def test_too_long_words() -> None:
    stream = read_target_words(io.StringIO("127.0.0.1 " + "a" * 1023 + " " + "b" * 1024 + " c"))
    assert next(stream) == "127.0.0.1"
    assert next(stream) == "a" * 1023  # nmap: Failed to resolve "aaa...", then the fatal
    with pytest.raises(PlainExit) as caught:
        next(stream)
    assert caught.value.text == ("One of the host specifications from your input file is too "
                                 "long (>= 1024 chars)\n")
    assert caught.value.exit_code == 1
    with pytest.raises(Fatal) as fatal:
        list(read_target_words(io.StringIO("b" * 1024), exclude_file=True))
    assert fatal.value.text == ("One of your exclude file specifications was too long to read "
                                "(>= 1024 chars)\nQUITTING!\n")


def test_too_long_counts_bytes() -> None:
    with pytest.raises(PlainExit):
        list(read_target_words(io.StringIO("\u00e9" * 512)))  # 1024 bytes in UTF-8


# -- the system resolver (numeric only: no query leaves the machine) --------------------


def test_system_resolver_numeric() -> None:
    assert system_resolver("127.0.0.1", socket.AF_UNSPEC) == [(V4, "127.0.0.1")]
    assert system_resolver("::1", socket.AF_UNSPEC) == [(V6, "::1")]
    with pytest.raises(ResolveError) as caught:
        system_resolver("::1", socket.AF_INET)
    assert caught.value.message
