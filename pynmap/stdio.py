"""Output streams that fail the way C's stdio fails for nmap: silently.

nmap writes stdout, stderr and its -oN/-oG/-oS/-oX files with fprintf and
never looks at the result, so a full disk (/dev/full), a file that refuses
writes (/proc/version: EIO), a closed pipe (`| head -3`, with SIGPIPE
ignored: EPIPE) or a closed descriptor (`>&-`: EBADF) costs only the text
that was being written; the scan goes on, the other outputs stay complete
and the exit status is unchanged.  Python raises OSError at each of these
(and again when it flushes stdout at exit), so pynmap writes through a raw
layer that drops what cannot be written.

Reading -iL - is the same: a read error on stdin (closed: EBADF; a directory:
EISDIR) is the end of the list, as it is for getc().
"""

from __future__ import annotations

import contextlib
import io
import os
from typing import TextIO

# Both bytes-like arguments io hands a raw stream.
Buffer = bytes | bytearray | memoryview


class _Sink(io.RawIOBase):
    """A file descriptor whose failed writes are dropped, not raised."""

    def __init__(self, fd: int, *, closefd: bool) -> None:
        super().__init__()
        self._fd = fd
        self._closefd = closefd

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def isatty(self) -> bool:
        try:
            return os.isatty(self._fd)
        except OSError:
            return False

    def write(self, data: Buffer) -> int:  # type: ignore[override]
        view = memoryview(data)
        try:
            return os.write(self._fd, view)  # a short write: BufferedWriter sends the rest
        except OSError:
            return view.nbytes  # lost, as fwrite() loses it

    def close(self) -> None:
        if not self.closed and self._closefd:
            with contextlib.suppress(OSError):  # nor is nmap's fclose() result
                os.close(self._fd)
        super().close()


class _Source(io.RawIOBase):
    """A file descriptor whose read errors are the end of the data."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def readinto(self, buffer: Buffer) -> int:  # type: ignore[override]
        view = memoryview(buffer)
        try:
            data = os.read(self._fd, view.nbytes)
        except OSError:
            return 0
        view[: len(data)] = data
        return len(data)


def standard_stream(fd: int, like: TextIO | None) -> TextIO:
    """A text stream over `fd` (1 or 2) that drops failed writes.

    `like` is the stream Python made for it (None when the descriptor was
    closed at start): its encoding, error handler and line buffering are
    kept.  A closed descriptor is written to all the same, as nmap writes to
    its stdout: once an output file is opened it takes the lowest free
    descriptor, and what goes to stdout lands in that file, as with nmap.
    """
    if like is not None:
        encoding, errors, line_buffering = like.encoding, like.errors, like.line_buffering
    else:
        encoding, errors, line_buffering = "utf-8", "strict", False
    sink = io.BufferedWriter(_Sink(fd, closefd=False))
    return io.TextIOWrapper(sink, encoding=encoding, errors=errors,
                            line_buffering=line_buffering)


def open_output(path: str, *, append: bool) -> TextIO:
    """An output file (-oN/-oG/-oS/-oX) that drops failed writes; OSError if it cannot be opened.

    Opening fails as fopen() does for nmap: ENOENT, EACCES, EISDIR (a directory).
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | (os.O_APPEND if append else os.O_TRUNC)
    fd = os.open(path, flags, 0o666)
    sink = io.BufferedWriter(_Sink(fd, closefd=True))
    return io.TextIOWrapper(sink, encoding="utf-8", errors="surrogateescape", newline="")


def stdin_words_stream() -> TextIO:
    """-iL -: standard input as text; undecodable bytes survive, CR is not translated,
    and a read error (a closed stdin, a directory) ends the list."""
    import sys

    given = sys.stdin
    if given is not None and given is not sys.__stdin__ and hasattr(given, "buffer"):
        source = given.buffer  # a stream a caller of run_cli put in its place
    else:
        source = io.BufferedReader(_Source(0))
    return io.TextIOWrapper(source, encoding="utf-8", errors="surrogateescape", newline="")
