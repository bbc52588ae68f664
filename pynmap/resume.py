"""--resume FILE: what an earlier run's log says about the run to finish.

The log is a normal (-oN), grepable (-oG) or XML (-oX) file, possibly cut
short by an interrupted run.  Its "... as: PROGRAM ARGS" line gives the
arguments, which nmap runs again as `nmap --append-output ARGS`; the last
host the log reports is where the new run picks up (every target up to
and including it is skipped).

nmap reads the log through a shared read-write mapping and parses it in
place, so what it writes there while parsing stays in the file:
  * the last byte is a NUL during parsing (the parse never sees it) and
    becomes a newline once parsing succeeded; after a failure the NUL stays;
  * a grepable or XML address that does not parse keeps the NUL that ended
    it (the space or quote after it is lost);
  * in "Nmap scan report for NAME (ADDR)" the byte before the newline
    always becomes ")".
The mapping is reproduced with a real one, so these writes, the open mode
and the errors of the mapping (an empty file cannot be mapped) are nmap's.
"""

from __future__ import annotations

import errno
import mmap
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass

from pynmap.errors import Fatal, SystemFatal, Warn
from pynmap.words import arg_parse, decode_words

Poke = Callable[[int, int], None]

SHORTEST_LOG = 20  # bytes; a shorter file is refused before it is read
ARGS_LIMIT = 4096 - 32  # an "as:" line this long or longer is refused
# what nmap puts before the logged arguments; its first word becomes the program name
COMMAND_PREFIX = b"nmap --append-output "
RESUMED_PROGRAM = "nmap"
BLANKS = b" \t\n\v\f\r"  # C's isspace() in the C locale
NUL, NEWLINE, CLOSE_PAREN = 0, 0x0A, 0x29

GREP_HOST = b"\nHost: "
XML_ADDRESS = b'\n<address addr="'
NORMAL_HOST = b"\nNmap scan report for "
XML_ADDRTYPE: dict[int, bytes] = {socket.AF_INET: b'" addrtype="ipv4"', socket.AF_INET6: b'" addrtype="ipv6"'}
# nmap's XML unescaping knows these; they must lie wholly before the "-->" cut
ENTITIES = (
    (b"&lt;", b"<"),
    (b"&gt;", b">"),
    (b"&amp;", b"&"),
    (b"&quot;", b'"'),
    (b"&apos;", b"'"),
    (b"&#45;", b"-"),
)
UNKNOWN_ENTITY_ROOM = 31  # bytes nmap copies after "&??" when the entity is not one of those

RANDOMIZED = (
    "WARNING: You are attempting to resume a scan which used --randomize-hosts.  Some hosts "
    "in the last randomized batch may be missed and others may be repeated once"
)
NOTHING_DONE = (
    "Warning: You asked for --resume but it doesn't look like any hosts in the log file were "
    "successfully scanned.  Starting from the beginning."
)


@dataclass(frozen=True)
class Resumption:
    """The run to start again and where it picks up."""

    args: list[str]  # the arguments after the program name; the first is "--append-output"
    address: str | None  # inet_ntop text of the last host the log reports; None = from the start

    @property
    def argv(self) -> list[str]:
        """The whole command line: in a resumed run nmap's argv[0] is "nmap", whatever it was."""
        return [RESUMED_PROGRAM, *self.args]


def read_resume_file(path: str, *, warn: Warn) -> Resumption:
    """Read the log `path` as `nmap --resume path` does; raise Fatal/SystemFatal as nmap fails."""
    cannot_map = f"Could not mmap() {path} file"
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError as exc:
        raise SystemFatal(cannot_map, exc.errno or errno.EIO) from None
    try:
        size = os.fstat(fd).st_size
        if size == 0:  # mmap() of length 0 fails; Python refuses before asking the kernel
            raise SystemFatal(cannot_map, errno.EINVAL)
        image = mmap.mmap(fd, size, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ | mmap.PROT_WRITE)
    except OSError as exc:
        raise SystemFatal(cannot_map, exc.errno or errno.EIO) from None
    finally:
        os.close(fd)
    try:
        if size < SHORTEST_LOG:
            raise Fatal(f"Output file {path} is too short -- no use resuming")
        image[size - 1] = NUL
        text = image[: size - 1].split(b"\0", 1)[0]  # nmap's string functions stop at a NUL

        def poke(offset: int, value: int) -> None:
            image[offset] = value

        resumption = parse_log(text, path, warn=warn, poke=poke)
        image[size - 1] = NEWLINE
    finally:
        image.close()
    return resumption


def parse_log(text: bytes, path: str, *, warn: Warn, poke: Poke | None = None) -> Resumption:
    """The resumption a log's text (NUL-free, its last byte already gone) describes.

    `poke(offset, byte)` receives nmap's writes into its copy of the log.
    """
    write: Poke = poke if poke is not None else _ignore
    start = _args_start(text, path)
    end = text.find(b"\n", start)
    if end < 0 or end - start >= ARGS_LIMIT:
        raise Fatal(
            f"Unable to parse supposed log file {path}.  Perhaps the Nmap execution had not "
            'finished at least one host?  In that case there is no use "resuming"'
        )
    command = COMMAND_PREFIX + text[start:end]
    cut = command.find(b"-->")
    if cut >= 0:  # an XML comment: the arguments are escaped
        command = xml_unescape(command, cut)
    if b"--randomize-hosts" in command:
        warn(RANDOMIZED)
    words = arg_parse(command)
    if words is None:
        raise Fatal(f"Unable to parse supposed log file {path}.  Sorry")
    family = socket.AF_INET
    for word in words:  # a prefix test, not option parsing: "-6n" counts, "-n6" does not
        if word.startswith(b"-4"):
            family = socket.AF_INET
        elif word.startswith(b"-6"):
            family = socket.AF_INET6
    address = last_host(text, start, family, path, warn=warn, poke=write)
    return Resumption(decode_words(words[1:]), address)


def _ignore(offset: int, value: int) -> None:
    del offset, value


def _sorry(path: str) -> Fatal:
    return Fatal(f"Unable to parse supposed log file {path}.  Sorry")


def _args_start(text: bytes, path: str) -> int:
    """Where the arguments begin: past " as: ", the program name and one blank."""
    at = text.find(b" as: ")
    if at < 0:
        raise Fatal(
            f"Unable to parse supposed log file {path}.  Are you sure this is an Nmap output file?"
        )
    p, n = at + 5, len(text)
    unclosed = f"Unable to parse supposed log file {path}: unclosed quote."
    while p < n and text[p] not in BLANKS:
        if text[p] in b"\"'":
            p = text.find(text[p : p + 1], p + 1)
            if p < 0:
                raise Fatal(unclosed)
        elif text[p : p + 6].lower() == b"&quot;":
            # the name ends at the next "&quot;" (any case); other entities are passed over
            while True:
                p = text.find(b"&", p + 1)
                if p < 0:
                    raise Fatal(unclosed)
                if text[p : p + 6].lower() == b"&quot;":
                    break
            p += 5
        p += 1
    if p >= n:
        raise _sorry(path)
    p += 1  # the blank may be a newline: the arguments then start on the next line
    if p >= n or text[p] == NEWLINE:
        raise _sorry(path)
    return p


def xml_unescape(command: bytes, cut: int) -> bytes:
    """nmap's XML unescaping of `command` up to `cut` (where "-->" began).

    An entity it does not know is not decoded: the '&' is dropped and the
    bytes from the fourth one of the entity up to the next ';' (at most 31
    on, and none if there is no ';') are inserted in its place; the bytes
    after the '&' then follow as they are.  nmap reads those bytes from its
    buffer, where only the '-' at `cut` was overwritten with a NUL, so an
    '&' just before the cut reads on into the rest of the line.
    """
    buffer = command[:cut] + b"\0" + command[cut + 1 :]
    out = bytearray()
    i = 0
    while i < cut:
        if buffer[i] != 0x26:  # "&"
            out.append(buffer[i])
            i += 1
            continue
        for entity, value in ENTITIES:
            if buffer.startswith(entity, i):
                out += value
                i += len(entity)
                break
        else:
            tail = buffer[i + 3 :].split(b"\0", 1)[0][:UNKNOWN_ENTITY_ROOM]
            semicolon = tail.find(b";")
            if semicolon >= 0:
                out += tail[:semicolon]
            i += 1
    return bytes(out)


def last_host(text: bytes, start: int, family: int, path: str, *, warn: Warn,
              poke: Poke) -> str | None:
    """The last host of the log after `start`: grepable first, then XML, then normal output."""
    at = text.rfind(GREP_HOST, start)
    if at >= 0:
        begin = at + len(GREP_HOST)
        space = text.find(b" ", begin)
        if space < 0:
            raise _sorry(path)
        return _address(text[begin:space], family, lambda ip: _fail_at(
            poke, space, f"Unable to parse ip ({ip}) in supposed log file {path}. Sorry"))

    found: int | None = None
    at = text.find(XML_ADDRESS, start)
    while at >= 0:
        begin = at + len(XML_ADDRESS)
        quote = text.find(b'"', begin)
        if quote < 0:
            raise _sorry(path)
        # an address of the other family leaves nmap pointing at its closing quote:
        # what it reads from there is the empty string
        found = begin if text.startswith(XML_ADDRTYPE[family], quote) else quote
        at = text.find(XML_ADDRESS, begin)
    if found is not None:
        quote = text.find(b'"', found)
        return _address(text[found:quote], family, lambda ip: _fail_at(
            poke, quote, f"Unable to parse ip ({ip}) supposed log file {path}.  Sorry"))

    at = text.rfind(NORMAL_HOST, start)
    if at >= 0:
        begin = at + len(NORMAL_HOST)
        newline = text.find(b"\n", begin)
        if newline < 0:
            raise _sorry(path)
        paren = text.find(b"(", begin, newline)
        if paren < 0:
            ip = text[begin:newline]
        else:
            # "NAME (ADDR)": the address is taken to end one byte before the newline,
            # and that byte is then made a ")" whatever it was
            last = newline - 1
            poke(last, CLOSE_PAREN)
            # with the "(" itself last, the copy runs on past the line to the end of the text
            ip = text[paren + 1 : last] if paren < last else text[paren + 1 :]
        return _address(ip, family, lambda shown: Fatal(
            f"Unable to parse ip ({shown}) in supposed log file {path}.  Sorry"))

    warn(NOTHING_DONE)
    return None


def _fail_at(poke: Poke, offset: int, message: str) -> Fatal:
    poke(offset, NUL)  # nmap ended the address there and dies before putting the byte back
    return Fatal(message)


def _address(ip: bytes, family: int, failure: Callable[[str], Fatal]) -> str:
    """The canonical text of a numeric address, resolved as nmap does (libc, no DNS)."""
    try:
        infos = socket.getaddrinfo(ip, None, family, socket.SOCK_DGRAM, 0, socket.AI_NUMERICHOST)
        host = str(infos[0][4][0]).split("%", 1)[0]  # the scope is not part of the address
        return socket.inet_ntop(family, socket.inet_pton(family, host))
    except (OSError, UnicodeError, ValueError, IndexError):
        raise failure(ip.decode("utf-8", "surrogateescape")) from None
