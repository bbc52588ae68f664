"""The kernel's routing and neighbour tables over rtnetlink: two questions, no privilege.

--privileged's MAC addresses (pynmap.lan) need two facts the kernel of the
scanner's network namespace already has, and gives to any process:

* how a packet to an address leaves (RTM_GETROUTE, the question `ip route
  get` asks): straight onto a link, through a gateway, or not at all (the
  address is one of ours);
* what link-layer address the neighbour table holds for an address on a
  link (RTM_GETNEIGH, `ip neigh get`), and in which state (NUD_*).

One path for IPv4 and IPv6 alike: /proc/net/arp has no IPv6 and no routes,
and `ip` is a program to fork and a text to parse.  Kernels before 5.0 do
not answer a neighbour question about one address; they are asked for the
whole table once per lookup and it is searched here.

Messages are parsed by pure functions (tests feed them captured kernel
answers); `RtNetlink` is the thin socket around them, asked one question
at a time.  Any failure (no netlink socket in a sandbox, an odd answer)
means "not known", never an error: a MAC line is a nicety.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import socket
import struct
from collections.abc import Iterator

from pynmap.plain import FrozenData

# <linux/netlink.h>, <linux/rtnetlink.h>, <linux/neighbour.h>
NLMSG_ERROR = 2
NLMSG_DONE = 3
RTM_NEWROUTE = 24
RTM_GETROUTE = 26
RTM_NEWNEIGH = 28
RTM_GETNEIGH = 30
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
RTA_DST = 1
RTA_OIF = 4
RTA_GATEWAY = 5
RTA_VIA = 18
NDA_DST = 1
NDA_LLADDR = 2
RTN_UNICAST = 1
RTN_LOCAL = 2
# Neighbour states whose link-layer address the kernel trusts (NUD_VALID less
# NUD_NOARP, whose address is made up): REACHABLE, STALE, DELAY, PROBE, PERMANENT
NUD_USABLE = 0x02 | 0x04 | 0x08 | 0x10 | 0x80

_HEADER = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, sequence, port id
_RTMSG = struct.Struct("=BBBBBBBBI")  # family, dst_len, src_len, tos, table, protocol, scope,
#                                       type, flags
_NDMSG = struct.Struct("=BBHiHBB")  # family, pad, pad, ifindex, state, flags, type
_RTATTR = struct.Struct("=HH")  # length, type
_ERROR = struct.Struct("=i")  # nlmsgerr's error, before the request's header it echoes
_ANSWER_TIMEOUT = 1.0  # seconds; the kernel answers at once
_RECV_SIZE = 65536


class Route(FrozenData):
    """The kernel's answer to "how does a packet to this address leave?"."""

    __match_args__ = ("kind", "oif", "gateway")
    __slots__ = __match_args__

    def __init__(self, kind: int, oif: int, gateway: bool) -> None:
        self.kind = kind  # rtm_type: RTN_UNICAST, RTN_LOCAL (one of ours), ...
        self.oif = oif  # the interface it leaves by (0: none)
        self.gateway = gateway  # through a next hop (RTA_GATEWAY or RTA_VIA)

    @property
    def direct(self) -> bool:
        """On a link of ours, not through a router: nmap's "directly connected"."""
        return self.kind == RTN_UNICAST and not self.gateway and self.oif > 0


class Neighbour(FrozenData):
    """One entry of the neighbour table (ARP for IPv4, neighbour discovery for IPv6)."""

    __match_args__ = ("address", "ifindex", "state", "lladdr")
    __slots__ = __match_args__

    def __init__(self, address: str, ifindex: int, state: int, lladdr: bytes | None) -> None:
        self.address = address
        self.ifindex = ifindex
        self.state = state  # NUD_* bits
        self.lladdr = lladdr  # the link-layer address, None when the entry has none

    @property
    def mac(self) -> bytes | None:
        """The Ethernet address, if the kernel has a trustworthy one: resolved
        (not INCOMPLETE or FAILED), six bytes, not all zeros."""
        if not self.state & NUD_USABLE or self.lladdr is None or len(self.lladdr) != 6:
            return None
        return self.lladdr if any(self.lladdr) else None


# ------------------------------------------------------------------- parsing


def messages(data: bytes) -> Iterator[tuple[int, int, bytes]]:
    """(type, sequence number, payload) of each netlink message in `data`."""
    offset = 0
    while offset + _HEADER.size <= len(data):
        length, kind, _flags, seq, _pid = _HEADER.unpack_from(data, offset)
        if length < _HEADER.size or offset + length > len(data):
            return  # truncated: what follows cannot be trusted
        yield kind, seq, data[offset + _HEADER.size:offset + length]
        offset += (length + 3) & ~3


def attributes(data: bytes) -> dict[int, bytes]:
    """The route attributes (rtattr) in `data`, by type (the last one of a type wins)."""
    found: dict[int, bytes] = {}
    offset = 0
    while offset + _RTATTR.size <= len(data):
        length, kind = _RTATTR.unpack_from(data, offset)
        if length < _RTATTR.size or offset + length > len(data):
            break
        found[kind & 0x3FFF] = data[offset + _RTATTR.size:offset + length]  # less NLA_F_* bits
        offset += (length + 3) & ~3
    return found


def error_code(payload: bytes) -> int:
    """An NLMSG_ERROR's errno (positive; 0 is the kernel's acknowledgement)."""
    return -_ERROR.unpack_from(payload)[0] if len(payload) >= _ERROR.size else errno.EPROTO


def parse_route(payload: bytes) -> Route | None:
    """An RTM_NEWROUTE message's payload as a Route (None if too short)."""
    if len(payload) < _RTMSG.size:
        return None
    kind = _RTMSG.unpack_from(payload)[7]
    attrs = attributes(payload[_RTMSG.size:])
    oif = attrs.get(RTA_OIF, b"")
    return Route(kind, struct.unpack("=I", oif)[0] if len(oif) == 4 else 0,
                 RTA_GATEWAY in attrs or RTA_VIA in attrs)


def parse_neighbour(payload: bytes) -> Neighbour | None:
    """An RTM_NEWNEIGH message's payload as a Neighbour (None if it has no usable address)."""
    if len(payload) < _NDMSG.size:
        return None
    family, _, _, ifindex, state, _flags, _kind = _NDMSG.unpack_from(payload)
    attrs = attributes(payload[_NDMSG.size:])
    dst = attrs.get(NDA_DST)
    if family not in (socket.AF_INET, socket.AF_INET6) or dst is None:
        return None
    try:
        address = socket.inet_ntop(family, dst)
    except ValueError:
        return None
    return Neighbour(address, ifindex, state, attrs.get(NDA_LLADDR))


def _attribute(kind: int, value: bytes) -> bytes:
    length = _RTATTR.size + len(value)
    return _RTATTR.pack(length, kind) + value + bytes(-length % 4)


def route_request(family: int, packed: bytes, oif: int = 0) -> bytes:
    """The body of RTM_GETROUTE for one destination (`packed`: inet_pton's bytes)."""
    body = _RTMSG.pack(family, len(packed) * 8, 0, 0, 0, 0, 0, 0, 0) + _attribute(RTA_DST, packed)
    return body + (_attribute(RTA_OIF, struct.pack("=I", oif)) if oif else b"")


def neighbour_request(family: int, ifindex: int, packed: bytes | None) -> bytes:
    """The body of RTM_GETNEIGH: one address on one interface, or (packed None) the table."""
    body = _NDMSG.pack(family, 0, 0, ifindex, 0, 0, 0)
    return body + (_attribute(NDA_DST, packed) if packed is not None else b"")


# ------------------------------------------------------------------- the socket


class NetlinkError(OSError):
    """The kernel refused a question (its errno), or did not answer."""


class RtNetlink:
    """A NETLINK_ROUTE socket, opened on first use; one question at a time."""

    def __init__(self) -> None:
        self._sock: socket.socket | None = None
        self._seq = itertools.count(1)
        self._single_get = True  # until a kernel says it cannot answer for one address

    def route(self, family: int, address: str, scope: int = 0) -> Route | None:
        """How a packet to `address` would leave (`scope`: a link-local address's
        interface); None when there is no route or the question failed."""
        try:
            packed = socket.inet_pton(family, address)
            for kind, payload in self.exchange(RTM_GETROUTE, 0, route_request(family, packed,
                                                                              scope)):
                if kind == RTM_NEWROUTE:
                    return parse_route(payload)
        except (OSError, ValueError):
            pass
        return None

    def neighbour(self, family: int, ifindex: int, address: str) -> Neighbour | None:
        """The neighbour table's entry for `address` on interface `ifindex`, if any."""
        try:
            packed = socket.inet_pton(family, address)
        except (OSError, ValueError):
            return None
        if self._single_get:
            try:
                for kind, payload in self.exchange(RTM_GETNEIGH, 0,
                                                   neighbour_request(family, ifindex, packed)):
                    if kind == RTM_NEWNEIGH:
                        return parse_neighbour(payload)
                return None
            except NetlinkError as exc:
                if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
                    return None  # ENOENT: no entry
                self._single_get = False  # before Linux 5.0: search the whole table
            except OSError:
                return None
        try:
            answers = self.exchange(RTM_GETNEIGH, NLM_F_DUMP,
                                    neighbour_request(family, 0, None))
        except OSError:
            return None
        for kind, payload in answers:
            if kind == RTM_NEWNEIGH:
                entry = parse_neighbour(payload)
                if entry is not None and entry.ifindex == ifindex and entry.address == address:
                    return entry
        return None

    def exchange(self, kind: int, flags: int, body: bytes) -> list[tuple[int, bytes]]:
        """Send one request; its answers (type, payload) up to the end of a dump or
        the single answer.  Raises NetlinkError with the kernel's errno."""
        sock = self._socket()
        seq = next(self._seq)
        sock.send(_HEADER.pack(_HEADER.size + len(body), kind, NLM_F_REQUEST | flags, seq, 0)
                  + body)
        answers: list[tuple[int, bytes]] = []
        while True:
            data = sock.recv(_RECV_SIZE)
            if not data:
                raise NetlinkError(errno.EPROTO, os.strerror(errno.EPROTO))
            for got, got_seq, payload in messages(data):
                if got_seq != seq:
                    continue  # the late answer to a question that timed out
                if got == NLMSG_ERROR:
                    code = error_code(payload)
                    if code:
                        raise NetlinkError(code, os.strerror(code))
                    return answers
                if got == NLMSG_DONE:
                    return answers
                answers.append((got, payload))
                if not flags & NLM_F_DUMP:
                    return answers

    def _socket(self) -> socket.socket:
        if self._sock is None:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                                 socket.NETLINK_ROUTE)
            sock.settimeout(_ANSWER_TIMEOUT)
            self._sock = sock
        return self._sock

    def close(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None
