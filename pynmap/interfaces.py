"""The addresses configured on this machine's interfaces (the C library's getifaddrs).

nmap checks a -S source address against them when no -e interface is given;
secondary addresses count, which only getifaddrs() lists.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import socket


class _Sockaddr(ctypes.Structure):
    _fields_ = [("sa_family", ctypes.c_ushort), ("sa_data", ctypes.c_ubyte * 126)]


class _Ifaddrs(ctypes.Structure):
    pass


_Ifaddrs._fields_ = [
    ("ifa_next", ctypes.POINTER(_Ifaddrs)),
    ("ifa_name", ctypes.c_char_p),
    ("ifa_flags", ctypes.c_uint),
    ("ifa_addr", ctypes.POINTER(_Sockaddr)),
    ("ifa_netmask", ctypes.POINTER(_Sockaddr)),
    ("ifa_ifu", ctypes.c_void_p),
    ("ifa_data", ctypes.c_void_p),
]


def interface_addresses() -> set[str]:
    """Every IPv4 and IPv6 address of every interface, as inet_ntop text (empty if unknown)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    head = ctypes.POINTER(_Ifaddrs)()
    if libc.getifaddrs(ctypes.byref(head)) != 0:
        return set()
    found: set[str] = set()
    try:
        node = head
        while node:
            entry = node.contents
            if entry.ifa_addr:
                sa = entry.ifa_addr.contents
                raw = bytes(sa.sa_data)
                if sa.sa_family == socket.AF_INET:
                    found.add(socket.inet_ntop(socket.AF_INET, raw[2:6]))
                elif sa.sa_family == socket.AF_INET6:
                    found.add(socket.inet_ntop(socket.AF_INET6, raw[6:22]))
            node = entry.ifa_next
    finally:
        libc.freeifaddrs(head)
    return found
