"""Suite-wide fixtures: the shared network namespace and the nmap oracle."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# pytest (prepend import mode) puts only tests/ on sys.path; the helpers are
# imported as `tests.support...`, which needs the repository root there.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.netns import NMAP, Netns, in_ci, netns_for_tests  # noqa: E402


@pytest.fixture
def utc() -> Iterator[None]:
    """The process's time zone set to UTC for one test (nmap's captures print UTC times)."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


@pytest.fixture(scope="session")
def netns() -> Iterator[Netns]:
    """One namespace (lo only, DNS to nowhere) shared by the tests that need no listeners."""
    with netns_for_tests("pynmap-t") as ns:
        yield ns


@pytest.fixture(scope="session")
def nmap_oracle() -> str:
    """The path of the real nmap; its absence fails in CI and skips elsewhere."""
    if not os.access(NMAP, os.X_OK):
        message = f"{NMAP} is not installed (apt-get install nmap)"
        if in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return NMAP


@pytest.fixture
def oracle_ns(netns: Netns, nmap_oracle: str) -> Netns:
    """The namespace, once nmap is known to be there: what differential tests ask for."""
    return netns
