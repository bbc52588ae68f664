"""nmap's checks of --ip-options, --proxies and -D values, and its descriptor limit.

pynmap sends no raw packets, yet nmap parses --ip-options and -D while it
reads the command line and quits on a bad value, so a command line nmap
refuses must be refused here too, with its message.  Each parser is written
from the behaviour of nmap 7.93 (libnetutil's IP option reader, nsock's
proxy-chain reader).  --proxies is also used (engine/proxy.py): its parser
keeps the chain, and reads more than nsock does (socks4a, socks5, user
names), which nmap refuses as an invalid protocol.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket

from pynmap.cnumbers import atoi
from pynmap.errors import Fatal
from pynmap.plain import FrozenData

# nmap reads at most 40 bytes of options into a 41-byte buffer
_IPOPT_BUFFER = 4 * 10 + 1
_HEX = b"0123456789abcdefABCDEF"
_DIGITS = b"0123456789"


def _char(byte: int) -> str:
    """A byte as nmap prints it with %c: raw, so not UTF-8 stays not UTF-8."""
    return bytes([byte]).decode("utf-8", "surrogateescape")


def _inet_pton4(text: bytes) -> bool:
    """glibc's inet_pton(AF_INET): exactly four decimal parts, no leading zeros."""
    parts = text.split(b".")
    return len(parts) == 4 and all(
        p.isdigit() and len(p) <= 3 and (p == b"0" or not p.startswith(b"0")) and int(p) <= 255
        for p in parts)


def ip_options_length(value: str) -> int:
    """The length nmap's IP option reader gives `value`; raises Fatal where nmap quits."""
    text = os.fsencode(value)
    size = 0  # bytes written so far (nmap's d - data)
    state = "none"
    base = 10
    length = 0  # the option's length byte (nmap's *len), once an R/S/L/T/U option began
    source_routing = False
    i = 0
    while i < len(text):
        c = text[i]
        if state == "slash":
            if c == ord("x"):
                base = 16
                i += 1
                continue
            if c not in _HEX:
                raise Fatal("not a digit after '\\'")
            number, used = _strtol_bytes(text[i:], base)
            if number < 0 or number > 255:
                raise Fatal("invalid ipv4 address format")
            size += 1
            i += max(used, 0) - 1  # nmap: c = n - 1 (a digit strtol could not read is re-read)
            state = "none"
        elif state == "mul":
            if size == 0:
                raise Fatal("nothing before '*' char")
            number, used = _strtol_bytes(text[i:], 10)
            number = _c_int(number)
            if number < 2:
                raise Fatal("bad number after '*'")
            i += used - 1
            room = _IPOPT_BUFFER - size
            if number - 1 >= room:
                return _IPOPT_BUFFER  # the buffer filled up: nmap stops reading there
            size += number - 1
            state = "none"
        elif state == "rr":
            if c not in b" ,":
                start = i
                while i < len(text) and text[i] in b".0123456789" and i - start <= 31:
                    i += 1
                address = text[start:i]
                i -= 1
                if size + 4 >= _IPOPT_BUFFER:
                    raise Fatal("Buffer too small. Or input data too big :)")
                if not _inet_pton4(address):
                    raise Fatal(f"Not a valid ipv4 address '{os.fsdecode(address)}'")
                size += 4
                if length < 37:
                    length += 4
        elif state == "time":
            raise Fatal("No more arguments allowed!")
        elif c == ord("\\"):
            state, base = "slash", 10
        elif c == ord("*"):
            state = "mul"
        elif c in b"RSLTU":
            if size != 0:
                raise Fatal("This option can't be used in that way")
            if c in b"RSL":
                size = 4  # NOP, type, length, pointer
                length = 39 if c == ord("R") else 3
                source_routing = c != ord("R")
                state = "rr"
            else:
                size = 4  # type, length, pointer, flags
                length = 36 if c == ord("U") else 40
                state = "time"
        else:
            raise Fatal(f"Bad character in ip option '{_char(c)}'")
        i += 1
        if size >= _IPOPT_BUFFER:
            break
    if source_routing:
        if length >= 37:
            raise Fatal("When using source routing you must leave at least one slot for "
                        "target's ip.")
        length += 4
        size += 4
    if state == "rr":
        return length + 1  # the NOP before the option
    if state == "time":
        return length
    return size


def _c_int(number: int) -> int:
    """A C long stored in an int: the low 32 bits, signed."""
    number &= 0xFFFFFFFF
    return number - (1 << 32) if number >= 1 << 31 else number


_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1
_STRTOL = {
    10: re.compile(rb"[ \t\n\v\f\r]*([+-]?)([0-9]+)"),
    16: re.compile(rb"[ \t\n\v\f\r]*([+-]?)(?:0[xX](?=[0-9a-fA-F]))?([0-9a-fA-F]+)"),
}


def _strtol_bytes(text: bytes, base: int) -> tuple[int, int]:
    """strtol on bytes: (value clamped to a C long, bytes used); used is 0 when nothing was read."""
    m = _STRTOL[base].match(text)
    if not m:
        return 0, 0
    value = int(m.group(2), base) * (-1 if m.group(1) == b"-" else 1)
    return max(_LONG_MIN, min(_LONG_MAX, value)), m.end()


def check_ip_options(value: str) -> None:
    """--ip-options: nmap's verdict on the value (Fatal with its message)."""
    length = ip_options_length(value)
    if length > 40:
        raise Fatal("Ip options can't be more than 40 bytes long")
    if length % 4 != 0:
        raise Fatal(f"Ip options must be multiple of 4 (read length is {length} bytes)")


# The proxy types: nsock's two (nmap 7.93 knows no others), then pynmap's own,
# each with the address family its host must resolve to and its default port.
# A socks4 proxy must have an IPv4 address, as nsock requires.
_PROXY_TYPES = ((b"http://", socket.AF_UNSPEC, 8080), (b"socks4://", socket.AF_INET, 1080),
                (b"socks4a://", socket.AF_UNSPEC, 1080), (b"socks5://", socket.AF_UNSPEC, 1080))
# What nmap itself accepts: the others, and a user name in any of them, are pynmap's
NMAP_PROXY_TYPES = ("http", "socks4")
_SOCKS5_FIELD_MAX = 255  # RFC 1929: a length byte each for user name and password


class ProxyNode(FrozenData):
    """One proxy of a --proxies chain: its type ("http", "socks4", "socks4a",
    "socks5"), the address it was resolved to when the option was read (as
    nmap resolves it), its port, and the credentials given in the URL."""

    __match_args__ = ("scheme", "host", "family", "address", "port", "user", "password")
    __slots__ = __match_args__

    def __init__(self, scheme: str, host: str, family: int, address: str, port: int,
                 user: bytes | None = None, password: bytes | None = None) -> None:
        self.scheme = scheme
        self.host = host  # as written in the URL (a name or an address)
        self.family = family
        self.address = address
        self.port = port
        self.user = user
        self.password = password

    @property
    def label(self) -> str:
        """The proxy as messages name it: scheme://host:port, never its credentials."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def _parse_proxy_uri(node: bytes) -> tuple[bytes, int, bytes | None] | None:
    """scheme://[userinfo@]host[:port][/path] as nsock reads it: (host, port or -1,
    userinfo or None), or None.  nsock refuses any userinfo; pynmap reads it."""
    if not node[:1].isalpha():
        return None
    at = 0
    while node[at:at + 1].isalnum() or node[at:at + 1] in (b"+", b"-", b"."):
        at += 1
        if at >= len(node):
            return None
    if node[at:at + 1] != b":":
        return None
    at += 1
    if at >= len(node):
        return None
    if not node.startswith(b"//", at):
        return b"", -1, None  # no authority: nsock goes on without a host
    at += 2
    end = at
    while end < len(node) and node[end:end + 1] not in (b"/", b"?", b"#"):
        end += 1
    authority = node[at:end]
    userinfo: bytes | None = None
    if b"@" in authority:
        userinfo, _, authority = authority.rpartition(b"@")
    if authority.startswith(b"["):
        close = authority.find(b"]", 1)
        if close < 0:
            return None
        host, after = authority[1:close], authority[close + 1:]
        if after and not after.startswith(b":"):
            return None
    else:
        colon = authority.rfind(b":")
        if colon <= 0:
            host, after = authority, b""
        else:
            host, after = authority[:colon], authority[colon:]
    port = -1
    if len(after) > 1 and after.startswith(b":"):
        number, used = _strtol_bytes(after[1:], 10)
        if used != len(after) - 1 or not 1 <= number <= 65535 or not after[1:2].isdigit():
            return None
        port = number
    decoded = _percent_decode(host)
    if decoded is None:
        return None
    return decoded, port, userinfo


def _percent_decode(text: bytes) -> bytes | None:
    out = bytearray()
    i = 0
    while i < len(text):
        if text[i:i + 1] == b"%":
            pair = text[i + 1:i + 3]
            if len(pair) < 2 or any(ch not in _HEX for ch in pair):
                return None
            out.append(int(pair, 16))
            i += 3
        else:
            out.append(text[i])
            i += 1
    return bytes(out)


def _resolve(host: bytes, family: int) -> tuple[int, str] | None:
    """The first address getaddrinfo() gives `host` in `family` (nsock's proxy_resolve)."""
    if family == socket.AF_INET:
        try:
            return socket.AF_INET, str(ipaddress.IPv4Address(host.decode("ascii")))
        except (UnicodeDecodeError, ValueError):
            pass
    try:
        found = socket.getaddrinfo(host, None, family, socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError):
        return None
    for entry in found:
        if entry[0] in (socket.AF_INET, socket.AF_INET6):
            return entry[0], str(entry[4][0])
    return None


def _proxy_node(node: bytes) -> ProxyNode:
    """One proxy of the chain, or Fatal with what nmap (or pynmap, for what only
    pynmap reads) says of it."""
    text = os.fsdecode(node)
    for prefix, family, default_port in _PROXY_TYPES:
        if node[:len(prefix)].lower() != prefix:
            continue
        parsed = _parse_proxy_uri(node)
        if parsed is None:
            break
        host, port, userinfo = parsed
        resolved = _resolve(host, family)
        if resolved is None:
            raise Fatal(f"Cannot initialize proxy node {text}")
        scheme = prefix[:-3].decode()
        user = password = None
        if userinfo is not None:
            name, colon, secret = userinfo.partition(b":")
            user, password = _percent_decode(name), _percent_decode(secret) if colon else None
            if user is None or (colon and password is None):
                break
            if scheme.startswith("socks4") and password is not None:
                raise Fatal(f"A {scheme} proxy takes a user id, not a password: {text}")
            if scheme == "socks5" and (not 0 < len(user) <= _SOCKS5_FIELD_MAX
                                       or len(password or b"") > _SOCKS5_FIELD_MAX):
                raise Fatal(f"A socks5 user name must be 1 to 255 bytes long, and its "
                            f"password at most 255: {text}")
        return ProxyNode(scheme, os.fsdecode(host), resolved[0], resolved[1],
                         port if port > 0 else default_port, user, password)
    raise Fatal(f"Invalid protocol in proxy specification string: {text}")


def parse_proxy_chain(value: str) -> tuple[ProxyNode, ...]:
    """--proxies: the chain, first proxy first (Fatal with nmap's message for a bad one).

    nmap names the failing proxy; an empty one (",," or a trailing comma) is
    passed over.
    """
    text = os.fsencode(value)
    nodes: list[ProxyNode] = []
    for node in text.split(b","):
        if node:
            nodes.append(_proxy_node(node))
    return tuple(nodes)


# nmap's MAX_DECOYS
MAX_DECOYS = 128


def check_decoys(value: str, af: int) -> None:
    """-D: nmap resolves each decoy once the exclude file is open (Fatal where it quits).

    pynmap sends no decoy probes, but a decoy nmap cannot resolve ends its run.
    """
    count = 0
    me_seen = False
    for decoy in value.split(","):
        lowered = decoy.lower()
        if lowered == "me":
            if me_seen:
                raise Fatal("Can only use 'ME' as a decoy once.\n")
            me_seen = True
            count += 1
        elif lowered == "rnd" or lowered.startswith("rnd:"):
            if af == socket.AF_INET6:
                raise Fatal("Random decoys can only be used with IPv4")
            wanted = atoi(decoy[4:]) if len(os.fsencode(decoy)) > 4 else 1
            if wanted < 1:
                raise Fatal(f'Bad \'rnd\' decoy "{decoy}"')
            if count + wanted >= MAX_DECOYS - 1:
                raise Fatal(f"You are only allowed {MAX_DECOYS} decoys (if you need more redefine "
                            "MAX_DECOYS in nmap.h)")
            count += wanted
        else:
            if count >= MAX_DECOYS - 1:
                raise Fatal(f"You are only allowed {MAX_DECOYS} decoys (if you need more redefine "
                            "MAX_DECOYS in nmap.h)")
            try:
                socket.getaddrinfo(os.fsencode(decoy), None, af)
            except socket.gaierror as exc:
                raise Fatal(f'Failed to resolve decoy host "{decoy}": {exc.strerror}') from None
            except (UnicodeError, ValueError):
                raise Fatal(f'Failed to resolve decoy host "{decoy}": Name or service not '
                            "known") from None
            count += 1


def descriptor_limit() -> int:
    """What nmap's max_sd() reports: the hard RLIMIT_NOFILE (nmap raises the soft limit
    to it), 0 when the soft limit is unlimited, and -1 (as a C int) for an unlimited hard one."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 0
    return -1 if hard == resource.RLIM_INFINITY else int(hard)
