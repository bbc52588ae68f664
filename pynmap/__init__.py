"""pynmap: a drop-in replacement for nmap -sT (the TCP connect scan).

The command line is `pynmap` (or `python -m pynmap`), with nmap's own options.
"""

from __future__ import annotations

__version__ = "0.1.0"

# The nmap release whose behaviour pynmap reproduces (banner, XML version).
NMAP_VERSION = "7.93"
