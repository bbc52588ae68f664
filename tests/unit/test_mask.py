"""The shared output mask hides run-dependent times and nothing else."""

from __future__ import annotations

import pytest

from tests.support.mask import mask

# Shaped like the reference captures (cases/oA, cases/debug): two runs of the
# same scan at different moments and speeds.
NORMAL_A = """\
Starting Nmap 7.93 ( https://nmap.org ) at 2026-11-25 03:09 UTC
Initiating Connect Scan at 03:09
Completed Connect Scan at 03:09, 0.00s elapsed (12 total ports)
Overall sending rates: 23809.52 packets / s.
DNS resolution of 3 IPs took 0.00s. Mode: Async [#: 1, OK: 2, NX: 1, DR: 0, SF: 0, TR: 3, CN: 0]
Nmap scan report for localhost (127.0.0.1)
Host is up, received conn-refused (0.000092s latency).
Scanned at 2026-11-25 03:09:36 UTC for 0s
PORT     STATE SERVICE
22/tcp   open  ssh
3306/tcp open  mysql
Final times for host: srtt: 92 rttvar: 227  to: 100000
Nmap done: 1 IP address (1 host up) scanned in 0.04 seconds
"""

NORMAL_B = """\
Starting Nmap 7.93 ( https://nmap.org ) at 2027-01-02 23:59 UTC
Initiating Connect Scan at 23:59
Completed Connect Scan at 00:00, 12.34s elapsed (12 total ports)
Overall sending rates: 5.00 packets / s.
DNS resolution of 3 IPs took 10.25s. Mode: Async [#: 1, OK: 2, NX: 1, DR: 0, SF: 0, TR: 3, CN: 0]
Nmap scan report for localhost (127.0.0.1)
Host is up, received conn-refused (0.0013s latency).
Scanned at 2027-01-02 23:59:58 UTC for 14s
PORT     STATE SERVICE
22/tcp   open  ssh
3306/tcp open  mysql
Final times for host: srtt: 1234 rttvar: 5  to: 200000
Nmap done: 1 IP address (1 host up) scanned in 14.20 seconds
"""

XML_A = """\
<!-- Nmap 7.93 scan initiated Wed Nov 25 03:09:02 2026 as: pynmap -sT -p 22 -oX - 127.0.0.1 -->
<nmaprun scanner="nmap" args="pynmap -sT -p 22 -oX - 127.0.0.1" start="1795576142" \
startstr="Wed Nov 25 03:09:02 2026" version="7.93" xmloutputversion="1.05">
<taskbegin task="Connect Scan" time="1795576142"/>
<taskprogress task="Connect Scan" time="1795576143" percent="5.00" remaining="19" etc="1795576162"/>
<host starttime="1795576142" endtime="1795576142"><status state="up" reason="conn-refused" \
reason_ttl="0"/>
<times srtt="127" rttvar="119" to="100000"/>
<runstats><finished time="1795576142" timestr="Wed Nov 25 03:09:02 2026" summary="Nmap done at \
Wed Nov 25 03:09:02 2026; 1 IP address (1 host up) scanned in 0.04 seconds" elapsed="0.04" \
exit="success"/>
"""

XML_B = """\
<!-- Nmap 7.93 scan initiated Thu Dec  3 17:00:59 2026 as: pynmap -sT -p 22 -oX - 127.0.0.1 -->
<nmaprun scanner="nmap" args="pynmap -sT -p 22 -oX - 127.0.0.1" start="1796317259" \
startstr="Thu Dec  3 17:00:59 2026" version="7.93" xmloutputversion="1.05">
<taskbegin task="Connect Scan" time="1796317259"/>
<taskprogress task="Connect Scan" time="1796317261" percent="5.00" remaining="3" etc="1796317264"/>
<host starttime="1796317259" endtime="1796317300"><status state="up" reason="conn-refused" \
reason_ttl="0"/>
<times srtt="80" rttvar="3751" to="115004"/>
<runstats><finished time="1796317300" timestr="Thu Dec  3 17:01:40 2026" summary="Nmap done at \
Thu Dec  3 17:01:40 2026; 1 IP address (1 host up) scanned in 41.20 seconds" elapsed="41.20" \
exit="success"/>
"""

GREPABLE_A = """\
# Nmap 7.93 scan initiated Wed Nov 25 03:09:02 2026 as: pynmap -sT -oG - 127.0.0.1
Host: 127.0.0.1 (localhost)\tPorts: 22/open/tcp//ssh///\tIgnored State: closed (99)
# Nmap done at Wed Nov 25 03:09:02 2026 -- 1 IP address (1 host up) scanned in 0.04 seconds
"""

GREPABLE_B = GREPABLE_A.replace("Wed Nov 25 03:09:02", "Sun Mar  1 10:00:00").replace(
    "0.04 seconds", "100.50 seconds"
)

PROGRESS_A = """\
Stats: 0:00:01 elapsed; 0 hosts completed (1 up), 1 undergoing Connect Scan
Connect Scan Timing: About 5.00% done; ETC: 01:41 (0:00:19 remaining)
CONN (0.0314s) TCP localhost > 127.0.0.1:80 => Operation now in progress
"""

PROGRESS_B = """\
Stats: 1:02:03 elapsed; 0 hosts completed (1 up), 1 undergoing Connect Scan
Connect Scan Timing: About 5.00% done; ETC: 13:07 (10:00:00 remaining)
CONN (12.5000s) TCP localhost > 127.0.0.1:80 => Operation now in progress
"""

PAIRS = [
    (NORMAL_A, NORMAL_B),
    (XML_A, XML_B),
    (GREPABLE_A, GREPABLE_B),
    (PROGRESS_A, PROGRESS_B),
]


@pytest.mark.parametrize(("first", "second"), PAIRS, ids=["normal", "xml", "grepable", "progress"])
def test_runs_differing_only_in_time_compare_equal(first: str, second: str) -> None:
    assert first != second
    assert mask(first) == mask(second)


@pytest.mark.parametrize(
    "text",
    [
        "( https://nmap.org ) at 2026-11-25 03:09 UTC",
        "Initiating Connect Scan at 03:09",
        "Wed Nov 25 03:09:03 2026",
        "Thu Dec  3 17:00:59 2026",
        '<e start="1795576143"/>',
        '<e startstr="Wed Nov 25 03:09:03 2026"/>',
        '<e time="1795576143"/>',
        '<e timestr="Wed Nov 25 03:09:03 2026"/>',
        '<e starttime="1795576142"/>',
        '<e endtime="1795576142"/>',
        "scanned in 0.04 seconds",
        '<e elapsed="0.04"/>',
        "0.00s elapsed",
        "(0.000083s latency)",
        "(1e-05s latency)",
        '<times srtt="127" rttvar="119" to="100000"/>',
        "%D=12/7%Time=6B162225%",
    ],
)
def test_each_time_field_is_masked(text: str) -> None:
    masked = mask(text)
    assert masked != text
    # no digit of the run-dependent value survives
    assert not any(ch.isdigit() for ch in masked), masked


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("22/tcp   open  ssh", "23/tcp   open  ssh"),  # a port number
        ("3306/tcp open  mysql", "3306/tcp closed mysql"),  # a state
        ("for localhost (127.0.0.1)", "for vm.lab.test (127.0.0.1)"),  # a host name
        ("(127.0.0.1)", "(127.0.0.2)"),  # an address
        ("(12 total ports)", "(13 total ports)"),  # a count next to a masked time
        ("1 IP address (1 host up)", "1 IP address (0 hosts up)"),  # the summary
        ("Starting Nmap 7.93", "Starting Nmap 7.94"),  # the version
    ],
)
def test_real_differences_stay_visible_in_normal_output(old: str, new: str) -> None:
    assert old in NORMAL_A
    assert mask(NORMAL_A) != mask(NORMAL_A.replace(old, new))


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('args="pynmap -sT -p 22', 'args="pynmap -sT -p 23'),  # the logged command
        ('reason="conn-refused"', 'reason="syn-ack"'),
        ('percent="5.00"', 'percent="6.00"'),
        ('task="Connect Scan"', 'task="Ping Scan"'),
        ("1 IP address (1 host up)", "2 IP addresses (1 host up)"),
    ],
)
def test_real_differences_stay_visible_in_xml(old: str, new: str) -> None:
    assert old in XML_A
    assert mask(XML_A) != mask(XML_A.replace(old, new))


def test_grepable_ports_stay_visible() -> None:
    changed = GREPABLE_A.replace("closed (99)", "closed (98)")
    assert mask(GREPABLE_A) != mask(changed)


def test_mask_is_idempotent() -> None:
    for first, _ in PAIRS:
        assert mask(mask(first)) == mask(first)


def test_text_without_times_is_untouched() -> None:
    text = "Nmap scan report for 10.0.0.1\nPORT   STATE SERVICE\n22/tcp open  ssh\n"
    assert mask(text) == text


def test_discovered_lines_compare_in_any_order_but_not_with_other_ports() -> None:
    a = "x\nDiscovered open port 22/tcp on 127.0.0.1\nDiscovered open port 80/tcp on 127.0.0.1\ny\n"
    b = "x\nDiscovered open port 80/tcp on 127.0.0.1\nDiscovered open port 22/tcp on 127.0.0.1\ny\n"
    c = "x\nDiscovered open port 80/tcp on 127.0.0.1\nDiscovered open port 23/tcp on 127.0.0.1\ny\n"
    assert mask(a) == mask(b)
    assert mask(a) != mask(c)


def test_discovered_lines_of_every_state_compare_in_any_order() -> None:
    # -d2 reports each state as it is found, in the randomised port order
    a = ("Discovered open port 22/tcp on 127.0.0.1\nDiscovered closed port 21/tcp on 127.0.0.1\n"
         "Discovered filtered port 44445/tcp on 127.0.0.1\n")
    b = ("Discovered filtered port 44445/tcp on 127.0.0.1\nDiscovered closed port 21/tcp on "
         "127.0.0.1\nDiscovered open port 22/tcp on 127.0.0.1\n")
    assert mask(a) == mask(b)
    assert mask(a) != mask(a.replace("closed port 21", "open port 21"))


def test_fetchfile_lines_lose_their_directory_only() -> None:
    nmap = "Fetchfile found /usr/bin/../share/nmap/nmap-services\n"
    assert mask(nmap) == mask("Fetchfile found /opt/pynmap/data/nmap-services\n")
    assert mask(nmap) != mask("Fetchfile found /usr/bin/../share/nmap/nmap.xsl\n")


def test_probe_update_wait_is_masked_but_not_the_rest() -> None:
    line = ("ultrascan_host_probe_update called for machine 127.0.0.1 state UNKNOWN -> HOST_UP "
            "(trynum 0 time: 122)\n")
    assert mask(line) == mask(line.replace("time: 122", "time: 100082"))
    for old, new in (("trynum 0", "trynum 1"), ("HOST_UP", "HOST_DOWN"),
                     ("127.0.0.1", "127.0.0.2"), ("UNKNOWN", "HOST_DOWN")):
        assert mask(line) != mask(line.replace(old, new, 1))


def test_dns_resolution_time_is_masked_but_not_its_counts() -> None:
    line = "DNS resolution of 3 IPs took 0.00s. Mode: System [OK: 2, ??: 1]\n"
    assert mask(line) == mask(line.replace("0.00s", "0.01s"))
    assert mask(line) != mask(line.replace("OK: 2", "OK: 3"))
    assert mask(line) != mask(line.replace("of 3 IPs", "of 4 IPs"))


def test_service_fingerprints_lose_their_date_and_time_only() -> None:
    # the first line of an SF-Port block (-sV, a service no probe recognized)
    line = "SF-Port7003-TCP:V=7.93%I=7%D=12/7%Time=6B162225%P=x86_64-pc-linux-gnu%r(NU\n"
    later = line.replace("D=12/7%Time=6B162225", "D=1/30%Time=6B2F0A11")
    assert mask(line) == mask(later)
    assert mask(line) != mask(line.replace("%I=7%", "%I=9%"))
    assert mask(line) != mask(line.replace("Port7003", "Port7004"))
