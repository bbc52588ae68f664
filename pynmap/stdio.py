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
is _StdioBuffer's.

Reading -iL - is the same: a read error on stdin (closed: EBADF; a directory:
EISDIR) is the end of the list, as it is for getc().
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from pynmap.errors import Fatal

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer


class _Sink(io.RawIOBase):
    """A file descriptor whose failed writes are dropped, not raised; `failures`
    counts them."""

    def __init__(self, fd: int, *, closefd: bool) -> None:
        super().__init__()
        self._fd = fd
        self._closefd = closefd
        self.failures = 0

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def isatty(self) -> bool:
        try:
            return os.isatty(self._fd)
        except OSError:
            return False

    def write(self, data: ReadableBuffer) -> int:
        try:
            return os.write(self._fd, data)  # a short write: BufferedWriter sends the rest
        except OSError:
            self.failures += 1
            return memoryview(data).nbytes  # lost, as fwrite() loses it

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

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer)
        try:
            data = os.read(self._fd, view.nbytes)
        except OSError:
            return 0
        view[: len(data)] = data
        return len(data)


class WriteFailed(Fatal):
    """nmap's fatal() when an fwrite() to one of its outputs fails."""

    def __init__(self, size: int, logt: int) -> None:
        super().__init__(f"Failed to write {size} bytes of data to (logt=={logt}) stream. "
                         "fwrite returned 0.  Quitting.")


class _StdioBuffer:
    """How full a stdio FILE's buffer is, for the writes nmap checks.

    nmap flushes its outputs after each report and ignores what fflush()
    says, but it checks every fwrite() to an output format (-oN, -oG, -oS,
    -oX, also when sent to stdout): one that does not fit in what is left of
    the FILE's buffer (st_blksize bytes, 4096 for most files and pipes) makes
    stdio write the buffer out at once, and if that fails the fwrite fails
    and nmap quits with a fatal error naming the write's size and its log
    type (`logt`: 1 normal, 2 grepable, 4 script kiddie, 8 XML).

    Ordinary writes go straight to the text stream at C speed and are not
    counted; the Reporter writes a report piece by piece through
    `counted_write` (nmap's calls) when that report could overflow the
    buffer, and flushes after it, as nmap does.
    """

    def __init__(self, text: io.TextIOWrapper, sink: _Sink) -> None:
        self._text = text
        self._sink = sink
        try:
            self.blksize = os.fstat(sink.fileno()).st_blksize or io.DEFAULT_BUFFER_SIZE
        except OSError:
            self.blksize = io.DEFAULT_BUFFER_SIZE
        self._fill = 0  # bytes in stdio's buffer since its last flush

    def flushed(self) -> None:
        self._fill = 0

    def counted_write(self, text: str, logt: int | None) -> int:
        """One fwrite() (`logt`: raise WriteFailed if it fails) or vfprintf() (None)."""
        size = len(text.encode(self._text.encoding, self._text.errors or "strict"))
        room = self.blksize - self._fill
        if size <= room:
            self._fill += size
            return self._text.write(text)
        before = self._sink.failures
        self._text.write(text)
        self._text.flush()  # stdio writes its full buffer, then whole blocks of the rest
        self._fill = (size - room) % self.blksize
        if self._sink.failures != before:
            self._fill = 0
            if logt is not None:
                raise WriteFailed(size, logt)
        return len(text)


class _Stdout(io.TextIOWrapper):
    """pynmap's own stdout: C-speed writes, and the buffer model of the formats sent
    to it ("-", StdoutFormat), which share its buffer with the interactive output."""

    stdio: _StdioBuffer

    def flush(self) -> None:
        self.stdio._fill = 0  # stdio.flushed(), without a call: once per host report
        super().flush()


class StdoutFormat:
    """An output format sent to stdout ("-"): plain writes, and nmap's checked fwrite()
    as `counted_write` when stdout is pynmap's own (else an ordinary write)."""

    def __init__(self, stdout: TextIO, logt: int) -> None:
        self.stdout = stdout
        self.logt = logt
        self.write: Callable[[str], int] = stdout.write
        self.flush: Callable[[], None] = stdout.flush
        self.counted_write: Callable[[str], int] = (
            functools.partial(stdout.stdio.counted_write, logt=logt)
            if isinstance(stdout, _Stdout) else stdout.write)

    @property
    def closed(self) -> bool:
        return self.stdout.closed


def stdout_buffer(stream: TextIO) -> _StdioBuffer | None:
    """The buffer model of pynmap's own stdout; None for any other stream."""
    return stream.stdio if isinstance(stream, _Stdout) else None


def standard_stream(fd: int, like: TextIO | None) -> TextIO:
    """A text stream over `fd` (1 or 2) that drops failed writes.

    `like` is the stream Python made for it (None when the descriptor was
    closed at start): its encoding and line buffering are kept.  A closed descriptor is written to all the same, as nmap writes to
    its stdout: once an output file is opened it takes the lowest free
    descriptor, and what goes to stdout lands in that file, as with nmap.
    """
    # (TextIO types line_buffering as int, for PyPy; CPython's is a bool already)
    encoding, line_buffering = (
        (like.encoding, bool(like.line_buffering)) if like else ("utf-8", False))
    # Arguments and file contents that are not UTF-8 travel as surrogate
    # escapes; written back as the bytes they were, they reach the terminal
    # as nmap writes them (Python's own stderr would print "\udce9").
    errors = "surrogateescape"
    raw = _Sink(fd, closefd=False)
    if fd != 1 or line_buffering:
        # nmap checks no write to stderr; and on a terminal (line buffered)
        # stdio reports a failed flush of a whole line as a success
        return io.TextIOWrapper(io.BufferedWriter(raw), encoding=encoding, errors=errors,
                                line_buffering=line_buffering)
    stream = _Stdout(io.BufferedWriter(raw), encoding=encoding, errors=errors)
    stream.stdio = _StdioBuffer(stream, raw)
    return stream


class LogFile:
    """An output file (-oN, -oG, -oS, -oX) that fails as nmap's stdio FILE fails:
    failed writes are dropped, except a `counted_write` that overflows the buffer
    of a failing file (_StdioBuffer).  OSError if it cannot be opened, as fopen()
    fails for nmap (ENOENT, EACCES, EISDIR for a directory)."""

    def __init__(self, path: str, *, append: bool, logt: int) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | (os.O_APPEND if append else os.O_TRUNC)
        fd = os.open(path, flags, 0o666)
        self.logt = logt
        self._sink = _Sink(fd, closefd=True)
        self._text = io.TextIOWrapper(io.BufferedWriter(self._sink), encoding="utf-8",
                                      errors="surrogateescape", newline="")
        self.stdio = _StdioBuffer(self._text, self._sink)
        self.write: Callable[[str], int] = self._text.write
        self.counted_write = functools.partial(self.stdio.counted_write, logt=logt)

    @property
    def closed(self) -> bool:
        return self._text.closed

    def fileno(self) -> int:
        return self._sink.fileno()

    def flush(self) -> None:
        self.stdio.flushed()
        self._text.flush()

    def close(self) -> None:
        self._text.close()


def open_output(path: str, *, append: bool, logt: int) -> LogFile:
    """An output file: see LogFile."""
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

