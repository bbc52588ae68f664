"""The errno -> (state, reason) table of reference 2.1, and the trace texts of 3.7."""

from __future__ import annotations

import errno

import pytest

from pynmap.engine.probe import classify
from pynmap.engine.wording import fatal_message, strange_message


@pytest.mark.parametrize(
    ("err", "state", "reason", "host_up"),
    [
        (0, "open", "syn-ack", True),
        (errno.ECONNREFUSED, "closed", "conn-refused", True),
        (errno.ETIMEDOUT, "filtered", "no-response", False),
        (errno.EHOSTDOWN, "filtered", "no-response", False),
        (errno.EHOSTUNREACH, "filtered", "host-unreach", False),
        (errno.ENETUNREACH, "filtered", "net-unreach", False),
        (errno.EACCES, "filtered", "admin-prohibited", False),
        (errno.ENOPROTOOPT, "filtered", "proto-unreach", False),
        (errno.ENONET, "filtered", "dest-unreach", False),
    ],
)
def test_state_and_reason(err: int, state: str, reason: str, host_up: bool) -> None:
    outcome = classify(err)
    assert (outcome.state, outcome.reason, outcome.host_up) == (state, reason, host_up)
    assert not outcome.fatal and not outcome.strange
    assert outcome.errno == err


@pytest.mark.parametrize("err", [errno.ENETDOWN, errno.ENETRESET, errno.ECONNABORTED])
def test_fatal_errnos(err: int) -> None:
    outcome = classify(err)
    assert outcome.fatal and outcome.state is None


def test_fatal_text() -> None:
    assert fatal_message("127.0.0.1", errno.ENETDOWN) == (
        "Strange SO_ERROR from connection to 127.0.0.1 (100 - 'Network is down') -- bailing scan"
    )


def test_unknown_errno_is_strange_and_decides_nothing() -> None:
    outcome = classify(errno.EPIPE)
    assert outcome.strange and outcome.state is None and outcome.host_up is None
    assert strange_message("::1", errno.EPIPE) == "Strange read error from ::1 (32 - 'Broken pipe')"


def test_late_eagain_means_up_but_no_port_state() -> None:
    outcome = classify(errno.EAGAIN)
    assert outcome.host_up is True and outcome.state is None and not outcome.strange


@pytest.mark.parametrize(
    ("err", "text"),
    [
        (0, "Connected"),
        (errno.ECONNREFUSED, "Connection refused"),
        (errno.EHOSTUNREACH, "No route to host"),
        (errno.ENETUNREACH, "Network is unreachable"),
        (errno.ETIMEDOUT, "Connection timed out"),
    ],
)
def test_packet_trace_text(err: int, text: str) -> None:
    assert classify(err).text == text
