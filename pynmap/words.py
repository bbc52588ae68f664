"""Splitting a command line held in one string (NMAP_ARGS, a --resume log's "as:" line).

nmap splits such a string itself: words are separated by C-locale blanks,
a word that starts with a double or single quote runs to the next such
quote (no escapes), the string is limited to 4095 bytes and to 254 words.
"""

from __future__ import annotations

import os

# C's isspace() in the C locale (Python's str.isspace knows far more characters)
BLANKS = b" \t\n\v\f\r"
MAX_COMMAND = 4096  # bytes, with the terminating NUL
MAX_WORDS = 254


def arg_parse(command: bytes) -> list[bytes] | None:
    """The words of `command`, or None where nmap's splitter gives up."""
    if len(command) >= MAX_COMMAND:
        return None
    command = command.split(b"\0", 1)[0]
    words: list[bytes] = []
    i, n = 0, len(command)
    while i < n:
        while i < n and command[i] in BLANKS:
            i += 1
        if i >= n:
            break
        quote = command[i : i + 1]
        if quote in (b'"', b"'"):
            i += 1
            end = command.find(quote, i)
            if end < 0:
                return None
        else:
            end = i + 1
            while end < n and command[end] not in BLANKS:
                end += 1
        if len(words) >= MAX_WORDS:
            return None
        words.append(command[i:end])
        i = end + 1
    return words


def decode_words(words: list[bytes]) -> list[str]:
    """Words as Python sees its own argv: undecodable bytes survive as surrogates."""
    return [os.fsdecode(word) for word in words]
