"""Connections through a chain of proxies (--proxies): the handshakes, and Streams that run them.

With --proxies every connection of the scan (host discovery's, the port
scan's and -sV's) goes to the first proxy, which is asked to connect to the
second, and so on; the last is asked to connect to the target.  A SOCKS4,
SOCKS4a, SOCKS5 or HTTP CONNECT handshake is a small sans-I/O machine here
(`Handshake`): it is fed what the proxy sent and says what to send next and,
once the last proxy has answered about the target, what that answer means:
the errno a direct connect() would have got (0: the tunnel is up, and what
follows is the service's) or one of probe.py's PROXY_* numbers.  So the
loops, the scheduler and the service scan run unchanged over `ProxyStreams`
(a Streams over Streams) and `ProxyBackend` (the connect scan's Backend over
it); they only see sockets that take longer to connect.

The rules, which keep a port from being reported in a state it is not in:

1. Only the last proxy's answer about the target is a fact about the port
   (the table is `_SOCKS5_ANSWERS`, `_socks4_answer`, `_http_answer`, and the
   README's).  A connection whose last question is out and that gets no
   answer in time is a probe that timed out, as a dropped SYN is.
2. Anything else is about the chain.  What cannot get better by trying
   again ends the run at once with a message naming the proxy (ProxyFatal):
   the first proxy refuses or cannot be reached, a proxy cannot reach the
   next one, credentials are refused or missing, a proxy does not speak its
   protocol or cannot do what is asked.
3. What may be load (a proxy that closes or resets the connection before
   it answers, times out before the last question is out, or reports a
   SOCKS5 "general failure") loses the connection: it reports nothing, and
   when its probe's time is up the loop hears that it was lost
   (Backend.lost) and sends it again as a probe never sent: no try is used
   up, no port state comes of it.
4. `give_up` such losses in a row, with no answer about any target between
   them (FIRST_GIVE_UP before the first answer), end the run (ProxyFatal):
   a dead, silent or refusing chain would otherwise be retried forever.

This module is imported only when --proxies is given.  The handshakes are
written here rather than taken from a library: python-socks keeps its
sans-I/O layer private (`python_socks._protocols`), and socksio, whose API
is public, cannot send SOCKS4's empty user id (nmap's) and, like
python-socks, parses only whole messages, so the framing (how many bytes a
reply takes, where the service's first bytes begin) would be ours anyway.
What is left is a few fixed-layout messages (RFC 1928, RFC 1929, SOCKS4 and
4a, RFC 9110's CONNECT).
"""

from __future__ import annotations

import base64
import errno
import os
import socket
from collections.abc import Sequence

from pynmap.errors import Fatal
from pynmap.rawopts import ProxyNode

from .clock import Clock
from .probe import PROXY_FORBIDDEN, PROXY_REJECTED, PROXY_TTL
from .streams import Streams

__all__ = ["GIVE_UP", "PROXY_PARALLELISM", "Handshake", "ProxyBackend", "ProxyFatal",
           "ProxyStreams", "check_chain"]

# Connections through the chain in flight at once unless --max-parallelism says
# otherwise: a proxy serves each with a process or a thread of its own.
PROXY_PARALLELISM = 32
# Losses in a row (rule 4) that end the run; raised with the parallelism (a
# whole window may be lost to one stall)
GIVE_UP = 64
FIRST_GIVE_UP = 12  # before any answer: the chain has yet to show it works
_HTTP_HEADER_MAX = 16384  # a CONNECT answer's header longer than this is no proxy's

# SOCKS5 (RFC 1928) answers about the target, as the errno a connect() of
# our own would have got, or a PROXY_* number (probe.py)
_SOCKS5_ANSWERS = {0: 0, 2: PROXY_FORBIDDEN, 3: errno.ENETUNREACH, 4: errno.EHOSTUNREACH,
                   5: errno.ECONNREFUSED, 6: PROXY_TTL}
_SOCKS5_TEXTS = {1: "general SOCKS server failure", 2: "connection not allowed by ruleset",
                 3: "network unreachable", 4: "host unreachable", 5: "connection refused",
                 6: "TTL expired", 7: "command not supported", 8: "address type not supported"}
_SOCKS4_TEXTS = {0x5B: "request rejected or failed",
                 0x5C: "request rejected: the proxy cannot reach our identd",
                 0x5D: "request rejected: identd reports another user id"}


class ProxyFatal(Fatal):
    """The chain cannot carry the scan (rules 2 and 4): nmap's fatal() shape, exit 1."""


class _Lost(Exception):
    """This connection is lost to the chain (rule 3), for `reason`."""


class Handshake:
    """One connection's way through the chain to (address, port): a sans-I/O machine.

    `start()` queues the first proxy's greeting; `feed(data)` takes what the
    proxy stream delivered.  Bytes to send accumulate in `outgoing`.  Once the
    last proxy answered about the target, `answer` holds its meaning (an
    errno, 0 for a tunnel, or a PROXY_* number) and `rest` what came after
    the answer (the service's first bytes).  `feed` raises ProxyFatal (rule 2)
    or _Lost (rule 3)."""

    def __init__(self, chain: Sequence[ProxyNode], address: str, port: int) -> None:
        self.chain = chain
        self.address = address.split("%")[0]  # a link-local zone means nothing to a proxy
        self.port = port
        self.hop = 0  # the proxy talked to, 0 for the first
        self.state = ""  # what its answer must be next: method, auth, reply, status
        self.outgoing = bytearray()
        self.answer: int | None = None
        self.rest = b""
        self._buf = bytearray()

    # ---------------------------------------------------------------- driving

    @property
    def node(self) -> ProxyNode:
        return self.chain[self.hop]

    @property
    def asked(self) -> bool:
        """Whether the last proxy has been asked for the target (rule 1 from here on)."""
        return self.hop == len(self.chain) - 1 and self.state in ("reply", "status")

    def start(self) -> None:
        self._greet()

    def feed(self, data: bytes) -> None:
        self._buf += data
        while self.answer is None and self._step():
            pass
        if self.answer is not None:
            self.rest = bytes(self._buf)
            self._buf.clear()

    def take(self) -> bytes:
        """What must be sent now (and forget it)."""
        out = bytes(self.outgoing)
        self.outgoing.clear()
        return out

    # ---------------------------------------------------------------- hops

    def _destination(self) -> tuple[str, int]:
        """Where the current proxy is to connect: the next proxy, or the target."""
        if self.hop + 1 < len(self.chain):
            following = self.chain[self.hop + 1]
            return following.address, following.port
        return self.address, self.port

    def _greet(self) -> None:
        node = self.node
        if node.scheme == "socks5":
            methods = b"\x00\x02" if node.user is not None else b"\x00"
            self.outgoing += bytes([5, len(methods)]) + methods
            self.state = "method"
        elif node.scheme == "http":
            self._http_request()
        else:
            self._socks4_request()

    def _step(self) -> bool:
        """Consume one whole message if it is there; False while more is needed."""
        if self.state == "status":
            return self._http_status()
        if self.state == "method":
            return self._socks5_method()
        if self.state == "auth":
            return self._socks5_auth()
        if self.node.scheme == "socks5":
            return self._socks5_reply()
        return self._socks4_reply()

    def _through(self) -> None:
        """The current proxy has connected to the next one: talk to that one now."""
        self.hop += 1
        self._greet()

    def _settle(self, answer: int) -> None:
        self.answer = answer

    def _chain_failure(self, text: str) -> ProxyFatal:
        following = self.chain[self.hop + 1]
        return ProxyFatal(f"Proxy {self.node.label} cannot connect to the next proxy of the "
                          f"chain, {following.label}: {text}")

    def _last(self) -> bool:
        return self.hop == len(self.chain) - 1

    def _not_spoken(self, what: str, got: bytes) -> ProxyFatal:
        return ProxyFatal(f"Proxy {self.node.label} does not answer as a {what} proxy "
                          f"(it sent {got[:40]!r})")

    # ---------------------------------------------------------------- SOCKS4 and 4a

    def _socks4_request(self) -> None:
        host, port = self._destination()
        user = self.node.user or b""
        try:
            packed = socket.inet_pton(socket.AF_INET, host)
            name = b""
        except OSError:
            # SOCKS4a: 0.0.0.x says "the name follows"; an IPv6 address goes as its text
            packed, name = b"\x00\x00\x00\x01", host.encode("ascii") + b"\x00"
        self.outgoing += b"\x04\x01" + port.to_bytes(2, "big") + packed + user + b"\x00" + name
        self.state = "reply"

    def _socks4_reply(self) -> bool:
        if len(self._buf) < 8:
            return False
        reply = bytes(self._buf[:8])
        del self._buf[:8]
        code = reply[1]
        if code not in (0x5A, *_SOCKS4_TEXTS):
            raise self._not_spoken("SOCKS4", reply)
        if code == 0x5A:
            if self._last():
                self._settle(0)
            else:
                self._through()
            return True
        text = _SOCKS4_TEXTS[code]
        if not self._last():
            raise self._chain_failure(text)
        if code == 0x5B:
            self._settle(PROXY_REJECTED)
            return True
        raise ProxyFatal(f"Proxy {self.node.label}: {text}")

    # ---------------------------------------------------------------- SOCKS5

    def _socks5_method(self) -> bool:
        if len(self._buf) < 2:
            return False
        reply = bytes(self._buf[:2])
        del self._buf[:2]
        node = self.node
        if reply[0] != 5:
            raise self._not_spoken("SOCKS5", reply)
        if reply[1] == 0:
            self._socks5_request()
        elif reply[1] == 2 and node.user is not None:
            password = node.password or b""
            self.outgoing += (bytes([1, len(node.user)]) + node.user
                              + bytes([len(password)]) + password)
            self.state = "auth"
        elif reply[1] == 0xFF:
            if node.user is None:
                raise ProxyFatal(f"Proxy {node.label} wants a user name and password "
                                 "(socks5://USER:PASSWORD@HOST:PORT)")
            raise ProxyFatal(f"Proxy {node.label} accepts neither no authentication nor a "
                             "user name and password")
        else:
            raise self._not_spoken("SOCKS5", reply)
        return True

    def _socks5_auth(self) -> bool:
        if len(self._buf) < 2:
            return False
        reply = bytes(self._buf[:2])
        del self._buf[:2]
        if reply[1] != 0:
            raise ProxyFatal(f"Proxy {self.node.label} refused the user name and password")
        self._socks5_request()
        return True

    def _socks5_request(self) -> None:
        host, port = self._destination()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        kind = b"\x04" if family == socket.AF_INET6 else b"\x01"
        self.outgoing += (b"\x05\x01\x00" + kind + socket.inet_pton(family, host)
                          + port.to_bytes(2, "big"))
        self.state = "reply"

    def _socks5_reply(self) -> bool:
        buf = self._buf
        if len(buf) < 5:
            return False
        if buf[0] != 5 or buf[3] not in (1, 3, 4):
            raise self._not_spoken("SOCKS5", bytes(buf))
        size = {1: 10, 4: 22}.get(buf[3], 7 + buf[4])  # 3: a name, its length first
        if len(buf) < size:
            return False
        code = buf[1]
        del buf[:size]
        text = _SOCKS5_TEXTS.get(code, f"reply code {code}")
        if not self._last():
            if code:
                raise self._chain_failure(text)
            self._through()
            return True
        if code in _SOCKS5_ANSWERS:
            self._settle(_SOCKS5_ANSWERS[code])
            return True
        if code == 1:
            raise _Lost(f"{self.node.label} reported a {text}")
        raise ProxyFatal(f"Proxy {self.node.label}: {text}")

    # ---------------------------------------------------------------- HTTP CONNECT

    def _http_request(self) -> None:
        host, port = self._destination()
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        lines = [f"CONNECT {where} HTTP/1.1", f"Host: {where}"]
        node = self.node
        if node.user is not None:
            token = base64.b64encode(node.user + b":" + (node.password or b"")).decode("ascii")
            lines.append(f"Proxy-Authorization: Basic {token}")
        self.outgoing += ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")
        self.state = "status"

    def _http_status(self) -> bool:
        end = self._buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buf) > _HTTP_HEADER_MAX:
                raise self._not_spoken("HTTP", bytes(self._buf))
            return False
        header = bytes(self._buf[:end])
        del self._buf[:end + 4]
        words = header.split(b"\r\n", 1)[0].split(None, 2)
        if len(words) < 2 or not words[0].startswith(b"HTTP/") or not words[1].isdigit():
            raise self._not_spoken("HTTP", header)
        status = int(words[1])
        line = b" ".join(words[1:]).decode("latin-1")
        if 200 <= status < 300:
            if self._last():
                self._settle(0)
            else:
                self._through()
            return True
        if not self._last():
            raise self._chain_failure(line)
        answer = _http_answer(status)
        if answer is not None:
            self._settle(answer)
            return True
        if status == 407:
            raise ProxyFatal(f"Proxy {self.node.label} wants authentication ({line}): "
                             "http://USER:PASSWORD@HOST:PORT")
        raise ProxyFatal(f"Proxy {self.node.label} refused the CONNECT request: {line}")


def _http_answer(status: int) -> int | None:
    """What an HTTP proxy's failure status says about the target (None: nothing, rule 2)."""
    if status == 403:
        return PROXY_FORBIDDEN  # its rules (an ACL, a CONNECT port list)
    if status == 504:
        return errno.ETIMEDOUT  # it got no answer in time: as no answer at all
    if status in (500, 502, 503):
        return PROXY_REJECTED  # could not connect: refused or unreachable, unsaid which
    return None


def check_chain(chain: Sequence[ProxyNode], target_family: int) -> None:
    """Fatal before the scan if a SOCKS4 proxy would have to reach an IPv6 address."""
    for index, node in enumerate(chain):
        following = chain[index + 1].family if index + 1 < len(chain) else target_family
        if node.scheme == "socks4" and following == socket.AF_INET6:
            raise ProxyFatal(f"Proxy {node.label} is SOCKS4, which cannot reach IPv6 "
                             "addresses (socks4a, socks5 and http can)")


class _Tunnel:
    """One connection through the chain, as ProxyStreams keeps it."""

    __slots__ = ("answer", "lost", "pending", "phase", "reported", "shake")

    def __init__(self, shake: Handshake) -> None:
        self.shake = shake
        self.phase = "tcp"  # "tcp": connecting to the first proxy; "shake"; "done"
        self.answer: int | None = None
        self.reported = False  # the answer was handed to the caller
        self.lost = False  # rule 3: it reports nothing more
        self.pending = b""  # the service's first bytes, read with the last answer


class ProxyStreams:
    """Streams (streams.py) whose connections go through `chain`, over `inner`'s sockets.

    connect() returns EINPROGRESS; poll() reports a handle once the last proxy
    answered about its target: then error() is that answer (0 for a tunnel)
    and connected() whether the tunnel is up, as for a direct connect().
    From then on a tunnel is the service's stream.  `clock` is the run's:
    poll() waits out its whole timeout while handshakes go on."""

    def __init__(self, inner: Streams, chain: Sequence[ProxyNode], clock: Clock, *,
                 give_up: int = GIVE_UP) -> None:
        self.inner = inner
        self.chain = tuple(chain)
        self.clock = clock
        self.give_up = give_up
        self.tunnels: dict[int, _Tunnel] = {}
        self.losses = 0  # rule 4: lost connections since the last answer about a target
        self.answered = False  # some answer about a target came through the chain
        self.last_loss = ""

    # ---------------------------------------------------------------- Streams

    def open(self, family: int) -> tuple[int, int]:
        return self.inner.open(self.chain[0].family)

    def connect(self, handle: int, address: str, port: int, scope: int) -> int:
        first = self.chain[0]
        tunnel = _Tunnel(Handshake(self.chain, address, port))
        self.tunnels[handle] = tunnel
        err = self.inner.connect(handle, first.address, first.port, 0)
        if err == 0:
            self._begin(handle, tunnel)
        elif err != errno.EINPROGRESS:
            self._unreachable(err)
        return errno.EINPROGRESS

    def poll(self, timeout: float) -> list[int]:
        end = self.clock.now() + timeout
        while True:
            self._check_losses()
            due = [h for h, t in self.tunnels.items() if t.answer is not None
                   and (not t.reported or (t.pending and t.answer == 0))]
            if due:
                for handle in due:
                    self.tunnels[handle].reported = True
                return due
            ready = self.inner.poll(max(0.0, end - self.clock.now()))
            out: list[int] = []
            for handle in ready:
                tunnel = self.tunnels.get(handle)
                if tunnel is None or tunnel.lost:
                    continue
                if tunnel.answer is None:
                    self._advance(handle, tunnel)
                    if tunnel.lost:
                        out.append(handle)  # once: its caller may send the probe again now
                    elif tunnel.answer is not None:
                        tunnel.reported = True
                        out.append(handle)
                        if tunnel.answer:
                            # a failure: the caller closes it; what else the proxy
                            # sends (an error page, its end) is not worth reporting
                            self.inner.mute(handle)
                elif tunnel.answer == 0:
                    out.append(handle)  # the service's bytes (or its end)
            self._check_losses()
            if out or self.clock.now() >= end:
                return out

    def error(self, handle: int) -> int:
        tunnel = self.tunnels.get(handle)
        if tunnel is None or tunnel.answer is None:
            return 0
        return tunnel.answer

    def connected(self, handle: int) -> bool:
        tunnel = self.tunnels.get(handle)
        return tunnel is not None and tunnel.answer == 0

    def send(self, handle: int, data: bytes) -> tuple[int, int]:
        return self.inner.send(handle, data)

    def recv(self, handle: int) -> tuple[bytes, int]:
        tunnel = self.tunnels.get(handle)
        if tunnel is not None and tunnel.pending:
            data, tunnel.pending = tunnel.pending, b""
            return data, 0
        return self.inner.recv(handle)

    def mute(self, handle: int) -> None:
        self.inner.mute(handle)

    def lost(self, handle: int) -> bool:
        """Whether the connection was lost before the last proxy was asked for the
        target (rule 3), or is still short of that."""
        tunnel = self.tunnels.get(handle)
        return tunnel is not None and tunnel.answer is None and (
            tunnel.lost or not tunnel.shake.asked)

    def close(self, handle: int, reset: bool = False) -> None:
        tunnel = self.tunnels.pop(handle, None)
        if tunnel is not None and tunnel.answer is None and not tunnel.lost \
                and not tunnel.shake.asked:
            # given up on before the last question was out: the chain was too slow
            where = self.chain[0] if tunnel.phase == "tcp" else tunnel.shake.node
            self._lose(f"no answer from {where.label} in time")
        self.inner.close(handle, reset)

    def release(self) -> None:
        self.inner.release()

    # ---------------------------------------------------------------- the chain

    def _begin(self, handle: int, tunnel: _Tunnel) -> None:
        tunnel.phase = "shake"
        tunnel.shake.start()
        self._flush(handle, tunnel)

    def _advance(self, handle: int, tunnel: _Tunnel) -> None:
        if tunnel.phase == "tcp":
            err = self.inner.error(handle)
            if err:
                self._unreachable(err)
            if self.inner.connected(handle):
                self._begin(handle, tunnel)
            return
        data, err = self.inner.recv(handle)
        if err == errno.EAGAIN:
            return
        shake = tunnel.shake
        try:
            if err or not data:
                what = "reset" if err else "closed"
                raise _Lost(f"{shake.node.label} {what} the connection before answering")
            shake.feed(data)
        except _Lost as lost:
            self._drop(handle, tunnel, str(lost))
            return
        self._flush(handle, tunnel)
        if shake.answer is not None:
            tunnel.phase = "done"
            tunnel.answer = shake.answer
            tunnel.pending = shake.rest
            self.losses = 0
            self.answered = True

    def _flush(self, handle: int, tunnel: _Tunnel) -> None:
        data = tunnel.shake.take()
        while data:
            # a handshake message is a few hundred bytes on a fresh connection:
            # a socket buffer that cannot take it is a connection in trouble
            sent, err = self.inner.send(handle, data)
            if err:
                self._drop(handle, tunnel,
                           f"sending to {tunnel.shake.node.label} failed: {os.strerror(err)}")
                return
            data = data[sent:]

    def _drop(self, handle: int, tunnel: _Tunnel, reason: str) -> None:
        """Rule 3: the connection is lost; it says nothing more until its caller closes it."""
        tunnel.lost = True
        self.inner.mute(handle)  # an ended stream would be reported ready again and again
        self._lose(reason)

    def _unreachable(self, err: int) -> None:
        raise ProxyFatal(f"Cannot connect to proxy {self.chain[0].label}: {os.strerror(err)}")

    def _lose(self, reason: str) -> None:
        self.losses += 1
        self.last_loss = reason

    def _check_losses(self) -> None:
        # Until the chain has answered once, a few losses say it does not work
        if self.losses >= (self.give_up if self.answered else FIRST_GIVE_UP):
            raise ProxyFatal(f"The proxy chain answers nothing: {self.losses} connections in "
                             f"a row were lost before the last proxy answered about their "
                             f"target (the last: {self.last_loss})")


class ProxyBackend:
    """The connect scan's Backend (backend.py) over ProxyStreams: a probe's
    connect() finishes when the last proxy answers about its port."""

    # No connection can reach itself through a proxy: an empty range turns the
    # loop's self-connect check off.
    ephemeral = (1, 0)

    def __init__(self, streams: ProxyStreams) -> None:
        self.streams = streams
        self.watched: set[int] = set()

    def open(self, family: int) -> tuple[int, int]:
        return self.streams.open(family)

    def connect(self, handle: int, address: str, port: int, scope: int) -> int:
        return self.streams.connect(handle, address, port, scope)

    def watch(self, handle: int) -> None:
        self.watched.add(handle)

    def unwatch(self, handle: int) -> None:
        self.watched.discard(handle)

    def poll(self, timeout: float) -> list[int]:
        return [h for h in self.streams.poll(timeout) if h in self.watched]

    def error(self, handle: int) -> int:
        return self.streams.error(handle)

    def connected(self, handle: int) -> bool:
        return self.streams.connected(handle)

    def local(self, handle: int) -> tuple[str, int] | None:
        return None

    def lost(self, handle: int) -> bool:
        return self.streams.lost(handle)

    def close(self, handle: int, reset: bool) -> None:
        # always with RST: every probe goes to the same proxy address and port,
        # and a TIME_WAIT per probe would soon use up the local ports
        self.watched.discard(handle)
        self.streams.close(handle, True)

    def release(self) -> None:
        self.streams.release()
