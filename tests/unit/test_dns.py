"""nmap's reverse DNS: the PTR wire format, and the parallel resolver against a fake server.

The fake server is a UDP socket of this test on 127.0.0.1 (an ephemeral port):
it answers some names, says NXDOMAIN to others and ignores one address, so
retries, the dropping rule and the counters can be checked in well under a second.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pynmap.dns import (
    MassResolver,
    ReverseResolver,
    Stats,
    build_query,
    parse_answer,
    ptr_name,
    resolv_conf_servers,
    summary_line,
)


def test_ptr_names() -> None:
    assert ptr_name("127.0.0.2") == "2.0.0.127.in-addr.arpa"
    assert ptr_name("::1") == "1." + "0." * 31 + "ip6.arpa"


def test_query_is_one_recursive_ptr_question() -> None:
    packet = build_query(0x1234, "2.0.0.127.in-addr.arpa")
    assert packet[:12] == struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    assert packet[12:] == (b"\x012\x010\x010\x03127\x07in-addr\x04arpa\x00" + b"\x00\x0c\x00\x01")


def _answer(query: bytes, rcode: int = 0, name: str | None = None, cname: bool = False) -> bytes:
    query_id = struct.unpack("!H", query[:2])[0]
    records = b""
    count = 0
    if cname:  # a CNAME first, then the PTR, both owned by the question's name (pointer 0xc00c)
        records += b"\xc0\x0c" + struct.pack("!HHIH", 5, 1, 60, 2) + b"\xc0\x0c"
        count += 1
    if name is not None:
        labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
        records += b"\xc0\x0c" + struct.pack("!HHIH", 12, 1, 60, len(labels)) + labels
        count += 1
    header = struct.pack("!HHHHHH", query_id, 0x8180 | rcode, 1, count, 0, 0)
    return header + query[12:] + records


def test_parse_answer_follows_compression() -> None:
    query = build_query(7, "2.0.0.127.in-addr.arpa")
    answer = parse_answer(_answer(query, name="alpha.lab.test", cname=True))
    assert (answer.query_id, answer.rcode, answer.name, answer.cnames) == (7, 0, "alpha.lab.test", 1)
    assert parse_answer(_answer(query, rcode=3)).rcode == 3


NAMES = {"2.0.0.127.in-addr.arpa": "alpha.lab.test", "3.0.0.127.in-addr.arpa": "beta.lab.test"}
SILENT = "5.0.0.127.in-addr.arpa"


@pytest.fixture
def fake_server() -> Iterator[tuple[int, list[str]]]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.1)
    asked: list[str] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                query, peer = sock.recvfrom(512)
            except TimeoutError:
                continue
            labels, at = [], 12
            while query[at]:
                labels.append(query[at + 1 : at + 1 + query[at]].decode())
                at += 1 + query[at]
            qname = ".".join(labels)
            asked.append(qname)
            if qname == SILENT:
                continue
            name = NAMES.get(qname)
            sock.sendto(_answer(query, 0 if name else 3, name), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield sock.getsockname()[1], asked
    stop.set()
    thread.join()
    sock.close()


def test_resolver_counts_like_nmap(fake_server: tuple[int, list[str]]) -> None:
    port, asked = fake_server
    stats = Stats()
    resolver = MassResolver(["127.0.0.1"], port=port, timeouts=((50, 50, 50),))
    found = resolver.resolve(["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"], stats)
    assert found == {"127.0.0.2": "alpha.lab.test", "127.0.0.3": "beta.lab.test"}
    # the silent address was tried three times on the one server, then dropped
    assert asked.count(SILENT) == 3
    assert (stats.servers, stats.ok, stats.nx, stats.dropped, stats.sent) == (1, 2, 1, 1, 6)
    assert summary_line(stats, system=False).endswith(
        "Mode: Async [#: 1, OK: 2, NX: 1, DR: 1, SF: 0, TR: 6, CN: 0]")


def test_hosts_file_and_cache_come_first() -> None:
    resolver = ReverseResolver(hosts={"127.0.0.1": "localhost"}, dns_servers="")
    lines: list[str] = []
    resolver.warn = lines.append
    found = resolver.lookup(["127.0.0.1"])
    assert found.names == {"127.0.0.1": "localhost"}
    assert not found.sent and found.stats.actual == 0


def test_no_server_means_no_reverse_dns_and_nmaps_warning() -> None:
    warnings: list[str] = []
    resolver = ReverseResolver(hosts={}, dns_servers="not-an-address", warn=warnings.append)
    found = resolver.lookup(["127.0.0.9"])
    assert found.names == {} and not found.sent and found.stats.actual == 1
    assert warnings == ["mass_dns: warning: Unable to determine any DNS servers. Reverse DNS is "
                        "disabled. Try using --system-dns or specify valid servers with "
                        "--dns-servers"]


def test_resolv_conf_parsing(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("# c\n  nameserver 127.0.0.53 # x\nsearch lab\nnameserver\t::1\r\nnameserverx 9\n")
    assert resolv_conf_servers(str(conf)) == ["127.0.0.53", "::1"]
