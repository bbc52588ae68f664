"""The small exception hierarchy every nmap-style failure travels in.

Each error carries nmap's exact text and exit code; only the CLI prints and
exits, so the library and the tests can inspect an error without a process.
"""

from __future__ import annotations

import os
from collections.abc import Callable

# Where a module sends one of nmap's stderr lines (its error()), without the newline.
Warn = Callable[[str], None]


class NmapError(Exception):
    """Base class: `text` is what goes to stderr verbatim, `exit_code` what the process returns."""

    exit_code: int = 1

    @property
    def text(self) -> str:
        raise NotImplementedError


# The public name (pynmap.Error): every error pynmap raises with nmap's text.
Error = NmapError


class OptionError(NmapError):
    """An option nmap refuses while reading its options (pynmap.scan's keywords
    or a command line): `message` is nmap's message, `text` all it prints on
    stderr for it, `exit_code` its exit status."""

    def __init__(self, message: str, text: str, exit_code: int) -> None:
        super().__init__(message)
        self.message = message
        self._text = text
        self.exit_code = exit_code

    @classmethod
    def of(cls, err: NmapError) -> OptionError:
        """The OptionError for an error the option parser raised."""
        if isinstance(err, OptionError):
            return err
        message = getattr(err, "message", None)
        if not isinstance(message, str):
            message = err.text.rstrip("\n")
        return cls(message, err.text, err.exit_code)

    @property
    def text(self) -> str:
        return self._text


class Fatal(NmapError):
    """nmap's fatal(): the message, then QUITTING!, exit 1.

    `message` is also what XML writes as runstats/finished/@errormsg.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def text(self) -> str:
        return f"{self.message}\nQUITTING!\n"


class SystemFatal(NmapError):
    """nmap's pfatal(): `message: strerror (errno)`, no QUITTING!, exit 1."""

    def __init__(self, message: str, errno: int) -> None:
        super().__init__(message)
        self.message = message
        self.errno = errno

    @property
    def text(self) -> str:
        return f"{self.message}: {os.strerror(self.errno)} ({self.errno})\n"

    def __reduce__(self) -> tuple[type[SystemFatal], tuple[str, int]]:
        # Exceptions pickle as cls(*args), and args holds the message only;
        # a scan's second process (engine/split.py) sends its errors pickled.
        return type(self), (self.message, self.errno)


class InputError(NmapError, ValueError):
    """Input pynmap's own features refuse (a report that cannot be read or merged):
    the message alone on stderr, exit 1."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def text(self) -> str:
        return f"{self.message}\n"


class UsageError(NmapError):
    """A getopt error (unknown option, missing argument, ambiguous prefix): exit 255.

    glibc prefixes the program name as typed (argv[0]); nmap then adds its hint.
    """

    exit_code = 255

    def __init__(self, message: str, prog: str = "nmap") -> None:
        super().__init__(message)
        self.message = message
        self.prog = prog

    @property
    def text(self) -> str:
        return f"{self.prog}: {self.message}\nSee the output of nmap -h for a summary of options.\n"


class PlainExit(NmapError):
    """Text already decided (possibly empty) plus an exit code: usage screens, `-s` errors."""

    def __init__(self, stderr_text: str, exit_code: int, stdout_text: str = "") -> None:
        super().__init__(stderr_text)
        self.stderr_text = stderr_text
        self.stdout_text = stdout_text
        self.exit_code = exit_code

    @property
    def text(self) -> str:
        return self.stderr_text


class Cancelled(BaseException):
    """The API's caller stopped the scan (a scan_iter generator closed, a task
    cancelled): the run ends as an interrupted one, nothing is printed.
    A BaseException for the reason Interrupted is one."""


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived: the reports were closed; the process should die of `signo`.

    Not an NmapError: nmap prints nothing for it and its exit status is the
    signal's, which only the outermost caller can reproduce.  A BaseException,
    as KeyboardInterrupt is, so that no `except Exception` (a cache that is
    rebuilt when damaged, a bug turned into one line) swallows a signal.
    """

    def __init__(self, signo: int) -> None:
        super().__init__(signo)
        self.signo = signo
