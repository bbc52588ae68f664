"""Where the written nmap reference and its golden captures are.

They sit beside the project (`../shared/nmap-reference`), in a working
copy and in CI's clean clone alike; PYNMAP_REFERENCE points elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = Path(os.environ.get("PYNMAP_REFERENCE", ROOT.parent / "shared" / "nmap-reference"))
CASES = REFERENCE / "cases"
