"""Without namespaces the suite skips locally but fails in CI, saying why."""

from __future__ import annotations

import pytest

from tests.support import netns as netns_support


@pytest.fixture
def not_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(netns_support.os, "geteuid", lambda: 1000)


def test_ci_fails_loudly(not_root: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="need root"), netns_support.netns_for_tests():
        pass


def test_outside_ci_skips(not_root: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="need root"), netns_support.netns_for_tests():
        pass
