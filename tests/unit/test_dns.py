"""nmap's reverse DNS: the PTR wire format, its files, and the parallel resolver on a fake network.

No packet leaves the process: the resolver's sockets and clock are a fake
whose servers answer from a function of the query, and whose clock jumps to
the resolver's next deadline whenever nothing is due, so nmap's whole retry
schedule (seconds long) runs in microseconds.  The expected figures come
from nmap 7.93's nmap_dns.cc (its timeouts, capacities and counters) and
from the reference captures (the summary lines).
"""

from __future__ import annotations

import errno
import socket
import struct
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from pynmap import dns
from pynmap.dns import (
    HostCache,
    ReverseResolver,
    Stats,
    address_key,
    build_query,
    hosts_file_entries,
    parse_response,
    ptr_name,
    ptr_owner_address,
    read_name,
    resolv_conf_words,
    sanitize_hostname,
    summary_line,
    task_name,
)


@pytest.fixture(autouse=True)
def numeric_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Server words are looked up with getaddrinfo(); here a name fails without a query."""
    real = socket.getaddrinfo

    def numeric(host: str, port: object, family: int = 0, type: int = 0, proto: int = 0,
                flags: int = 0) -> list[tuple[object, ...]]:
        return real(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)  # type: ignore[arg-type, return-value]

    monkeypatch.setattr(socket, "getaddrinfo", numeric)


# -- wire format ----------------------------------------------------------------------------------


def test_ptr_names() -> None:
    assert ptr_name("127.0.0.2") == "2.0.0.127.in-addr.arpa"
    assert ptr_name("::1") == "1." + "0." * 31 + "ip6.arpa"
    assert ptr_name("fd00:18::ab") == "b.a." + "0." * 22 + "8.1.0.0.0.0.d.f.ip6.arpa"


def test_query_is_one_recursive_ptr_question() -> None:
    packet = build_query(0x1234, "2.0.0.127.in-addr.arpa")
    assert packet[:12] == struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    assert packet[12:] == b"\x012\x010\x010\x03127\x07in-addr\x04arpa\x00\x00\x0c\x00\x01"
    # nmap's --packet-trace shows "Write request for 40 bytes" for an IPv4 PTR query
    assert len(packet) == 40


def encode_name(name: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".") if p) + b"\0"


def rr(owner: bytes, rtype: int, rdata: bytes, rclass: int = 1) -> bytes:
    return owner + struct.pack("!HHIH", rtype, rclass, 60, len(rdata)) + rdata


QUESTION_AT = b"\xc0\x0c"  # a pointer to the question's name, right after the header


def reply(query: bytes, records: Sequence[bytes] = (), *, rcode: int = 0,
          flags: int = 0x8180) -> bytes:
    """A server's answer to `query`, echoing its question."""
    query_id = struct.unpack("!H", query[:2])[0]
    header = struct.pack("!HHHHHH", query_id, flags | rcode, 1, len(records), 0, 0)
    return header + query[12:] + b"".join(records)


def test_parse_answer_follows_compression() -> None:
    query = build_query(7, "2.0.0.127.in-addr.arpa")
    # the PTR's target reuses "lab.test" from an earlier CNAME target by a pointer
    first = rr(QUESTION_AT, 5, encode_name("x.lab.test"))
    # "lab" sits after the question, the CNAME's owner pointer (2), its fixed fields
    # (10) and the "x" label (2)
    at_lab = len(query) + 2 + 10 + 2
    ptr_target = encode_name("alpha")[:-1] + bytes([0xC0, at_lab])
    packet = reply(query, [first, rr(b"\x01z" + QUESTION_AT, 12, ptr_target)])
    parsed = parse_response(packet)
    assert parsed is not None
    assert parsed.query_id == 7 and parsed.questions == 1
    assert [(r.name, r.rtype, r.value) for r in parsed.answers] == [
        ("2.0.0.127.in-addr.arpa", 5, "x.lab.test"),
        ("z.2.0.0.127.in-addr.arpa", 12, "alpha.lab.test"),
    ]


def test_pointers_must_lead_backwards() -> None:
    # nmap only follows a pointer to before the name it is part of: no loops
    assert read_name(b"\x01a\xc0\x00", 0) is None
    assert read_name(b"\x01b\x00\x01a\xc0\x00", 3) == ("a.b", 4)
    assert read_name(b"\x01a", 0) is None  # cut short


def test_packets_nmap_drops_whole() -> None:
    query = build_query(9, "2.0.0.127.in-addr.arpa")
    # an answer type nmap does not know (TXT) spoils the whole packet
    assert parse_response(reply(query, [rr(QUESTION_AT, 16, b"\x01x")])) is None
    assert parse_response(reply(query, [rr(QUESTION_AT, 12, encode_name("a.b"))])[:-3]) is None
    assert parse_response(b"\x00" * 11) is None
    a_record = parse_response(reply(query, [rr(QUESTION_AT, 1, bytes([127, 0, 0, 2]))]))
    assert a_record is not None and a_record.answers[0].value == "127.0.0.2"


def test_ptr_owner_names_map_back_to_addresses() -> None:
    assert ptr_owner_address("2.0.0.127.in-addr.arpa") == (True, address_key("127.0.0.2"))
    assert ptr_owner_address("2.0.0.127.IN-ADDR.ARPA") == (True, address_key("127.0.0.2"))
    assert ptr_owner_address(ptr_name("fd00:18::ab").upper().replace("ARPA", "arpa")) == (
        True, address_key("fd00:18::ab"))
    assert ptr_owner_address("x.0.0.127.in-addr.arpa")[0] is False
    # a name under neither domain is "valid" for nmap but matches no address
    assert ptr_owner_address("7.sub.lab.test") == (True, (0, b""))


# -- files ----------------------------------------------------------------------------------------


def test_hosts_file_as_nmap_reads_it(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_bytes(
        b"127.0.0.1\tlocalhost  loopback\n"
        b"# 127.0.0.9 commented\n"
        b"  127.0.0.2 Two#comment\r\n"
        b"127.0.0.2 second-line\n"
        b"127.0.0.3\n"  # no name
        b"127.1 short-form\n"  # inet_pton refuses it
        b"::1 ip6-localhost\n"
        + b"127.0.0.4 " + b"n" * 300 + b"\n"  # names are cut at 255 bytes
    )
    assert hosts_file_entries(str(hosts)) == [
        ("127.0.0.1", "localhost"),
        ("127.0.0.2", "Two"),
        ("127.0.0.2", "second-line"),
        ("::1", "ip6-localhost"),
        ("127.0.0.4", "n" * 255),
    ]
    assert hosts_file_entries(str(tmp_path / "missing")) == []


def test_resolv_conf_as_sscanf_reads_it(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("# c\n  nameserver 127.0.0.53 # x\nsearch lab\nnameserver\t::1\r\n"
                    "nameserver127.0.0.9\nNameserver 10.0.0.1\nnameserverx 9\nnameserver\n")
    # "nameserver %46s": the blank in the format matches no blank at all too
    assert resolv_conf_words(str(conf)) == ["127.0.0.53", "::1", "127.0.0.9", "x"]
    with pytest.raises(OSError):
        resolv_conf_words(str(tmp_path / "missing"))


def test_hostname_sanitising() -> None:
    assert sanitize_hostname("we!rd_n@me.lab.test") == ("we*rd_n*me.lab.test", 2)
    assert sanitize_hostname("a-b+c=d:e_f~g*h.i") == ("a-b+c=d:e_f~g*h.i", 0)
    assert sanitize_hostname("caf\xc3\xa9") == ("caf**", 2)  # each byte of UTF-8 é


def test_cache_keeps_first_name_and_prunes_unused() -> None:
    cache = HostCache()
    first = address_key("10.0.0.1")
    assert cache.add(first, "one") and not cache.add(first, "other")
    assert cache.lookup(first) == "one"
    for n in range(2, dns.CACHE_LINES + 1):
        cache.add(address_key(f"10.0.{n // 256}.{n % 256}"), f"h{n}")
    # full: the next name evicts every entry never looked up; "one" was
    cache.add(address_key("10.9.9.9"), "new")
    assert set(cache.entries) == {first, address_key("10.9.9.9")}


# -- the resolver on a fake network ---------------------------------------------------------------

Behaviour = Callable[[bytes], list[bytes | OSError]]


class FakeSocket:
    def __init__(self, net: FakeNet, server: str) -> None:
        self.net = net
        self.server = server
        self.inbox: deque[bytes | OSError] = deque()

    def send(self, data: bytes, /) -> int:
        self.net.sent.append((self.net.t - self.net.t0, self.server, data))
        self.inbox.extend(self.net.servers[self.server](data))
        return len(data)

    def recv(self, size: int, /) -> bytes:
        if not self.inbox:
            raise BlockingIOError
        item = self.inbox.popleft()
        if isinstance(item, OSError):
            raise item
        return item

    def close(self) -> None:
        pass


class FakeNet:
    """Servers answer at once; when nothing is waiting the clock jumps by the timeout."""

    def __init__(self, servers: dict[str, Behaviour]) -> None:
        self.servers = servers
        self.t0 = self.t = 5000.0
        self.sent: list[tuple[float, str, bytes]] = []

    def now(self) -> float:
        return self.t

    def open(self, family: int, sockaddr: tuple[object, ...]) -> FakeSocket:
        return FakeSocket(self, str(sockaddr[0]))

    def wait(self, socks: Sequence[object], timeout: float) -> list[object]:
        ready = [s for s in socks if isinstance(s, FakeSocket) and s.inbox]
        if not ready:
            self.t += timeout
        return ready

    def asked(self) -> list[tuple[float, str, str]]:
        """(seconds since start, server, PTR name asked) for every query sent."""
        out = []
        for when, server, data in self.sent:
            name = read_name(data, 12)
            assert name is not None
            out.append((round(when, 3), server, name[0]))
        return out


def qname(query: bytes) -> str:
    name = read_name(query, 12)
    assert name is not None
    return name[0]


def silent(_query: bytes) -> list[bytes | OSError]:
    return []


def refused(_query: bytes) -> list[bytes | OSError]:
    return [OSError(errno.ECONNREFUSED, "Connection refused")]


def zone(names: dict[str, str], *, rcode_for_rest: int = 3) -> Behaviour:
    """PTR answers for the addresses in `names`, NXDOMAIN (or another rcode) for others."""
    by_ptr = {ptr_name(a): n for a, n in names.items()}

    def answer(query: bytes) -> list[bytes | OSError]:
        name = by_ptr.get(qname(query))
        if name is None:
            return [reply(query, rcode=rcode_for_rest)]
        return [reply(query, [rr(QUESTION_AT, 12, encode_name(name))])]

    return answer


class Printed:
    """A reporter that records nmap's lines in order."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def task_begin(self, task: str, when: float) -> None:
        self.lines.append(f"Initiating {task}")

    def task_end(self, task: str, when: float, extrainfo: str | None = None) -> None:
        self.lines.append(f"Completed {task}")

    def interactive(self, text: str, *, flush: bool = True) -> None:
        self.lines.append(text)


def resolver(net: FakeNet, servers: str, tmp_path: Path, *, hosts: str = "",
             debugging: int = 0, verbosity: int = 0, system: bool = False,
             system_lookup: Callable[[str], str | None] = lambda _a: None,
             ) -> tuple[ReverseResolver, Printed, list[str]]:
    hosts_file = tmp_path / "hosts"
    hosts_file.write_text(hosts)
    printed, warnings = Printed(), []
    found = ReverseResolver(dns_servers=servers, system=system, reporter=printed,
                            warn=warnings.append, debugging=debugging, verbosity=verbosity,
                            hosts_file=str(hosts_file), network=net,
                            system_lookup=system_lookup)
    return found, printed, warnings


def test_silent_server_retries_at_4_4_5_seconds_then_drops(tmp_path: Path) -> None:
    net = FakeNet({"127.0.0.54": silent})
    found, printed, _ = resolver(net, "127.0.0.54", tmp_path, debugging=1)
    result = found.lookup(["127.0.0.2"])
    assert result.names == {}
    assert [t for t, _, _ in net.asked()] == [0.0, 4.0, 8.0]
    # nmap: "Completed Parallel DNS resolution of 1 host. at 03:09, 13.00s elapsed"
    assert result.stats.millis == 13000
    assert printed.lines == [
        "mass_rdns: Using DNS server 127.0.0.54",
        "Initiating Parallel DNS resolution of 1 host.",
        "mass_rdns: 13.00s 0/1 [#: 1, OK: 0, NX: 0, DR: 0, SF: 0, TR: 3]",
        "Completed Parallel DNS resolution of 1 host.",
        "DNS resolution of 1 IPs took 13.00s. Mode: Async "
        "[#: 1, OK: 0, NX: 0, DR: 1, SF: 0, TR: 3, CN: 0]",
    ]


def test_refusing_server_gives_a_read_error_line_per_query(tmp_path: Path) -> None:
    net = FakeNet({"127.0.0.54": refused})
    found, printed, _ = resolver(net, "127.0.0.54", tmp_path, debugging=1)
    found.lookup(["127.0.0.2"])
    assert printed.lines.count("mass_dns: warning: got a READ:ERROR in read_evt_handler()") == 3


def test_two_servers_take_2_5_and_4_seconds_each(tmp_path: Path) -> None:
    net = FakeNet({"127.0.0.1": silent, "127.0.0.2": silent})
    found, _, _ = resolver(net, "127.0.0.1,127.0.0.2", tmp_path)
    result = found.lookup(["10.0.0.1"])
    # the last server listed is asked first (nmap puts each new one at the front)
    assert [(t, s) for t, s, _ in net.asked()] == [
        (0.0, "127.0.0.2"), (2.5, "127.0.0.2"), (6.5, "127.0.0.1"), (9.0, "127.0.0.1")]
    assert result.stats.millis == 13000 and result.stats.dropped == 1


def test_at_most_three_servers_are_tried(tmp_path: Path) -> None:
    net = FakeNet({f"127.0.0.{n}": silent for n in range(1, 5)})
    found, _, _ = resolver(net, "127.0.0.1 127.0.0.2,127.0.0.3,127.0.0.4", tmp_path)
    result = found.lookup(["10.0.0.1"])
    assert [(t, s) for t, s, _ in net.asked()] == [
        (0.0, "127.0.0.4"), (2.5, "127.0.0.4"), (5.5, "127.0.0.3"), (8.0, "127.0.0.3"),
        (11.0, "127.0.0.2"), (13.5, "127.0.0.2")]
    assert result.stats.millis == 16500


def test_second_server_answers_what_the_first_did_not(tmp_path: Path) -> None:
    net = FakeNet({"127.0.0.54": silent, "127.0.0.53": zone({"127.0.0.2": "alpha.lab.test"})})
    found, _, _ = resolver(net, "127.0.0.53,127.0.0.54", tmp_path)
    result = found.lookup(["127.0.0.2"])
    assert result.names == {"127.0.0.2": "alpha.lab.test"}
    # measured with nmap 7.93 (-d): "took 6.50s ... [#: 2, OK: 1, ... TR: 3, CN: 0]"
    assert result.stats.millis == 6500 and result.stats.sent == 3


def test_new_queries_alternate_between_servers(tmp_path: Path) -> None:
    net = FakeNet({"127.0.0.1": zone({}), "127.0.0.2": zone({})})
    found, _, _ = resolver(net, "127.0.0.1,127.0.0.2", tmp_path)
    found.lookup([f"10.0.0.{n}" for n in range(1, 5)])
    assert [s for _, s, _ in net.asked()] == ["127.0.0.2", "127.0.0.1"] * 2


def test_capacity_starts_at_ten_queries_in_flight(tmp_path: Path) -> None:
    net = FakeNet({"127.0.0.54": silent})
    found, _, _ = resolver(net, "127.0.0.54", tmp_path)
    result = found.lookup([f"10.0.0.{n}" for n in range(1, 26)])
    at_start = [t for t, _, _ in net.asked() if t == 0.0]
    assert len(at_start) == dns.CAPACITY_MIN
    assert result.stats.dropped == 25 and result.stats.sent == 75


def test_query_ids_count_up_by_one(tmp_path: Path) -> None:
    net = FakeNet({"127.0.0.54": silent})
    found, _, _ = resolver(net, "127.0.0.54", tmp_path)
    found.lookup(["10.0.0.1", "10.0.0.2"])
    ids = [struct.unpack("!H", data[:2])[0] for _, _, data in net.sent]
    assert ids == [(ids[0] + n) & 0xFFFF for n in range(len(ids))]


def test_counters_and_progress_lines(tmp_path: Path) -> None:
    names = {f"10.0.0.{n}": f"h{n}.lab.test" for n in range(1, 31)}
    net = FakeNet({"127.0.0.53": zone(names)})
    found, printed, _ = resolver(net, "127.0.0.53", tmp_path, debugging=1)
    result = found.lookup([f"10.0.0.{n}" for n in range(1, 61)])
    assert result.names == names
    progress = [line for line in printed.lines if line.startswith("mass_rdns: 0")]
    # one line when the first address settles and one at the 50th, each before it counts
    assert [line.split(" [")[0] for line in progress] == [
        "mass_rdns: 0.00s 0/60", "mass_rdns: 0.00s 50/60"]
    assert progress[1].endswith("[#: 1, OK: 30, NX: 20, DR: 0, SF: 0, TR: 60]")
    assert printed.lines[-1] == ("DNS resolution of 60 IPs took 0.00s. Mode: Async "
                                 "[#: 1, OK: 30, NX: 30, DR: 0, SF: 0, TR: 60, CN: 0]")


def test_servfail_is_retried_like_a_timeout(tmp_path: Path) -> None:
    net = FakeNet({"127.0.0.53": zone({}, rcode_for_rest=2)})
    found, _, _ = resolver(net, "127.0.0.53", tmp_path)
    result = found.lookup(["10.0.0.1"])
    assert len(net.sent) == 3
    assert (result.stats.servfail, result.stats.dropped, result.stats.nx) == (3, 1, 0)
    assert result.stats.millis == 0  # each SERVFAIL counts as a timeout at once


@pytest.mark.parametrize(("rcode", "flags"), [(5, 0x8180), (1, 0x8180), (4, 0x8180),
                                              (0, 0x81A0), (0, 0x0180)])
def test_answers_nmap_ignores_time_out(tmp_path: Path, rcode: int, flags: int) -> None:
    # REFUSED, FORMERR, NOTIMP, a Z/AD/CD bit set, or no response bit: ignored
    def answer(query: bytes) -> list[bytes | OSError]:
        return [reply(query, [rr(QUESTION_AT, 12, encode_name("x.test"))], rcode=rcode,
                      flags=flags)]

    net = FakeNet({"127.0.0.53": answer})
    found, _, _ = resolver(net, "127.0.0.53", tmp_path)
    result = found.lookup(["10.0.0.1"])
    assert result.names == {} and result.stats.dropped == 1 and len(net.sent) == 3


def test_only_three_rcode_bits_count(tmp_path: Path) -> None:
    net = FakeNet({"127.0.0.53": zone({}, rcode_for_rest=11)})  # 11 & 7 == NXDOMAIN
    found, _, _ = resolver(net, "127.0.0.53", tmp_path)
    assert found.lookup(["10.0.0.1"]).stats.nx == 1


def test_ptr_for_another_address_is_not_taken(tmp_path: Path) -> None:
    def answer(query: bytes) -> list[bytes | OSError]:
        return [reply(query, [rr(encode_name(ptr_name("10.0.0.9")), 12, encode_name("x.test"))])]

    net = FakeNet({"127.0.0.53": answer})
    found, _, _ = resolver(net, "127.0.0.53", tmp_path)
    result = found.lookup(["10.0.0.1"])
    assert result.names == {} and result.stats.dropped == 1


def test_cname_chains_and_deferral_to_the_c_library(tmp_path: Path) -> None:
    def answer(query: bytes) -> list[bytes | OSError]:
        alias = encode_name("7.sub.lab.test")
        if qname(query) == ptr_name("127.0.0.7"):  # CNAME and the alias's PTR together
            return [reply(query, [rr(QUESTION_AT, 5, alias),
                                  rr(alias, 12, encode_name("seven.lab.test"))])]
        if qname(query) == ptr_name("127.0.0.8"):  # the CNAME alone
            return [reply(query, [rr(QUESTION_AT, 5, alias)])]
        return [reply(query, flags=0x8380)]  # truncated, no records

    net = FakeNet({"127.0.0.53": answer})
    asked_system: list[str] = []

    def system(address: str) -> str | None:
        asked_system.append(address)
        return "from-libc.test" if address == "127.0.0.9" else None

    found, printed, _ = resolver(net, "127.0.0.53", tmp_path, debugging=1, system_lookup=system)
    result = found.lookup(["127.0.0.7", "127.0.0.8", "127.0.0.9"])
    assert result.names == {"127.0.0.7": "seven.lab.test", "127.0.0.9": "from-libc.test"}
    assert asked_system == ["127.0.0.8", "127.0.0.9"]
    # measured with nmap 7.93 -d against dnsmasq (CNAME-only answer for one address)
    tail = printed.lines[printed.lines.index("Completed Parallel DNS resolution of 3 hosts."):]
    assert tail == [
        "Completed Parallel DNS resolution of 3 hosts.",
        "Performing system-dns for 2 domain names that were deferred",
        "Initiating System DNS resolution of 2 hosts.",
        "Completed System DNS resolution of 2 hosts.",
        "DNS resolution of 3 IPs took 0.00s. Mode: Async "
        "[#: 1, OK: 2, NX: 0, DR: 0, SF: 0, TR: 3, CN: 1]",
    ]


def test_hosts_file_and_cache_come_first(tmp_path: Path) -> None:
    net = FakeNet({"127.0.0.53": zone({"127.0.0.2": "alpha.lab.test",
                                       "127.0.0.3": "dns-name.test"})})
    found, printed, _ = resolver(net, "127.0.0.53", tmp_path, verbosity=1,
                                 hosts="127.0.0.1 localhost\n127.0.0.3 from-hosts\n")
    first = found.lookup(["127.0.0.1", "127.0.0.2", "127.0.0.3"])
    assert first.names == {"127.0.0.1": "localhost", "127.0.0.2": "alpha.lab.test",
                           "127.0.0.3": "from-hosts"}
    assert "Initiating Parallel DNS resolution of 1 host." in printed.lines
    # answers are kept for the rest of the run: no query, no task lines
    printed.lines.clear()
    again = found.lookup(["127.0.0.2"])
    assert again.names == {"127.0.0.2": "alpha.lab.test"} and len(net.sent) == 1
    assert printed.lines == [] and not again.sent


def test_an_address_twice_is_asked_twice(tmp_path: Path) -> None:
    # nmap -sL 127.0.0.2 127.0.0.2: "Parallel DNS resolution of 2 hosts." ... TR: 2
    net = FakeNet({"127.0.0.53": zone({"127.0.0.2": "alpha.lab.test"})})
    found, printed, _ = resolver(net, "127.0.0.53", tmp_path, verbosity=1)
    result = found.lookup(["127.0.0.2", "127.0.0.2"])
    assert result.stats.actual == 2 and result.stats.sent == 2
    assert printed.lines[0] == "Initiating Parallel DNS resolution of 2 hosts."


def test_illegal_characters_are_noted_each_time_a_name_is_set(tmp_path: Path) -> None:
    net = FakeNet({"127.0.0.53": zone({"127.0.0.9": "we!rd_n@me.lab.test"})})
    found, printed, _ = resolver(net, "127.0.0.53", tmp_path, hosts="127.0.0.6 a!b\n")
    result = found.lookup(["127.0.0.6", "127.0.0.6", "127.0.0.9"])
    assert result.names == {"127.0.0.6": "a*b", "127.0.0.9": "we*rd_n*me.lab.test"}
    # cached names are set (and noted) before the task, DNS answers during it
    assert printed.lines == [dns.ILLEGAL_NOTE] * 2 + [
        "Initiating Parallel DNS resolution of 1 host."] + [dns.ILLEGAL_NOTE] * 2 + [
        "Completed Parallel DNS resolution of 1 host."]


def test_no_server_means_no_reverse_dns_and_one_warning(tmp_path: Path) -> None:
    net = FakeNet({})
    found, printed, warnings = resolver(net, "not-an-address.invalid, ,", tmp_path,
                                        debugging=1)
    result = found.lookup(["127.0.0.9"])
    found.lookup(["127.0.0.8"])
    assert result.names == {} and not result.sent and net.sent == []
    assert warnings == ["mass_dns: warning: Unable to determine any DNS servers. Reverse DNS is "
                        "disabled. Try using --system-dns or specify valid servers with "
                        "--dns-servers"]
    assert printed.lines[-1] == ("DNS resolution of 1 IPs took 0.00s. Mode: Async "
                                 "[#: 0, OK: 0, NX: 0, DR: 0, SF: 0, TR: 0, CN: 0]")


def test_unreadable_resolv_conf_warns(tmp_path: Path) -> None:
    warnings: list[str] = []
    found = ReverseResolver(warn=warnings.append, resolv_conf=str(tmp_path / "none"),
                            hosts_file=str(tmp_path / "none"), network=FakeNet({}))
    found.lookup([])
    assert warnings == [
        "mass_dns: warning: Unable to open /etc/resolv.conf. Try using --system-dns or "
        "specify valid servers with --dns-servers: No such file or directory",
        "mass_dns: warning: Unable to determine any DNS servers. Reverse DNS is disabled. "
        "Try using --system-dns or specify valid servers with --dns-servers",
    ]


def test_duplicate_servers_are_used_once(tmp_path: Path) -> None:
    net = FakeNet({"127.0.0.53": zone({})})
    found, printed, _ = resolver(net, "127.0.0.53,127.0.0.53", tmp_path, debugging=1)
    found.lookup(["10.0.0.1"])
    assert printed.lines[0] == "mass_rdns: Using DNS server 127.0.0.53"
    assert "mass_rdns: Using DNS server 127.0.0.53" not in printed.lines[1:]


def test_system_mode_counts_every_address(tmp_path: Path) -> None:
    net = FakeNet({})
    names = {"127.0.0.1": "localhost", "127.0.0.2": "alpha.lab.test"}
    found, printed, _ = resolver(net, "127.0.0.53", tmp_path, system=True, verbosity=3,
                                 system_lookup=names.get)
    result = found.lookup(["127.0.0.1", "127.0.0.2", "127.0.0.4"])
    assert result.names == names and net.sent == []
    assert printed.lines == [
        "Initiating System DNS resolution of 3 hosts.",
        "Completed System DNS resolution of 3 hosts.",
        # cases/system_dns_v3
        "DNS resolution of 3 IPs took 0.00s. Mode: System [OK: 2, ??: 1]",
    ]
    printed.lines.clear()
    found.lookup([])  # nmap -sn -v --system-dns on a down host
    assert printed.lines == ["Initiating System DNS resolution of 0 hosts.",
                             "Completed System DNS resolution of 0 hosts."]


def test_summary_and_task_texts() -> None:
    # cases/dns_stats_v3
    stats = Stats(actual=3, ok=2, nx=1, sent=3, servers=1)
    assert summary_line(stats, system=False) == (
        "DNS resolution of 3 IPs took 0.00s. Mode: Async "
        "[#: 1, OK: 2, NX: 1, DR: 0, SF: 0, TR: 3, CN: 0]")
    assert task_name(1, system=False) == "Parallel DNS resolution of 1 host."
    assert task_name(0, system=True) == "System DNS resolution of 0 hosts."


def test_the_older_interface_still_announces_the_task(tmp_path: Path) -> None:
    net = FakeNet({"127.0.0.53": zone({"127.0.0.2": "alpha.lab.test"})})
    hosts = tmp_path / "hosts"
    hosts.write_text("")
    started: list[tuple[int, bool]] = []
    found = ReverseResolver(dns_servers="127.0.0.53", hosts_file=str(hosts), network=net)
    result = found.lookup(["127.0.0.2"], lambda n, system: started.append((n, system)))
    assert result.names == {"127.0.0.2": "alpha.lab.test"} and started == [(1, False)]
