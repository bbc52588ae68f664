"""Small value formatters shared by every output format.

Dates are built by hand rather than with strftime("%a %b"), because nmap's
ctime() is always English while strftime follows LC_TIME.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def ctime(when: float) -> str:
    """C's ctime() without its newline: `Wed Nov 25 03:09:03 2026`, local time."""
    tm = time.localtime(int(when))
    return (
        f"{_DAYS[tm.tm_wday]} {_MONTHS[tm.tm_mon - 1]} {tm.tm_mday:2d} "
        f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d} {tm.tm_year}"
    )


def _zone(tm: time.struct_time) -> str:
    return tm.tm_zone or time.strftime("%Z", tm)


def banner_time(when: float) -> str:
    """`%Y-%m-%d %H:%M %Z`, as in `Starting Nmap ... at 2026-11-25 03:08 UTC`."""
    tm = time.localtime(int(when))
    return (
        f"{tm.tm_year:04d}-{tm.tm_mon:02d}-{tm.tm_mday:02d} "
        f"{tm.tm_hour:02d}:{tm.tm_min:02d} {_zone(tm)}"
    )


def seconds_time(when: float) -> str:
    """`%Y-%m-%d %H:%M:%S %Z`, the -vv `Scanned at` stamp."""
    tm = time.localtime(int(when))
    return (
        f"{tm.tm_year:04d}-{tm.tm_mon:02d}-{tm.tm_mday:02d} "
        f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d} {_zone(tm)}"
    )


def hhmm(when: float) -> str:
    """`%02d:%02d` of the local hour and minute (task lines, ETC)."""
    tm = time.localtime(int(when))
    return f"{tm.tm_hour:02d}:{tm.tm_min:02d}"


def local_day(when: float) -> tuple[int, int]:
    """(month 1-12, day of month) in local time."""
    tm = time.localtime(int(when))
    return tm.tm_mon, tm.tm_mday


def sigdigits(value: float, digits: int = 2) -> str:
    """A number rounded to `digits` significant digits, printed without exponent.

    nmap's latency figure: 0.000083, 0.00012, 0.0011, 0.10, 1.5, 12.
    """
    if value == 0.0:
        shift = -digits
    else:
        shift = math.floor(math.log10(abs(value))) - digits + 1
        value = math.floor(value / 10.0**shift + 0.5) * 10.0**shift
    return f"{value:.{max(0, -shift)}f}"


def _quote(arg: str) -> str:
    # isspace() in the C locale: space, \t, \n, \v, \f, \r.
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"')
    if any(ch in " \t\n\v\f\r" for ch in arg):
        return f'"{escaped}"'
    return escaped


def join_quoted(args: Sequence[str]) -> str:
    """The command line as nmap logs it: words joined by spaces, quoted only if they hold whitespace."""
    return " ".join(_quote(arg) for arg in args)


def port_ranges(ports: Iterable[int]) -> str:
    """Ascending port numbers compressed to `1-25,80,443-445`."""
    out: list[str] = []
    start = prev = None
    for port in ports:
        if prev is not None and port == prev + 1:
            prev = port
            continue
        if start is not None:
            out.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = port
    if start is not None:
        out.append(str(start) if start == prev else f"{start}-{prev}")
    return ",".join(out)


def hosts_summary(total: int, up: int) -> str:
    """`4 IP addresses (0 hosts up)`."""
    return (
        f"{total} {'IP address' if total == 1 else 'IP addresses'} "
        f"({up} {'host' if up == 1 else 'hosts'} up)"
    )
