"""Formats sharing stdout: each format's text cut into nmap's pieces, in nmap's order.

The expected texts are nmap 7.93's own stdout (unprivileged, loopback,
`-oN - -oG -` and `-oX - -oN -`); the inputs are what it writes for the
same host to each format alone.
"""

from __future__ import annotations

from pynmap.output.interleave import header_pieces, host_pieces, split_xml_end


def _joined(pieces: list[tuple[str, str]]) -> str:
    return "".join(text for _, text in pieces)


NORMAL = """\
Nmap scan report for 127.0.0.1
Host is up (0.000057s latency).

PORT   STATE  SERVICE
21/tcp closed ftp
22/tcp open   ssh
23/tcp closed telnet

"""
GREPABLE = """\
Host: 127.0.0.1 ()\tStatus: Up
Host: 127.0.0.1 ()\tPorts: 21/closed/tcp//ftp///, 22/open/tcp//ssh///, 23/closed/tcp//telnet///
"""
NORMAL_GREPABLE = """\
Nmap scan report for 127.0.0.1
Host is up (0.000057s latency).
Host: 127.0.0.1 ()\tStatus: Up
Host: 127.0.0.1 ()
\tPorts: 21/closed/tcp//ftp///, 22/open/tcp//ssh///, 23/closed/tcp//telnet///PORT   STATE  SERVICE
21/tcp closed ftp
22/tcp open   ssh
23/tcp closed telnet


"""


def test_a_grepable_ports_line_runs_into_the_port_table() -> None:
    pieces = host_pieces("port", [("normal", NORMAL), ("grepable", GREPABLE)])
    assert _joined(pieces) == NORMAL_GREPABLE


def test_the_scan_initiated_lines_are_written_in_three_calls() -> None:
    line = "# Nmap 7.93 scan initiated Wed Nov 25 10:23:39 2026 as: nmap -oN - -oG - 127.0.0.1\n"
    merged = _joined(header_pieces([("normal", line), ("grepable", line)]))
    assert merged == "# # " + line[2:-1] + line[2:-1] + "\n\n"


NORMAL_COLLAPSED = """\
Nmap scan report for 127.0.0.1
Host is up (0.00011s latency).
Not shown: 30 filtered tcp ports (no-response), 1 filtered tcp ports (host-unreach), \
29 closed tcp ports (conn-refused)
PORT   STATE SERVICE
22/tcp open  ssh

"""
XML_COLLAPSED = """\
<host starttime="1795602685" endtime="1795602686"><status state="up" reason="conn-refused" \
reason_ttl="0"/>
<address addr="127.0.0.1" addrtype="ipv4"/>
<hostnames>
</hostnames>
<ports><extraports state="filtered" count="31">
<extrareasons reason="no-response" count="30" proto="tcp" ports="45000-45029"/>
<extrareasons reason="host-unreach" count="1" proto="tcp" ports="44445"/>
</extraports>
<extraports state="closed" count="29">
<extrareasons reason="conn-refused" count="29" proto="tcp" ports="1-21,23-30"/>
</extraports>
<port protocol="tcp" portid="22"><state state="open" reason="syn-ack" reason_ttl="0"/>\
<service name="ssh" method="table" conf="3"/></port>
</ports>
<times srtt="109" rttvar="44" to="100000"/>
</host>
"""
XML_NORMAL_COLLAPSED = """\
<host starttime="1795602685" endtime="1795602686">Nmap scan report for 127.0.0.1
<status state="up" reason="conn-refused" reason_ttl="0"/>
<address addr="127.0.0.1" addrtype="ipv4"/>
<hostnames>
</hostnames>
Host is up (0.00011s latency).
<ports><extraports state="filtered" count="31">
Not shown: <extrareasons reason="no-response" count="30" proto="tcp" ports="45000-45029"/>
30 filtered tcp ports (no-response)<extrareasons reason="host-unreach" count="1" proto="tcp" \
ports="44445"/>
, 1 filtered tcp ports (host-unreach)</extraports>
<extraports state="closed" count="29">
, <extrareasons reason="conn-refused" count="29" proto="tcp" ports="1-21,23-30"/>
29 closed tcp ports (conn-refused)</extraports>

<port protocol="tcp" portid="22"><state state="open" reason="syn-ack" reason_ttl="0"/>\
<service name="ssh" method="table" conf="3"/></port>
</ports>
PORT   STATE SERVICE
22/tcp open  ssh
<times srtt="109" rttvar="44" to="100000"/>

</host>
"""


def test_collapsed_states_interleave_reason_by_reason() -> None:
    pieces = host_pieces("port", [("normal", NORMAL_COLLAPSED), ("xml", XML_COLLAPSED)])
    assert _joined(pieces) == XML_NORMAL_COLLAPSED


def test_each_format_keeps_its_own_text() -> None:
    pieces = host_pieces("port", [("normal", NORMAL_COLLAPSED), ("xml", XML_COLLAPSED)])
    assert "".join(t for f, t in pieces if f == "normal") == NORMAL_COLLAPSED
    assert "".join(t for f, t in pieces if f == "xml") == XML_COLLAPSED


def test_nmap_done_goes_inside_the_root_element() -> None:
    head, tail = split_xml_end("<runstats>...</runstats>\n</nmaprun>\n")
    assert (head, tail) == ("<runstats>...</runstats>\n", "</nmaprun>\n")
