"""pynmap.cnumbers.c_g against the C library's own printf("%g")."""

from __future__ import annotations

import ctypes
import math

import pytest

from pynmap.cnumbers import c_g

_LIBC = ctypes.CDLL(None)


def _printf_g(value: float) -> str:
    buffer = ctypes.create_string_buffer(64)
    _LIBC.snprintf(buffer, len(buffer), b"%g", ctypes.c_double(value))
    return buffer.value.decode()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (math.nan, "nan"),
        (-math.nan, "-nan"),  # Python's own formatting drops this sign
        (math.inf, "inf"),
        (-math.inf, "-inf"),
        (-0.0, "-0"),
        (0.25, "0.25"),
        (123456789.0, "1.23457e+08"),
        (1e-5, "1e-05"),
    ],
)
def test_c_g_is_printf_g(value: float, expected: str) -> None:
    assert _printf_g(value) == expected  # the oracle agrees with the table
    assert c_g(value) == expected
