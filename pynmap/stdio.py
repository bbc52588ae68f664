"""Output streams that fail the way C's stdio fails for nmap: silently.

nmap writes stdout, stderr and its -oN/-oG/-oS/-oX files with stdio and
never looks at what fflush() says, so a full disk (/dev/full), a file that
refuses writes (/proc/version: EIO), a closed pipe (`| head -3`, with
SIGPIPE ignored: EPIPE) or a closed descriptor (`>&-`: EBADF) costs only the
text that was being written; the scan goes on, the other outputs stay
complete and the exit status is unchanged.  Python raises OSError at each
of these (and again when it flushes stdout at exit), so pynmap writes
through a raw layer that drops what cannot be written.  The one write error
nmap does notice, an fwrite() to an output file that overflows its buffer,
is LogFile's.

Reading -iL - is the same: a read error on stdin (closed: EBADF; a directory:
EISDIR) is the end of the list, as it is for getc().
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable
from typing import TextIO

from pynmap.errors import Fatal

# Both bytes-like arguments io hands a raw stream.
Buffer = bytes | bytearray | memoryview


class _Sink(io.RawIOBase):
    """A file descriptor whose failed writes are dropped, not raised; `failures`
    counts them and `on_failure` (if given) hears of each."""

    def __init__(self, fd: int, *, closefd: bool,
                 on_failure: Callable[[], None] | None = None) -> None:
        super().__init__()
        self._fd = fd
        self._closefd = closefd
        self.failures = 0
        self._on_failure = on_failure

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
            self.failures += 1
            if self._on_failure is not None:
                self._on_failure()
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


class WriteFailed(Fatal):
    """nmap's fatal() when an fwrite() to one of its output files fails."""

    def __init__(self, size: int, logt: int) -> None:
        super().__init__(f"Failed to write {size} bytes of data to (logt=={logt}) stream. "
                         "fwrite returned 0.  Quitting.")


class LogFile:
    """An output file (-oN, -oG, -oS, -oX) that fails as nmap's stdio FILE fails.

    nmap flushes its files after each report and ignores what fflush() says,
    but it checks every fwrite(): one that does not fit in what is left of
    the FILE's buffer (st_blksize bytes, 4096 for most files) makes stdio
    write the buffer out at once, and if that fails the fwrite fails and
    nmap quits with a fatal error naming the write's size and its log type
    (`logt`: 1 normal, 2 grepable, 4 script kiddie, 8 XML).

    While the file takes every write, `write` and `flush` are the text
    stream's own (no cost).  From the first failed write on, writes are
    counted against that buffer as stdio would fill it, and one that would
    overflow it is written through at once and raises WriteFailed if that
    fails.  (The Reporter then flushes after each host report, as nmap does.)
    """

    def __init__(self, path: str, *, append: bool, logt: int) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | (os.O_APPEND if append else os.O_TRUNC)
        fd = os.open(path, flags, 0o666)
        self.logt = logt
        self.failed = False
        try:
            self._blksize = os.fstat(fd).st_blksize or io.DEFAULT_BUFFER_SIZE
        except OSError:
            self._blksize = io.DEFAULT_BUFFER_SIZE
        self._fill = 0  # bytes in stdio's buffer since its last flush
        self._sink = _Sink(fd, closefd=True, on_failure=self._first_failure)
        self._text = io.TextIOWrapper(io.BufferedWriter(self._sink), encoding="utf-8",
                                      errors="surrogateescape", newline="")
        self.write: Callable[[str], int] = self._text.write
        self.flush: Callable[[], None] = self._text.flush

    @property
    def closed(self) -> bool:
        return self._text.closed

    def fileno(self) -> int:
        return self._sink.fileno()

    def close(self) -> None:
        self._text.close()

    def _first_failure(self) -> None:
        if not self.failed:
            self.failed = True
            self._fill = 0
            self.write = self._checked_write
            self.flush = self._checked_flush

    def _checked_flush(self) -> None:
        self._fill = 0
        self._text.flush()

    def _checked_write(self, text: str) -> int:
        size = len(text.encode("utf-8", "surrogateescape"))
        room = self._blksize - self._fill
        if size <= room:
            self._fill += size
            return self._text.write(text)
        before = self._sink.failures
        self._text.write(text)
        self._text.flush()  # stdio writes its full buffer, then whole blocks of the rest
        self._fill = (size - room) % self._blksize
        if self._sink.failures != before:
            self._fill = 0
            raise WriteFailed(size, self.logt)
        return len(text)


def open_output(path: str, *, append: bool, logt: int) -> LogFile:
    """An output file; OSError if it cannot be opened, as fopen() fails for nmap
    (ENOENT, EACCES, EISDIR for a directory)."""
    return LogFile(path, append=append, logt=logt)


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
