"""The Jinja environment and the compiled output templates.

Templates live in `templates/` at the top of the repository (an installed
wheel carries them as `pynmap/templates`).  Each format is one file of
macros, one macro per kind of event (header, host, trailer ...); they are
compiled once per process and shared by every Reporter.
"""

from __future__ import annotations

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


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
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
