"""A fast path for list-scan (-sL) host reports.

A list scan can name a million addresses, and a Jinja render per address and
per format would cost more than everything else the run does.  The host
templates are therefore rendered once per *shape* of host (address family,
which names are known, whether the typed and PTR names are the same) with
placeholder values, turned into str.format patterns, and then filled in for
each host.  The text is the templates' own, so it cannot drift from them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from pynmap.output.xmlesc import xml_escape
from pynmap.results import HostResult

# Rendered text per format: (normal, grepable, xml); XML values are escaped.
Rendered = tuple[str, str, str]
Shape = tuple[int, bool, bool, bool]

_FIELDS = ("address", "user_name", "ptr_name", "reason")


def mark(field: str) -> str:
    """The placeholder a stencil renders in place of `field`'s value."""
    # Letters, digits, '@' and '_' pass every escaping rule unchanged.
    return f"@@{field}@@"


@functools.cache
def _placeholders(fields: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("@@(" + "|".join(fields) + ")@@")


def to_pattern(text: str, fields: tuple[str, ...] = _FIELDS) -> str:
    """Text rendered with the placeholders of `fields`, as a str.format pattern.

    Only those markers become fields: anything else that looks like one
    (a service name from a user's --servicedb, say) stays text.
    """
    text = text.replace("{", "{{").replace("}", "}}")
    return _placeholders(fields).sub(lambda m: "{" + m.group(1) + "}", text)


def to_percent_pattern(text: str, fields: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    """Text rendered with the placeholders of `fields`, as a `%(field)s` pattern
    (printf-style formatting fills a long text in half the time str.format
    does), and the fields it names, each once, in `fields`' order."""
    placeholders = _placeholders(fields)
    used = set(placeholders.findall(text))
    pattern = placeholders.sub(lambda m: "%(" + m.group(1) + ")s", text.replace("%", "%%"))
    return pattern, tuple(name for name in fields if name in used)


class ListStencil:
    """Replays `render` (the full template path) for list-scan hosts."""

    def __init__(self, render: Callable[[HostResult], Rendered]) -> None:
        self._render = render
        self._patterns: dict[Shape, tuple[str, str, str]] = {}

    @staticmethod
    def shape(host: HostResult) -> Shape | None:
        """The host's shape, or None when it needs the full renderer."""
        if host.other_addresses and host.user_name:
            return None
        if host.times.srtt != -1 or host.times.rttvar != -1:
            return None
        user = host.user_name or ""
        ptr = host.ptr_name or ""
        return (host.family, bool(user), bool(ptr), bool(user) and user == ptr)

    def _build(self, shape: Shape) -> tuple[str, str, str]:
        family, has_user, has_ptr, same = shape
        ptr_field = "user_name" if same else "ptr_name"
        fake = HostResult(
            address=mark("address"),
            family=family,
            status="unknown",
            reason=mark("reason"),
            user_name=mark("user_name") if has_user else None,
            ptr_name=mark(ptr_field) if has_ptr else None,
        )
        normal, grepable, xml = self._render(fake)
        return (to_pattern(normal), to_pattern(grepable), to_pattern(xml))

    def render(self, host: HostResult, *, xml: bool = True) -> Rendered | None:
        """The host's (normal, grepable, xml) text; xml is "" unless asked for."""
        shape = self.shape(host)
        if shape is None:
            return None
        patterns = self._patterns.get(shape)
        if patterns is None:
            patterns = self._patterns[shape] = self._build(shape)
        values = {
            "address": host.address,
            "user_name": host.user_name or "",
            "ptr_name": host.ptr_name or "",
            "reason": host.reason,
        }
        normal, grepable, xml_pattern = patterns
        xml_text = ""
        if xml:
            escaped = {key: xml_escape(value) for key, value in values.items()}
            xml_text = xml_pattern.format_map(escaped)
        return (normal.format_map(values), grepable.format_map(values), xml_text)
