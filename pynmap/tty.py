"""Key presses during a scan (nmap's runtime interaction), read from the terminal.

Active only when stdin is a terminal, pynmap is in the terminal's
foreground process group, and --noninteractive was not given.  The terminal
is switched to unbuffered, unechoed input for the run and restored at exit,
also when pynmap ends by a signal or an error.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import termios

# What tcgetattr() returns: iflag, oflag, cflag, lflag, ispeed, ospeed, then the cc list.
TermAttrs = list[int | list[bytes | int]]


class Keyboard:
    """Non-blocking single-key reads from the controlling terminal."""

    def __init__(self, fd: int, saved: TermAttrs) -> None:
        self.fd = fd
        self._saved = saved

    @classmethod
    def open(cls, *, stdin_fd: int = 0) -> Keyboard | None:
        """The keyboard, or None when there is no interactive terminal to read."""
        try:
            if not os.isatty(stdin_fd):
                return None
            fd = os.open("/dev/tty", os.O_RDONLY | os.O_NONBLOCK)
        except OSError:
            return None
        try:
            if os.tcgetpgrp(fd) != os.getpgrp():
                raise OSError("not in the foreground")
            saved = termios.tcgetattr(fd)
            raw = termios.tcgetattr(fd)
            raw[3] &= ~(termios.ICANON | termios.ECHO)  # lflag: keep ISIG, so Ctrl-C still works
            raw[6][termios.VMIN] = 1
            raw[6][termios.VTIME] = 0
            termios.tcsetattr(fd, termios.TCSANOW, raw)
        except (OSError, termios.error):
            os.close(fd)
            return None
        keyboard = cls(fd, saved)
        atexit.register(keyboard.close)
        return keyboard

    def read_key(self) -> str | None:
        """The key pressed since the last call, if any; keys typed ahead are dropped."""
        try:
            # a background job reading its terminal would be stopped (SIGTTIN)
            if os.tcgetpgrp(self.fd) != os.getpgrp():
                return None
            data = os.read(self.fd, 1)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError:
            return None
        if not data:
            return None
        with contextlib.suppress(OSError, termios.error):
            termios.tcflush(self.fd, termios.TCIFLUSH)
        return data.decode("latin-1")

    def close(self) -> None:
        if self.fd < 0:
            return
        with contextlib.suppress(OSError, termios.error):
            termios.tcsetattr(self.fd, termios.TCSANOW, self._saved)
        with contextlib.suppress(OSError):
            os.close(self.fd)
        self.fd = -1
