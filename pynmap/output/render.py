"""The Jinja environment and the compiled output templates.

Templates live in `templates/` at the top of the repository (an installed
wheel carries them as `pynmap/templates`).  Each format is one file of
macros, one macro per kind of event (header, host, trailer ...); they are
compiled once per process, when first used, and shared by every Reporter.
Compiling them costs more than a small scan, so the compiled code is kept
in the user's cache directory (Jinja checks it against the template
source); where that directory cannot be written, in Jinja's per-user
directory under the temporary directory, and failing that nowhere.
"""

from __future__ import annotations

import contextlib
import os
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2.bccache import Bucket

from pynmap import NMAP_VERSION
from pynmap.output.context import table_cells
from pynmap.output.xmlesc import xml_escape

_HERE = Path(__file__).resolve().parent


def template_dirs() -> list[Path]:
    candidates = (_HERE.parent / "templates", _HERE.parent.parent / "templates")
    return [d for d in candidates if (d / "normal.j2").is_file()]


class _BytecodeCache(jinja2.FileSystemBytecodeCache):
    """Jinja's file cache, except that compiled code that cannot be stored (a
    full disk, a read-only file system) only means compiling it next time."""

    def dump_bytecode(self, bucket: Bucket) -> None:
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    directory = os.path.join(base, "pynmap", f"templates-{jinja2.__version__}")
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        if os.access(directory, os.W_OK | os.X_OK):
            return _BytecodeCache(directory)
    except OSError:
        pass
    # No usable cache directory (a read-only or missing home): Jinja's own
    # per-user directory in the temporary directory, which it checks is ours.
    try:
        return _BytecodeCache()
    except (OSError, RuntimeError):
        return None


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        bytecode_cache=_bytecode_cache(),
        loader=jinja2.FileSystemLoader([str(d) for d in template_dirs()]),
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        auto_reload=False,
    )
    env.filters["xa"] = xml_escape
    env.filters["cells"] = table_cells
    env.globals["VERSION"] = NMAP_VERSION
    env.globals["TAB"] = "\t"
    return env


class _Macros:
    """One template file's macros, loaded when the first one is called: a run
    without -oG or -oX never loads (or, with a cold cache, compiles) those
    templates."""

    __slots__ = ("_module", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: Any = None

    def load(self) -> None:
        """Load the file now (reading it takes a descriptor for a moment)."""
        if self._module is None:
            self._module = environment().get_template(f"{self._name}.j2").module

    def __getattr__(self, macro: str) -> Any:
        self.load()
        return getattr(self._module, macro)


@cache
def macros(name: str) -> Any:
    """The macros of one template file (`normal`, `grepable`, `xml`, `console`)."""
    return _Macros(name)
