"""The FTP bounce scan (-b): nmap's bounce scan as a sans-I/O state machine.

Theory of operation
-------------------
An FTP server that accepts `PORT a,b,c,d,p1,p2` for an address other than
its client's opens the data connection of the next transfer to that
address: a scanner that cannot reach a target itself asks the server to.
nmap 7.93 (nmap_ftp.cc) logs in once, keeps that one control connection
for the whole run, and scans the ports of each target in turn, one at a
time: PORT, then LIST, and the server's replies say what its connect()
found.  This module is that conversation, without a socket or a clock: the
driver (engine/bounceloop.py) carries out its commands
(`Connect`, `Send`, `Close` in `outbox`), tells it what the socket did
(`on_connected`, `on_connect_failed`, `on_sent`, `on_data`, `on_eof`,
`on_error`) and hands it the time with every call; `expire(now)` and
`next_deadline()` are its timers.  What nmap prints comes out as `Note`
events (worded by `lines()`), each port's state as an engine PortState.

nmap writes the scan as straight-line code around blocking reads
(`recvtime(seconds)`: one recv(), or nothing once the seconds pass), so the
machine keeps that shape: each conversation is a generator that yields the
operation it waits for (`_Connect`, `_Send`, `_Read(seconds)`) and gets its
result back, and the public methods feed it.  The rules, nmap's:

* Login (ftp_anon_connect): connect (the kernel's own timeout; failure is
  fatal: "Your FTP bounce proxy server won't talk to us!"), read the
  greeting, `USER` (a 5xx reply is fatal, 230 means no password is needed),
  `PASS` (a 5xx reply is fatal, no reply at all only a warning), read what
  follows.  Replies wait 12 s.
* Each port: `PORT` with the target's address and the port (15 s for the
  reply).  A 5xx reply, before any privileged port has been accepted, is
  fatal for a port above 1023; for a privileged one nmap skips the run of
  privileged ports that follows (and, by an off-by-one of its loop, the
  next port too: it stays unscanned).  Then `LIST` (12 s): no reply at all
  is `filtered`, the end of the connection `closed`; a reply starting 500
  is a command out of step, and the next reply (10 s) is read instead; a
  1xx reply (the data connection is open) waits for the next one (10 s):
  none means `filtered` (nmap sends ABOR and reads its answer), 426 (the
  transfer broke) makes nmap forget the port first.  Then a reply starting
  with 2 is `open`, anything else `closed`.  A port whose replies went
  missing (a read that failed) keeps no state: nmap reports it `unknown`.
* A PORT that cannot be sent (the server hung up) logs in again, at most
  twice per target, and retries the port; then nmap gives up on the target.
* Every reason is `no-response`, as nmap sets none.

Where pynmap reads differently (the results are nmap's whenever nmap
reads each reply on its own, as it does from a server that writes its
replies as they happen):
* A read takes at most one reply off the connection (a reply is complete
  at the line that ends it, RFC 959's multi-line form included), where
  nmap's recv() takes whatever has arrived.  Two replies that arrive
  together (vsftpd's `150` and `226` for an empty listing come
  microseconds apart) are two reads here, as nmap reads them when it is
  waiting for the first; nmap, busy at that moment, can take both as one
  and wait out 10 s for a `226` that already came, calling an open port
  filtered.  A partial reply is handed over as it is, as nmap's recv()
  hands it.
* nmap reads the greeting until 7 s pass without data, and what follows
  PASS until 2 s pass without data: pynmap stops once a whole reply has
  come (the same text, 9 s sooner per login).
* The errno nmap prints after a read that timed out or hit the end of the
  connection is a stale one: EBADF, which nmap's own key-press check
  leaves behind when it runs without a terminal (scripts, pipes).
"""

from __future__ import annotations

import errno as errnos
import os
from collections import deque
from collections.abc import Callable, Generator, Sequence
from enum import Enum

from pynmap.cnumbers import atoi
from pynmap.errors import Fatal, SystemFatal
from pynmap.plain import FrozenData, PlainData

from .messages import Event, PortState

__all__ = ["DEFAULT_PASSWORD", "DEFAULT_PORT", "DEFAULT_USER", "BounceScan", "Close", "Connect",
           "Note", "Relay", "Say", "Send", "lines", "parse_bounce_argument"]

DEFAULT_USER = "anonymous"  # nmap's FTPUSER
DEFAULT_PASSWORD = "-wwwuser@"  # FTPPASS
DEFAULT_PORT = 21
FTP_RETRIES = 2  # logins again per target after the server hung up
# nmap's buffers: user[64], pass[256], server_name[FQDN_LEN + 1], C strings
_USER_MAX, _PASS_MAX, _SERVER_MAX = 63, 255, 255
# recv() sizes: the login reads leave room for the terminating NUL, the scan's do not
_LOGIN_READ, _SCAN_READ = 2047, 2048
# seconds each of nmap's reads waits (recvtime)
GREETING_WAIT = 7.0  # until this long without data
REPLY_WAIT = 12.0  # USER, PASS, LIST
DRAIN_WAIT = 2.0  # what follows PASS, until this long without data
PORT_WAIT = 15.0
NEXT_WAIT = 10.0  # after a 500 (out of step), after a 1xx, ABOR's answer
# What errno holds when nmap reports a read that returned nothing: the stale
# EBADF of its key-press check on a missing terminal (tcgetpgrp(-1)).
STALE_ERRNO = errnos.EBADF
TASK = "Bounce Scan"


class Relay(FrozenData):
    """The -b argument as nmap reads it: `user:pass@server:port`, defaults filled.

    Strings are C strings cut to nmap's buffer sizes.  `logged` is what is
    left of the argument in nmap's argv, which its parser writes NULs into:
    the logged command line shows `-b` with that text only.
    """

    __match_args__ = ("user", "password", "server", "port", "logged")
    __slots__ = __match_args__

    def __init__(self, user: str, password: str, server: str, port: int, logged: str) -> None:
        self.user = user
        self.password = password
        self.server = server
        self.port = port
        self.logged = logged

    @property
    def url(self) -> str:
        """How nmap names it before connecting (the password's "@" and all)."""
        return f"ftp://{self.user}:{self.password}@{self.server}:{self.port}"


def _c_cut(text: str, size: int) -> str:
    """strncpy() into a buffer of `size` + 1 bytes with the last one zeroed."""
    raw = os.fsencode(text)[:size]
    return os.fsdecode(raw)


def parse_bounce_argument(text: str, previous: Relay | None = None,
                          say: Callable[[str], None] | None = None) -> Relay:
    """nmap's parse_bounce_argument(): `[user[:pass]@]server[:port]`; it never fails.

    The last "@" ends the credentials, the first ":" before it ends the
    user; the first ":" after it starts the port (atoi, as an unsigned
    16-bit number).  A user without a password keeps the password so far
    (the default, or an earlier -b's), and nmap says so on stdout (`say`).
    """
    user = previous.user if previous is not None else DEFAULT_USER
    password = previous.password if previous is not None else DEFAULT_PASSWORD
    port = previous.port if previous is not None else DEFAULT_PORT
    cut: int | None = None  # where the first NUL lands in the argument
    at = text.rfind("@")
    if at >= 0:
        credentials, server = text[:at], text[at + 1:]
        colon = credentials.find(":")
        if colon >= 0:
            user, password = credentials[:colon], _c_cut(credentials[colon + 1:], _PASS_MAX)
            cut = colon
        else:
            user = credentials
            cut = at
            if say is not None:
                say(f"Assuming {credentials} is a username, and using the default password: "
                    f"{password}\n")
        user = _c_cut(user, _USER_MAX)
    else:
        server = text
    colon = server.find(":")
    if colon >= 0:
        port = atoi(server[colon + 1:]) & 0xFFFF  # ftpinfo.port is a u16
        if cut is None:
            cut = colon
        server = server[:colon]
    logged = text if cut is None else text[:cut]
    return Relay(user, password, _c_cut(server, _SERVER_MAX), port, logged)


# ---------------------------------------------------------------- what nmap prints


class Say(Enum):
    """Where a line goes: nmap's log_write(LOG_STDOUT) (text as it is, newline
    included), LOG_PLAIN (stdout and -oN), error()/gh_perror() (stderr and
    -oN) or the C library's perror() (stderr only)."""

    STDOUT = "stdout"
    PLAIN = "plain"
    ERROR = "error"
    PERROR = "perror"


class Note(FrozenData):
    """One of nmap's bounce-scan lines: `kind` (a key of _WORDING), the text or
    number it carries.  "task-begin"/"task-end" (the latter with nmap's
    extra info in `text`) are for the driver: the Initiating and Completed
    lines and the phase around them."""

    __match_args__ = ("kind", "text", "number")
    __slots__ = __match_args__

    def __init__(self, kind: str, text: str = "", number: int = 0) -> None:
        self.kind = kind
        self.text = text
        self.number = number


def _errno_text(err: int) -> str:
    return f"{os.strerror(err)} ({err})"


_V, _D, _VD, _ALL = "v", "d", "vd", "all"  # the levels at which a line is printed
# kind -> (levels, where, the text from a Note)
_WORDING: dict[str, tuple[str, Say, Callable[[Note], str]]] = {
    "attempting": (_VD, Say.STDOUT, lambda n: f"Attempting connection to {n.text}\n"),
    "connected": (_VD, Say.STDOUT, lambda n: "Connected:"),
    "greeting": (_VD, Say.STDOUT, lambda n: n.text),
    "user-reply": (_D, Say.STDOUT, lambda n: f"sent username, received: {n.text}"),
    "pass-reply": (_D, Say.STDOUT, lambda n: f"sent password, received: {n.text}"),
    "pass-timeout": (_ALL, Say.ERROR, lambda n: "Timeout from bounce server ..."),
    "drained": (_D, Say.STDOUT, lambda n: n.text),
    "accepted": (_V, Say.STDOUT, lambda n: "Login credentials accepted by FTP server!\n"),
    "socket-failed": (_ALL, Say.ERROR,
                      lambda n: f"Couldn't create ftp_anon_connect socket: {_errno_text(n.number)}"),
    "command": (_D, Say.STDOUT, lambda n: f"Attempting command: {n.text}"),
    "send-failed": (_ALL, Say.ERROR, lambda n: f"send in bounce_scan: {_errno_text(n.number)}"),
    "hung-up": (_VD, Say.STDOUT, lambda n: "Our FTP proxy server hung up on us!  retrying\n"),
    "out-of-retries": (_ALL, Say.ERROR, lambda n: "Our socket descriptor is dead and we are "
                                                  "out of retries. Giving up."),
    "recv-error": (_ALL, Say.ERROR, lambda n: f"recv in recvtime: {_errno_text(n.number)}"),
    "recv-problem": (_ALL, Say.PERROR,
                     lambda n: f"recv problem from FTP bounce server: {os.strerror(n.number)}"),
    "port-reply": (_D, Say.STDOUT,
                   lambda n: f"result of port query on port {n.number}: {n.text}"),
    "privileged": (_ALL, Say.ERROR, lambda n: "Your FTP bounce server doesn't allow privileged "
                                              "ports, skipping them."),
    "list-reply": (_D, Say.STDOUT, lambda n: f"result of LIST: {n.text}"),
    "misaligned": (_VD, Say.ERROR, lambda n: "FTP command misalignment detected ... correcting."),
    "next-line": (_D, Say.STDOUT, lambda n: f"nxt line: {n.text}"),
    "removed": (_ALL, Say.PLAIN, lambda n: f"Removed {n.number}"),
    "deleting": (_V, Say.STDOUT,
                 lambda n: f"Deleting port {n.number}/tcp, which we thought was {n.text}\n"),
    "changed-mind": (_VD, Say.STDOUT, lambda n: f"Changed my mind about port {n.number}\n"),
}


def lines(note: Note, verbosity: int, debugging: int) -> tuple[tuple[Say, str], ...]:
    """What nmap prints for `note` at these -v and -d levels."""
    entry = _WORDING.get(note.kind)
    if entry is None:
        return ()
    levels, where, word = entry
    shown = {_ALL: True, _V: verbosity > 0, _D: debugging > 0,
             _VD: verbosity > 0 or debugging > 0}[levels]
    return ((where, word(note)),) if shown else ()


def printable(chunk: bytes) -> str:
    """A received chunk as nmap's "%s" prints it: up to its first NUL."""
    return os.fsdecode(chunk.split(b"\0", 1)[0])


# ---------------------------------------------------------------- FTP replies


def reply_end(data: bytes | bytearray) -> int | None:
    """Where the first complete reply in `data` ends (after its last newline), or None.

    A reply is one line, or the RFC 959 multi-line form: a first line
    `ddd-...` up to a line that starts with the same code not followed by '-'.
    """
    pos = 0
    code: bytes | None = None
    while True:
        newline = data.find(b"\n", pos)
        if newline < 0:
            return None
        line = bytes(data[pos:newline])
        if code is None:
            if len(line) >= 4 and line[:3].isdigit() and line[3:4] == b"-":
                code = line[:3]
            else:
                return newline + 1
        elif line[:3] == code and line[3:4] != b"-":
            return newline + 1
        pos = newline + 1


def _whole_replies(data: bytes | bytearray) -> bool:
    """Whether `data` is one or more complete replies and nothing else."""
    rest = bytes(data)
    while rest:
        end = reply_end(rest)
        if end is None:
            return False
        rest = rest[end:]
    return bool(data)


def port_command(address: str, port: int) -> bytes:
    """`PORT a,b,c,d,p1,p2` for an IPv4 address (nmap's bounce scan has no EPRT)."""
    octets = address.split(".")
    return f"PORT {','.join(octets)},{port >> 8},{port & 0xFF}\r\n".encode()


# ---------------------------------------------------------------- the machine's commands


class Connect(FrozenData):
    """Open the control connection to the relay (the driver knows where)."""

    __slots__ = ()


class Send(FrozenData):
    """Send these bytes now; the driver reports with on_sent()."""

    __match_args__ = ("data",)
    __slots__ = __match_args__

    def __init__(self, data: bytes) -> None:
        self.data = data


class Close(FrozenData):
    """Close the control connection."""

    __slots__ = ()


Command = Connect | Send | Close


# What a conversation yields while it waits, and what it gets back.
class _Op(PlainData):
    __slots__ = ()


class _Connect(_Op):
    __slots__ = ()


class _Send(_Op):
    __match_args__ = ("data",)
    __slots__ = __match_args__

    def __init__(self, data: bytes) -> None:
        self.data = data


class _Read(_Op):
    """recvtime(): one read of at most `limit` bytes, or nothing after `seconds`."""

    __match_args__ = ("seconds", "limit")
    __slots__ = __match_args__

    def __init__(self, seconds: float, limit: int) -> None:
        self.seconds = seconds
        self.limit = limit


class _Close(_Op):
    __slots__ = ()


class Got(PlainData):
    """A read's result: the bytes (empty: nothing), whether it timed out, and the
    errno nmap would print for an empty one."""

    __match_args__ = ("data", "timed_out", "errno")
    __slots__ = __match_args__

    def __init__(self, data: bytes = b"", timed_out: bool = False,
                 errno: int = STALE_ERRNO) -> None:
        self.data = data
        self.timed_out = timed_out
        self.errno = errno


Conversation = Generator[_Op, object, None]


class BounceScan:
    """nmap's bounce scan over one control connection, for a whole run.

    `scan_host(address, ports, now)` starts a target's scan (logging in
    first when there is no connection), `busy` says whether it is still
    going; then `states` holds the target's ports (a port missing from it
    stays `unknown`) and `extrainfo` what nmap's Completed line says.
    `emit` receives the Notes and PortStates as they happen; fatal errors
    are raised (Fatal, SystemFatal) from the call that meets them.
    """

    def __init__(self, relay: Relay, *, emit: Callable[[Event | Note], None],
                 host_index: int = 0) -> None:
        self.relay = relay
        self.emit = emit
        self.outbox: deque[Command] = deque()
        self.connected = False  # nmap's ftp.sd > 0
        self.states: dict[int, str] = {}
        self.extrainfo: str | None = None  # None: no Completed line (no ports)
        self.done_ports = 0  # nmap's i, for the progress estimate
        self.total_ports = 0
        self._host = host_index
        self._address = ""
        self._conversation: Conversation | None = None
        self._waiting: _Op | None = None
        self._deadline: float | None = None
        self._limit = 0
        self._inbuf = bytearray()
        self._eof = False
        self._error = 0  # a recv() error not yet reported

    # ------------------------------------------------------------ driving it

    @property
    def busy(self) -> bool:
        return self._conversation is not None

    def scan_host(self, address: str, ports: Sequence[int], now: float, *,
                  host_index: int = 0) -> None:
        """Scan `ports` (in this order) of `address` through the relay."""
        assert self._conversation is None, "one target at a time"
        self._host = host_index
        self._address = address
        self.states = {}
        self.extrainfo = None
        self.done_ports = 0
        self.total_ports = len(ports)
        self._conversation = self._target(address, list(ports))
        self._step(None, now)

    def completion(self) -> float:
        """The share of the target's ports done (nmap's i / numports)."""
        return self.done_ports / self.total_ports if self.total_ports else 0.0

    def next_deadline(self) -> float | None:
        return self._deadline

    def expire(self, now: float) -> None:
        if self._deadline is not None and now >= self._deadline:
            self._resolve(Got(timed_out=True), now)

    # ------------------------------------------------------------ the driver's reports

    def on_connected(self, now: float) -> None:
        if isinstance(self._waiting, _Connect):
            self._resume(0, now)

    def on_connect_failed(self, err: int, now: float) -> None:
        if isinstance(self._waiting, _Connect):
            self._resume(err or errnos.ECONNREFUSED, now)

    def on_sent(self, err: int, now: float) -> None:
        if isinstance(self._waiting, _Send):
            self._resume(err, now)

    def on_data(self, data: bytes, now: float) -> None:
        self._inbuf += data
        self._offer(now)

    def on_eof(self, now: float) -> None:
        self._eof = True
        self._offer(now)

    def on_error(self, err: int, now: float) -> None:
        # after a reset, recv() reports the error once, then the end of the stream
        self._error = err
        self._eof = True
        self._offer(now)

    # ------------------------------------------------------------ the machinery

    def _offer(self, now: float) -> None:
        """Something came: a pending read takes it."""
        if isinstance(self._waiting, _Read):
            got = self._take()
            if got is not None:
                self._deadline = None
                self._resume(got, now)

    def _take(self) -> Got | None:
        """What a read gets now: one reply at most (or the part of one that has
        come), the error or the end of the stream; None while nothing has come."""
        if self._inbuf:
            end = reply_end(self._inbuf)
            size = min(len(self._inbuf) if end is None else end, self._limit)
            chunk = bytes(self._inbuf[:size])
            del self._inbuf[:size]
            return Got(chunk)
        if self._error:
            err, self._error = self._error, 0
            # recvtime()'s own complaint; the read then counts as empty
            self.emit(Note("recv-error", number=err))
            return Got(errno=err)
        if self._eof:
            return Got()
        return None

    def _resolve(self, got: Got, now: float) -> None:
        self._deadline = None
        self._resume(got, now)

    def _resume(self, value: object, now: float) -> None:
        self._waiting = None
        self._step(value, now)

    def _step(self, value: object, now: float) -> None:
        """Run the conversation until it waits for something (or ends)."""
        conversation = self._conversation
        assert conversation is not None
        while True:
            try:
                op = conversation.send(value)
            except StopIteration:
                self._conversation = None
                return
            if isinstance(op, _Close):
                self.outbox.append(Close())
                self.connected = False
                value = None
                continue
            if isinstance(op, _Read):
                self._limit = op.limit
                got = self._take()
                if got is not None:  # already there: no wait
                    value = got
                    continue
                self._deadline = now + op.seconds
            elif isinstance(op, _Connect):
                self._inbuf.clear()
                self._eof = False
                self._error = 0
                self.outbox.append(Connect())
            else:
                assert isinstance(op, _Send)
                self.outbox.append(Send(op.data))
            self._waiting = op
            return

    def _read(self, seconds: float, limit: int) -> Generator[_Op, object, Got]:
        got = yield _Read(seconds, limit)
        assert isinstance(got, Got)
        return got

    # ------------------------------------------------------------ nmap's code

    def _target(self, address: str, ports: list[int]) -> Conversation:
        """nmap's main loop for one target: log in if needed, then bounce_scan()."""
        if not self.connected:
            yield from self._login()
        if self.connected:
            yield from self._bounce_scan(address, ports)

    def _login(self) -> Conversation:
        """ftp_anon_connect()."""
        relay = self.relay
        self.emit(Note("attempting", relay.url))
        err = yield _Connect()
        assert isinstance(err, int)
        if err == errnos.EMFILE or err == errnos.ENFILE:
            # socket() itself failed: nmap says so and scans no target this time
            self.emit(Note("socket-failed", number=err))
            return
        if err:
            raise Fatal("Your FTP bounce proxy server won't talk to us!")
        self.connected = True
        self.emit(Note("connected"))
        greeting = bytearray()
        while True:
            got = yield from self._read(GREETING_WAIT, _LOGIN_READ)
            if not got.data:
                break
            self.emit(Note("greeting", printable(got.data)))
            greeting += got.data
            if _whole_replies(greeting):
                break  # nmap would wait out 7 s of silence here
        yield _Send(f"USER {relay.user}\r\n".encode("utf-8", "surrogateescape"))  # unchecked, as nmap
        got = yield from self._read(REPLY_WAIT, _LOGIN_READ)
        if not got.data:
            raise SystemFatal("recv problem from FTP bounce server", got.errno)
        self.emit(Note("user-reply", printable(got.data)))
        if got.data[:1] == b"5":
            raise Fatal(f'Your FTP bounce server doesn\'t like the username "{relay.user}"')
        if got.data[:3] == b"230":  # logged in without a password
            self.emit(Note("accepted"))
            return
        yield _Send(f"PASS {relay.password}\r\n".encode("utf-8", "surrogateescape"))
        got = yield from self._read(REPLY_WAIT, _LOGIN_READ)
        said = bytearray(got.data)
        if not got.data:
            self.emit(Note("pass-timeout"))
        else:
            self.emit(Note("pass-reply", printable(got.data)))
            if got.data[:1] == b"5":
                raise Fatal("Your FTP bounce server refused login combo "
                            f"({relay.user}/{relay.password})")
        while not _whole_replies(said):  # nmap: until 2 s without data
            got = yield from self._read(DRAIN_WAIT, _LOGIN_READ)
            if not got.data:
                break
            self.emit(Note("drained", printable(got.data)))
            said += got.data
        self.emit(Note("accepted"))

    def _end(self, extrainfo: str) -> None:
        """The end of the target's scan: what nmap's Completed line adds."""
        self.extrainfo = extrainfo
        self.emit(Note("task-end", extrainfo))

    def _set(self, port: int, state: str) -> None:
        self.states[port] = state
        self.emit(PortState(self._host, self._address, port, state, "no-response"))

    def _bounce_scan(self, address: str, ports: list[int]) -> Conversation:
        """bounce_scan(): PORT and LIST for each port, in order."""
        if not ports:
            return
        self.emit(Note("task-begin"))
        retries = FTP_RETRIES
        privileged_ok = False
        i = 0
        while i < len(ports):
            port = ports[i]
            command = port_command(address, port)
            self.emit(Note("command", command.decode()))
            err = yield _Send(command)
            assert isinstance(err, int)
            if err:
                self.emit(Note("send-failed", number=err))
                if not retries:
                    self.emit(Note("out-of-retries"))
                    yield _Close()
                    self._end("Max retries exceeded")
                    return
                self.emit(Note("hung-up"))
                retries -= 1
                yield _Close()
                yield from self._login()
                if not self.connected:
                    self._end("Error connecting")
                    return
                continue  # the same port again
            got = yield from self._read(PORT_WAIT, _SCAN_READ)
            if not got.data:
                self.emit(Note("recv-problem", number=got.errno))
            else:
                self.emit(Note("port-reply", printable(got.data), port))
                if got.data[:1] == b"5" and not privileged_ok:
                    if port > 1023:
                        raise Fatal("Your FTP bounce server sucks, it won't let us feed bogus "
                                    "ports!")
                    self.emit(Note("privileged"))
                    while i < len(ports) and ports[i] < 1024:
                        i += 1
                    if i >= len(ports):
                        raise Fatal("And you didn't want to scan any unprivileged ports.  "
                                    "Giving up.")
                    # nmap's loop then steps past ports[i] as well: it is never scanned
                else:
                    if port < 1024:
                        privileged_ok = True
                    yield from self._list(port)
            i += 1
            self.done_ports = i
        self._end(f"{len(ports)} total ports")

    def _list(self, port: int) -> Conversation:
        """LIST and what its replies say of the port."""
        err = yield _Send(b"LIST\r\n")
        if err:
            return  # nmap's send() failed: no state
        got = yield from self._read(REPLY_WAIT, _SCAN_READ)
        if not got.data:
            self._set(port, "filtered" if got.timed_out else "closed")
            return
        reply = got.data
        self.emit(Note("list-reply", printable(reply)))
        if reply[:3] == b"500":  # out of step: the reply that counts comes next
            self.emit(Note("misaligned"))
            got = yield from self._read(NEXT_WAIT, _SCAN_READ)
            if got.data:  # nothing: the 500 stays, and the port is closed
                reply = got.data
        if reply[:1] == b"1":
            got = yield from self._read(NEXT_WAIT, _SCAN_READ)
            if not got.data:
                # the transfer never ended: probably filtered
                err = yield _Send(b"ABOR\r\n")
                if not err:
                    self._set(port, "filtered")
                yield from self._read(NEXT_WAIT, _SCAN_READ)  # its answer, not read
                return
            reply = got.data
            self.emit(Note("next-line", printable(reply)))
            if reply[:3] == b"426":
                self.emit(Note("removed", number=port))
                before = self.states.pop(port, None)
                if before is not None:
                    self.emit(Note("deleting", before, port))
                self.emit(Note("changed-mind", number=port))
        self._set(port, "open" if reply[:1] == b"2" else "closed")
