"""The Jinja environment and the compiled output templates.

Templates live in `templates/` at the top of the repository (an installed
wheel carries them as `pynmap/templates`).  Each format is one file of
macros, one macro per kind of event (header, host, trailer ...); they are
compiled once per process and shared by every Reporter.  Compiling them
costs more than a small scan, so the compiled code is kept in the user's
cache directory (Jinja checks it against the template source); where that
directory cannot be written, templates are simply compiled each time.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from pynmap.output.context import table_cells
from pynmap.output.xmlesc import xml_escape

NMAP_VERSION = "7.93"

_HERE = Path(__file__).resolve().parent


def template_dirs() -> list[Path]:
    candidates = (_HERE.parent / "templates", _HERE.parent.parent / "templates")
    return [d for d in candidates if (d / "normal.j2").is_file()]


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    directory = os.path.join(base, "pynmap", f"templates-{jinja2.__version__}")
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
    except OSError:
        return None
    if not os.access(directory, os.W_OK | os.X_OK):
        return None
    return jinja2.FileSystemBytecodeCache(directory)


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


@cache
def macros(name: str) -> Any:
    """The macros of one template file (`normal`, `grepable`, `xml`, `console`)."""
    return environment().get_template(f"{name}.j2").module
