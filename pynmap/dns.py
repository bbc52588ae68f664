"""Reverse DNS for reported hosts.

nmap looks an address up in /etc/hosts first (the first name of the first
line that lists it) and asks DNS only for the rest, many at a time.  This
first version asks DNS through the C library (getnameinfo), in a pool of
threads; nmap's own UDP client (--dns-servers, its statistics lines) comes
with the engine work.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

HOSTS_FILE = "/etc/hosts"
_PARALLEL = 32


def read_hosts_file(path: str = HOSTS_FILE) -> dict[str, str]:
    """address -> first name, from the first line naming the address."""
    names: dict[str, str] = {}
    try:
        with open(path, encoding="latin-1") as stream:
            for line in stream:
                words = line.split("#", 1)[0].split()
                if len(words) < 2:
                    continue
                try:
                    family = socket.AF_INET6 if ":" in words[0] else socket.AF_INET
                    address = socket.inet_ntop(family, socket.inet_pton(family, words[0]))
                except OSError:
                    continue
                names.setdefault(address, words[1])
    except OSError:
        pass
    return names


@dataclass
class ReverseResolver:
    """Finds PTR names for batches of addresses; remembers what it sent to DNS."""

    system: bool = False
    hosts: dict[str, str] = field(default_factory=read_hosts_file)

    def lookup(self, addresses: Iterable[str]) -> tuple[dict[str, str | None], int]:
        """Names for the addresses, and how many of them had to go to DNS."""
        found: dict[str, str | None] = {}
        ask: list[str] = []
        for address in addresses:
            if address in found:
                continue
            name = None if self.system else self.hosts.get(address)
            if name is not None:
                found[address] = name
            else:
                found[address] = None
                ask.append(address)
        if ask:
            with ThreadPoolExecutor(max_workers=min(_PARALLEL, len(ask))) as pool:
                for address, name in zip(ask, pool.map(_ptr_name, ask), strict=True):
                    found[address] = name
        return found, len(ask)


def _ptr_name(address: str) -> str | None:
    try:
        name = socket.gethostbyaddr(address)[0]
    except (OSError, UnicodeError):
        return None
    return name or None
