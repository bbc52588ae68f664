"""A command line to Options, as nmap reads its own: the step before a Session.

nmap looks at NMAP_ARGS first (the variable's words go before the real
arguments, and `--resume` is then an ordinary option), else at a lone
`--resume FILE` (the log's arguments, and where the earlier run stopped),
then refuses typographic dashes, then reads the options.  The command line
(pynmap.cli.app) and `pynmap.run` come through here; the API's keywords
become an argv that pynmap.options reads the same way.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from pynmap.errors import Fatal, PlainExit, Warn
from pynmap.options import Options, parse_options
from pynmap.texts import usage_text, version_text
from pynmap.words import arg_parse, decode_words

# nmap's buffer for the NMAP_ARGS command line
NMAP_ARGS_BUFFER = 2048

# U+2010..U+2015 as typed by editors that "fix" hyphens, and cp1252's en and
# em dashes (bytes 0x96/0x97, which Python hands us surrogate-escaped).
TYPOGRAPHIC_DASHES = (*(chr(c) for c in range(0x2010, 0x2016)), "\udc96", "\udc97")


def expand_nmap_args(argv: list[str], environ: Mapping[str, str], warn: Warn) -> list[str]:
    """NMAP_ARGS: nmap rebuilds its command line as `nmap $NMAP_ARGS args...` in a
    2048-byte buffer and splits it again, so the real arguments are re-split
    on blanks too, and the program name becomes "nmap"."""
    extra = environ.get("NMAP_ARGS")
    if extra is None:
        return argv
    command = b"nmap " + os.fsencode(extra)
    if len(command) >= NMAP_ARGS_BUFFER:
        warn("Warning: NMAP_ARGS variable is too long, truncated")
        command = command[: NMAP_ARGS_BUFFER - 1]
    for arg in argv[1:]:
        word = os.fsencode(arg)
        if len(command) + len(word) + 1 >= NMAP_ARGS_BUFFER:
            break  # nmap drops this argument and every one after it
        command += b" " + word
    words = arg_parse(command)
    if not words:
        raise Fatal("NMAP_ARGS variable could not be parsed")
    return decode_words(words)


def parse_command_line(argv: list[str], environ: Mapping[str, str], *, warn: Warn,
                       say: Warn) -> Options:
    """The Options `argv` (argv[0] is the program name) asks for, or the NmapError
    nmap ends with.  `warn` receives nmap's error()/warning lines (stderr), `say`
    the few texts nmap prints on stdout while reading its options."""
    resume_after = None
    resuming = False
    if "NMAP_ARGS" in environ:  # nmap looks at it first; --resume is then an ordinary option
        argv = expand_nmap_args(argv, environ, warn)
    elif len(argv) == 3 and argv[1] == "--resume":
        from pynmap.resume import read_resume_file

        resumption = read_resume_file(argv[2], warn=warn)
        argv = resumption.argv
        resuming, resume_after = True, resumption.address
    if len(argv) < 2:
        raise PlainExit("", 255, usage_text())
    for index, word in enumerate(argv[1:], start=1):
        if word.startswith(TYPOGRAPHIC_DASHES):
            raise Fatal(f"Unparseable option (dash, not '-') in argument {index}")
    options = parse_options(argv, warn=warn, say=say, usage=usage_text, version=version_text)
    if resuming:
        options = options.replace(resuming=True, resume_after=resume_after)
    return options
