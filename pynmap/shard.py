"""Deterministic sharding: `--shard I/N` (with `--seed S`) keeps one N-th of the hosts.

Theory of operation
-------------------

A sharded scan is N runs of one command line that differ only in `--shard
I/N` (I = 0 .. N-1, numbered from 0).  Each run expands the targets exactly
as an unsharded run does (same words, excludes, -iL file, same order) and
keeps only the hosts whose *address* falls in its shard; every other host
is simply not part of that run: not listed, pinged, scanned or counted.  The
decision is a pure function of (address, N, seed):

    shard(A) = W(A) mod N

where W(A) is a 64-bit word of a keyed hash.  Nothing else goes into it (not
the host's position in the target list, not the name it was given by, not
the other targets), so

* a host given twice (nmap scans it twice) lands twice in the same shard;
* shards are disjoint and together give back the unsharded target list, in
  its order (each shard's list is a subsequence of it);
* excludes, --unique, -iL, names and netmasks need nothing special: they
  decide *which* addresses come out of the stream, the shard decides *where*
  each one goes, and the two commute;
* no list of the targets is ever built: a /8 streams through the filter in
  constant memory, one 256-address block of hash words at a time.

The hash.  Addresses are taken as 128-bit numbers, IPv4 as IPv4-mapped IPv6
(`::ffff:a.b.c.d`, as nmap's exclude trie takes them), so a host has the
same shard in an IPv4 scan and as ::ffff:a.b.c.d in an IPv6 one; an IPv6
scope (`%eth0`) is not part of the address.  An address's block is the
address with its last 8 bits cleared (an IPv4 /24, an IPv6 /120).  The
block's key stream is

    SHAKE-256(DOMAIN || seed as 8 bytes big-endian || block as 16 bytes big-endian)

read as 256 little-endian 64-bit words, and W(A) is the word at index
`A & 0xFF`.  SHAKE-256 (FIPS 202) is in every Python's hashlib and gives the
same bits on every machine, Python version and byte order, so shards cut on
different workers agree (Python's own hash() is salted per process and
could not be used).  One call gives the words of a whole /24, which makes
the filter cheap where it matters, in the expansion of big ranges (about
60 ns an address).  A keyed hash is as good as a permutation here: with N
far below 2**64, W mod N is uniform to within 2**-48.

The seed selects another, unrelated partition (for example to re-balance or
re-draw a run).  Without `--seed` it is DEFAULT_SEED, a fixed value, so the
shards of one command line agree on every machine with no seed given.
`--seed` without `--shard` is refused: it would have no effect, and a
worker handed a seed but no shard number would scan every host.

What is not a host is not sharded: a word that gives no target (a name that
does not resolve, an invalid specification) and its messages come out in
every shard, as in the unsharded run; each shard's list of skipped words is
the same.
"""

from __future__ import annotations

import hashlib
import ipaddress
import struct

from pynmap.errors import Fatal
from pynmap.plain import FrozenData

DEFAULT_SEED = 0
MAX_SHARDS = 65536
MAX_SEED = 2**64 - 1
# Changing what the hash is made of means changing this tag: shards cut by
# two definitions must not be mistaken for parts of one scan.
DOMAIN = b"pynmap-shard-v1\0"
_V4_MAPPED = 0xFFFF << 32
_WORDS = struct.Struct("<256Q")

SHARD_ERROR = ("Bogus --shard argument specified, must be I/N with 0 <= I < N <= "
               f"{MAX_SHARDS} (shards are numbered from 0)")
SEED_ERROR = f"Bogus --seed argument specified, must be an integer from 0 to {MAX_SEED}"
SEED_WITHOUT_SHARD = "--seed only applies with --shard I/N"


def _whole_number(text: str, limit: int) -> int | None:
    """Plain ASCII decimal digits (leading zeros allowed) no larger than `limit`, else None."""
    if not text or not text.isascii() or not text.isdigit():
        return None
    digits = text.lstrip("0")
    if len(digits) > len(str(limit)):  # no giant int is built from a giant argument
        return None
    value = int(digits or "0")
    return value if value <= limit else None


def parse_shard(text: str) -> tuple[int, int]:
    """`--shard`'s `I/N` as (index, count), or Fatal with the option's error."""
    index_text, slash, count_text = text.partition("/")
    index = _whole_number(index_text, MAX_SHARDS)
    count = _whole_number(count_text, MAX_SHARDS)
    if not slash or index is None or count is None or not index < count:
        raise Fatal(SHARD_ERROR)
    return index, count


def parse_seed(text: str) -> int:
    """`--seed`'s value, or Fatal with the option's error."""
    seed = _whole_number(text, MAX_SEED)
    if seed is None:
        raise Fatal(SEED_ERROR)
    return seed


def block_words(seed: int, block: int) -> tuple[int, ...]:
    """The 256 hash words of the block `block` (a 128-bit address, last 8 bits 0)."""
    digest = hashlib.shake_256(
        DOMAIN + seed.to_bytes(8, "big") + block.to_bytes(16, "big")).digest(_WORDS.size)
    return _WORDS.unpack(digest)


def address_value(address: str) -> int:
    """An address's 128-bit number: IPv6 as is (without a scope), IPv4 IPv4-mapped."""
    parsed = ipaddress.ip_address(address.split("%", 1)[0])
    value = int(parsed)
    return value | _V4_MAPPED if parsed.version == 4 else value


def shard_of(address: str, count: int, seed: int = DEFAULT_SEED) -> int:
    """The shard (0 .. count-1) that `address` (IPv4 or IPv6 text) belongs to."""
    value = address_value(address)
    return block_words(seed, value & ~0xFF)[value & 0xFF] % count


class Shard(FrozenData):
    """What `--shard I/N --seed S` asked for: this run keeps shard `index` of `count`."""

    __match_args__ = ("index", "count", "seed")
    __slots__ = __match_args__

    def __init__(self, index: int, count: int, seed: int = DEFAULT_SEED) -> None:
        self.index = index
        self.count = count
        self.seed = seed

    def sieve(self) -> Sieve:
        """A filter over this run's target stream (it caches one block's answers)."""
        return Sieve(self)


class Sieve:
    """Which addresses of a block are this shard's; one block is remembered.

    The target expansion asks block by block (an IPv4 /24 row, consecutive
    IPv6 addresses), so one remembered block is all the caching it needs:
    memory stays constant whatever the size of the range.
    """

    __slots__ = ("_block", "_count", "_index", "_mine", "_seed")

    def __init__(self, shard: Shard) -> None:
        self._index = shard.index
        self._count = shard.count
        self._seed = shard.seed
        self._block = -1
        self._mine = b""

    def block(self, block: int) -> bytes:
        """256 flags: byte i is 1 when address `block | i` is this shard's."""
        if block != self._block:
            count, index = self._count, self._index
            self._mine = bytes([word % count == index
                                for word in block_words(self._seed, block)])
            self._block = block
        return self._mine

    def ipv4_row(self, row: int) -> bytes:
        """The flags of the IPv4 /24 whose first three octets are `row` (a.b.c as 24 bits)."""
        return self.block(_V4_MAPPED | row << 8)

    def keeps(self, value: int) -> bool:
        """Whether the 128-bit address `value` (IPv4 already mapped) is this shard's."""
        return self.block(value & ~0xFF)[value & 0xFF] == 1
