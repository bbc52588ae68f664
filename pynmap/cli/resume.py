"""--resume FILE: the command line and the last finished host of an earlier run's log.

The log is a normal (-oN), grepable (-oG) or XML (-oX) file of the run to
resume.  Its "... as: PROGRAM ARGS" line gives the arguments, which are run
again as `nmap --append-output ARGS`; the last host the log reports is
where the new run picks up (every target up to and including it is
skipped).  Failures carry nmap's messages, including its quirks: the
log's last byte is ignored while parsing, and is turned into a newline in
the file itself when it was something else.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass

from pynmap.cli.words import arg_parse, decode_words
from pynmap.errors import Fatal, SystemFatal

ARGS_LIMIT = 4096 - 32  # longest "as:" line nmap accepts
PREFIX = b"nmap --append-output "


class _FatalAt(Fatal):
    """A parse failure after nmap had cut a string in its shared mapping of the log:
    the NUL it wrote at `offset` stays in the file."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


@dataclass(frozen=True)
class Resumption:
    """The run to start: its whole argv (program name first) and where to pick up."""

    args: list[str]
    address: str | None  # canonical text of the last finished host; None = from the start


def read_resume_file(path: str, *, warn: Callable[[str], None]) -> Resumption:
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError as exc:
        raise SystemFatal(f"Could not mmap() {path} file", exc.errno or 0) from None
    try:
        data = _read(fd, path)
        # nmap parses its shared mapping of the file with the last byte set to NUL,
        # and sets it to a newline once parsing succeeded: a failure leaves the NUL
        _poke(fd, path, b"\0", len(data) - 1)
        try:
            resumption = _parse(data[:-1].split(b"\0", 1)[0], path, warn)
        except _FatalAt as failure:
            _poke(fd, path, b"\0", failure.offset)
            raise
        _poke(fd, path, b"\n", len(data) - 1)
    finally:
        os.close(fd)
    return resumption


def _read(fd: int, path: str) -> bytes:
    chunks = []
    try:
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
    except OSError as exc:
        raise SystemFatal(f"Could not mmap() {path} file", exc.errno or 0) from None
    data = b"".join(chunks)
    if len(data) < 20:
        raise Fatal(f"Output file {path} is too short -- no use resuming")
    return data


def _poke(fd: int, path: str, byte: bytes, offset: int) -> None:
    try:
        os.pwrite(fd, byte, offset)
    except OSError as exc:
        raise SystemFatal(f"Could not mmap() {path} file", exc.errno or 0) from None


def _parse(text: bytes, path: str, warn: Callable[[str], None]) -> Resumption:
    args_line = _args_line(text, path)
    command = PREFIX + args_line
    if b"-->" in command:
        command = _xml_unescape(command[: command.index(b"-->")])
    if b"--randomize-hosts" in command:
        warn("WARNING: You are attempting to resume a scan which used --randomize-hosts.  Some "
             "hosts in the last randomized batch may be missed and others may be repeated once")
    words = arg_parse(command)
    if words is None:
        raise Fatal(f"Unable to parse supposed log file {path}.  Sorry")
    family = socket.AF_INET
    for word in words:
        if word.startswith(b"-4"):
            family = socket.AF_INET
        elif word.startswith(b"-6"):
            family = socket.AF_INET6
    address = _last_host(text, text.index(b" as: ") + 5, family, path, warn)
    return Resumption(decode_words(words), address)


def _args_line(text: bytes, path: str) -> bytes:
    """The arguments after the program name on the "as:" line."""
    at = text.find(b" as: ")
    if at < 0:
        raise Fatal(f"Unable to parse supposed log file {path}.  Are you sure this is an Nmap "
                    "output file?")
    p = at + 5
    n = len(text)
    # the program name may be quoted, or XML-quoted (&quot;...&quot;)
    while p < n and text[p : p + 1] not in (b" ", b"\t", b"\n", b"\v", b"\f", b"\r"):
        ch = text[p : p + 1]
        if ch in (b'"', b"'"):
            close = text.find(ch, p + 1)
            if close < 0:
                raise Fatal(f"Unable to parse supposed log file {path}: unclosed quote.")
            p = close
        elif text[p : p + 6].lower() == b"&quot;":
            while True:
                amp = text.find(b"&", p + 1)
                if amp < 0:
                    raise Fatal(f"Unable to parse supposed log file {path}: unclosed quote.")
                p = amp
                if text[p : p + 6].lower() == b"&quot;":
                    break
            p += 5
        p += 1
    if p >= n:
        raise Fatal(f"Unable to parse supposed log file {path}.  Sorry")
    p += 1
    if p >= n or text[p : p + 1] == b"\n":
        raise Fatal(f"Unable to parse supposed log file {path}.  Sorry")
    end = text.find(b"\n", p)
    if end < 0 or end - p >= ARGS_LIMIT:
        raise Fatal(f"Unable to parse supposed log file {path}.  Perhaps the Nmap execution had "
                    'not finished at least one host?  In that case there is no use "resuming"')
    return text[p:end]


_ENTITIES = ((b"&lt;", b"<"), (b"&gt;", b">"), (b"&amp;", b"&"), (b"&quot;", b'"'),
             (b"&apos;", b"'"), (b"&#45;", b"-"))


def _xml_unescape(data: bytes) -> bytes:
    """nmap's own unescaping, odd cases included: an unknown `&...;` is not decoded;
    the text from its fourth byte to the `;` is inserted before it instead."""
    out = bytearray()
    i = 0
    while i < len(data):
        if data[i] != 0x26:  # "&"
            out.append(data[i])
            i += 1
            continue
        for entity, value in _ENTITIES:
            if data.startswith(entity, i):
                out += value
                i += len(entity)
                break
        else:
            tail = data[i + 3 : i + 3 + 31]
            semi = tail.find(b";")
            out += tail[:semi] if semi >= 0 else b""
            out.append(data[i])
            i += 1
    return bytes(out)


def _numeric(text: bytes, end: int, family: int, path: str, message: str) -> str:
    """The address in `text`, which nmap cut out by writing a NUL at offset `end`."""
    try:
        infos = socket.getaddrinfo(text.decode("latin-1"), None, family, 0, 0,
                                   socket.AI_NUMERICHOST)
        packed = socket.inet_pton(family, str(infos[0][4][0]).split("%")[0])
    except (OSError, UnicodeError, ValueError, IndexError):
        ip = text.decode("utf-8", "surrogateescape")
        raise _FatalAt(message.format(ip=ip, path=path), end) from None
    return socket.inet_ntop(family, packed)


_GREP_HOST = re.compile(rb"\nHost: ")
_XML_ADDR = re.compile(rb'\n<address addr="')
_NORMAL_HOST = re.compile(rb"\nNmap scan report for ")


def _last_host(text: bytes, start: int, family: int, path: str,
               warn: Callable[[str], None]) -> str | None:
    """The last host the log reports, searched from `start` (offsets are the file's)."""
    sorry = f"Unable to parse supposed log file {path}.  Sorry"
    starts = [m.end() for m in _GREP_HOST.finditer(text, start)]
    if starts:
        found = starts[-1]
        space = text.find(b" ", found)
        if space < 0:
            raise Fatal(sorry)
        return _numeric(text[found:space], space, family, path,
                        "Unable to parse ip ({ip}) in supposed log file {path}. Sorry")
    addrtype = b'" addrtype="ipv4"' if family == socket.AF_INET else b'" addrtype="ipv6"'
    found_at: int | None = None
    for match in _XML_ADDR.finditer(text, start):
        quote = text.find(b'"', match.end())
        if quote < 0:
            raise Fatal(sorry)
        # nmap keeps the quote's position when the family does not match: the
        # address read from there is then empty
        found_at = match.end() if text.startswith(addrtype, quote) else quote
    if found_at is not None:
        quote = text.find(b'"', found_at)
        if quote < 0:
            raise Fatal(sorry)
        return _numeric(text[found_at:quote], quote, family, path,
                        "Unable to parse ip ({ip}) supposed log file {path}.  Sorry")
    starts = [m.end() for m in _NORMAL_HOST.finditer(text, start)]
    if starts:
        found = starts[-1]
        end = text.find(b"\n", found)
        if end < 0:
            raise Fatal(sorry)
        line = text[found:end]
        paren = line.find(b"(")
        if paren < 0:
            ip, cut = line, end
        else:  # "name (address)": nmap cuts at the byte before the newline
            ip, cut = line[paren + 1 : -1], end - 1
        return _numeric(ip, cut, family, path,
                        "Unable to parse ip ({ip}) in supposed log file {path}.  Sorry")
    warn("Warning: You asked for --resume but it doesn't look like any hosts in the log file "
         "were successfully scanned.  Starting from the beginning.")
    return None
