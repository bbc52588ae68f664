"""The template cache: wherever compiled templates can or cannot be kept, output still comes."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import jinja2
import pytest

from pynmap.output import render

TEMPLATE = "{% macro line(x) %}<{{ x }}>{% endmacro %}"


def _environment(cache: jinja2.BytecodeCache) -> jinja2.Environment:
    return jinja2.Environment(bytecode_cache=cache, loader=jinja2.DictLoader({"t.j2": TEMPLATE}))


def test_compiled_code_is_kept_and_read_back(tmp_path: Path) -> None:
    cache = render._BytecodeCache(str(tmp_path))
    assert _environment(cache).get_template("t.j2").module.line(1) == "<1>"
    assert len(list(tmp_path.iterdir())) == 1
    assert _environment(cache).get_template("t.j2").module.line(2) == "<2>"


def test_a_cache_that_cannot_store_only_costs_a_compile(tmp_path: Path) -> None:
    directory = tmp_path / "gone"
    directory.mkdir()
    cache = render._BytecodeCache(str(directory))
    directory.rmdir()  # Jinja's own cache would raise FileNotFoundError here
    assert _environment(cache).get_template("t.j2").module.line(1) == "<1>"


def test_without_a_cache_home_the_temporary_directory_serves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # no directory can be made under it
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    cache = render._bytecode_cache()
    assert isinstance(cache, jinja2.FileSystemBytecodeCache)
    assert cache.directory == str(tmp_path / f"_jinja2-cache-{os.getuid()}")


def test_macros_are_shared_and_work() -> None:
    assert render.macros("console") is render.macros("console")
    assert render.macros("grepable").finish  # a macro of the file, loaded on demand
