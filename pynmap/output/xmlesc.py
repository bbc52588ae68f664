"""nmap's XML escaping, byte for byte.

nmap escapes every attribute value and the header comment the same way: the
five XML specials become entities, a `-` that follows another `-` becomes
`&#45;` (so `--` can never end a comment early), and every byte below 0x20
or above 0x7f becomes `&#xHH;` (lowercase hex, no padding).  It works on the
encoded bytes, so a non-ASCII character turns into one reference per UTF-8
byte; readers see mojibake, but the file stays ASCII and matches nmap's.
"""

from __future__ import annotations

import re

_SPECIAL = {
    0x3C: "&lt;",
    0x3E: "&gt;",
    0x26: "&amp;",
    0x22: "&quot;",
    0x27: "&apos;",
}

# Anything in ASCII text that needs a look: specials, control bytes, DEL is
# fine (0x7f passes), and a doubled dash.  Every non-ASCII character needs
# one too; str.isascii() finds those, where a character class up to
# U+10FFFF would take 2.5 ms to compile at import.
_NEEDS_WORK = re.compile(r"[<>&\"'\x00-\x1f]|--")


def xml_escape(text: str) -> str:
    """Escape `text` as nmap writes attribute values and comments."""
    if text.isascii() and _NEEDS_WORK.search(text) is None:
        return text
    data = text.encode("utf-8", "surrogateescape")
    out: list[str] = []
    previous = -1
    for byte in data:
        special = _SPECIAL.get(byte)
        if special is not None:
            out.append(special)
        elif byte == 0x2D and previous == 0x2D:
            out.append("&#45;")
        elif byte < 0x20 or byte > 0x7F:
            out.append(f"&#x{byte:x};")
        else:
            out.append(chr(byte))
        previous = byte
    return "".join(out)
