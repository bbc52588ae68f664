"""--privileged: what nmap as root says of LAN hosts, from what the kernel already knows.

nmap's --privileged tells it to assume it is root.  pynmap sends no raw
packet either way, but two things nmap does as root need no privilege:

MAC addresses.  nmap as root learns a target's Ethernet address from the
frames it captures during host discovery (the ARP or neighbour-discovery
reply of its ARP/ND ping, or any answer to its raw probes) and keeps it only
for a target on a directly connected Ethernet: not through a router, not one
of its own addresses.  It prints it for every host discovery found up; with
-Pn (no discovery) it captures nothing and prints none.  pynmap asks the
kernel instead (pynmap.netlink): when discovery finds a host up, the route
to it must be direct, and the neighbour table's entry for it resolved.  The
kernel resolved that entry to send the probe that was answered, so it is
there when the answer is.  Vendors come from nmap-mac-prefixes (pynmap.macs).

Ping sockets.  Linux lets a process send ICMP echo requests, and nothing
else, through a datagram socket (socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP),
IPPROTO_ICMPV6 for IPv6) when its group is in net.ipv4.ping_group_range
(one setting for both families, per network namespace; root is not exempt).
Where that is allowed, --privileged's host discovery sends -PE's echo
requests (engine/backend.py), and nmap's reason for an answer, echo-reply.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pynmap.netlink import RtNetlink
    from pynmap.results import HostResult


def ping_sockets_allowed(family: int) -> bool:
    """Whether this process may open an ICMP datagram (ping) socket of `family`."""
    proto = socket.IPPROTO_ICMPV6 if family == socket.AF_INET6 else socket.IPPROTO_ICMP
    try:
        socket.socket(family, socket.SOCK_DGRAM, proto).close()
    except OSError:  # EACCES outside ping_group_range; EPROTONOSUPPORT, EAFNOSUPPORT
        return False
    return True


def mac_text(mac: bytes) -> str:
    """nmap's spelling: six upper-case hex pairs joined by colons."""
    return ":".join(f"{b:02X}" for b in mac)


class LanFacts:
    """The MAC addresses (and vendors) of hosts found up on a directly connected link.

    `vendors` loads nmap-mac-prefixes (prefix -> vendor bytes) when the first
    address is found, as nmap reads the file when it first needs a vendor;
    `netlink` is where the kernel is asked (a fresh RtNetlink by default).
    """

    def __init__(self, vendors: Callable[[], Mapping[int, bytes]],
                 netlink: RtNetlink | None = None) -> None:
        if netlink is None:
            from pynmap.netlink import RtNetlink

            netlink = RtNetlink()
        self._netlink = netlink
        self._load_vendors = vendors
        self._vendors: Mapping[int, bytes] | None = None

    def lookup(self, family: int, address: str, scope: int = 0) -> bytes | None:
        """The Ethernet address of `address` if it is on a link of ours and resolved."""
        route = self._netlink.route(family, address, scope)
        if route is None or not route.direct:
            return None
        entry = self._netlink.neighbour(family, route.oif, address)
        return None if entry is None else entry.mac

    def vendor(self, mac: bytes) -> str | None:
        """The vendor nmap-mac-prefixes registers for the address's prefix, if any."""
        if self._vendors is None:
            self._vendors = self._load_vendors()
        found = self._vendors.get(int.from_bytes(mac[:3], "big"))
        return None if found is None else os.fsdecode(found)

    def annotate(self, host: HostResult) -> None:
        """Give a host that discovery found up its MAC address and vendor, if it has one."""
        mac = self.lookup(host.family, host.address, host.scope_id)
        if mac is not None:
            host.mac = mac_text(mac)
            host.mac_vendor = self.vendor(mac)

    def close(self) -> None:
        self._netlink.close()
