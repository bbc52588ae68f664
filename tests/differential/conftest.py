"""Fixtures of the differential tests that scan ports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.loopback_ports import loopback_ports
from tests.support.netns import Netns, NetnsUnavailable, in_ci


@pytest.fixture(scope="module")
def ports_ns(nmap_oracle: str) -> Iterator[Netns]:
    """tests.support.loopback_ports: open, closed, rejected and dropped ports, a down host."""
    try:
        with loopback_ports() as ns:
            yield ns
    except NetnsUnavailable as exc:  # raised while building it, before the yield
        if in_ci():
            pytest.fail(f"cannot build the namespace: {exc}", pytrace=False)
        pytest.skip(f"no namespace: {exc}")
