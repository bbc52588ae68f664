"""Start-up: what importing a connect scan's modules must leave out.

Each of these costs milliseconds on every run that does not need it (see
pynmap.plain and the lazy imports in dns, render and cli.app).
"""

from __future__ import annotations

import subprocess
import sys

NOT_ON_THE_SCAN_PATH = (
    "lxml",  # only the tests validate XML
    "pydantic",  # Typer's optional extras
    "rich",
    "concurrent.futures",  # --system-dns threads
    "ctypes",  # interface listing
    "pynmap.resume",  # --resume
    "pynmap.interfaces",
)


def test_a_connect_scan_imports_only_what_it_needs() -> None:
    code = ("import sys, typer, pynmap.cli.app, pynmap.session, pynmap.engine.scan; "
            "print(' '.join(sys.modules))")
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                check=True).stdout.split())
    assert "pynmap.session" in loaded
    assert sorted(loaded.intersection(NOT_ON_THE_SCAN_PATH)) == []
