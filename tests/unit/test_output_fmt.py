"""Value formatters, checked against the examples the reference gives (2.3, 3.6, 4, 5.1)."""

from __future__ import annotations

import pytest

from pynmap.output import fmt
from pynmap.output.xmlesc import xml_escape


@pytest.mark.parametrize(
    ("micros", "text"),
    [
        (83, "0.000083"),
        (120, "0.00012"),
        (1100, "0.0011"),
        (12000, "0.012"),
        (100000, "0.10"),
        (1500000, "1.5"),
        (12000000, "12"),
        (96, "0.000096"),
        (110, "0.00011"),
        (65, "0.000065"),
    ],
)
def test_latency_has_two_significant_digits(micros: int, text: str) -> None:
    assert fmt.sigdigits(micros / 1e6) == text


def test_zero_latency() -> None:
    assert fmt.sigdigits(0.0) == "0.00"


def test_join_quoted_quotes_only_words_with_whitespace() -> None:
    # cases/stylesheet_custom and cases/xml_escaping, before XML escaping.
    assert (
        fmt.join_quoted(["nmap", "--stylesheet", "my style.xsl"])
        == 'nmap --stylesheet "my style.xsl"'
    )
    assert fmt.join_quoted(["--stylesheet", 'a&b<c>"q".xsl']) == '--stylesheet a&b<c>\\"q\\".xsl'
    assert fmt.join_quoted(["-p", "http*"]) == "-p http*"
    assert fmt.join_quoted(["a\\b", "tab\there"]) == 'a\\\\b "tab\there"'


def test_port_ranges_compress_runs() -> None:
    assert fmt.port_ranges([1, 2, 3, 4, 5, 25, 65530, 65531]) == "1-5,25,65530-65531"
    assert fmt.port_ranges([22, 80, 3306, 8080]) == "22,80,3306,8080"
    assert fmt.port_ranges([]) == ""
    assert fmt.port_ranges([0, 1, 2, 3]) == "0-3"


def test_hosts_summary_singular_and_plural() -> None:
    assert fmt.hosts_summary(1, 1) == "1 IP address (1 host up)"
    assert fmt.hosts_summary(4, 0) == "4 IP addresses (0 hosts up)"
    assert fmt.hosts_summary(0, 0) == "0 IP addresses (0 hosts up)"
    assert fmt.hosts_summary(2, 1) == "2 IP addresses (1 host up)"


def test_times_in_nmap_formats(utc: None) -> None:
    # cases/reason: start="1795576136", "Wed Nov 25 03:08:56 2026", banner "2026-11-25 03:08 UTC"
    assert fmt.ctime(1795576136) == "Wed Nov 25 03:08:56 2026"
    assert fmt.banner_time(1795576136.9) == "2026-11-25 03:08 UTC"
    assert fmt.seconds_time(1795576136) == "2026-11-25 03:08:56 UTC"
    assert fmt.hhmm(1795576136) == "03:08"
    # ctime pads the day with a space
    assert fmt.ctime(1793670000) == "Tue Nov  3 01:40:00 2026"


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("nmap -sT --reason", "nmap -sT -&#45;reason"),
        ("---", "-&#45;&#45;"),
        ('a&b<c>\\"q\\".xsl', "a&amp;b&lt;c&gt;\\&quot;q\\&quot;.xsl"),
        ("it's", "it&apos;s"),
        ("tab\there", "tab&#x9;here"),
        ("bit length.\n", "bit length.&#xa;"),
        ("caf\u00e9", "caf&#xc3;&#xa9;"),
        ("del\x7f", "del\x7f"),
        ("- -", "- -"),
        ("plain text 127.0.0.1", "plain text 127.0.0.1"),
    ],
)
def test_xml_escape(raw: str, escaped: str) -> None:
    assert xml_escape(raw) == escaped
