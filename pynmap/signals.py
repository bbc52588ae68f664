"""The signals that end a scan, handled as nmap handles them.

What nmap 7.93 does (nmap.cc, nmap_tty.cc):

* SIGPIPE is ignored: a closed pipe on stdout (`| head -3`) costs the
  lines written to it, not the scan or the files (see pynmap.stdio).
* Unless --noninteractive, its terminal set-up installs one handler for
  SIGINT, SIGTERM and SIGQUIT whatever their inherited disposition (a
  non-interactive shell starts background jobs with SIGINT and SIGQUIT
  ignored: `nmap ... & kill -INT $!` still stops nmap); the handler puts the
  terminal back and the process dies of the signal (130, 143, 131).
* Every other disposition is left as inherited: SIGHUP kills nmap (129)
  unless it was ignored (nohup), and with --noninteractive an ignored SIGINT
  stays ignored.

pynmap ends the same way, dying of the same signal, but first closes its XML
(pynmap.session): a signal that would end the process is turned into the
Interrupted exception, and one that was ignored stays ignored.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from types import FrameType
from typing import NoReturn

from pynmap.errors import Interrupted

# The signals whose default action ends a scan and that pynmap turns into Interrupted.
STOPPING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
# Those nmap handles whatever their inherited disposition, unless --noninteractive.
INTERACTIVE = (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)


def _stop(signo: int, frame: FrameType | None) -> None:
    # nmap blocks every signal while its handler runs and dies of the first:
    # a second one must not cut the closing of the reports short.
    for other in STOPPING:
        signal.signal(other, signal.SIG_IGN)
    raise Interrupted(signo)


# Set by take_inherited: pynmap is the process (its command line, not a caller's
# run_cli in-process), so the signals are its to take.
_taken = False


def take_inherited() -> None:
    """At start: SIGPIPE ignored; each stopping signal that is not ignored stops the scan."""
    global _taken
    _taken = True
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    for signo in STOPPING:
        if signal.getsignal(signo) is not signal.SIG_IGN:
            signal.signal(signo, _stop)


def take_interactive() -> None:
    """nmap's handlers without --noninteractive: SIGINT, SIGTERM and SIGQUIT stop the
    scan even when they were inherited as ignored.  Nothing unless take_inherited()
    ran: a program that calls pynmap's run_cli keeps its own handlers."""
    if not _taken:
        return
    for signo in INTERACTIVE:
        signal.signal(signo, _stop)


def die_of(signo: int) -> NoReturn:
    """End as nmap ends on a signal: killed by it (a shell shows 128 + signo)."""
    for other in STOPPING:
        signal.signal(other, signal.SIG_IGN)
    with contextlib.suppress(OSError, ValueError, AttributeError):
        sys.stdout.flush()
    with contextlib.suppress(OSError, ValueError, AttributeError):
        sys.stderr.flush()
    signal.signal(signo, signal.SIG_DFL)
    os.kill(os.getpid(), signo)
    os._exit(128 + signo)  # only if the signal did not end us
