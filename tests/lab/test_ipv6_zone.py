"""IPv6 link-local targets with a zone (`-6 fe80::2%eth`, `fe80::2%3`).

A link-local address names no host until the interface is given: the scope
id has to travel from the target word to connect() (without it the kernel
answers EINVAL).  Two namespaces of the test's own joined by a veth pair,
each end with only a link-local address; a listener on the peer's port 22,
port 23 closed.  nmap prints the address without its zone everywhere.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.support.compare import assert_same, run_both
from tests.support.lab.results import port_table
from tests.support.netns import Netns, listening, netns_for_tests

pytestmark = [pytest.mark.lab, pytest.mark.nmap]

SCANNER_LINK = "zone0"  # the veth end in the scanner's namespace
SCANNER_ADDRESS = "fe80::1"
PEER_ADDRESS = "fe80::2"
OPEN, CLOSED = 22, 23
OUTPUTS = ["out.nmap", "out.gnmap", "out.xml"]
FILES = ["-oN", "out.nmap", "-oG", "out.gnmap", "-oX", "out.xml"]


class Link(NamedTuple):
    scanner: Netns
    ifindex: int  # of SCANNER_LINK inside the scanner's namespace


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def link() -> Iterator[Link]:
    with netns_for_tests("pynmap-zs") as scanner, netns_for_tests("pynmap-zp") as peer:
        _ip("link", "add", SCANNER_LINK, "netns", scanner.name, "type", "veth",
            "peer", "name", "zone1", "netns", peer.name)
        # nodad: usable at once; addrgenmode none keeps the kernel's own
        # EUI-64 link-local address away, so each end has exactly one
        for space, dev, address in ((scanner, SCANNER_LINK, SCANNER_ADDRESS),
                                    (peer, "zone1", PEER_ADDRESS)):
            _ip("-n", space.name, "link", "set", dev, "addrgenmode", "none")
            _ip("-n", space.name, "addr", "add", f"{address}/64", "dev", dev, "nodad")
            _ip("-n", space.name, "link", "set", dev, "up")
        shown = subprocess.run(["ip", "-n", scanner.name, "-o", "link", "show", SCANNER_LINK],
                               check=True, capture_output=True, text=True, timeout=30).stdout
        with listening(peer, [OPEN], address="::"):
            yield Link(scanner, int(shown.split(":", 1)[0]))


@pytest.mark.parametrize("zone", ["name", "index"])
def test_a_zoned_link_local_target_is_scanned_as_nmap_does(
    link: Link, zone: str, nmap_oracle: str, tmp_path: Path
) -> None:
    suffix = SCANNER_LINK if zone == "name" else str(link.ifindex)
    args = ["-6", "-sT", "-n", "--reason", "-p", f"{OPEN},{CLOSED}", *FILES,
            f"{PEER_ADDRESS}%{suffix}"]
    nmap, pynmap = run_both(args, link.scanner, tmp_path, outputs=OUTPUTS)
    truth = {PEER_ADDRESS: {OPEN: ("open", "syn-ack"), CLOSED: ("closed", "conn-refused")}}
    assert nmap.exit == 0 and port_table(nmap.files["out.xml"] or "") == truth, \
        f"harness: nmap does not see the peer\n{nmap.stdout}{nmap.stderr}"
    assert port_table(pynmap.files["out.xml"] or "") == truth, pynmap.stdout + pynmap.stderr
    assert_same(nmap, pynmap, args)
