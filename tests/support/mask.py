"""The one mask every golden and differential comparison goes through.

Only what changes from one run to the next is hidden: dates and clock times,
elapsed seconds, latencies, the <times> round-trip figures, the waits in
-d2's ultrascan_host_probe_update lines and the date and time in -sV's
fingerprints of unrecognized services.  Besides those, where each program
is installed: nmap reads its data files from /usr/bin/../share/nmap and
pynmap from its own bundled data directory ("Read data files from", -d2's
"Fetchfile found" keeps only the file name), and
nmap names the packaged nmap.xsl by way of its binary's directory
(file:///usr/bin/../share/nmap/nmap.xsl) where pynmap names the same file
directly (file:///usr/share/nmap/nmap.xsl).  Everything
else (ports, states, names, counts, arguments, messages) stays visible, so a
real difference between nmap and pynmap can never be masked away.
"""

from __future__ import annotations

import re

_DAY = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_MONTH = "(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"

# Each rule is (needle, pattern, replacement): the pattern only runs when
# the needle occurs, which keeps a million-line list scan cheap to mask.
# Attributes and "at" are matched with their leading blank (a literal
# prefix is what makes the search fast).  Order matters: ctime strings go
# first so the clock-time rule below does not chew on their HH:MM:SS part.
_RULES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    # "Wed Nov 25 03:09:03 2026" in "# Nmap ... initiated", "# Nmap done at", XML
    (":", re.compile(rf"{_DAY} {_MONTH} [ \d]\d \d\d:\d\d:\d\d \d{{4}}"), "<ctime>"),
    # the banner "Starting Nmap 7.93 ( https://nmap.org ) at 2026-11-25 03:09 UTC"
    # and the -vv/-d "Scanned at 2026-11-25 03:09:36 UTC for 0s"
    (" at ", re.compile(r" at \d{4}-\d\d-\d\d \d\d:\d\d(?::\d\d)?"), " at <date>"),
    ("Scanned at", re.compile(r"(Scanned at <date> \S+ for )\d+s\b"), r"\1<s>s"),
    # "Initiating Connect Scan at 03:09", "Completed ... at 03:09, 0.00s elapsed"
    (" at ", re.compile(r" at \d\d:\d\d\b"), " at <hh:mm>"),
    # XML timestamps (seconds since the epoch) and their text forms
    ('="', re.compile(r' (start|time|starttime|endtime|etc)="\d+"'), r' \1="<t>"'),
    ('str="', re.compile(r' (startstr|timestr)="[^"]*"'), r' \1="<ctime>"'),
    # elapsed seconds
    ("scanned in", re.compile(r"scanned in \d+\.\d+ seconds"), "scanned in <s> seconds"),
    ("elapsed=", re.compile(r' elapsed="\d+\.\d+"'), ' elapsed="<s>"'),
    ("s elapsed", re.compile(r"\b\d+\.\d+s elapsed"), "<s>s elapsed"),
    # -v3/-d: "DNS resolution of 3 IPs took 0.00s. Mode: ..."
    ("IPs took", re.compile(r"(DNS resolution of \d+ IPs took )\d+\.\d+s\."), r"\1<s>s."),
    (" elapsed", re.compile(r"\b\d+:\d\d:\d\d elapsed"), "<h:mm:ss> elapsed"),
    # -v3 "DNS resolution of 3 IPs took 0.00s. Mode: ..."
    ("DNS resolution of", re.compile(r"(DNS resolution of \d+ IPs? took )\d+\.\d+s"), r"\1<s>s"),
    (
        "ETC:",
        re.compile(r"ETC: \d\d:\d\d \(\d+:\d\d:\d\d remaining\)"),
        "ETC: <hh:mm> (<h:mm:ss> remaining)",
    ),
    ("remaining=", re.compile(r' remaining="\d+"'), ' remaining="<s>"'),
    # a rate is packets over elapsed time
    (
        "Overall sending rates",
        re.compile(r"Overall sending rates: \d+\.\d+ packets / s\."),
        "Overall sending rates: <r> packets / s.",
    ),
    # --packet-trace stamps: seconds since the start
    ("CONN (", re.compile(r"^CONN \(\d+\.\d+s\)", re.MULTILINE), "CONN (<s>s)"),
    # latency: "Host is up (0.000083s latency)." / "..., received syn-ack (0.00013s latency)."
    ("s latency)", re.compile(r"\([0-9.e+-]+s latency\)"), "(<lat>s latency)"),
    # installation paths (see the module docstring)
    ("Read data files from:", re.compile(r"^Read data files from: .*$", re.MULTILINE),
     "Read data files from: <datadir>"),
    # the -d form: "Read from /usr/bin/../share/nmap: nmap-services."
    ("Read from ", re.compile(r"^Read from .*?: (?=\S+\.$)", re.MULTILINE), "Read from <datadir>: "),
    ("/usr/bin/../share/nmap/nmap.xsl", re.compile(r"file:///usr/bin/\.\./share/nmap/nmap\.xsl"),
     "file:///usr/share/nmap/nmap.xsl"),
    # -d2 "Fetchfile found /usr/bin/../share/nmap/nmap-services": the directory only
    ("Fetchfile found ", re.compile(r"^Fetchfile found .*/(?=[^/\n]+$)", re.MULTILINE),
     "Fetchfile found <datadir>/"),
    # -d2 "ultrascan_host_probe_update called ... (trynum 0 time: 122)": microseconds waited
    ("ultrascan_host_probe_update", re.compile(r"(\(trynum \d+ time: )-?\d+\)"), r"\1<us>)"),
    # -sV's fingerprint of an unrecognized service (SF-Port... lines, XML servicefp)
    # carries the scan's date and its time in hex: "%D=12/7%Time=6B162225%"
    ("%Time=", re.compile(r"%D=\d{1,2}/\d{1,2}%Time=[0-9A-F]+%"), "%D=<date>%Time=<t>%"),
    # round-trip estimates: XML <times .../> and the -d "Final times for host" line
    (
        "<times ",
        re.compile(r'<times srtt="-?\d+" rttvar="-?\d+" to="-?\d+"'),
        '<times srtt="<n>" rttvar="<n>" to="<n>"',
    ),
    (
        "srtt: ",
        re.compile(r"srtt: -?\d+ rttvar: -?\d+ +to: -?\d+"),
        "srtt: <n> rttvar: <n>  to: <n>",
    ),
)


# "Discovered <state> port" lines (open ones with -v, every state with -d2)
# and --packet-trace CONN lines follow the randomised port order
_DISCOVERED = re.compile(r"(?:^Discovered [a-z|]+ port [^\n]*\n)+", re.MULTILINE)
_HOSTHINTS = re.compile(r"(?:<hosthint>.*?</hosthint>\n)+", re.DOTALL)
_CONN = re.compile(r"(?:^CONN \(<s>s\) [^\n]*\n)+", re.MULTILINE)


def _sorted_block(match: re.Match[str]) -> str:
    return "".join(sorted(match.group(0).splitlines(keepends=True)))


def _sorted_hints(match: re.Match[str]) -> str:
    hints = re.findall(r"<hosthint>.*?</hosthint>\n", match.group(0), re.DOTALL)
    return "".join(sorted(hints))


def mask(text: str) -> str:
    """Replace the run-dependent times in nmap-style output by fixed placeholders.

    Also run-dependent: the order of a run of "Discovered <state> port" lines
    or of --packet-trace CONN lines, which follows the randomised port
    order, and of a run of XML <hosthint> elements, which follows the order
    in which hosts answered; such a run is sorted (its lines stay as they are).
    """
    for needle, pattern, replacement in _RULES:
        if needle in text:
            text = pattern.sub(replacement, text)
    if "Discovered " in text:
        text = _DISCOVERED.sub(_sorted_block, text)
    if "CONN (" in text:
        text = _CONN.sub(_sorted_block, text)
    if "<hosthint>" in text:
        text = _HOSTHINTS.sub(_sorted_hints, text)
    return text
