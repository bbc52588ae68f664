"""The list-scan fast path must print exactly what the templates print."""

from __future__ import annotations

import socket

from hypothesis import given, settings
from hypothesis import strategies as st

from pynmap.output.context import ViewOptions, build_host_view
from pynmap.output.render import macros
from pynmap.output.stencil import ListStencil, Rendered
from pynmap.results import HostResult, Times

OPTS = ViewOptions()


def full_render(host: HostResult) -> Rendered:
    view = build_host_view(host, "list", OPTS, lambda port: None)
    return (
        macros("normal").host(view, False),
        macros("grepable").host(view),
        macros("xml").host(view),
    )


names = st.one_of(
    st.none(),
    st.sampled_from(
        ["localhost", "alpha.lab.test", "a--b", "{x}", "@@address@@", "caf\u00e9", "a&b<c>"]
    ),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12),
)


@settings(max_examples=300, deadline=None)
@given(
    address=st.sampled_from(["127.0.0.1", "10.0.0.255", "::1", "fd00:18::5"]),
    user_name=names,
    ptr_name=names,
    same=st.booleans(),
)
def test_fast_path_equals_templates(
    address: str, user_name: str | None, ptr_name: str | None, same: bool
) -> None:
    if same:
        ptr_name = user_name
    host = HostResult(
        address=address,
        family=socket.AF_INET6 if ":" in address else socket.AF_INET,
        reason="user-set",
        user_name=user_name,
        ptr_name=ptr_name,
    )
    stencil = ListStencil(full_render)
    assert stencil.render(host) == full_render(host)
    # the cached pattern serves the next host of the same shape as well
    assert stencil.render(host) == full_render(host)


def test_hosts_with_other_addresses_or_times_take_the_full_path() -> None:
    stencil = ListStencil(full_render)
    other = HostResult(
        "127.0.0.2", socket.AF_INET, user_name="multi.lab.test", other_addresses=("127.0.0.3",)
    )
    assert stencil.render(other) is None
    timed = HostResult("127.0.0.2", socket.AF_INET, times=Times(srtt=5, rttvar=5000))
    assert stencil.render(timed) is None
