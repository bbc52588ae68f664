"""The bounce scan's state machine (pynmap.engine.bounce) over FakeStreams and a FakeClock.

Each relay is a script: what it says on connect and what it answers to each
command line, with delays.  The whole conversation runs in fake time, so
nmap's waits (12 s for LIST, 10 s after a 1xx reply, 15 s for PORT) are
checked as times.  The rules are nmap 7.93's (nmap_ftp.cc); the lab's tests
(tests/lab/test_bounce_lab.py) hold the same scan against nmap itself.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Sequence

import pytest

from pynmap.engine.bounce import (
    BounceScan,
    Close,
    Connect,
    Note,
    Relay,
    Say,
    Send,
    lines,
    parse_bounce_argument,
    port_command,
    reply_end,
)
from pynmap.engine.bounceloop import BounceLoop
from pynmap.engine.clock import FakeClock
from pynmap.engine.fake import FakeStreams, Peer, Step
from pynmap.engine.messages import Event, PortState
from pynmap.errors import Fatal, SystemFatal

RELAY_AT = ("192.0.2.21", 21)
TARGET = "198.51.100.7"
START = 1000.0
RELAY = Relay("anonymous", "-wwwuser@", "relay.example", 21, "relay.example")

Answer = Callable[[str], Sequence[Step]]


class FtpPeer:
    """One control connection of a scripted relay: a greeting, then `answer(line)`
    for each command line the client sends."""

    def __init__(self, greeting: Sequence[Step], answer: Answer) -> None:
        self.greeting = greeting
        self.answer = answer
        self.pending = b""

    def opened(self) -> Sequence[Step]:
        return self.greeting

    def received(self, data: bytes) -> Sequence[Step]:
        self.pending += data
        steps: list[Step] = []
        while b"\r\n" in self.pending:
            line, self.pending = self.pending.split(b"\r\n", 1)
            steps += self.answer(line.decode())
        return steps


def vsftpd(ports: dict[int, str], *, login: Answer | None = None) -> Answer:
    """A relay that bounces like vsftpd with port_promiscuous: LIST answers for the
    last PORT's port as `ports` says (open: 150 then 226; closed: 425;
    filtered: nothing for as long as the test lasts)."""
    last = [0]

    def answer(line: str) -> Sequence[Step]:
        verb = line.split(" ", 1)[0]
        if verb in ("USER", "PASS") and login is not None:
            return login(line)
        if verb == "USER":
            return [(0.0, b"331 Please specify the password.\r\n")]
        if verb == "PASS":
            return [(0.0, b"230 Login successful.\r\n")]
        if verb == "PORT":
            numbers = [int(n) for n in line.split(" ", 1)[1].split(",")]
            last[0] = numbers[4] * 256 + numbers[5]
            return [(0.0, b"200 PORT command successful. Consider using PASV.\r\n")]
        if verb == "LIST":
            state = ports.get(last[0], "closed")
            if state == "open":
                return [(0.01, b"150 Here comes the directory listing.\r\n"),
                        (0.02, b"226 Directory send OK.\r\n")]
            if state == "closed":
                return [(0.01, b"425 Failed to establish connection.\r\n")]
            return []
        if verb == "ABOR":
            return [(0.0, b"225 No transfer to ABOR.\r\n")]
        return [(0.0, b"500 Unknown command.\r\n")]

    return answer


GREETING: Sequence[Step] = ((0.0, b"220 (vsFTPd 3.0.3)\r\n"),)


class Bench:
    """A BounceScan and its loop over FakeStreams, with what it emitted."""

    def __init__(self, answer: Answer | None = None, *, greeting: Sequence[Step] = GREETING,
                 relay: Relay = RELAY, peers: Callable[[], Peer] | None = None) -> None:
        self.clock = FakeClock(START)
        factory = peers or (lambda: FtpPeer(greeting, answer or vsftpd({})))
        self.streams = FakeStreams(self.clock, {RELAY_AT: factory})
        self.events: list[Event | Note] = []
        self.scan = BounceScan(relay, emit=self.events.append)
        self.loop = BounceLoop(self.scan, RELAY_AT, clock=self.clock, streams=self.streams)

    def run(self, ports: Sequence[int], address: str = TARGET) -> dict[int, str]:
        return dict(self.loop.scan_target(0, address, ports))

    def notes(self, *kinds: str) -> list[Note]:
        return [e for e in self.events if isinstance(e, Note) and (not kinds or e.kind in kinds)]

    def kinds(self) -> list[str]:
        return [e.kind for e in self.notes()]

    def commands(self) -> list[bytes]:
        return [data for _, data in self.streams.sent]

    def elapsed(self) -> float:
        return self.clock.now() - START


# ---------------------------------------------------------------- the -b argument


@pytest.mark.parametrize(("text", "user", "password", "server", "port", "logged"), [
    ("relay", "anonymous", "-wwwuser@", "relay", 21, "relay"),
    ("relay:2121", "anonymous", "-wwwuser@", "relay", 2121, "relay"),
    ("u:p@relay:99", "u", "p", "relay", 99, "u"),
    # the last @ ends the credentials, the first : in them ends the user
    ("u:p:q@x@relay", "u", "p:q@x", "relay", 21, "u"),
    # the port is atoi()'s, kept as an unsigned 16-bit number
    ("relay:ftp", "anonymous", "-wwwuser@", "relay", 0, "relay"),
    ("relay:70000", "anonymous", "-wwwuser@", "relay", 70000 - 65536, "relay"),
    ("relay:-1", "anonymous", "-wwwuser@", "relay", 65535, "relay"),
    ("relay:21:22", "anonymous", "-wwwuser@", "relay", 21, "relay"),
    ("", "anonymous", "-wwwuser@", "", 21, ""),
    ("u:@", "u", "", "", 21, "u"),
])
def test_parse_bounce_argument(text: str, user: str, password: str, server: str, port: int,
                               logged: str) -> None:
    relay = parse_bounce_argument(text)
    assert (relay.user, relay.password, relay.server, relay.port, relay.logged) == \
        (user, password, server, port, logged)


def test_a_user_alone_keeps_the_password_so_far_and_says_so() -> None:
    said: list[str] = []
    relay = parse_bounce_argument("bob@relay", say=said.append)
    assert (relay.user, relay.password, relay.logged) == ("bob", "-wwwuser@", "bob")
    assert said == ["Assuming bob is a username, and using the default password: -wwwuser@\n"]
    # a second -b starts from the first one's values (nmap's one ftpinfo)
    earlier = parse_bounce_argument("u:secret@a:2121")
    assert parse_bounce_argument("b", earlier).port == 2121
    assert parse_bounce_argument("bob@b", earlier, said.append).password == "secret"


def test_strings_are_cut_to_nmaps_buffers() -> None:
    relay = parse_bounce_argument("u" * 70 + ":" + "p" * 300 + "@" + "s" * 300)
    assert (len(relay.user), len(relay.password), len(relay.server)) == (63, 255, 255)
    assert relay.url.startswith("ftp://" + "u" * 63 + ":")


def test_port_command_and_reply_end() -> None:
    assert port_command("198.51.100.7", 8080) == b"PORT 198,51,100,7,31,144\r\n"
    assert port_command("10.0.0.1", 21) == b"PORT 10,0,0,1,0,21\r\n"
    assert reply_end(b"200 ok\r\n226 done\r\n") == 8
    assert reply_end(b"230-Welcome\r\n230-more\r\n230 ok\r\nrest") == 31
    assert reply_end(b"230-Welcome\r\n") is None
    assert reply_end(b"500 OOPS: ") is None


# ---------------------------------------------------------------- a whole scan


def test_open_closed_filtered_as_nmap_decides() -> None:
    bench = Bench(vsftpd({8080: "open", 9999: "filtered"}))
    states = bench.run([8080, 8081, 9999])
    assert states == {8080: "open", 8081: "closed", 9999: "filtered"}
    assert bench.commands() == [
        b"USER anonymous\r\n", b"PASS -wwwuser@\r\n",
        b"PORT 198,51,100,7,31,144\r\n", b"LIST\r\n",
        b"PORT 198,51,100,7,31,145\r\n", b"LIST\r\n",
        b"PORT 198,51,100,7,39,15\r\n", b"LIST\r\n"]
    # the filtered port is nmap's 12 s wait for LIST's reply; the login waits for nothing
    assert 12.0 <= bench.elapsed() < 12.2
    assert [(e.port, e.state, e.reason) for e in bench.events if isinstance(e, PortState)] == [
        (8080, "open", "no-response"), (8081, "closed", "no-response"),
        (9999, "filtered", "no-response")]
    assert bench.kinds() == [
        "attempting", "connected", "greeting", "user-reply", "pass-reply", "accepted",
        "task-begin",
        "command", "port-reply", "list-reply", "next-line",
        "command", "port-reply", "list-reply",
        "command", "port-reply",
        "task-end"]
    assert bench.notes("task-end")[0].text == bench.scan.extrainfo == "3 total ports"


def test_the_connection_and_login_serve_the_next_target() -> None:
    bench = Bench(vsftpd({8080: "open"}))
    bench.run([8080])
    assert bench.run([8080], "198.51.100.8") == {8080: "open"}
    assert len(bench.streams.connects) == 1
    assert bench.commands().count(b"USER anonymous\r\n") == 1
    assert bench.commands()[-2:] == [b"PORT 198,51,100,8,31,144\r\n", b"LIST\r\n"]


def test_two_replies_that_arrive_together_are_two_reads() -> None:
    """150 and 226 in one segment (vsftpd's empty listing): nmap, reading as each reply
    comes, sees 150 then 226 and calls the port open.  Taken as one read, the 226 would
    be lost and the port, after a 10 s wait for it, filtered."""
    relay = vsftpd({})

    relay = vsftpd({})

    def together(line: str) -> Sequence[Step]:
        if line == "LIST":
            return [(0.01, b"150 Here comes the directory listing.\r\n226 Directory send OK.\r\n")]
        return relay(line)

    bench = Bench(together)
    assert bench.run([8080]) == {8080: "open"}
    assert bench.elapsed() < 1.0
    assert [n.text for n in bench.notes("list-reply", "next-line")] == [
        "150 Here comes the directory listing.\r\n", "226 Directory send OK.\r\n"]


def test_a_login_ends_with_its_reply_not_after_nmaps_quiet_seconds() -> None:
    """The greeting and PASS's reply, multi-line and in pieces: pynmap stops reading
    each once it is whole, where nmap waits for 7 s and 2 s of silence."""
    greeting = ((0.0, b"220-Hello\r\n220-there\r\n"), (0.05, b"220 ready\r\n"))

    def login(line: str) -> Sequence[Step]:
        if line.startswith("USER"):
            return [(0.0, b"331 pw\r\n")]
        return [(0.0, b"230-Welcome\r\n"), (0.05, b"230 ok\r\n")]

    bench = Bench(vsftpd({}, login=login), greeting=greeting)
    bench.run([8081])
    assert [n.text for n in bench.notes("greeting")] == ["220-Hello\r\n220-there\r\n",
                                                         "220 ready\r\n"]
    assert [n.text for n in bench.notes("pass-reply", "drained")] == ["230-Welcome\r\n",
                                                                      "230 ok\r\n"]
    assert bench.elapsed() < 0.5


def test_user_logged_in_at_once_sends_no_password() -> None:
    bench = Bench(vsftpd({}, login=lambda line: [(0.0, b"230 Welcome, no password needed\r\n")]))
    bench.run([8081])
    assert b"PASS -wwwuser@\r\n" not in bench.commands()
    assert "accepted" in bench.kinds()


@pytest.mark.parametrize(("reply_to", "reply", "message"), [
    ("USER", b"530 This FTP server is anonymous only.\r\n",
     'Your FTP bounce server doesn\'t like the username "anonymous"'),
    ("PASS", b"530 Login incorrect.\r\n",
     "Your FTP bounce server refused login combo (anonymous/-wwwuser@)"),
])
def test_a_refused_login_is_fatal(reply_to: str, reply: bytes, message: str) -> None:
    def login(line: str) -> Sequence[Step]:
        if line.startswith(reply_to):
            return [(0.0, reply)]
        return [(0.0, b"331 pw\r\n")]

    bench = Bench(vsftpd({}, login=login))
    with pytest.raises(Fatal) as caught:
        bench.run([8080])
    assert caught.value.message == message


def test_no_reply_to_user_is_nmaps_pfatal_with_its_stale_errno() -> None:
    bench = Bench(vsftpd({}, login=lambda line: []))
    with pytest.raises(SystemFatal) as caught:
        bench.run([8080])
    assert caught.value.text == "recv problem from FTP bounce server: Bad file descriptor (9)\n"
    assert bench.elapsed() == pytest.approx(12.0)


def test_no_reply_to_pass_is_a_warning_and_the_scan_goes_on() -> None:
    def login(line: str) -> Sequence[Step]:
        return [(0.0, b"331 pw\r\n")] if line.startswith("USER") else []

    bench = Bench(vsftpd({8080: "open"}, login=login))
    assert bench.run([8080]) == {8080: "open"}
    kinds = bench.kinds()
    assert kinds.index("pass-timeout") < kinds.index("accepted")
    # 12 s for PASS's reply, then nmap's 2 s for whatever else comes
    assert 14.0 <= bench.elapsed() < 14.2


def test_a_relay_that_refuses_the_connection_is_fatal() -> None:
    bench = Bench()
    bench.streams = FakeStreams(bench.clock, {})
    bench.loop = BounceLoop(bench.scan, RELAY_AT, clock=bench.clock, streams=bench.streams)
    with pytest.raises(Fatal, match="Your FTP bounce proxy server won't talk to us!"):
        bench.run([8080])


# ---------------------------------------------------------------- nmap's odd replies


def test_a_preliminary_reply_then_silence_is_filtered_after_abor() -> None:
    relay = vsftpd({})

    def hang(line: str) -> Sequence[Step]:
        if line == "LIST":
            return [(0.0, b"150 go\r\n")]
        return relay(line)

    bench = Bench(hang)
    assert bench.run([8080]) == {8080: "filtered"}
    assert bench.commands()[-1] == b"ABOR\r\n"
    # 10 s for the rest of the transfer; ABOR's answer came at once and is not shown
    assert 10.0 <= bench.elapsed() < 10.2
    assert "next-line" not in bench.kinds()


def test_a_broken_transfer_is_forgotten_then_closed() -> None:
    relay = vsftpd({})

    def broken(line: str) -> Sequence[Step]:
        if line == "LIST":
            return [(0.0, b"150 go\r\n"), (0.05, b"426 Connection closed; transfer aborted.\r\n")]
        return relay(line)

    bench = Bench(broken)
    assert bench.run([8080]) == {8080: "closed"}
    assert bench.kinds()[-4:] == ["next-line", "removed", "changed-mind", "task-end"]


def test_a_500_to_list_is_a_command_out_of_step_and_the_next_reply_counts() -> None:
    relay = vsftpd({})

    def out_of_step(line: str) -> Sequence[Step]:
        if line == "LIST":
            return [(0.0, b"500 what\r\n"), (0.05, b"226 ok\r\n")]
        return relay(line)

    bench = Bench(out_of_step)
    assert bench.run([8080]) == {8080: "open"}
    assert "misaligned" in bench.kinds()


def test_the_relay_hanging_up_on_list_then_nmaps_retry() -> None:
    """The relay closes on LIST: closed (end of stream); the next PORT still goes out
    but its reply never comes (unknown: nmap's perror with the stale errno); the one
    after cannot be sent: nmap logs in again and retries that port."""
    connections = [0]

    def peers() -> Peer:
        connections[0] += 1
        first = connections[0] == 1
        relay = vsftpd({8082: "open"})

        def answer(line: str) -> Sequence[Step]:
            if line == "LIST" and first:
                return [(0.0, None)]  # hangs up
            return relay(line)
        return FtpPeer(GREETING, answer)

    bench = Bench(peers=peers)
    states = bench.run([8080, 8081, 8082])
    assert states == {8080: "closed", 8082: "open"}  # 8081: unknown
    assert [n.number for n in bench.notes("recv-problem")] == [errno.EBADF]
    assert [n.number for n in bench.notes("send-failed")] == [errno.EPIPE]
    assert bench.kinds().count("attempting") == 2
    assert "hung-up" in bench.kinds()


def test_out_of_retries_gives_up_on_the_target() -> None:
    scan = BounceScan(RELAY, emit=lambda event: None)
    scan.scan_host(TARGET, [8080], START)
    assert isinstance(scan.outbox.popleft(), Connect)
    scan.on_connected(START)
    scan.on_data(b"220 hi\r\n", START)
    scan.outbox.clear()
    scan.on_sent(0, START)
    scan.on_data(b"230 no password\r\n", START)
    notes: list[str] = []
    scan.emit = lambda event: notes.append(event.kind) if isinstance(event, Note) else None
    for _ in range(2):  # each PORT fails; nmap logs in again, twice
        scan.outbox.clear()
        scan.on_sent(errno.EPIPE, START)
        scan.on_connected(START)
        scan.on_data(b"220 hi\r\n", START)
        scan.on_sent(0, START)
        scan.on_data(b"230 no password\r\n", START)
    scan.outbox.clear()
    scan.on_sent(errno.EPIPE, START)
    assert not scan.busy
    assert notes.count("hung-up") == 2
    assert notes[-3:] == ["send-failed", "out-of-retries", "task-end"]
    assert scan.extrainfo == "Max retries exceeded" and scan.states == {}
    assert not scan.connected  # the next target logs in again


def test_a_reset_during_list_is_closed_with_recvtimes_complaint() -> None:
    relay = vsftpd({})

    def reset(line: str) -> Sequence[Step]:
        if line == "LIST":
            return [(0.0, errno.ECONNRESET)]
        return relay(line)

    bench = Bench(reset)
    assert bench.run([8080]) == {8080: "closed"}
    assert [n.number for n in bench.notes("recv-error")] == [errno.ECONNRESET]


@pytest.mark.parametrize(("ports", "states", "fatal"), [
    # a refused PORT above 1023, before any privileged one was accepted: fatal
    ([8080], {}, "Your FTP bounce server sucks, it won't let us feed bogus ports!"),
    # a refused privileged port: the run of privileged ports is skipped, and the
    # port after it too (nmap's loop steps past it); then the scan goes on
    ([21, 22, 8080, 8081], {8081: "refused"}, None),
    ([21, 22], {}, "And you didn't want to scan any unprivileged ports.  Giving up."),
])
def test_a_relay_that_refuses_port(ports: list[int], states: dict[int, str],
                                   fatal: str | None) -> None:
    relay = vsftpd({})

    def strict(line: str) -> Sequence[Step]:
        if line.startswith("PORT"):
            return [(0.0, b"500 Illegal PORT command.\r\n")]
        return relay(line)

    bench = Bench(strict)
    if fatal is not None:
        with pytest.raises(Fatal) as caught:
            bench.run(ports)
        assert caught.value.message == fatal
        return
    with pytest.raises(Fatal, match="sucks"):  # 8081: refused, and nothing privileged passed
        bench.run(ports)
    sent = [c for c in bench.commands() if c.startswith(b"PORT")]
    assert sent == [port_command(TARGET, 21), port_command(TARGET, 8081)]
    assert bench.kinds().count("privileged") == 1


def test_once_a_privileged_port_passed_a_refused_port_goes_unnoticed() -> None:
    """nmap checks PORT's reply for 5xx only until a privileged port has been accepted;
    after that a refused PORT is followed by LIST as if accepted, and LIST's replies
    (here for the earlier, open port 21) decide."""
    relay = vsftpd({21: "open"})

    def picky(line: str) -> Sequence[Step]:
        if line.startswith("PORT") and line.endswith(",31,145"):  # 8081
            return [(0.0, b"500 Illegal PORT command.\r\n")]
        return relay(line)

    bench = Bench(picky)
    assert bench.run([21, 8081, 8082]) == {21: "open", 8081: "open", 8082: "closed"}


# ---------------------------------------------------------------- nmap's lines


def test_lines_at_nmaps_levels() -> None:
    connected = Note("connected")
    assert lines(connected, 0, 0) == ()
    assert lines(connected, 1, 0) == ((Say.STDOUT, "Connected:"),)
    assert lines(Note("user-reply", "331 pw\r\n"), 1, 0) == ()
    assert lines(Note("user-reply", "331 pw\r\n"), 1, 1) == (
        (Say.STDOUT, "sent username, received: 331 pw\r\n"),)
    assert lines(Note("removed", number=8080), 0, 0) == ((Say.PLAIN, "Removed 8080"),)
    assert lines(Note("recv-problem", number=errno.EBADF), 0, 0) == (
        (Say.PERROR, "recv problem from FTP bounce server: Bad file descriptor"),)
    assert lines(Note("misaligned"), 0, 0) == ()
    assert lines(Note("task-begin"), 5, 5) == ()  # the driver's


def test_commands_are_plain_values() -> None:
    assert Send(b"LIST\r\n") == Send(b"LIST\r\n")
    assert Connect() == Connect() and Close() == Close()


def test_the_logged_command_line_keeps_what_nmap_leaves_of_the_argument() -> None:
    """nmap's parser writes NULs into its -b argument: its logged argv (-oN, -oG,
    -oX headers) shows the argument up to the first of them, attached or not."""
    from pynmap.options import parse_options

    def args(*argv: str) -> tuple[str, ...]:
        return parse_options(["pynmap", *argv], warn=lambda _: None, say=lambda _: None,
                             usage=str, version=str).args

    assert args("-b", "u:p@relay:2121", "-p", "1", "x") == (
        "pynmap", "-b", "u", "-p", "1", "x")
    assert args("-nbrelay:2121", "x") == ("pynmap", "-nbrelay", "x")
    assert args("-b", "relay", "x") == ("pynmap", "-b", "relay", "x")


def test_cluster_workers_get_the_argument_as_typed() -> None:
    """--cluster's workers run the command line again: the -b argument as typed, not
    what nmap's log keeps of it."""
    from pynmap.cluster.spec import worker_args
    from pynmap.options import parse_options

    o = parse_options(["pynmap", "-nbu:p@relay:2121", "-p", "1", "x"], warn=lambda _: None,
                      say=lambda _: None, usage=str, version=str)
    assert o.args == ("pynmap", "-nbu", "-p", "1", "x")
    assert o.given_args == ("pynmap", "-nbu:p@relay:2121", "-p", "1", "x")
    assert worker_args(o.given_args) == ["-n", "-b", "u:p@relay:2121", "-p", "1", "--", "x"]


def test_through_proxies_the_relay_is_reached_through_the_chain() -> None:
    """With --proxies the control connection goes through the chain too (engine/proxy.py),
    as every connection of pynmap's does; a chain that cannot reach the relay is a relay
    that will not talk."""
    from pynmap.engine.proxy import ProxyStreams
    from tests.unit.test_proxy import PROXY, Socks5Proxy, node

    def bench(code: int) -> tuple[BounceLoop, FakeStreams]:
        clock = FakeClock(START)

        def relay() -> Peer:
            return FtpPeer(GREETING, vsftpd({8080: "open"}))

        streams = FakeStreams(clock, {
            (PROXY, 1080): lambda: Socks5Proxy({RELAY_AT: code}, {RELAY_AT: relay})})
        scan = BounceScan(RELAY, emit=lambda event: None)
        chain = ProxyStreams(streams, [node("socks5")], clock)
        return BounceLoop(scan, RELAY_AT, clock=clock, streams=chain), streams

    loop, streams = bench(0)
    assert loop.scan_target(0, TARGET, [8080, 8081]) == {8080: "open", 8081: "closed"}
    assert {c[:2] for c in streams.connects} == {(PROXY, 1080)}
    loop, streams = bench(5)  # the proxy: connection refused
    with pytest.raises(Fatal, match="won't talk to us"):
        loop.scan_target(0, TARGET, [8080])
