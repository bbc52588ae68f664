"""The service scan's state machine (pynmap.engine.service) over FakeStreams and a FakeClock.

No socket, no root: each service is a script (engine/fake.py's Scripted, or
a TLS server driven in memory with ssl.SSLObject), and the whole scan runs
in fake time, so the waits nmap's rules prescribe (a probe's totalwaitms,
the NULL probe's tcpwrappedms) are checked as times.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest

from pynmap.engine.clock import FakeClock
from pynmap.engine.fake import FakeStreams, Peer, Scripted, Step
from pynmap.engine.service import ServiceScan, ideal_parallelism
from pynmap.engine.serviceloop import ServiceLoop, service_scan
from pynmap.probes import ProbeDB, probe_sequence
from pynmap.report import Service
from pynmap.results import HostResult, PortResult
from pynmap.timing import Timing
from tests.support.pyservices import make_certificate

A = "192.0.2.1"
START = 1000.0



def run(db: ProbeDB, services: Mapping[int, Callable[[], Peer]], ports: Sequence[int] = (),
        speculate: bool = False, **kwargs: object) -> tuple[ServiceScan, FakeStreams, FakeClock]:
    """The scan over scripted services; serial (nmap's own schedule, speculate=False)
    unless told otherwise: the tests of nmap's rules check its times and connections."""
    clock = FakeClock(START)
    streams = FakeStreams(clock, {(A, p): f for p, f in services.items()})
    scan = ServiceScan(db, [(A, list(ports) or list(services))], wall=clock.wall,
                       speculate=speculate, **kwargs)  # type: ignore[arg-type]
    ServiceLoop(scan, [(socket.AF_INET, A, 0)], clock=clock, streams=streams).run()
    return scan, streams, clock


def result(scan: ServiceScan, port: int, table: str | None = "table-name") -> Service:
    svc = next(s for s in scan.services if s.port == port)
    return scan.result(svc, table)


def banner(data: bytes, *more: Step) -> Callable[[], Peer]:
    return lambda: Scripted([(0.01, data), *more])


def test_a_banner_matched_on_the_null_probe_ends_the_port(small: ProbeDB) -> None:
    scan, streams, clock = run(small, {22: banner(b"SSH-2.0-OpenSSH_9.2p1\r\n")})
    assert result(scan, 22) == Service(
        name="ssh", method="probed", conf=10, product="OpenSSH", version="9.2p1",
        extrainfo="protocol 2.0", cpe=("cpe:/a:openbsd:openssh:9.2p1",))
    assert streams.sent == []  # the NULL probe sends nothing
    assert len(streams.connects) == 1
    assert clock.now() == pytest.approx(START + 0.01)  # no waiting once matched
    assert streams.open_now == 0


def test_a_silent_service_gets_every_probe_each_waiting_its_totalwaitms(small: ProbeDB) -> None:
    scan, streams, clock = run(small, {80: Scripted})
    # NULL, then Hello and Other (rarity 1); Rare (9) is above the intensity
    assert [data for _port, data in streams.sent] == [b"HELLO\r\n", b"OTHER\r\n"]
    # Hello is sent on the NULL probe's connection; Other gets a new one
    assert [t for _a, _p, t in streams.connects] == [START, START + 6 + 5]
    assert clock.now() == pytest.approx(START + 6 + 5 + 5)
    # nothing came back: nmap's table name, no fingerprint
    assert result(scan, 80) == Service(name="table-name", method="table", conf=3)
    assert result(scan, 80, None).name == "unknown"


def test_a_softmatch_narrows_the_later_probes_to_its_service(small: ProbeDB) -> None:
    def foo() -> Peer:
        def reply(data: bytes) -> list[Step]:
            if data == b"RARE\r\n":
                return [(0.01, b"FOO here\nrare answer")]
            return []
        return Scripted([(0.01, b"FOO here\n")], reply)

    scan, streams, _clock = run(small, {80: foo})
    # Hello and Other cannot name "foo": skipped; Rare can, and rarity no longer counts
    assert [data for _port, data in streams.sent] == [b"RARE\r\n"]
    assert result(scan, 80) == Service(name="foo", method="probed", conf=10,
                                       product="Foo daemon", version="2")


def test_a_softmatch_with_nothing_better_is_probed_and_keeps_its_fingerprint(
        small: ProbeDB) -> None:
    scan, _streams, _clock = run(small, {80: lambda: Scripted([(0.01, b"FOO x\n")])})
    got = result(scan, 80)
    assert (got.name, got.method, got.conf) == ("foo", "probed", 10)
    assert got.servicefp is not None and got.servicefp.endswith(
        '%r(NULL,6,"FOO\\x20x\\n")%r(Rare,6,"FOO\\x20x\\n");')
    # at an intensity under 7 nmap keeps the fingerprint to itself
    scan, _streams, _clock = run(small, {80: lambda: Scripted([(0.01, b"FOO x\n")])},
                                 intensity=5)
    assert result(scan, 80).servicefp is None


def test_closed_on_the_null_probe_within_tcpwrappedms_is_tcpwrapped(small: ProbeDB) -> None:
    scan, streams, _clock = run(small, {80: lambda: Scripted([(0.5, None)])})
    assert result(scan, 80) == Service(name="tcpwrapped", method="probed", conf=8)
    assert len(streams.connects) == 1
    # a reset does the same
    scan, _streams, _clock = run(small, {80: lambda: Scripted([(0.0, 104)])})
    assert result(scan, 80).name == "tcpwrapped"


def test_closed_later_than_tcpwrappedms_goes_on_to_the_next_probes(small: ProbeDB) -> None:
    scan, streams, clock = run(small, {80: lambda: Scripted([(3.5, None)])})
    # nmap tries the next probes, each on a new connection, which closes too
    assert [data for _port, data in streams.sent] == [b"HELLO\r\n", b"OTHER\r\n"]
    assert clock.now() - START == pytest.approx(3 * 3.5)
    # nothing ever disproved a wrapper (no data, no probe that ran out of time):
    # nmap's end_svcprobe() still calls it tcpwrapped
    assert result(scan, 80) == Service(name="tcpwrapped", method="probed", conf=8)
    # one probe that runs out of time does disprove it
    scan, _streams, _clock = run(small, {80: lambda: Scripted([(5.5, None)])})
    assert result(scan, 80) == Service(name="table-name", method="table", conf=3)


def test_an_unmatched_banner_gives_nmaps_fingerprint(small: ProbeDB) -> None:
    data = b"zq9 k7\x00\x001\xff[ok]\r\n"
    scan, _streams, clock = run(small, {7003: banner(data, (0.02, None))})
    got = result(scan, 7003, "afs3-vlserver")
    assert (got.name, got.method, got.conf) == ("afs3-vlserver", "table", 3)
    # the header takes the time of the first response added (the NULL probe's, at EOF)
    t = int(FakeClock(START).wall() + 0.03)
    day = time.localtime(t)
    entry = '"zq9\\x20k7\\0\\x001\\xff\\[ok\\]\\r\\n"'
    assert got.servicefp == (
        f"SF-Port7003-TCP:V=7.93%I=7%D={day.tm_mon}/{day.tm_mday}%Time={t:X}"
        f"%P=x86_64-pc-linux-gnu%r(NULL,10,{entry})%r(Hello,10,{entry})%r(Other,10,{entry});")
    assert clock.now() > START


def test_the_null_probes_banner_stays_in_the_next_probes_response(small: ProbeDB) -> None:
    def slow() -> Peer:
        return Scripted([(0.01, b"hey\n")],
                        lambda data: [(0.01, b"HI there")] if data == b"HELLO\r\n" else [])

    scan, streams, _clock = run(small, {80: slow})
    # "hey\nHI there" does not match ^HI there: the banner came first, on the same connection
    assert len(streams.connects) == 2
    fp = result(scan, 80).servicefp
    assert fp is not None and '%r(Hello,C,"hey\\nHI\\x20there")' in fp


def test_excluded_ports_are_not_probed_unless_allports(small: ProbeDB) -> None:
    scan, streams, _clock = run(small, {9100: banner(b"SSH-2.0-OpenSSH_1\r\n")})
    assert streams.connects == []
    assert result(scan, 9100, "jetdirect") == Service(
        name="jetdirect", method="table", conf=3, product="Excluded from version scan")
    assert scan.to_probe == 0
    scan, streams, _clock = run(small, {9100: banner(b"SSH-2.0-OpenSSH_1\r\n")},
                                allports=True)
    assert result(scan, 9100).name == "ssh"


def test_the_walk_is_probe_sequence_when_nothing_matches(bundled: ProbeDB) -> None:
    scan, _streams, _clock = run(bundled, {8000: lambda: Scripted([(0.0, b"?"), (0.0, None)])})
    names = [p.name for p in probe_sequence(bundled, 8000)]
    fp = result(scan, 8000).servicefp
    assert fp is not None
    assert [part.split(",")[0] for part in fp.split("%r(")[1:]] == names


def test_parallelism_follows_nmaps_service_group() -> None:
    assert [ideal_parallelism(level, 0, 0) for level in range(6)] == [1, 1, 1, 20, 30, 40]
    assert ideal_parallelism(3, 0, 5) == 5
    assert ideal_parallelism(1, 10, 0) == 10
    assert ideal_parallelism(5, 0, 0) == 40


def test_no_more_ports_at_once_than_the_parallelism(small: ProbeDB) -> None:
    services = {p: Scripted for p in range(100, 110)}
    _scan, streams, clock = run(small, services, parallelism=3)  # type: ignore[dict-item]
    assert streams.peak == 3
    assert clock.now() == pytest.approx(START + 16 * 4)  # ceil(10 / 3) rounds of 16 s


# ---------------------------------------------------------------- TLS


class TlsPeer:
    """A TLS server over memory BIOs, around another Peer (what it says in the clear)."""

    def __init__(self, ctx: ssl.SSLContext, inner: Peer) -> None:
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.incoming, self.outgoing, server_side=True)
        self.inner = inner
        self.up = False

    def opened(self) -> Sequence[Step]:
        return ()

    def received(self, data: bytes) -> Sequence[Step]:
        self.incoming.write(data)
        steps: list[Step] = []
        if not self.up:
            try:
                self.obj.do_handshake()
                self.up = True
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError:
                return [(0.0, self.outgoing.read()), (0.0, None)]
            steps.append((0.0, self.outgoing.read()))
            if not self.up:
                return steps
            steps += self._wrap(self.inner.opened())
        try:
            plain = self.obj.read(65536)
        except ssl.SSLWantReadError:
            plain = b""
        except ssl.SSLError:  # the client's alert: a server hangs up
            return [*steps, (0.0, None)]
        if plain:
            steps += self._wrap(self.inner.received(plain))
        return steps

    def _wrap(self, steps: Sequence[Step]) -> list[Step]:
        out: list[Step] = []
        for delay, what in steps:
            if isinstance(what, bytes):
                self.obj.write(what)
                out.append((delay, self.outgoing.read()))
            else:
                out.append((delay, what))
        return out


def http(data: bytes) -> list[Step]:
    if data.startswith(b"GET / HTTP/1.0"):
        return [(0.01, b"HTTP/1.0 200 OK\r\nServer: SimpleHTTP/0.6 Python/3.11.7\r\n"
                       b"Content-Type: text/html\r\n\r\n<html>"), (0.02, None)]
    return [(0.01, None)]


def test_ssl_is_detected_and_the_probes_start_over_through_tls(
        bundled: ProbeDB, server_context: ssl.SSLContext) -> None:
    scan, streams, clock = run(bundled, {8443: lambda: TlsPeer(server_context,
                                                               Scripted((), http))})
    assert result(scan, 8443) == Service(
        name="http", method="probed", conf=10, product="SimpleHTTPServer", version="0.6",
        extrainfo="Python 3.11.7", tunnel="ssl", cpe=("cpe:/a:python:simplehttpserver:0.6",))
    # NULL (6 s), SSLSessionReq answered with a TLS alert: ssl; then NULL again through
    # TLS (6 s) and GetRequest, the first probe of the TLS sequence that HTTP answers
    assert [p.name for p in probe_sequence(bundled, 8443)][:2] == ["NULL", "SSLSessionReq"]
    assert [p.name for p in probe_sequence(bundled, 8443, ssl=True)][:2] == [
        "NULL", "GetRequest"]
    assert clock.now() - START == pytest.approx(12, abs=0.5)
    assert streams.open_now == 0


def test_plain_http_is_not_tunnelled(bundled: ProbeDB) -> None:
    scan, _streams, clock = run(bundled, {8000: lambda: Scripted((), http)})
    got = result(scan, 8000)
    assert (got.name, got.product, got.tunnel) == ("http", "SimpleHTTPServer", None)
    assert clock.now() - START == pytest.approx(6, abs=0.1)  # the NULL probe's wait, then GET


# ---------------------------------------------------------------- host timeout


def test_a_host_out_of_time_is_dropped(small: ProbeDB) -> None:
    clock = FakeClock(START)
    streams = FakeStreams(clock, {(A, 80): Scripted, (A, 22): banner(b"SSH-2.0-OpenSSH_9\r\n")})
    host = HostResult(A, socket.AF_INET, status="up",
                      ports=[PortResult(22, "open", "syn-ack"), PortResult(80, "open", "syn-ack"),
                             PortResult(81, "closed", "conn-refused")],
                      start_time=clock.wall() - 2, end_time=clock.wall())
    done = service_scan([host], small, Timing(host_timeout=5000), names=lambda p: None,
                        clock=clock, streams=streams)
    # 2 s of the port scan + 3 s here: the silent port's NULL probe never ends
    assert done == (2, 1)
    assert host.timed_out and host.ports == []
    assert clock.now() - START == pytest.approx(3, abs=0.01)


def test_service_scan_fills_the_open_ports_only(small: ProbeDB) -> None:
    clock = FakeClock(START)
    streams = FakeStreams(clock, {(A, 22): banner(b"SSH-2.0-OpenSSH_9\r\n")})
    host = HostResult(A, socket.AF_INET, status="up",
                      ports=[PortResult(22, "open", "syn-ack"),
                             PortResult(81, "closed", "conn-refused")])
    assert service_scan([host], small, Timing(), names=lambda p: None, clock=clock,
                        streams=streams) == (1, 0)
    assert host.ports[0].service is not None and host.ports[0].service.name == "ssh"
    assert host.ports[1].service is None
    # the host's end time is when its last service finished (nmap's "Scanned ... for")
    assert host.end_time == pytest.approx(FakeClock(START).wall() + 0.01)


# ---------------------------------------------------------------- nmap's size limits


def test_a_probe_ends_once_4096_bytes_came_without_a_match(small: ProbeDB) -> None:
    chunk = b"y" * 1500
    steps: list[Step] = [(0.1 * i, chunk) for i in range(1, 60)]
    scan, _streams, clock = run(small, {19: lambda: Scripted(steps)}, intensity=0)
    # the NULL probe stops reading at 4500 bytes (0.3 s), not at its 6 s
    assert clock.now() - START == pytest.approx(0.3)
    # no match at all: the fingerprint is given whatever the intensity; its length is
    # the whole response's, its text the first 900 bytes
    fp = result(scan, 19).servicefp
    assert fp is not None and fp.startswith("SF-Port19-TCP:V=7.93%I=0%")
    assert fp.endswith('%r(NULL,1194,"' + "y" * 900 + '");')


def test_a_fingerprint_takes_no_more_responses_past_2200_characters(small: ProbeDB) -> None:
    scan, _streams, _clock = run(small, {7003: banner(b"\x01" * 400, (0.02, None))})
    fp = result(scan, 7003).servicefp
    assert fp is not None
    # each response is 1600 characters escaped: NULL's and Hello's go in, Other's does not
    assert [part.split(",")[0] for part in fp.split("%r(")[1:]] == ["NULL", "Hello"]


def test_a_banner_that_comes_with_the_end_of_the_handshake_is_read(
        bundled: ProbeDB, server_context: ssl.SSLContext,
        tmp_path_factory: pytest.TempPathFactory) -> None:
    # TLS 1.2: the server's last handshake flight can carry its first data with it
    cert, key = make_certificate(Path(tmp_path_factory.mktemp("tls12")))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ssh = Scripted([(0.0, b"SSH-2.0-OpenSSH_9.2p1\r\n")])
    scan, _streams, clock = run(bundled, {8443: lambda: TlsPeer(ctx, ssh)})
    got = result(scan, 8443)
    assert (got.name, got.tunnel, got.product) == ("ssh", "ssl", "OpenSSH")
    # the plain NULL probe's 6 s, then no wait at all through TLS
    assert clock.now() - START == pytest.approx(6, abs=0.1)


def test_the_typed_target_name_goes_out_as_the_tls_server_name(
        bundled: ProbeDB, tmp_path_factory: pytest.TempPathFactory) -> None:
    cert, key = make_certificate(Path(tmp_path_factory.mktemp("sni")))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    seen: list[str | None] = []
    ctx.sni_callback = lambda _obj, name, _ctx: seen.append(name)  # type: ignore[assignment,misc]
    ssh = Scripted([(0.0, b"SSH-2.0-OpenSSH_9.2p1\r\n")])
    names: dict[str | None, set[str | None]] = {}
    for user_name in ("www.example", None):
        seen.clear()
        clock = FakeClock(START)
        streams = FakeStreams(clock, {(A, 8443): lambda: TlsPeer(ctx, ssh)})
        host = HostResult(A, socket.AF_INET, status="up", user_name=user_name,
                          ports=[PortResult(8443, "open", "syn-ack")])
        # serial: a speculative TLSSessionReq (nmap's probe, a ClientHello sent
        # as plain text, without a name) would reach the server as well
        service_scan([host], bundled, Timing(), names=lambda p: None, clock=clock,
                     streams=streams, speculate=False)
        assert host.ports[0].service is not None and host.ports[0].service.tunnel == "ssl"
        names[user_name] = set(seen)
    assert names == {"www.example": {"www.example"}, None: {None}}
