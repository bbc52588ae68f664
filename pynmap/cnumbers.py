"""C library number parsing, as nmap's option handling depends on it.

nmap reads numeric arguments with atoi(), strtod(), strtoul() and sscanf("%f"):
they take the longest numeric prefix and ignore the rest ("10abc" is 10,
"abc" is 0).  Error messages and accepted inputs follow from that, so we
reproduce those functions rather than Python's strict int()/float().
"""

from __future__ import annotations

import math
import re

# Patterns, compiled on first use (the re module keeps them): most command
# lines have no number to read, and compiling the float one costs 0.5 ms.
_INT_PREFIX = r"[ \t\n\v\f\r]*([+-]?\d+)"
_FLOAT_PREFIX = (
    r"[ \t\n\v\f\r]*([+-]?(?:"
    r"0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?\d+)?"
    r"|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
    r"|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?"
    r"|[nN][aA][nN]"
    r"))"
)

INT_MIN, INT_MAX = -(2**31), 2**31 - 1


def atoi(text: str) -> int:
    """atoi(): the leading integer, 0 when there is none; wrapped to a C int."""
    m = re.match(_INT_PREFIX, text)
    if not m:
        return 0
    value = int(m.group(1))
    # glibc's atoi is (int)strtol: out-of-range values wrap like a 64-bit long cast to int.
    value = max(min(value, 2**63 - 1), -(2**63))
    value &= 0xFFFFFFFF
    return value - 2**32 if value >= 2**31 else value


def strtod(text: str) -> tuple[float, str]:
    """strtod(): (value, unparsed tail); (0.0, text) when nothing parses."""
    m = re.match(_FLOAT_PREFIX, text)
    if not m:
        return 0.0, text
    literal = m.group(1)
    body = literal.lstrip("+-")
    if body[:2] in ("0x", "0X"):
        sign = -1.0 if literal.startswith("-") else 1.0
        mantissa = body if "p" in body.lower() else body + "p0"
        value = sign * float.fromhex(mantissa)
    else:
        value = float(literal)
    return value, text[m.end() :]


def strtoul(text: str) -> tuple[int, str]:
    """strtoul() in base 10: (value, tail); negative inputs wrap as in C."""
    m = re.match(_INT_PREFIX, text)
    if not m:
        return 0, text
    return int(m.group(1)) % 2**64, text[m.end() :]


def tval2secs(spec: str) -> float:
    """nbase's time spec: a number with an optional ms/s/m/h unit; -1 when bogus."""
    if spec == "":
        return -1
    value, tail = strtod(spec)
    unit = tail.lower()
    if unit == "ms":
        return value / 1000.0
    if unit in ("", "s"):
        return value
    if unit == "m":
        return value * 60.0
    if unit == "h":
        return value * 3600.0
    return -1


def tval2msecs(spec: str) -> int:
    seconds = tval2secs(spec)
    if seconds == -1:
        return -1
    ms = seconds * 1000.0
    if ms != ms or ms > 2**63 - 1 or ms < -(2**63):
        return -1
    return int(ms)


def tval_has_unit(spec: str) -> bool:
    """True when the time spec carries a unit (nbase's tval_unit() != NULL)."""
    if spec == "":
        return False
    _, tail = strtod(spec)
    return tail != ""


def scanf_float(text: str) -> float | None:
    """sscanf("%f", ...): the leading number, or None when there is none."""
    if not re.match(_FLOAT_PREFIX, text):
        return None
    return strtod(text)[0]


def c_g(value: float) -> str:
    """printf("%g"), including the sign C prints for a negative NaN ("-nan"),
    which Python's formatting drops."""
    text = f"{value:g}"
    if value != value and math.copysign(1.0, value) < 0:
        return "-" + text
    return text
