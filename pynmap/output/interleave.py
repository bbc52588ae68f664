"""nmap's write order, for output formats that share one stream.

nmap writes a report piece by piece, each piece to every log that takes it
(its log_write), so when two logs are the same stdout (`-oN - -oG -`,
`-oX - -oN -`) their pieces interleave: the scan-initiated lines come out
as `# # Nmap ... as: ...Nmap ... as: ...` and a grepable `Ports:` line runs
into the normal port table.  pynmap renders each format whole; this module
cuts those renderings back into nmap's pieces and orders them the way
nmap's calls are made (nmap.cc's host loop, output.cc's write_host_header,
write_host_status and printportoutput, printfinaloutput).

Each piece gets a key: pieces are written in key order.  One key may stand
for several calls (the parts of "Host is up, received ... (...s latency).");
the n-th piece of a key in one format pairs with the n-th in another, and a
call that writes to several logs writes them in nmap's log order: normal,
grepable, kiddie, XML.  Only the pieces of formats that share a
stream are ever merged; the others are written whole, as before.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import pairwise

Key = tuple[int, ...]
Piece = tuple[Key, int, int, str, str]  # key, call number within the key, log order, format, text

# nmap's log order (the bits of LOG_NORMAL, LOG_MACHINE, LOG_SKID, LOG_XML, and
# LOG_STDOUT, the interactive stdout, last: pynmap.output.writers cuts its text
# like the normal one when it writes a report piece by piece)
LOG_ORDER = {"normal": 0, "grepable": 1, "kiddie": 2, "xml": 3, "stdout": 4}

# The steps of one host report, in the order nmap makes its calls.
_HOST_OPEN = (0,)  # XML <host ...>
_REPORT = (1,)  # Nmap scan report for ...
_LIST_STATUS = (1, 1)  # -sL: grepable Status: Unknown, before the XML status
_INITIAL = (2,)  # XML status, address, hostnames
_IS_UP = (3,)  # Host is up ...
_STATUS = (4,)  # grepable Status: Up / Down
_NAMES = (5,)  # Other addresses for ... / rDNS record for ...
_PORTS_OPEN = (6,)  # XML <ports>
_PORTS_HOST = (7,)  # grepable "Host: A (name)" of the Ports line
_SCANNED_AT = (8,)  # Scanned at ...
_IGNORED = 9  # (9, state, step[, reason, step]): one collapsed state
_AFTER_IGNORED = (10,)  # the end of the Not shown line, or the blank line
_PORTS_CLOSE_EMPTY = (11,)  # XML </ports> when every port is collapsed
_PORTS_FIELD = (12,)  # grepable "\tPorts: "
_PORT = 13  # (13, i, 0) grepable port i, (13, i, 1) XML <port> i
_IGNORED_FIELD = (14,)  # grepable "\tIgnored State: ..."
_PORTS_CLOSE = (15,)  # XML </ports>
_TABLE = (16,)  # the port table (and -sV's fingerprints)
_SERVICE_INFO = (16, 1)  # -sV's "Service Info:" line
_FINAL_TIMES = (17,)  # -d "Final times for host" (console only)
_TIMES = (18,)  # XML <times/>
_HOST_END = (19,)  # the newline ending a port-scanned host, normal then grepable
_HOST_CLOSE = (20,)  # XML </host>
_SKIPPING = (21,)  # Skipping host ... due to host timeout
_TIMEOUT = (22,)  # grepable Status: Timeout


# Where nmap flushes inside a host report: every log after the XML host
# information (write_xml_initial_hostinfo), the plain logs after the port table.
FLUSH_ALL_AFTER = _INITIAL
FLUSH_PLAIN_AFTER = _TABLE
# printserviceinfooutput flushes every log again, when it has a line to write
FLUSH_INFO_AFTER = _SERVICE_INFO


def host_pieces(kind: str, texts: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """One host's report in nmap's write order: (format, text) pieces.

    `kind` is the report's kind ("port", "timeout", "down", "ping", "list"),
    `texts` the (format, rendered text) of each format that shares the
    stream; the kiddie text is the normal rendering (the caller translates
    each piece).
    """
    return [(fmt, text) for _, fmt, text in host_calls(kind, texts)]


def host_calls(kind: str, texts: Sequence[tuple[str, str]]) -> list[tuple[Key, str, str]]:
    """host_pieces, each piece with its step (compare with FLUSH_ALL_AFTER...)."""
    pieces: list[Piece] = []
    for fmt, text in texts:
        if not text:
            continue
        order = LOG_ORDER[fmt]
        if fmt == "xml":
            cut = _xml_host(text)
        elif fmt == "grepable":
            cut = _grepable_host(text, kind)
        else:
            cut = _normal_host(text, kind)
        calls: dict[Key, int] = {}
        for key, piece in cut:
            if piece:
                calls[key] = calls.get(key, -1) + 1
                pieces.append((key, calls[key], order, fmt, piece))
    pieces.sort(key=lambda p: p[:3])
    return [(key, fmt, text) for key, _, _, fmt, text in pieces]


def host_segments(kind: str, texts: Sequence[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """One host's report cut where nmap flushes every log while writing it.

    Four segments, each in nmap's write order (host_calls): up to the host's
    XML status and names (FLUSH_ALL_AFTER); for a port-scanned host, the rest
    up to its port table (FLUSH_PLAIN_AFTER: printportoutput ends in a flush
    of every log), then its -sV "Service Info:" line (FLUSH_INFO_AFTER; empty
    without one); then the rest.  `texts` may hold "stdout", the interactive
    text.
    """
    segments: list[list[tuple[str, str]]] = [[], [], [], []]
    for key, fmt, text in host_calls(kind, texts):
        if key <= FLUSH_ALL_AFTER:
            segment = 0
        elif kind == "port" and key <= FLUSH_PLAIN_AFTER:
            segment = 1
        elif kind == "port" and key <= FLUSH_INFO_AFTER:
            segment = 2
        else:
            segment = 3
        segments[segment].append((fmt, text))
    return segments


def header_pieces(texts: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """The report headers: the XML prologue, then `# ` / the line / its newline,
    each written to the normal and the grepable log in turn, then the rest
    (the grepable `# Ports scanned` line)."""
    pieces: list[Piece] = []
    for fmt, text in texts:
        order = LOG_ORDER[fmt]
        if fmt == "xml" or not text.startswith("# "):
            pieces.append(((0,), 0, order, fmt, text))
            continue
        end = text.find("\n")
        line, rest = (text, "") if end < 0 else (text[:end], text[end + 1 :])
        pieces.append(((1,), 0, order, fmt, "# "))
        pieces.append(((2,), 0, order, fmt, line[2:]))
        if end >= 0:
            pieces.append(((3,), 0, order, fmt, "\n"))
        if rest:
            pieces.append(((4,), 0, order, fmt, rest))
    pieces.sort(key=lambda p: p[:3])
    return [(fmt, text) for _, _, _, fmt, text in pieces if text]


def split_xml_end(runstats: str) -> tuple[str, str]:
    """The XML trailer cut before `</nmaprun>`: nmap writes its `# Nmap done at`
    lines between the two."""
    at = runstats.rfind("</nmaprun>")
    if at < 0:
        return runstats, ""
    return runstats[:at], runstats[at:]


# ------------------------------------------------------------------------- normal


# The normal-output lines nmap writes in several calls, cut where its calls
# end: "... [host down" / ", <reason>" / "]"; "Host is up" / ", <reason>" /
# " (<latency>s latency)" / "."; "Other addresses for N (not scanned):" / " <address>"...
_REPORT_CALLS = re.compile(r"^(.* \[host down)(, [^\]]*)?(\]\n)$")
_IS_UP_CALLS = re.compile(r"^(Host is up)(, [^(.]*(?: ttl \d+)?)?( \([^)]*s latency\))?(\.\n)$")


def _calls(match: re.Match[str] | None, line: str) -> list[str]:
    if match is None:
        return [line]
    return [part for part in match.groups() if part]


def _normal_host(text: str, kind: str) -> list[tuple[Key, str]]:
    lines = text.splitlines(keepends=True)
    out: list[tuple[Key, str]] = [
        (_REPORT, part) for part in _calls(_REPORT_CALLS.match(lines[0]), lines[0])]
    i = 1
    n = len(lines)
    if i < n and lines[i].startswith("Host is up"):
        out.extend((_IS_UP, part) for part in _calls(_IS_UP_CALLS.match(lines[i]), lines[i]))
        i += 1
    while i < n and lines[i].startswith(("Other addresses for ", "rDNS record for ")):
        line = lines[i]
        if line.startswith("Other addresses for "):
            head, _, addresses = line.rstrip("\n").partition(" (not scanned):")
            out.append((_NAMES, head + " (not scanned):"))
            out.extend((_NAMES, " " + address) for address in addresses.split())
            out.append((_NAMES, "\n"))
        else:
            out.append((_NAMES, line))
        i += 1
    if kind == "timeout":
        out.extend((_SKIPPING, line) for line in lines[i:])
        return out
    if kind != "port":
        out.extend((_FINAL_TIMES, line) for line in lines[i:])
        return out
    if i < n and lines[i].startswith("Scanned at "):
        out.append((_SCANNED_AT, lines[i]))
        i += 1
    if i < n and lines[i].startswith("All ") and " scanned ports on " in lines[i]:
        out.append(((_IGNORED, 0, 1), lines[i]))
        i += 1
    if i < n and lines[i].startswith("Not shown: "):
        out.extend(_not_shown(lines[i]))
        i += 1
    elif i < n and lines[i] == "\n":
        out.append((_AFTER_IGNORED, lines[i]))
        i += 1
    table: list[str] = []
    while i < n and lines[i] != "\n" and not lines[i].startswith(("Final times for host",
                                                                  "Service Info: ")):
        table.append(lines[i])
        i += 1
    out.append((_TABLE, "".join(table)))
    for line in lines[i:]:
        if line == "\n":
            out.append((_HOST_END, line))
        elif line.startswith("Service Info: "):
            out.append((_SERVICE_INFO, line))
        else:
            out.append((_FINAL_TIMES, line))
    return out


def _not_shown(line: str) -> list[tuple[Key, str]]:
    """`Not shown: 98 closed tcp ports (conn-refused), 2 filtered ...`: one piece
    per collapsed state and reason, as printportoutput writes them."""
    items = line[len("Not shown: ") : -1].split(", ")
    out: list[tuple[Key, str]] = []
    state_no = -1
    reason_no = 0
    previous = None
    for item in items:
        state = item.split(" ", 2)[1]
        if state != previous:
            state_no += 1
            reason_no = 0
            previous = state
            out.append(((_IGNORED, state_no, 4), "Not shown: " if state_no == 0 else ", "))
            out.append(((_IGNORED, state_no, 5, 0, 2), item))
        else:
            reason_no += 1
            out.append(((_IGNORED, state_no, 5, reason_no, 1), ", "))
            out.append(((_IGNORED, state_no, 5, reason_no, 2), item))
    out.append((_AFTER_IGNORED, "\n"))
    return out


# ----------------------------------------------------------------------- grepable


def _grepable_host(text: str, kind: str) -> list[tuple[Key, str]]:
    out: list[tuple[Key, str]] = []
    for line in text.splitlines(keepends=True):
        if "\tStatus: " in line:
            if line.endswith("\tStatus: Timeout\n"):
                out.append((_TIMEOUT, line))
            else:
                out.append((_LIST_STATUS if kind == "list" else _STATUS, line))
            continue
        at = line.find("\tPorts: ")
        if at < 0:  # nothing else is expected; keep it at the end
            out.append((_HOST_END, line))
            continue
        out.append((_PORTS_HOST, line[:at]))
        fields = line[at + len("\tPorts: ") :].removesuffix("\n")
        ports, sep, ignored = fields.partition("\tIgnored State: ")
        if not ports:  # every port collapsed: nmap writes these inside its first state
            out.append(((_IGNORED, 0, 2), "\tPorts: "))
            if sep:
                out.append(((_IGNORED, 0, 3), sep + ignored))
        else:
            out.append((_PORTS_FIELD, "\tPorts: "))
            for i, item in enumerate(ports.split(", ")):
                if i:
                    out.append(((_PORT, i, 0), ", "))  # a call of its own
                out.append(((_PORT, i, 0), item))
            if sep:
                out.append((_IGNORED_FIELD, sep + ignored))
        out.append((_HOST_END, "\n"))
    return out


# ---------------------------------------------------------------------------- XML

_XML_PIECE = re.compile(
    r"<status |<ports>|<extraports |<extrareasons |</extraports>|<port |</ports>|<times |</host>")


def _xml_host(text: str) -> list[tuple[Key, str]]:
    starts = [m.start() for m in _XML_PIECE.finditer(text)]
    if not starts or starts[0] != text.find("<status "):
        return [(_HOST_OPEN, text)]
    out: list[tuple[Key, str]] = [(_HOST_OPEN, text[: starts[0]])]
    bounds = [*starts, len(text)]
    state_no = -1
    reason_no = -1
    port_no = -1
    for begin, end in pairwise(bounds):
        piece = text[begin:end]
        if piece.startswith("<status "):
            out.append((_INITIAL, piece))
        elif piece.startswith("<ports>"):
            out.append((_PORTS_OPEN, piece))
        elif piece.startswith("<extraports "):
            state_no += 1
            reason_no = -1
            out.append(((_IGNORED, state_no, 0), piece))
        elif piece.startswith("<extrareasons "):
            reason_no += 1
            out.append(((_IGNORED, state_no, 5, reason_no, 0), piece))
        elif piece.startswith("</extraports>"):
            out.append(((_IGNORED, state_no, 6), piece))
        elif piece.startswith("<port "):
            port_no += 1
            out.append(((_PORT, port_no, 1), piece))
        elif piece.startswith("</ports>"):
            out.append((_PORTS_CLOSE if port_no >= 0 else _PORTS_CLOSE_EMPTY, piece))
        elif piece.startswith("<times "):
            out.append((_TIMES, piece))
        else:
            out.append((_HOST_CLOSE, piece))
    return out
