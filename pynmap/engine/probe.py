"""Probes, and what the answer to a connect() says about a port and its host.

A probe is one connect() try to one port of one target.  Its outcome is
decided by the errno the kernel reports (0 = connected); the table below is
nmap's (reference 2.1), so the port states and reasons are nmap's too.
"""

from __future__ import annotations

import errno

from pynmap.plain import FrozenData, PlainData

from .wording import conn_text


class Probe(PlainData):
    """One connect() in flight (or about to be).

    Identity matters, not value: the loop and the scheduler both hold the
    same object, so probes compare and hash by identity.
    """

    __match_args__ = ("host", "port", "tryno", "sent", "ping", "live", "handle", "lost_sent")
    __slots__ = __match_args__
    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def __init__(self, host: int, port: int, tryno: int, sent: float, ping: bool = False,
                 live: bool = True, handle: int = -1, lost_sent: float = 0.0) -> None:
        self.host = host  # index of the target in the scheduler's host list
        self.port = port
        self.tryno = tryno  # 0 for the first try, +1 per retransmission
        self.sent = sent  # when connect() was started, scheduler clock (seconds)
        self.ping = ping  # a timing ping: re-probe of a port known to answer
        self.live = live  # still waiting for its answer (has a socket)
        self.handle = handle  # the loop's file descriptor; the scheduler never reads it
        self.lost_sent = lost_sent  # a retransmission: when the try before it (the lost one) was sent


class Outcome(FrozenData):
    """What one connect() answer means."""

    __match_args__ = ("errno", "state", "reason", "host_up", "fatal", "strange")
    __slots__ = __match_args__

    def __init__(self, errno: int, state: str | None, reason: str, host_up: bool | None,
                 fatal: bool = False, strange: bool = False) -> None:
        self.errno = errno
        self.state = state  # port state; None when the answer says nothing about the port
        self.reason = reason  # nmap's reason name, also used for the host in host discovery
        self.host_up = host_up  # True up, False down, None unknown
        self.fatal = fatal  # nmap bails out of the scan
        self.strange = strange  # nmap reports a "Strange read error" and ignores the answer

    @property
    def text(self) -> str:
        """What --packet-trace prints after "=>"."""
        return conn_text(self.errno)


def _filtered(err: int, reason: str) -> Outcome:
    return Outcome(err, "filtered", reason, False)


OPEN = Outcome(0, "open", "syn-ack", True)
CLOSED = Outcome(errno.ECONNREFUSED, "closed", "conn-refused", True)

_TABLE: dict[int, Outcome] = {
    0: OPEN,
    errno.ECONNREFUSED: CLOSED,
    # Linux also reports ICMP admin-prohibited (v4) as EHOSTUNREACH.
    errno.EHOSTUNREACH: _filtered(errno.EHOSTUNREACH, "host-unreach"),
    errno.ENETUNREACH: _filtered(errno.ENETUNREACH, "net-unreach"),
    # ICMPv6 administratively prohibited arrives as EACCES.
    errno.EACCES: _filtered(errno.EACCES, "admin-prohibited"),
    # The kernel gave up before nmap's own timeout did: the same as no answer.
    errno.ETIMEDOUT: _filtered(errno.ETIMEDOUT, "no-response"),
    errno.EHOSTDOWN: _filtered(errno.EHOSTDOWN, "no-response"),
    errno.ENOPROTOOPT: _filtered(errno.ENOPROTOOPT, "proto-unreach"),
    # ICMP "source host isolated" (type 3 code 8) on Linux.
    errno.ENONET: _filtered(errno.ENONET, "dest-unreach"),
    # nmap counts a late EAGAIN as a sign of life but records no port state.
    errno.EAGAIN: Outcome(errno.EAGAIN, None, "syn-ack", True),
}

# What the last proxy of a --proxies chain can answer about a target that no
# errno says (engine/proxy.py maps the others onto the errno a direct
# connect() would have got).  Numbers no errno has.
PROXY_REJECTED = 0x10001  # SOCKS4's 91, HTTP 500/502/503: refused or unreachable, unsaid which
PROXY_FORBIDDEN = 0x10002  # SOCKS5's 2, HTTP 403: the proxy's own rules forbid it
PROXY_TTL = 0x10003  # SOCKS5's 6, TTL expired: an ICMP time exceeded on the proxy's side
_TABLE[PROXY_REJECTED] = Outcome(PROXY_REJECTED, "closed|filtered", "unknown-response", None)
_TABLE[PROXY_FORBIDDEN] = Outcome(PROXY_FORBIDDEN, "filtered", "admin-prohibited", None)
_TABLE[PROXY_TTL] = _filtered(PROXY_TTL, "time-exceeded")

FATAL_ERRNOS = frozenset({errno.ENETDOWN, errno.ENETRESET, errno.ECONNABORTED})

for _err in FATAL_ERRNOS:
    _TABLE[_err] = Outcome(_err, None, "", None, fatal=True)


def classify(err: int) -> Outcome:
    """The outcome of a connect() that finished with `err` (0 = connected)."""
    found = _TABLE.get(err)
    if found is None:
        found = Outcome(err, None, "", None, strange=True)
    return found
