"""Outputs that end in one file: nmap's stdio buffers, flushed where nmap flushes them.

nmap writes each log through its own stdio FILE, which holds the text until
nmap flushes it (log_flush_all() after the XML header, after each host's
status, after a port table, after a list or ping host, at the end...) or
the buffer fills.  When two of them lead to one file (`-oX f -oN f`: two
descriptors, two offsets, each overwriting the other's bytes) or one pipe
(`-oN /dev/stderr -oG /dev/stdout 2>&1`), what the reader finds depends on
those flushes.  The Reporter then holds every stream in a HeldStream and
releases them at nmap's flush points (see Reporter's `_emulating`).

Not modelled: a buffer that fills (4096 bytes in nmap) between two flush
points, which stdio writes out early.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TextIO


class HeldStream:
    """A text stream whose writes wait for release(), as a FILE's wait for fflush().

    flush() does nothing: pynmap's own flush calls are not nmap's.  A stream
    on a terminal is line-buffered, as stdio makes it.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._parts: list[str] = []
        self._line_buffered = _isatty(stream)

    @property
    def closed(self) -> bool:
        return self.stream.closed

    def write(self, text: str) -> int:
        self._parts.append(text)
        if self._line_buffered and "\n" in text:
            self.release()
        return len(text)

    def flush(self) -> None:
        """Not a flush point of nmap's: the text stays held."""

    def release(self) -> None:
        if self._parts and not self.stream.closed:
            self.stream.write("".join(self._parts))
            self.stream.flush()
        self._parts.clear()

    def close(self) -> None:
        self.release()
        self.stream.close()


def release(stream: TextIO | HeldStream | None) -> None:
    """fflush() of one stream: a HeldStream lets its text go, any other is flushed."""
    if stream is None:
        return
    if isinstance(stream, HeldStream):
        stream.release()
    elif not stream.closed:
        stream.flush()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (OSError, ValueError, AttributeError):
        return False


def _identity(stream: TextIO) -> tuple[int, int] | None:
    try:
        st = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return None
    return st.st_dev, st.st_ino


def share_a_destination(files: Iterable[TextIO], others: Iterable[TextIO]) -> bool:
    """True when an output file leads where another output file, stdout or stderr
    leads (the same file, pipe or device).  The same stream object twice (an
    output sent to "-") does not count: that is one FILE in nmap too; nor do
    stdout and stderr alone (2>&1)."""
    files = list(files)
    owners: dict[tuple[int, int], set[int]] = {}
    for stream in {id(s): s for s in [*files, *others]}.values():
        key = _identity(stream)
        if key is not None:
            owners.setdefault(key, set()).add(id(stream))
    return any(len(owners.get(_identity(f) or (-1, -1), ())) > 1 for f in files)
