"""Benchmarks: run with `sudo .venv/bin/pytest benchmarks -s` (root builds the namespace).

PYNMAP_BENCH_ROUNDS sets the rounds per program (default 5).  The table of
all workloads is printed at the end of the session.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.harness import RESULTS, format_table  # noqa: E402
from tests.support.netns import Netns, netns_for_tests  # noqa: E402


@pytest.fixture(scope="session")
def bench_ns() -> Iterator[Netns]:
    """A namespace with lo only: for workloads that need no listener."""
    with netns_for_tests("pynmap-b") as ns:
        yield ns


@pytest.fixture(scope="session")
def rounds() -> int:
    return max(1, int(os.environ.get("PYNMAP_BENCH_ROUNDS", "5")))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if RESULTS:
        terminalreporter.section("nmap vs pynmap")
        terminalreporter.write_line(format_table(RESULTS))
