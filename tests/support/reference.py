"""Where the written nmap reference and its golden captures are.

They are part of the project (`tests/reference/`, see its README for where
they came from and how to capture more), so a clone with nothing beside it
has them; PYNMAP_REFERENCE points elsewhere, e.g. at fresh captures.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = Path(os.environ.get("PYNMAP_REFERENCE", ROOT / "tests" / "reference"))
CASES = REFERENCE / "cases"
# nmap's -sV output for the renderers (tools/capture_sv.py records it)
SERVICE = REFERENCE / "service"
