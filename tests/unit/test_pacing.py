"""Which pacing a run gets (pynmap/pacing.py)."""

from __future__ import annotations

import pytest

from pynmap.pacing import NMAP, PYNMAP, choose_pacing


@pytest.mark.parametrize(
    ("name", "shows_probes", "chosen"),
    [
        (None, False, PYNMAP),
        (None, True, NMAP),  # --packet-trace or -d2: nmap's probe order
        ("nmap", False, NMAP),
        ("pynmap", True, PYNMAP),  # asked for by name
        ("bogus", False, PYNMAP),
    ],
)
def test_the_pacing_a_run_gets(name: str | None, shows_probes: bool, chosen: object) -> None:
    assert choose_pacing(name, shows_probes=shows_probes) is chosen
