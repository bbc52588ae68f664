"""-oJ details that need no network: a list scan (-sL -n sends nothing)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from pynmap.cli.app import run_cli
from pynmap.report import Report


def test_non_utf8_arguments_stay_valid_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A byte that is not UTF-8 in an argument is a \\udcXX escape: the file is
    UTF-8, and reads back to the argument as Python holds it."""
    monkeypatch.chdir(tmp_path)
    odd = "a\udcffb"  # the byte 0xff, as surrogateescape decodes it
    status = run_cli(["pynmap", "-sL", "-n", "--stylesheet", odd, "127.0.0.1", "-oJ", "x.json"],
                     io.StringIO(), io.StringIO(), {})
    assert status == 0
    data = (tmp_path / "x.json").read_bytes()
    report = Report.from_json(data.decode("utf-8"))  # strict: raises on a raw 0xff
    assert report.args is not None and f"--stylesheet {odd} " in report.args
