"""--spoof-mac: the address unprivileged nmap announces (and then cannot use).

nmap reads the whole option after choosing its ports: "0" is a random
address, leading pairs of hex digits (colons allowed between them) are a
prefix completed at random, anything else names a vendor looked up in
nmap-mac-prefixes (the first registered prefix, in ascending order, whose
vendor contains the text, case-blind).  It prints the address with its
vendor on normal output; without raw sockets it goes no further.
"""

from __future__ import annotations

import os
import string
from collections.abc import Callable

from pynmap.errors import Fatal
from pynmap.services import DataFiles

MAC_FILE = "nmap-mac-prefixes"
_HEX = frozenset(string.hexdigits)
_C_SPACE = b" \t\n\v\f\r"


def load_vendors(files: DataFiles) -> dict[int, bytes]:
    """nmap's MAC prefix table (prefix -> vendor bytes); empty, with nmap's notice, if absent."""
    status, path = files.fetch(MAC_FILE)
    if status != 1:
        files.warn("Cannot find nmap-mac-prefixes: Ethernet vendor correlation will not be "
                   "performed")
        return {}
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        files.warn(f"Unable to open {path}.  Ethernet vendor correlation will not be performed "
                   f": {os.strerror(exc.errno or 0)}")
        return {}
    files.loaded[MAC_FILE] = path
    table: dict[int, bytes] = {}
    for lineno, line in enumerate(data.splitlines(keepends=True), start=1):
        if line.startswith(b"#"):
            continue
        digits = len(line) - len(line.lstrip(b"0123456789abcdefABCDEF"))
        if digits == 0 or digits == len(line) or line[digits] not in _C_SPACE:
            files.warn(f"Parse error on line #{lineno} of {path}. Giving up parsing.")
            break
        prefix = int(line[:digits], 16)
        vendor = line[digits:].lstrip(_C_SPACE).split(b"\n")[0].split(b"\r")[0]
        if prefix not in table:
            table[prefix] = vendor
        elif files.debugging > 1:
            files.warn(f"MAC prefix {prefix:06X} is duplicated in {path}; ignoring duplicates.")
    return table


def spoof_mac_line(spec: str, files: DataFiles,
                   random_bytes: Callable[[int], bytes] = os.urandom) -> str:
    """The "Spoofing MAC address ..." line for --spoof-mac `spec`, or nmap's Fatal."""
    vendors: dict[int, bytes] | None = None
    mac = bytearray()
    if spec != "0":
        i = 0
        while i < len(spec):
            if spec[i] == ":":
                i += 1
            if spec[i:i + 1] in _HEX and spec[i + 1:i + 2] in _HEX:
                if len(mac) >= 6:
                    raise Fatal(f"Bogus --spoof-mac value encountered ({spec}) -- only up to "
                                "6 bytes permitted")
                mac.append(int(spec[i:i + 2], 16))
                i += 2
            else:
                break
        if i < len(spec):  # not a prefix: a vendor's name
            vendors = load_vendors(files)
            wanted = os.fsencode(spec).lower()
            for prefix in sorted(vendors):
                if wanted in vendors[prefix].lower():
                    mac = bytearray(prefix.to_bytes(3, "big"))
                    break
            else:
                raise Fatal("Could not parse as a prefix nor find as a vendor substring the "
                            f"given --spoof-mac argument: {spec}.  If you are giving hex "
                            "digits, there must be an even number of them.")
    mac += random_bytes(6 - len(mac))
    if vendors is None:
        vendors = load_vendors(files)
    vendor = vendors.get(int.from_bytes(mac[:3], "big"))
    name = os.fsdecode(vendor) if vendor is not None else "No registered vendor"
    return f"Spoofing MAC address {':'.join(f'{b:02X}' for b in mac)} ({name})"
