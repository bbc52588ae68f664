"""pynmap.cli.app.program_name: the word nmap's argv[0] would be (see its docstring)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pynmap.cli.app import program_name


def _executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_python_dash_m_is_pynmap() -> None:
    assert program_name("/usr/lib/python3/dist-packages/pynmap/__main__.py", "/usr/bin") == "pynmap"


def test_a_bare_name_stays_bare() -> None:
    assert program_name("nmap", "/nowhere") == "nmap"


def test_the_path_that_path_finds_prints_as_the_bare_name(tmp_path: Path) -> None:
    script = _executable(tmp_path / "bin" / "pynmap")
    assert program_name(str(script), f"/nonexistent:{script.parent}:/usr/bin") == "pynmap"


def test_a_path_that_path_does_not_find_is_kept(tmp_path: Path) -> None:
    first = _executable(tmp_path / "first" / "pynmap")
    second = _executable(tmp_path / "second" / "pynmap")
    search = f"{first.parent}:{second.parent}"
    assert program_name(str(second), search) == str(second)  # shadowed by the first
    assert program_name(str(first), "/usr/bin") == str(first)
    # the same file, spelled otherwise than PATH would build it
    odd = f"{tmp_path}/first/../first/pynmap"
    assert program_name(odd, search) == odd


def test_relative_and_empty_path_entries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _executable(tmp_path / "bin" / "pynmap")
    _executable(tmp_path / "pynmap")
    assert program_name("bin/pynmap", "bin:/usr/bin") == "pynmap"
    assert program_name("./bin/pynmap", "bin:/usr/bin") == "./bin/pynmap"
    assert program_name("./pynmap", ":/usr/bin") == "pynmap"  # a shell's "." for ""
    assert program_name("./pynmap", "/usr/bin") == "./pynmap"
