"""-oS "script kiddie" output: normal output with random l33t substitutions.

Per character, a coin flip picks between nmap's substitution table
(A->4, e/E->3, i/I->one of !|1, o/O->0, s/S->z before a non-alphanumeric or
$ otherwise, z->s, Z->S) and a one-in-three chance of flipping the case of a
letter.  The text is random by design, so only its shape can be compared.
"""

from __future__ import annotations

import random


def kiddie(text: str, rng: random.Random) -> str:
    chars = list(text)
    for i, ch in enumerate(chars):
        if rng.getrandbits(8) & 1 == 0:
            if ch == "A":
                chars[i] = "4"
            elif ch in "eE":
                chars[i] = "3"
            elif ch in "iI":
                chars[i] = "!|1"[rng.getrandbits(8) % 3]
            elif ch in "oO":
                chars[i] = "0"
            elif ch in "sS":
                following = text[i + 1] if i + 1 < len(text) else ""
                alnum = following.isascii() and following.isalnum()
                chars[i] = "z" if following and not alnum else "$"
            elif ch == "z":
                chars[i] = "s"
            elif ch == "Z":
                chars[i] = "S"
        elif "A" <= ch <= "Z" and rng.getrandbits(8) % 3 == 0:
            chars[i] = ch.lower()
        elif "a" <= ch <= "z" and rng.getrandbits(8) % 3 == 0:
            chars[i] = ch.upper()
    return "".join(chars)
