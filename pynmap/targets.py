"""Target specifications: words -> a lazy stream of addresses; --exclude; -iL.

Target words follow nmap 7.93 (TargetGroup.cc):

* ``spec/bits`` is split at the *last* ``/``; bits must be plain ASCII digits
  no larger than INT_MAX, else the word is skipped as invalid ("Unable to
  split netmask ...").  Without -6, bits over 32 print "Illegal netmask ...
  Assuming /32 (one host)" and the word goes on as a single host.
* Without -6, an IPv4 address whose octets are ``*`` or comma lists of ``N``,
  ``A-B``, ``-B``, ``A-`` (0..255, decimal, leading zeros allowed) expands to
  every combination, each octet ascending and without duplicates, the last
  octet fastest; a netmask widens each octet's set.
* An IPv6 literal (scope allowed) is an error without -6, a block with it.
* Anything else is a host name, resolved with getaddrinfo(AF_UNSPEC): the
  first address of the scan's family is scanned (with the netmask applied);
  the name's other addresses, whatever their family, are reported as "not
  scanned".  So ``127.1`` or ``0x7f000001`` are names that resolve (nmap
  shows "127.1 (127.0.0.1)"), and ``127.0.0.300`` is a name that fails.

Exclusions follow a different parser (nbase_addrset.c): the netmask is split
at the *first* ``/``; any numeric address (inet_aton forms too, so
``010.0.0.1`` is 8.0.0.1) of either family is taken first, then IPv4 ranges,
then a DNS lookup in the scan's family.  Every error there is fatal.  IPv4
addresses are matched as IPv4-mapped IPv6 addresses, as nmap's trie does, so
``--exclude ::ffff:0:0/96`` removes every IPv4 target and ``--exclude
127.0.0.1`` removes ``::ffff:127.0.0.1`` from an IPv6 scan.
"""

from __future__ import annotations

import io
import os
import re
import socket
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, TextIO

from pynmap.errors import Fatal, PlainExit
from pynmap.plain import FrozenData

if TYPE_CHECKING:  # only the types: the stream calls the Shard it is given
    from pynmap.shard import Shard, Sieve

AF_INET = int(socket.AF_INET)
AF_INET6 = int(socket.AF_INET6)
AF_UNSPEC = int(socket.AF_UNSPEC)

_INT_MAX = 2**31 - 1
_LONG_MAX = 2**63 - 1
# read_host_from_file's buffer: a word of this many bytes or more is fatal.
_SPEC_BUFFER = 1024
_ALL_OCTETS = tuple(range(256))
_OCTET_TEXT = tuple(str(i) for i in range(256))
_V4_MAPPED = 0xFFFF << 32
_V6_ALL = (1 << 128) - 1


class Target(FrozenData):
    """One address to scan."""

    __match_args__ = ("address", "family", "user_name", "other_addresses", "scope_id")
    __slots__ = __match_args__

    def __init__(self, address: str, family: int, user_name: str | None = None,
                 other_addresses: tuple[str, ...] = (), scope_id: int = 0) -> None:
        self.address = address  # canonical text form ("127.0.0.1", "::1"), without any %scope
        self.family = family  # socket.AF_INET / socket.AF_INET6
        self.user_name = user_name  # the name as typed (without /bits) when it resolved to this
        # the name's addresses that are not scanned, any family
        self.other_addresses = other_addresses
        # IPv6 scope from a literal such as fe80::1%eth0; needed to connect
        self.scope_id = scope_id


class Skipped(FrozenData):
    """A word that gave no target; its stderr lines are printed when it is reached."""

    __match_args__ = ("spec", "messages", "invalid")
    __slots__ = __match_args__

    def __init__(self, spec: str, messages: tuple[str, ...], invalid: bool) -> None:
        self.spec = spec
        self.messages = messages  # stderr lines, in order, without trailing newline
        # nmap writes <target specification=.. status="skipped" reason="invalid"/>
        self.invalid = invalid


class ResolveError(Exception):
    """A failed forward lookup; `message` is gai_strerror()'s text."""

    def __init__(self, message: str, code: int | None = socket.EAI_NONAME) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


Resolver = Callable[[str, int], list[tuple[int, str]]]


def system_resolver(name: str, family: int) -> list[tuple[int, str]]:
    """getaddrinfo(name, family, SOCK_DGRAM) in the resolver's order.

    Like nmap, nothing is de-duplicated beyond asking for one socket type: a
    name listed twice in /etc/hosts gives its address twice, and nmap then
    counts and shows both.  The name travels as the bytes that were typed
    (no IDNA encoding), as nmap passes argv to the C library.
    """
    try:
        infos = socket.getaddrinfo(os.fsencode(name), None, family, socket.SOCK_DGRAM)
    except socket.gaierror as error:
        raise ResolveError(error.strerror or str(error), error.errno) from None
    except (UnicodeError, ValueError):  # an embedded NUL cannot reach the C library either
        raise ResolveError("Name or service not known") from None
    # The address is text for both families (an int only in a Python built without IPv6).
    return [(int(info[0]), address) for info in infos
            if info[0] in (AF_INET, AF_INET6) and isinstance(address := info[4][0], str)]


# --------------------------------------------------------------------------------------
# -iL / --excludefile words


def open_word_file(path: str) -> TextIO:
    """Open an -iL or --excludefile file as nmap's fopen() does; OSError if it cannot.

    fopen() opens a readable directory, and every read of it then fails as
    if at the end of the file: nmap reads no word from it and says nothing.
    """
    try:
        return open(path, encoding="utf-8", errors="surrogateescape", newline="")
    except IsADirectoryError:
        os.close(os.open(path, os.O_RDONLY))  # the permission fopen() would need
        return io.StringIO("")


# compiled on first use: only -iL and --excludefile read words from a file
_PIECE = r"([^ \r\n\t\0#]+)|([ \r\n\t\0]+)|#"


def read_target_words(stream: TextIO, *, exclude_file: bool = False) -> Iterator[str]:
    """The words of an -iL (or --excludefile) file, read lazily.

    Words are separated by space, tab, CR, LF and NUL (not by VT or FF);
    ``#`` ends a word and starts a comment that runs to the end of the line.
    A word of 1024 bytes or more is fatal when it is reached, with -iL's
    message (a plain exit, no QUITTING!) or the exclude file's (a fatal()).
    Open the file with newline="" so a lone CR inside a comment does not end
    it, and errors="surrogateescape" so odd bytes survive.
    """
    match_piece = re.compile(_PIECE).match
    parts: list[str] = []
    length = 0
    in_comment = False
    # readline, not read: from a pipe (-iL -) words are used as soon as their line arrives
    while chunk := stream.readline(65536):
        pos, size = 0, len(chunk)
        if in_comment:
            newline = chunk.find("\n")
            if newline < 0:
                continue
            in_comment, pos = False, newline
        while pos < size:
            piece = match_piece(chunk, pos)
            assert piece is not None  # the three branches cover every character
            if piece.lastindex == 1:
                if length < _SPEC_BUFFER:  # enough to measure; a giant word is not kept
                    parts.append(piece.group(1))
                length += piece.end() - pos
                pos = piece.end()
                continue
            if parts:
                yield _finish_word(parts, length, exclude_file)
                parts, length = [], 0
            if piece.lastindex == 2:
                pos = piece.end()
                continue
            newline = chunk.find("\n", pos)
            if newline < 0:
                in_comment = True
                break
            pos = newline
    if parts:
        yield _finish_word(parts, length, exclude_file)


def _finish_word(parts: list[str], length: int, exclude_file: bool) -> str:
    word = "".join(parts)
    # The limit is in bytes: measure the encoded form only when it can matter.
    if length * 4 >= _SPEC_BUFFER and (
        length >= _SPEC_BUFFER or len(os.fsencode(word)) >= _SPEC_BUFFER
    ):
        if exclude_file:
            raise Fatal("One of your exclude file specifications was too long to read "
                        f"(>= {_SPEC_BUFFER} chars)")
        raise PlainExit("One of the host specifications from your input file is too long "
                        f"(>= {_SPEC_BUFFER} chars)\n", 1)
    return word


def split_exclude_spec(text: str) -> list[str]:
    """--exclude's argument cut at commas, as nmap does.

    An empty item is kept (and is then an error: ``Error resolving name ""``)
    except after a trailing comma; an empty argument gives no item.
    """
    if not text:
        return []
    items = text.split(",")
    if items[-1] == "":
        items.pop()
    return items


# --------------------------------------------------------------------------------------
# Grammar pieces shared by targets and excludes


def _digits_value(text: str, limit: int) -> int | None:
    """The value of an all-ASCII-digit string, or None if it is not one or exceeds limit."""
    if not text or not text.isascii() or not text.isdigit():
        return None
    stripped = text.lstrip("0")
    if len(stripped) > len(str(limit)):
        return None
    value = int(stripped or "0")
    return value if value <= limit else None


_NUMBER = re.compile(r"[0-9]*")


def _digits_at(spec: str, p: int) -> str:
    """The run of digits at `p`, maybe empty (the pattern matches everywhere)."""
    found = _NUMBER.match(spec, p)
    return found.group() if found else ""


def parse_ipv4_ranges(spec: str) -> tuple[tuple[int, ...], ...] | None:
    """The four octets' ascending values for an nmap IPv4 range expression, or None."""
    octets: list[tuple[int, ...]] = []
    p = 0
    end_of_spec = len(spec)
    while p < end_of_spec and len(octets) < 4:
        if spec[p] == "*":
            octets.append(_ALL_OCTETS)
            p += 1
        else:
            values: set[int] = set()
            while True:
                run = _digits_at(spec, p)
                if run:
                    low = _octet_value(run)
                    p += len(run)
                elif spec.startswith("-", p):
                    low = 0
                else:
                    return None
                if low is None:
                    return None
                high = low
                if spec.startswith("-", p):
                    p += 1
                    run = _digits_at(spec, p)
                    if run:
                        high_value = _octet_value(run)
                        if high_value is None or high_value < low:
                            return None
                        high = high_value
                        p += len(run)
                    else:
                        high = 255
                values.update(range(low, high + 1))
                if not spec.startswith(",", p):
                    break
                p += 1
            octets.append(tuple(sorted(values)))
        if len(octets) < 4:
            if not spec.startswith(".", p):
                return None
            p += 1
    if p != end_of_spec or len(octets) < 4:
        return None
    return tuple(octets)


def _octet_value(digits: str) -> int | None:
    stripped = digits.lstrip("0")
    if len(stripped) > 3:
        return None
    value = int(stripped or "0")
    return value if value <= 255 else None


def _widen_octets(octets: tuple[tuple[int, ...], ...], bits: int) -> tuple[tuple[int, ...], ...]:
    """Each octet's values plus every value that differs only in the host bits of the mask."""
    if bits < 0 or bits > 32:
        return octets
    mask = (0xFFFFFFFF << (32 - bits)) & 0xFFFFFFFF
    widened = []
    for index, values in enumerate(octets):
        octet_mask = (mask >> (24 - 8 * index)) & 0xFF
        if octet_mask == 0xFF:
            widened.append(values)
            continue
        networks = {value & octet_mask for value in values}
        widened.append(tuple(v for v in range(256) if v & octet_mask in networks))
    return tuple(widened)


def _numeric_addresses(text: str, family: int) -> list[tuple[int, int, int]]:
    """getaddrinfo(AI_NUMERICHOST): [(family, integer address, scope id)]; no lookup is sent."""
    try:
        infos = socket.getaddrinfo(os.fsencode(text), None, family, 0, socket.IPPROTO_TCP,
                                   socket.AI_NUMERICHOST)
    except (OSError, UnicodeError, ValueError):
        return []
    found = []
    for info in infos:
        fam = int(info[0])
        sockaddr = info[4]
        address = sockaddr[0]
        if not isinstance(address, str):  # only in a Python built without IPv6
            continue
        if fam == AF_INET:
            found.append((fam, int.from_bytes(socket.inet_aton(address), "big"), 0))
        elif fam == AF_INET6 and len(sockaddr) == 4:
            packed = socket.inet_pton(socket.AF_INET6, address)
            found.append((fam, int.from_bytes(packed, "big"), int(sockaddr[3])))
    return found


def _text_to_int(family: int, address: str) -> int:
    return int.from_bytes(socket.inet_pton(family, address), "big")


def _v6_text(value: int) -> str:
    return socket.inet_ntop(socket.AF_INET6, value.to_bytes(16, "big"))


def _v4_text(value: int) -> str:
    return socket.inet_ntoa(value.to_bytes(4, "big"))


# --------------------------------------------------------------------------------------
# Excludes


class _Node:
    """A radix-trie node: `length` leading bits of `address` (host bits are kept, not cleared)."""

    __slots__ = ("address", "length", "one", "zero")

    def __init__(self, address: int, length: int, one: _Branch, zero: _Branch) -> None:
        self.address = address
        self.length = length
        self.one = one
        self.zero = zero


_Branch = _Node | None
# "every address from here on": what a netmask leaves below its node
_MATCH_ALL = _Node(0, 0, None, None)


def _bit(value: int, position: int) -> int:
    return (value >> (127 - position)) & 1


class _Trie:
    """nmap's exclude trie, behaviour for behaviour, in 128-bit IPv4-mapped space.

    Its insertion is not a correct set union, and nmap's results depend on
    that: a prefix inserted after a longer one that lies inside it is only
    attached on the branch its own address takes, so `--exclude
    127.0.0.13/31,127.0.0.17/27` leaves 127.0.0.0-11 and .14-15 in the scan.
    The same exact address (a /32 or /128) inserted twice makes nmap read
    past an array and, as a rule, allocate nodes until memory runs out
    ("Malloc Failed! Probably out of space.", or the OOM killer); that is
    raised at once here.  (What nmap reads there is stack garbage: in one
    order, a name then the same address as a number, it happened to survive.)
    """

    __slots__ = ("one", "zero")

    def __init__(self) -> None:
        self.one: _Branch = None
        self.zero: _Branch = None

    def __bool__(self) -> bool:
        return self.one is not None or self.zero is not None

    def insert(self, address: int, length: int) -> None:
        if _bit(address, 0):
            if self.one is None:
                self.one = _Node(address, length, _MATCH_ALL, _MATCH_ALL)
                return
            node: _Branch = self.one
        else:
            if self.zero is None:
                self.zero = _Node(address, length, _MATCH_ALL, _MATCH_ALL)
                return
            node = self.zero
        while node is not None and node is not _MATCH_ALL:
            self._split(node, address, length)
            if node.length < 128 and _bit(address, node.length):
                if node.one is None:
                    node.one = _Node(address, length, _MATCH_ALL, _MATCH_ALL)
                    return
                node = node.one
            else:
                if node.zero is None:
                    node.zero = _Node(address, length, _MATCH_ALL, _MATCH_ALL)
                    return
                node = node.zero

    @staticmethod
    def _split(node: _Node, address: int, length: int) -> None:
        shared = min(128 - (node.address ^ address).bit_length(), node.length)
        if shared > length:
            # the new prefix is wider: this node now stands for all of it
            node.length = length
            node.one = node.zero = _MATCH_ALL
            return
        if shared >= node.length:
            if shared == 128:
                raise Fatal("Malloc Failed! Probably out of space.")
            return
        rest = _Node(node.address, node.length, node.one, node.zero)
        node.length = shared
        if _bit(node.address, shared):
            node.one, node.zero = rest, None
        else:
            node.zero, node.one = rest, None

    def match(self, address: int) -> bool:
        node = self.one if _bit(address, 0) else self.zero
        while node is not None and node is not _MATCH_ALL:
            length = node.length
            if (node.address ^ address) >> (128 - length):
                return False
            if length == 128:
                return True
            node = node.one if _bit(address, length) else node.zero
        return node is _MATCH_ALL

    def row(self, first: int) -> int:
        """Which of the 256 addresses first..first+255 (an IPv4 /24, mapped) match,
        as a bit mask over the last octet."""
        node = self.one if _bit(first, 0) else self.zero
        while node is not None and node is not _MATCH_ALL:
            length = node.length
            if length >= 120:
                return self._row_below(node, first, _FULL_OCTET_MASK)
            if (node.address ^ first) >> (128 - length):
                return 0
            node = node.one if _bit(first, length) else node.zero
        return _FULL_OCTET_MASK if node is _MATCH_ALL else 0

    def _row_below(self, node: _Branch, first: int, allowed: int) -> int:
        """match() for every last octet in `allowed`, from a node at or below the /24."""
        if not allowed or node is None:
            return 0
        if node is _MATCH_ALL:
            return allowed
        length = node.length
        if (node.address ^ first) >> 8:
            return 0
        fixed = length - 120  # leading bits of the last octet this node pins down
        allowed &= _OCTET_PREFIX[fixed][(node.address & 0xFF) >> (8 - fixed)]
        if length == 128 or not allowed:
            return allowed
        ones = _OCTET_BIT[fixed]
        return (self._row_below(node.one, first, allowed & ones)
                | self._row_below(node.zero, first, allowed & ~ones))


def _octet_mask(values: Iterable[int]) -> int:
    return sum(1 << value for value in values)


_FULL_OCTET_MASK = (1 << 256) - 1
# _OCTET_PREFIX[k][p]: last octets whose k leading bits are p (the run of 2**(8-k)
# octets from p << (8-k)); _OCTET_BIT[j]: bit j (from the top) set, i.e. the
# j+1 leading bits end in 1.  Built from shifts, not 256-bit sums: it runs at import.
_OCTET_PREFIX = [[((1 << (1 << (8 - k))) - 1) << (p << (8 - k)) for p in range(1 << k)]
                 for k in range(9)]
_OCTET_BIT = [sum(_OCTET_PREFIX[j + 1][1::2]) for j in range(8)]


class Excludes:
    """The --exclude / --excludefile set: nmap's trie of addresses and netmasks plus IPv4 ranges.

    Lookups are per address (`in`, contains_ipv4/6) or per /24 row
    (ipv4_row), which lets a big IPv4 block skip excluded rows whole and
    test single addresses only where an exclusion cuts a row.
    """

    __slots__ = ("_elements", "_trie")

    def __init__(self) -> None:
        self._trie = _Trie()
        # IPv4 range expressions: one 256-bit membership mask per octet
        self._elements: list[tuple[int, int, int, int]] = []

    def __bool__(self) -> bool:
        return bool(self._trie) or bool(self._elements)

    def add_prefix(self, value128: int, length: int) -> None:
        """An address and netmask length in IPv4-mapped IPv6 space (an IPv4 /n is 96 + n)."""
        self._trie.insert(value128, length)

    def add_ipv4_ranges(self, octets: tuple[tuple[int, ...], ...]) -> None:
        masks = [_octet_mask(values) for values in octets]
        self._elements.append((masks[0], masks[1], masks[2], masks[3]))

    def contains_ipv4(self, value: int) -> bool:
        if self._trie.match(_V4_MAPPED | value):
            return True
        a, b, c, d = value >> 24, (value >> 16) & 0xFF, (value >> 8) & 0xFF, value & 0xFF
        return any((ma >> a) & (mb >> b) & (mc >> c) & (md >> d) & 1
                   for ma, mb, mc, md in self._elements)

    def contains_ipv6(self, value: int) -> bool:
        return self._trie.match(value)

    def ipv4_row(self, row: int) -> frozenset[int]:
        """The excluded last octets of the IPv4 /24 `row` (the address >> 8)."""
        cut = self._trie.row(_V4_MAPPED | (row << 8))
        if cut == _FULL_OCTET_MASK:
            return _ALL_OCTET_SET
        a, b, c = row >> 16, (row >> 8) & 0xFF, row & 0xFF
        for ma, mb, mc, md in self._elements:
            if (ma >> a) & (mb >> b) & (mc >> c) & 1:
                cut |= md
        if cut == 0:
            return _NO_OCTET_SET
        if cut == _FULL_OCTET_MASK:
            return _ALL_OCTET_SET
        return frozenset(d for d in range(256) if (cut >> d) & 1)

    def __contains__(self, address: object) -> bool:
        """`address` is text ("10.0.0.1", "::1"); IPv4 ranges only match IPv4 text."""
        if not isinstance(address, str):
            return False
        try:
            if ":" in address:
                return self.contains_ipv6(_text_to_int(socket.AF_INET6, address.split("%")[0]))
            return self.contains_ipv4(_text_to_int(socket.AF_INET, address))
        except OSError:
            return False


_ALL_OCTET_SET = frozenset(range(256))
_NO_OCTET_SET: frozenset[int] = frozenset()


def parse_excludes(specs: Iterable[str], *, ipv6: bool, resolve: Resolver,
                   warn: Callable[[str], None] | None = None, debugging: int = 0) -> Excludes:
    """Build the exclude set from the specs in order (file words first, then --exclude items).

    Raises errors.Fatal with nmap's text; those messages end with a newline
    of their own (nmap's log_user), so stderr shows an empty line before
    QUITTING!.  With debugging, nmap's "Add ... to addrset" lines go to warn.
    """
    excludes = Excludes()
    family = AF_INET6 if ipv6 else AF_INET
    debug = warn if debugging and warn is not None else None
    for spec in specs:
        _add_exclude(excludes, spec, family, resolve, debug)
    return excludes


def _add_exclude(excludes: Excludes, spec: str, family: int, resolve: Resolver,
                 debug: Callable[[str], None] | None) -> None:
    host, slash, mask_text = spec.partition("/")
    bits = -1
    if slash:
        value = _digits_value(mask_text, _LONG_MAX)
        if value is None:
            raise Fatal(f'Error parsing netmask in "{spec}".\n')
        bits = value

    numeric = _numeric_addresses(host, AF_UNSPEC)
    if numeric:
        for fam, value, scope in numeric:
            if bits > (32 if fam == AF_INET else 128):
                raise Fatal(f'Illegal netmask in "{spec}". Must be smaller than address bit length.\n')
            if debug is not None:
                debug(f"Add IP {_debug_text(fam, value, scope)}/{bits} to addrset (trie).\n")
            _add_address(excludes, fam, value, bits)
        return

    octets = parse_ipv4_ranges(host)
    if octets is not None:
        if bits > 32:
            raise Fatal(f'Illegal netmask in "{spec}". Must be between 0 and 32.\n')
        if debug is not None:
            debug(f"Add IPv4 range {host}/{bits if bits > 0 else 32} to addrset.\n")
        excludes.add_ipv4_ranges(_widen_octets(octets, bits))
        return

    try:
        addresses = resolve(host, family)
    except ResolveError as error:
        raise Fatal(f'Error resolving name "{host}": {error.message}\n') from None
    if not addresses:
        raise Fatal(f"Warning: no addresses found for {host}.\n")
    for fam, text in addresses:
        if fam == AF_INET:
            if bits > 32:
                raise Fatal(f'Illegal netmask in "{spec}". Must be between 0 and 32.\n')
            label, full = "IPv4", 32
        elif fam == AF_INET6:
            if bits > 128:
                raise Fatal(f'Illegal netmask in "{spec}". Must be between 0 and 128.\n')
            label, full = "IPv6", 128
        else:
            continue
        if debug is not None:
            debug(f"Add {label} {text}/{bits if bits > 0 else full} to addrset (trie).\n")
        _add_address(excludes, fam, _text_to_int(fam, text.split("%")[0]), bits)


def _add_address(excludes: Excludes, family: int, value: int, bits: int) -> None:
    if family == AF_INET:
        length = 128 if bits < 0 else 96 + bits
        excludes.add_prefix(_V4_MAPPED | value, length)
    else:
        excludes.add_prefix(value, 128 if bits < 0 else bits)


def _debug_text(family: int, value: int, scope: int) -> str:
    if family == AF_INET:
        return _v4_text(value)
    text = _v6_text(value)
    if scope:
        try:
            return socket.getnameinfo((text, 0, 0, scope), socket.NI_NUMERICHOST)[0]
        except OSError:
            return f"{text}%{scope}"
    return text


# --------------------------------------------------------------------------------------
# Expansion


def _failed(name: str) -> list[str]:
    lines = [f'Failed to resolve "{name}".']
    if name == "-":
        lines.append("Bare '-': did you put a space between '--'?")
    return lines


class TargetStream(Iterator[Target | Skipped]):
    """The lazy stream expand_targets returns.

    Messages: a word that yields no target becomes one `Skipped` carrying all
    of its stderr lines (the caller prints them when it pulls the item, which
    keeps them in order with the output).  A word that does yield targets
    passes its lines to `warn` during the pull that reaches it, before its
    first target: "Illegal netmask ... Assuming /32 (one host)" and, with
    verbosity > 1, "Warning: Hostname NAME resolves to N IPs. Using A.".

    nmap keeps a name that failed to resolve as its current target group and
    asks the resolver again every time it refreshes a host group after the
    target list ran out; so when the last word is such a name its messages
    come out again (`-sL a b nosuch` prints "Failed to resolve" twice: once
    while filling the batch, once on the next refresh; a port scan prints it
    three times: the refresh that reaches it, the end of that host group,
    and the next group).  `requery()` gives those repeats.

    For speed, iter() on the stream hands out the underlying generator
    (a for loop or islice then runs without a Python-level __next__).
    """

    def __init__(self, words: Iterable[str], *, ipv6: bool, excludes: Excludes | None,
                 resolve: Resolver, warn: Callable[[str], None], verbosity: int,
                 debugging: int, resolve_all: bool, unique: bool,
                 shard: Shard | None = None) -> None:
        self._words = iter(words)
        self._family = AF_INET6 if ipv6 else AF_INET
        self._excludes = excludes if excludes else None
        self._resolve = resolve
        self._warn = warn
        self._verbosity = verbosity
        self._debugging = debugging
        self._resolve_all = resolve_all
        self._seen: set[int] | None = set() if unique else None
        # --shard: only this shard's hosts come out (pynmap.shard); skipped words all do
        self._sieve = shard.sieve() if shard is not None else None
        self._unresolved: str | None = None  # the current group is a name that failed
        self.exhausted = False
        self._items = self._run()

    def __iter__(self) -> Iterator[Target | Skipped]:
        return self._items

    def __next__(self) -> Target | Skipped:
        return next(self._items)

    def requery(self) -> Iterator[Target | Skipped]:
        """What nmap's next host-group refresh finds once the words ran out.

        Empty unless the last word was a name that did not resolve: then the
        name is resolved again, giving the same Skipped (or, should it now
        resolve, its targets, as nmap would scan them).
        """
        if not self.exhausted or self._unresolved is None:
            return iter(())
        return self._flatten(self._expand_name(self._unresolved, self._unresolved, -1, []))

    # -- words -> parts ------------------------------------------------------------------
    def _run(self) -> Iterator[Target | Skipped]:
        for word in self._words:
            self._unresolved = None
            for part in self._expand_word(word):
                if isinstance(part, Skipped):
                    yield part
                else:
                    yield from part
        self.exhausted = True

    @staticmethod
    def _flatten(parts: list[Skipped | Iterator[Target]]) -> Iterator[Target | Skipped]:
        for part in parts:
            if isinstance(part, Skipped):
                yield part
            else:
                yield from part

    def _expand_word(self, word: str) -> list[Skipped | Iterator[Target]]:
        """The word's Skipped or its blocks of targets; its messages for targets go to warn."""
        slash = word.rfind("/")
        bits = -1
        host = word
        if slash >= 0:
            value = _digits_value(word[slash + 1:], _INT_MAX)
            if value is None:
                return [Skipped(word, (f'Unable to split netmask from target expression: '
                                       f'"{word}"',), True)]
            bits, host = value, word[:slash]
        notes: list[str] = []
        if self._family == AF_INET and bits > 32:
            notes.append(f'Illegal netmask in "{word}". Assuming /32 (one host)')
            bits = -1

        if self._family == AF_INET:
            octets = parse_ipv4_ranges(host)
            if octets is not None:
                self._say(notes)
                return [self._ipv4_block(_widen_octets(octets, bits), None, (), ())]

        literal = [a for a in _numeric_addresses(host, AF_INET6) if a[0] == AF_INET6]
        if literal:
            if self._family != AF_INET6:
                notes.append(f"{host} looks like an IPv6 target specification -- "
                             "you have to use the -6 option.")
                return [Skipped(word, tuple(notes), True)]
            self._say(notes)
            _, value, scope = literal[0]
            return [self._ipv6_block(value, bits, scope, None, (), ())]

        return self._expand_name(word, host, bits, notes)

    def _expand_name(self, word: str, name: str, bits: int,
                     notes: list[str]) -> list[Skipped | Iterator[Target]]:
        lines = list(notes)
        try:
            found = self._resolve(name, AF_UNSPEC)
        except ResolveError as error:
            found = []
            if self._debugging > 1:
                lines.append(f"Error resolving {name}: {error.message}")
        scanned: list[str] = []
        unscanned: list[str] = []
        for family, address in found:
            if (self._resolve_all or not scanned) and family == self._family:
                scanned.append(address.split("%")[0])
            else:
                unscanned.append(address.split("%")[0])
        if not scanned:
            if unscanned:
                if self._family == AF_INET6:
                    lines.append(f"Warning: Hostname {name} resolves, but not to any IPv6 "
                                 "address. Try scanning without -6")
                else:
                    lines.append(f"Warning: Hostname {name} resolves, but not to any IPv4 "
                                 "address. Try scanning with -6")
            lines.extend(_failed(name))
            self._unresolved = name
            return [Skipped(word, tuple(lines), False)]
        self._unresolved = None
        if unscanned and self._verbosity > 1:
            lines.append(f"Warning: Hostname {name} resolves to {len(scanned) + len(unscanned)} "
                         f"IPs. Using {scanned[0]}.")
        self._say(lines)
        others = tuple(unscanned)
        named = tuple(_text_to_int(self._family, a) for a in scanned)
        parts: list[Skipped | Iterator[Target]] = []
        # --resolve-all: the addresses after the first come one by one, without the netmask
        for index, value in enumerate(named):
            mask = bits if index == 0 else -1
            if self._family == AF_INET:
                single = tuple((value >> shift & 0xFF,) for shift in (24, 16, 8, 0))
                parts.append(self._ipv4_block(_widen_octets(single, mask), name, others, named))
            else:
                parts.append(self._ipv6_block(value, mask, 0, name, others, named))
        return parts

    def _say(self, lines: list[str]) -> None:
        for line in lines:
            self._warn(line)

    # -- address blocks ------------------------------------------------------------------
    def _ipv4_block(self, octets: tuple[tuple[int, ...], ...], name: str | None,
                    others: tuple[str, ...], named: tuple[int, ...]) -> Iterator[Target]:
        return _ipv4_targets(octets, self._excludes, self._seen, self._sieve, name, others,
                             named)

    def _ipv6_block(self, value: int, bits: int, scope: int, name: str | None,
                    others: tuple[str, ...], named: tuple[int, ...]) -> Iterator[Target]:
        if bits > 128:
            bits = -1  # nmap ignores such a netmask for IPv6, silently
        if bits < 0:
            bits = 128
        host_mask = _V6_ALL >> bits
        return _ipv6_targets(value & ~host_mask, value | host_mask, scope, self._excludes,
                             self._seen, self._sieve, name, others, named)


def _ipv4_targets(octets: tuple[tuple[int, ...], ...], excludes: Excludes | None,
                  seen: set[int] | None, sieve: Sieve | None, name: str | None,
                  others: tuple[str, ...], named: tuple[int, ...]) -> Iterator[Target]:
    """The block's targets, last octet fastest.

    This is the hot loop of a big scan: exclusions are looked up, and a
    shard's hosts picked, once per /24 row.
    """
    last = [(d, _OCTET_TEXT[d]) for d in octets[3]]
    last_text = [text for _, text in last]
    careful = bool(named) or seen is not None or sieve is not None
    cut = _NO_OCTET_SET
    mine = b""
    for a in octets[0]:
        for b in octets[1]:
            for c in octets[2]:
                row = (a << 16) | (b << 8) | c
                if excludes is not None:
                    cut = excludes.ipv4_row(row)
                    if cut is _ALL_OCTET_SET:
                        continue
                prefix = f"{a}.{b}.{c}."
                if not cut and not careful:
                    for d_text in last_text:
                        yield Target(prefix + d_text, AF_INET)
                    continue
                base = row << 8
                if sieve is not None:
                    mine = sieve.ipv4_row(row)
                for d, d_text in last:
                    if d in cut or (sieve is not None and not mine[d]):
                        continue
                    value = base | d
                    if seen is not None:
                        if value in seen:
                            continue
                        seen.add(value)
                    if value in named:
                        yield Target(prefix + d_text, AF_INET, name, others)
                    else:
                        yield Target(prefix + d_text, AF_INET)


def _ipv6_targets(start: int, end: int, scope: int, excludes: Excludes | None,
                  seen: set[int] | None, sieve: Sieve | None, name: str | None,
                  others: tuple[str, ...], named: tuple[int, ...]) -> Iterator[Target]:
    for current in range(start, end + 1):
        if excludes is not None and excludes.contains_ipv6(current):
            continue
        if sieve is not None and not sieve.keeps(current):
            continue
        if seen is not None:
            if current in seen:
                continue
            seen.add(current)
        if current in named:
            yield Target(_v6_text(current), AF_INET6, name, others, scope)
        else:
            yield Target(_v6_text(current), AF_INET6, None, (), scope)


def expand_targets(words: Iterable[str], *, ipv6: bool, excludes: Excludes | None,
                   resolve: Resolver, warn: Callable[[str], None], verbosity: int = 0,
                   debugging: int = 0, resolve_all: bool = False,
                   unique: bool = False, shard: Shard | None = None) -> TargetStream:
    """Target words -> a lazy stream of Target (and Skipped for words that give none).

    Words are taken strictly in order and duplicates are kept (unless
    `unique`, nmap's --unique: an address is then given once).  Nothing is
    read or resolved before it is pulled.  With `shard` (--shard), only the
    targets whose address is in that shard come out (pynmap.shard).  See
    TargetStream for where messages go and for requery().
    """
    return TargetStream(words, ipv6=ipv6, excludes=excludes, resolve=resolve, warn=warn,
                        verbosity=verbosity, debugging=debugging, resolve_all=resolve_all,
                        unique=unique, shard=shard)
