"""The one table of options, Options frozen once parsed, the run state the keys
change, and the layering: the modules under the command line do not import it.

nmap's behaviour for each option (messages, their order, exit codes) is
checked against nmap itself by tests/differential/test_bad_args.py and
test_fuzz_argv.py; these tests check the table's own invariants.
"""

from __future__ import annotations

import ast
import dataclasses
import io
from pathlib import Path

import pytest

import pynmap
from pynmap.errors import NmapError
from pynmap.getopt import NO_ARG, OPTIONAL_ARG
from pynmap.options import (
    LONG_OPTIONS,
    OPTION_TABLE,
    PYNMAP_LONG_OPTIONS,
    SHORT_OPTIONS,
    Options,
    parse_options,
)
from pynmap.session import RunState, Session

PACKAGE = Path(pynmap.__file__).parent


def parse(*args: str) -> Options:
    return parse_options(["nmap", *args], warn=lambda _: None, say=lambda _: None,
                         usage=lambda: "", version=lambda: "")


def test_the_table_gives_nmaps_short_option_string() -> None:
    # nmap 7.93's getopt_long_only option string (nmap.cc)
    assert SHORT_OPTIONS == "46Ab:D:d::e:Ffg:hIi:M:m:nO::o:P::p:qRrS:s::T:Vv::"
    assert [name for name, _, _ in PYNMAP_LONG_OPTIONS] == [
        "oJ", "json-lines", "shard", "seed", "cluster", "cluster-ca", "cluster-cert",
        "cluster-key", "cluster-shards"]


def test_every_name_has_a_handler() -> None:
    handled = {row.name for row in OPTION_TABLE if row.handle is not None}
    for row in OPTION_TABLE:
        assert (row.handle is None) == (row.stands_for is not None), row
        assert row.stands_for is None or row.stands_for in handled, row
    assert len({row.name for row in OPTION_TABLE}) == len(OPTION_TABLE)
    assert len(LONG_OPTIONS) + len(PYNMAP_LONG_OPTIONS) + len(SHORT_OPTIONS.replace(":", "")) \
        == len(OPTION_TABLE)


# Arguments that would touch the network or stdin at parse time (a source
# address or proxy is resolved, -iL - reads stdin): not used here.
NOT_HERE = {"S", "proxies", "proxy", "i", "iL"}


@pytest.mark.parametrize("row", [r for r in OPTION_TABLE if r.name not in NOT_HERE],
                         ids=lambda r: r.name)
def test_each_row_sets_only_fields_that_exist(row: object, tmp_path: Path) -> None:
    """Shared handlers name fields as text (_set, _store, Bounded, TimeLimit): a
    misspelt one must fail here, not be set quietly."""
    from pynmap.options import Opt

    assert isinstance(row, Opt)
    spelled = ("-" if len(row.name) == 1 else "--") + row.name
    words = [spelled] if row.arg in (NO_ARG, OPTIONAL_ARG) else [spelled, "2"]
    for args in (words, [*words[:1], f"{tmp_path}/x"] if len(words) == 2 else words):
        try:
            options = parse("-sL", "-n", *args, "127.0.0.1")
        except NmapError:
            continue
        assert set(vars(options)) <= {*Options.__annotations__, "_frozen"}


def test_options_are_frozen_once_parsed() -> None:
    options = parse("-v", "-p", "22", "127.0.0.1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.verbosity = 3
    changed = options.replace(verbosity=3)
    assert (options.verbosity, changed.verbosity, changed.port_spec) == (1, 3, "22")
    with pytest.raises(dataclasses.FrozenInstanceError):
        changed.fast = True
    with pytest.raises(TypeError):
        options.replace(no_such_field=1)


class _Reporter:
    def __init__(self) -> None:
        self.adjusted: list[dict[str, object]] = []
        self.lines: list[str] = []

    def adjust(self, **changes: object) -> None:
        self.adjusted.append(changes)

    def interactive(self, text: str) -> None:
        self.lines.append(text)


def test_keys_change_the_run_state_not_the_options() -> None:
    options = parse("-v", "127.0.0.1")
    session = Session(options, stdout=io.StringIO(), stderr=io.StringIO())
    reporter = _Reporter()
    session.reporter = reporter  # type: ignore[assignment]
    for key in "vvdpD":
        assert session._key_pressed(key) is False
    assert session.state == RunState(verbosity=3, debugging=0, packet_trace=True)
    assert (options.verbosity, options.debugging, options.packet_trace) == (1, 0, False)
    assert reporter.lines[:2] == ["Verbosity Increased to 2.", "Verbosity Increased to 3."]
    assert reporter.adjusted[-1] == {"debugging": 0}


# -- layering --------------------------------------------------------------------------------
BELOW_THE_CLI = ("pynmap.options", "pynmap.session", "pynmap.resume", "pynmap.command_line",
                 "pynmap.getopt")


def _module_file(name: str) -> Path | None:
    parts = name.split(".")[1:]
    for candidate in (PACKAGE.joinpath(*parts).with_suffix(".py"),
                      PACKAGE.joinpath(*parts, "__init__.py")):
        if parts and candidate.is_file():
            return candidate
    return None


def imported_modules(name: str) -> set[str]:
    """Every pynmap module `name` imports, at the top or inside a function."""
    path = _module_file(name)
    assert path is not None, name
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name.split(".")[: -node.level] if path.name != "__init__.py" \
                    else name.split(".")[: len(name.split(".")) - node.level + 1]
                base = ".".join([*package, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names
                         if _module_file(f"{base}.{alias.name}") is not None)
    return {m for m in found if m.startswith("pynmap.") and _module_file(m) is not None}


def test_nothing_below_the_command_line_imports_it() -> None:
    """options, session, resume (and what they import, all the way down) never
    import pynmap.cli: the command line is one client of them, as the API is."""
    via: dict[str, str] = {}
    todo = list(BELOW_THE_CLI)
    seen = set(todo)
    while todo:
        module = todo.pop()
        for imported in imported_modules(module):
            if imported not in seen:
                seen.add(imported)
                via[imported] = module
                todo.append(imported)
    reached_cli = sorted(m for m in seen if m == "pynmap.cli" or m.startswith("pynmap.cli."))
    chains = []
    for module in reached_cli:
        chain = [module]
        while chain[-1] in via:
            chain.append(via[chain[-1]])
        chains.append(" <- ".join(chain))
    assert chains == []
    assert "pynmap.engine.scan" in seen  # the walk does follow imports inside functions
