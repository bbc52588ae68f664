"""nmap's command-line grammar as the command line reads it: pynmap.getopt's
lexer over the vocabulary of pynmap.options' table."""

from __future__ import annotations

from pynmap.getopt import NO_ARG, OPTIONAL_ARG, REQUIRED_ARG, Lexer, Token
from pynmap.options import GRAMMAR, LONG_OPTIONS, PYNMAP_LONG_OPTIONS, SHORT_OPTIONS

__all__ = ["LONG_OPTIONS", "NO_ARG", "OPTIONAL_ARG", "PYNMAP_LONG_OPTIONS", "REQUIRED_ARG",
           "SHORT_OPTIONS", "ArgvLexer", "Token"]


class ArgvLexer(Lexer):
    """The lexer for nmap's (and pynmap's) options."""

    def __init__(self, argv: list[str]) -> None:
        super().__init__(argv, GRAMMAR)
