"""pynmap.ports against what nmap 7.93 prints for the same port options.

CASES was recorded from the real nmap, run with no target so that it sends
nothing and only builds its port list:

    NMAP_UNPRIVILEGED=1 nmap -sT ARGS -oX -

`services` is the <scaninfo services=...> value (lists longer than 100
characters are kept as "N ports, sha256 <first 16 hex digits>"), None when
nmap stopped with an error; `stderr` is everything nmap wrote there except
its closing "WARNING: No targets were specified" line.  `{d}` stands for a
directory holding the data directories built by `datadirs` below.
test_cases_still_match_nmap re-runs nmap over the whole table (marker `nmap`).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pynmap import ports as P
from pynmap.errors import Fatal, SystemFatal
from pynmap.services import DataFiles, ServiceDB
from tests.support.netns import NMAP, Netns

E485 = 'Error #485: Your port specifications are illegal.  Example of proper form: "-100,200-1024,T:3000-4000,U:60000-"\nQUITTING!\n'
E486 = E485.replace("#485", "#486")
E487 = E485.replace("#485", "#487")
E488 = E485.replace("#485", "#488")
DUP = "WARNING: Duplicate port number(s) specified.  Are you alert enough to be using Nmap?  Have some coffee or Jolt(tm).\n"
NO_TCP = "WARNING: a TCP scan type was requested, but no tcp ports were specified.  Skipping this scan type.\n"
NO_PORTS = (
    "No ports specified -- If you really don't want to scan any ports use ping scan...\nQUITTING!\n"
)
U_WARN = 'WARNING: Your ports include "U:" but you haven\'t specified UDP scan with -sU.\n'
S_WARN = 'WARNING: Your ports include "S:" but you haven\'t specified any SCTP scan type.\n'
P_WARN = 'WARNING: Your ports include "P:" but you haven\'t specified IP Protocol scan with -sO.\n'
NO_PING = "WARNING: a TCP ping scan was requested, but after excluding requested TCP ports, none remain. Skipping this scan type.\n"
ETC = "Unable to find nmap-services!  Resorting to /etc/services\n"

# Data directories for --datadir / --servicedb: odd nmap-services lines whose
# reading depends on sscanf("%127s %hu/%15s %31s") and fgets() details.
LONG_NAME = "L" * 130
WEIRD = (
    "# comment\n"
    "   # indented comment\n"
    "alpha\t22/tcp\t0.3\n"
    "wrap\t70000/tcp\t0.25\n"  # %hu keeps 16 bits: 4464
    "neg\t-1/tcp\t0.24\n"  # strtoul wraps: 65535
    "plus\t+23/tcp\t0.23\n"
    "spaced 24/  tcp 0.22\n"  # %s skips blanks before the protocol
    "nospace 25 /tcp 0.9\n"  # '/' must follow the number: line ignored
    "upper\t26/TCP\t0.95\n"  # kept as "TCP", which no lookup for "tcp" finds
    "frac\t27/tcp\t1/4\n"
    "exp\t28/tcp\t0.5e-1\n"
    "zero\t29/tcp\t0\n"  # no "0." prefix: ratio 0
    "junk\t30/tcp\tabc\n"
    "longproto\t31/tcpxxxxxxxxxxxxxxx0.7\n"  # %15s: protocol "tcpxxxxxxxxxxxx"
    + LONG_NAME
    + " 32/tcp 0.6\n"  # %127s stops inside the name: ignored
    "cAsE\t33/tcp\t0.21\n"
    "dupe\t22/tcp\t0.99\n"  # second 22/tcp: ignored
    "ddpthing\t34/ddp\t0.98\n"
    "weirdproto\t35/xyz\t0.97\n"
    "udpone\t22/udp\t0.5\n"
    "sct\t36/sctp\t0.4\n"
    "tie1\t40/tcp\t0.2\n"
    "tie2\t41/tcp\t0.2\n"
    "tie3\t39/tcp\t0.2\n"
    "nocolumns\n"
    "x 42/tcp 0.1 # trailing comment\n"
    "y\t43/tcp\t0.1\x00 garbage\n"
    "star*name\t44/tcp\t0.01\n"
    "q?x\t45/tcp\t0.01\n"
    "\x0b vt\t46/tcp\t0.011\n"
    "LL " + "x" * 1100 + " 47/tcp 0.5\n"  # fgets() reads 1023 bytes: the rest is a line
    "tail\t48/tcp\t0.012\n"
)
DATADIRS = {
    "weird": WEIRD,
    "plain": "echo 7/tcp\nssh 22/tcp # SSH\nhttp 80/tcp www\nhigh 5000/tcp\nhigh2 40000/tcp\n",
    "badratio1": "a 1/tcp 0.5\nb 2/tcp 1/x\n",
    "badratio2": "a 1/tcp -1/5\n",
    "badratio3": "\n\na 1/tcp 5/4\n",
    "badratio4": "a 1/xyz 0/0\n",
    "badratio5": "a 1/tcp 3/0\n",
    "empty": "",
}
PROTOCOLS = "ip 0\nhopopt 0\nicmp 1\nigmp 2\ntcp 6\nudp 17\n"
# Rows that read /etc/services were recorded with this one (Debian's netbase).
ETC_SERVICES_SHA = "f6183055fd949f9c"


def build_datadirs(root: Path) -> None:
    for name, text in DATADIRS.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        (root / name / "nmap-services").write_bytes(text.encode("latin-1"))
    (root / "isdir" / "nmap-services").mkdir(parents=True, exist_ok=True)
    (root / "proto").mkdir(exist_ok=True)
    (root / "proto" / "nmap-protocols").write_text(PROTOCOLS)


@pytest.fixture(scope="module")
def datadirs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("datadirs")
    build_datadirs(root)
    return root


CASES: list[tuple[list[str], str | None, str]] = [
    (["-p", "22, "], None, E485),
    (["-p", "ssh http"], "22,80,8008", ""),
    (["-p", "ssh,22"], "22", DUP),
    (["-p", "22,ssh"], "22", ""),
    (["-p", "-0"], None, "Your port range 1-0 is backwards. Did you mean 0-1?\nQUITTING!\n"),
    (["-p", "1:2"], None, "Error parsing port list: Unknown protocol specifier '1'.\nQUITTING!\n"),
    (
        ["-p", "[:22]"],
        None,
        "Error parsing port list: Unknown protocol specifier '['.\nQUITTING!\n",
    ),
    (
        ["-p", "[1-5]x"],
        None,
        "Found no matches for the service mask 'x' and your specified protocols\nQUITTING!\n",
    ),
    (["-p", "[1-5]22"], "1-5,22", ""),
    (["-p", "[1-5]]"], None, "Unexpected ] character in port/protocol specification\nQUITTING!\n"),
    (["-p", "[65000-65010]"], "65000", ""),
    (["--exclude-ports", "[65000-65010]"], "1000 ports, sha256 474d32ea8557c754", ""),
    (["--exclude-ports", "T:"], None, NO_PORTS),
    (["--exclude-ports", "U:53"], "1000 ports, sha256 d71193196c09f53b", ""),
    (["-p", "0"], "0", ""),
    (["-p", "0-5"], "0-5", ""),
    (["--top-ports", "5", "-p", "0-100"], "21-23,25,80", ""),
    (["-p", "1- 5"], None, E486),
    (["-p", "1 -5"], "1-5", ""),
    (["-p", "1 - 5"], None, E486),
    (["-p", " 22 , 80 "], "22,80", ""),
    (["-p", "sSh"], "22", ""),
    (["-p", "*"], "8366 ports, sha256 2cecfb640ce87b72", ""),
    (
        ["--top-ports", "1000000"],
        None,
        "Level argument to gettoppts (1e+06) is too large\nQUITTING!\n",
    ),
    (["--top-ports", "65536"], "8366 ports, sha256 2cecfb640ce87b72", ""),
    (
        ["--top-ports", "65537"],
        None,
        "Level argument to gettoppts (65537) is too large\nQUITTING!\n",
    ),
    (["-PS", "-p", "22"], "22", ""),
    (
        ["-PST:22", "-p", "22"],
        None,
        'Error #485: Your port specifications are illegal.  Example of proper form: "-100,200-1024,3000-4000,60000-"\nQUITTING!\n',
    ),
    (["-PS[65000-65010]", "-p", "22"], "22", ""),
    (["-PS22,22", "-p", "22"], "22", DUP),
    (["-p", "ssh,U:domain,S:*"], "22", U_WARN + S_WARN),
    (["-p", "T:22,U:53"], "22", U_WARN),
    (["-p", "U:53,T:22,U:1,U:2"], "22", U_WARN + U_WARN + U_WARN),
    (["-p", "22"], "22", ""),
    (["-p", "1-25,80"], "1-25,80", ""),
    (["-p", "-"], "1-65535", ""),
    (["-p", "-100"], "1-100", ""),
    (["-p", "65000-"], "65000-65535", ""),
    (["-p", "0-"], "0-65535", ""),
    (["-p", "22,80,443,8080"], "22,80,443,8080", ""),
    (["-p", "80,22"], "22,80", ""),
    (["-p", "22,"], "22", ""),
    (["-p", "22,,80"], None, E485),
    (["-p", ",22"], None, E485),
    (["-p", ""], None, E485),
    (["-p", " "], None, E485),
    (["-p", "22-22"], "22", ""),
    (["-p", "100-1"], None, "Your port range 100-1 is backwards. Did you mean 1-100?\nQUITTING!\n"),
    (["-p", "1-65535"], "1-65535", ""),
    (["-p", "65535"], "65535", ""),
    (["-p", "65536"], None, "Ports specified must be between 0 and 65535 inclusive\nQUITTING!\n"),
    (
        ["-p", "99999999999999999999999999"],
        None,
        "Ports specified must be between 0 and 65535 inclusive\nQUITTING!\n",
    ),
    (["-p", "1-70000"], None, "Ports specified must be between 0 and 65535 inclusive\nQUITTING!\n"),
    (["-p", "22x"], None, E487),
    (["-p", "22-x"], None, E486),
    (["-p", "1-2-3"], None, E488),
    (["-p", "1-5,3-8"], "1-8", DUP),
    (["-p", "22,22,80,80"], "22,80", DUP),
    (["-p", "ssh"], "22", ""),
    (["-p", "ssh,http,https"], "22,80,443,8008", ""),
    (["-p", "http*"], "80,280,443,591,593,4180,8000,8008,8080,8443,8990-8991", ""),
    (["-p", "*sql*"], "26 ports, sha256 14ecf3d9c691a853", ""),
    (["-p", "ftp?"], "990", ""),
    (
        ["-p", "?"],
        None,
        "Found no matches for the service mask '?' and your specified protocols\nQUITTING!\n",
    ),
    (["-p", "s?h"], "22", ""),
    (
        ["-p", "nosuchservice"],
        None,
        "Found no matches for the service mask 'nosuchservice' and your specified protocols\nQUITTING!\n",
    ),
    (["-p", "SSH"], None, E485),
    (["-p", "Ssh"], None, E485),
    (["-p", "sSH"], "22", ""),
    (["-p", "domain"], "53", ""),
    (["-p", "unknown"], "1912 ports, sha256 8cc20d3a6eb1b0dc", ""),
    (["-p", "elite"], "31337", ""),
    (["-p", "[1-1024]"], "990 ports, sha256 e7cf982e7b3e189b", ""),
    (["-p", "[-]"], "8366 ports, sha256 2cecfb640ce87b72", ""),
    (["-p", "[1024-]"], "7377 ports, sha256 760515bd8ddf40dd", ""),
    (["-p", "[1-5"], "1-5", ""),
    (["-p", "[[1-5]]"], None, "Can't nest [] brackets in port/protocol specification\nQUITTING!\n"),
    (["-p", "]"], None, "Unexpected ] character in port/protocol specification\nQUITTING!\n"),
    (["-p", "22]"], None, "Unexpected ] character in port/protocol specification\nQUITTING!\n"),
    (["-p", "[22],22"], "22", DUP),
    (["-p", "22,[22]"], "22", DUP),
    (["-p", "[ssh]"], "22", ""),
    (["-p", "[http*,1-10]"], "1-10,80,280,443,591,593,4180,8000,8008,8080,8443,8990-8991", ""),
    (["-p", "[U:53,T:22],80"], "22,80", U_WARN),
    (["-p", "T:22"], "22", ""),
    (["-p", "T:"], None, NO_PORTS),
    (["-p", "U:"], None, U_WARN + NO_PORTS),
    (["-p", "U:53"], "", U_WARN + NO_TCP),
    (["-p", "S:22"], "", S_WARN + NO_TCP),
    (["-p", "X:22"], None, "Error parsing port list: Unknown protocol specifier 'X'.\nQUITTING!\n"),
    (["-p", "t:22"], None, "Error parsing port list: Unknown protocol specifier 't'.\nQUITTING!\n"),
    (["-p", "T:22,U:53,S:80,T:443"], "22,443", U_WARN + S_WARN),
    (["-p", "U:53,22"], "", U_WARN + NO_TCP),
    (["-p", "22,U:53"], "22", U_WARN),
    (["-p", "T:1-5,U:1-5"], "1-5", U_WARN),
    (["-p", "T:ssh"], "22", ""),
    (["-p", "U:domain,T:domain"], "53", U_WARN),
    (["-p", "ssh ,http"], None, E485),
    (["-p", "ssh, http"], "22,80,8008", ""),
    (["-p", "22 80"], None, E487),
    (["-p", "http]"], None, "Unexpected ] character in port/protocol specification\nQUITTING!\n"),
    (
        ["-p", "[http]x"],
        None,
        "Found no matches for the service mask 'x' and your specified protocols\nQUITTING!\n",
    ),
    (["-p", "-x"], None, E486),
    (["-p", "--"], None, E486),
    (["-p", "1-"], "1-65535", ""),
    (
        ["-p", "a"],
        None,
        "Found no matches for the service mask 'a' and your specified protocols\nQUITTING!\n",
    ),
    (
        [
            "-p",
            "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
        ],
        None,
        "Found no matches for the service mask 'zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz' and your specified protocols\nQUITTING!\n",
    ),
    (
        [
            "-p",
            "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
        ],
        None,
        "Found no matches for the service mask 'zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz' and your specified protocols\nQUITTING!\n",
    ),
    (["-p", "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20"], "1-20", ""),
    (["-p", "0-0"], "0", ""),
    (["-p", "00022"], "22", ""),
    (["-F"], "100 ports, sha256 578020d74188669b", ""),
    ([], "1000 ports, sha256 d71193196c09f53b", ""),
    (["--top-ports", "1"], "80", ""),
    (
        ["--top-ports", "20"],
        "21-23,25,53,80,110-111,135,139,143,443,445,993,995,1723,3306,3389,5900,8080",
        "",
    ),
    (["--top-ports", "1000"], "1000 ports, sha256 d71193196c09f53b", ""),
    (["--top-ports", "8366"], "8366 ports, sha256 2cecfb640ce87b72", ""),
    (["--top-ports", "9000"], "8366 ports, sha256 2cecfb640ce87b72", ""),
    (
        ["--top-ports", "70000"],
        None,
        "Level argument to gettoppts (70000) is too large\nQUITTING!\n",
    ),
    (["--top-ports", "0"], None, "--top-ports should be an integer 1 or greater\nQUITTING!\n"),
    (["--top-ports", "1.5"], None, "--top-ports should be an integer 1 or greater\nQUITTING!\n"),
    (["--top-ports", "abc"], None, "--top-ports should be an integer 1 or greater\nQUITTING!\n"),
    (["--top-ports", "10", "-p", "1-100"], "21-23,25-26,53,79-81,88", ""),
    (["--top-ports", "10", "-p", "22"], "22", ""),
    (["--top-ports", "10", "-p", "0"], "", NO_TCP),
    (["--top-ports", "5", "--exclude-ports", "80,23"], "21-22,25,443,3389", ""),
    (["--top-ports", "5", "--exclude-ports", "1-1000"], "1723,3306,3389,5900,8080", NO_PING),
    (["--top-ports", "5", "-p", "1-100", "--exclude-ports", "21-25"], "26,53,80-81,88", ""),
    (["-F", "--top-ports", "5"], "21-23,80,443", ""),
    (
        ["-F", "-p", "22"],
        None,
        "You cannot use -F (fast scan) with -p (explicit port selection) but see --top-ports and --port-ratio to fast scan a range of ports\nQUITTING!\n",
    ),
    (["-F", "--exclude-ports", "80"], "100 ports, sha256 528fa64f0fb17702", ""),
    (["--exclude-ports", "80"], "1000 ports, sha256 8a69a15a27d74df4", ""),
    (["--exclude-ports", "1-65535"], "", NO_TCP + NO_PING),
    (["--exclude-ports", "http*"], "1000 ports, sha256 86ab4d2cf2b346ca", NO_PING),
    (["--exclude-ports", "22", "-p", "22"], "", NO_TCP),
    (["--exclude-ports", "22,23", "-p", "20-25"], "20-21,24-25", ""),
    (
        ["--exclude-ports", "foo", "-p", "22"],
        None,
        "Found no matches for the service mask 'foo' and your specified protocols\nQUITTING!\n",
    ),
    (["--exclude-ports", "", "-p", "22"], None, E485),
    (["--exclude-ports", "22,22", "-p", "22-23"], "23", DUP),
    (["--exclude-ports", "U:22", "-p", "22"], "22", ""),
    (["--port-ratio", "0.1"], "21-23,25,80,443", ""),
    (["--port-ratio", "0.5"], "", NO_TCP),
    (["--port-ratio", "0.2", "-p", "1-100"], "23,80", ""),
    (["--port-ratio", "0.01", "--exclude-ports", "80"], "35 ports, sha256 8a3f6b9a7be1828d", ""),
    (["--port-ratio", "0"], "8366 ports, sha256 2cecfb640ce87b72", ""),
    (["--port-ratio", "1"], None, "--port-ratio should be between [0 and 1)\nQUITTING!\n"),
    (["--port-ratio", "-0.1"], None, "--port-ratio should be between [0 and 1)\nQUITTING!\n"),
    (["--port-ratio", "abc"], "8366 ports, sha256 2cecfb640ce87b72", ""),
    (["--port-ratio", "0.1", "--top-ports", "3"], "23,80,443", ""),
    (["--top-ports", "3", "--port-ratio", "0.1"], "21-23,25,80,443", ""),
    (["-PS22", "-p", "22"], "22", ""),
    (["-PSssh,http", "-p", "22"], "22", ""),
    (
        ["-PSabc", "-p", "22"],
        None,
        "Found no matches for the service mask 'abc' and your specified protocols\nQUITTING!\n",
    ),
    (["-PS[T:22]", "-p", "22"], "22", ""),
    (["-PS[22x]", "-p", "22"], None, E487),
    (
        ["-PS22x", "-p", "22"],
        None,
        'Error #487: Your port specifications are illegal.  Example of proper form: "-100,200-1024,3000-4000,60000-"\nQUITTING!\n',
    ),
    (
        ["-PS,", "-p", "22"],
        None,
        'Error #485: Your port specifications are illegal.  Example of proper form: "-100,200-1024,3000-4000,60000-"\nQUITTING!\n',
    ),
    (["-PS[U:53]", "-p", "22"], None, "Bogus argument to -PS: [U:53]\nQUITTING!\n"),
    (["-PS80", "--exclude-ports", "80", "-p", "22"], "22", NO_PING),
    (["-PS80,443", "--exclude-ports", "80", "-p", "22"], "22", ""),
    (["--exclude-ports", "80,443", "-p", "22"], "22", NO_PING),
    (["--exclude-ports", "443", "-p", "22"], "22", ""),
    (
        ["--servicedb", "/nonexistent"],
        None,
        "Unable to open /nonexistent for reading service information: No such file or directory (2)\n",
    ),
    (["--servicedb", "{d}/weird/nmap-services"], "22-24,27-30,33,39-48,4464,65535", ""),
    (["--servicedb", "{d}/plain/nmap-services"], "7,22,80,5000,40000", ""),
    (["--servicedb", "{d}/isdir/nmap-services"], "218 ports, sha256 aebc8ce66fe4b360", ETC),
    (["--servicedb", "{d}/empty/nmap-services"], None, NO_PORTS),
    (
        ["--servicedb", "/dev/null", "--top-ports", "5"],
        None,
        "Unable to use --top-ports or --port-ratio with an old style (no-ratio) services file\nQUITTING!\n",
    ),
    (["--servicedb", "{d}/weird/nmap-services", "--top-ports", "5"], "22,27,47,4464,65535", ""),
    (["--datadir", "{d}/weird", "--top-ports", "100"], "22-24,27-30,33,39-48,4464,65535", ""),
    (["--datadir", "{d}/weird", "--top-ports", "3"], "22,47,4464", ""),
    (["--datadir", "{d}/weird", "--top-ports", "8"], "22-24,27,33,47,4464,65535", ""),
    (["--datadir", "{d}/weird", "--port-ratio", "0.2"], "22-24,27,33,39-41,47,4464,65535", ""),
    (["--datadir", "{d}/weird", "--port-ratio", "0"], "22-24,27-30,33,39-48,4464,65535", ""),
    (["--datadir", "{d}/weird", "-p", "wrap"], "4464", ""),
    (["--datadir", "{d}/weird", "-p", "neg"], "65535", ""),
    (["--datadir", "{d}/weird", "-p", "plus"], "23", ""),
    (["--datadir", "{d}/weird", "-p", "spaced"], "24", ""),
    (
        ["--datadir", "{d}/weird", "-p", "nospace"],
        None,
        "Found no matches for the service mask 'nospace' and your specified protocols\nQUITTING!\n",
    ),
    (
        ["--datadir", "{d}/weird", "-p", "upper"],
        None,
        "Found no matches for the service mask 'upper' and your specified protocols\nQUITTING!\n",
    ),
    (["--datadir", "{d}/weird", "-p", "frac"], "27", ""),
    (
        ["--datadir", "{d}/weird", "-p", "longproto"],
        None,
        "Found no matches for the service mask 'longproto' and your specified protocols\nQUITTING!\n",
    ),
    (
        ["--datadir", "{d}/weird", "-p", "l*"],
        None,
        "Found no matches for the service mask 'l*' and your specified protocols\nQUITTING!\n",
    ),
    (["--datadir", "{d}/weird", "-p", "case"], "33", ""),
    (
        ["--datadir", "{d}/weird", "-p", "dupe"],
        None,
        "Found no matches for the service mask 'dupe' and your specified protocols\nQUITTING!\n",
    ),
    (["--datadir", "{d}/weird", "-p", "alpha"], "22", ""),
    (
        ["--datadir", "{d}/weird", "-p", "ddpthing"],
        None,
        "Found no matches for the service mask 'ddpthing' and your specified protocols\nQUITTING!\n",
    ),
    (
        ["--datadir", "{d}/weird", "-p", "udpone"],
        None,
        "Found no matches for the service mask 'udpone' and your specified protocols\nQUITTING!\n",
    ),
    (
        ["--datadir", "{d}/weird", "-p", "sct"],
        None,
        "Found no matches for the service mask 'sct' and your specified protocols\nQUITTING!\n",
    ),
    (["--datadir", "{d}/weird", "-p", "star*"], "44", ""),
    (["--datadir", "{d}/weird", "-p", "q?x"], "45", ""),
    (["--datadir", "{d}/weird", "-p", "vt"], "46", ""),
    (["--datadir", "{d}/weird", "-p", "x*"], "42,47", ""),
    (["--datadir", "{d}/weird", "-p", "y"], "43", ""),
    (["--datadir", "{d}/weird", "-p", "tail"], "48", ""),
    (["--datadir", "{d}/weird", "-p", "*"], "22-24,27-30,33,39-48,4464,65535", ""),
    (["--datadir", "{d}/weird", "-p", "[1-100]"], "22-24,27-30,33,39-48", ""),
    (["--datadir", "{d}/weird", "-p", "[-]"], "22-24,27-30,33,39-48,4464,65535", ""),
    (["--datadir", "{d}/plain"], "1-1024,5000,40000", ""),
    (["--datadir", "{d}/plain", "-F"], "7,22,80,5000,40000", ""),
    (
        ["--datadir", "{d}/plain", "--top-ports", "5"],
        None,
        "Unable to use --top-ports or --port-ratio with an old style (no-ratio) services file\nQUITTING!\n",
    ),
    (["--datadir", "{d}/plain", "-p", "h*"], "80,5000,40000", ""),
    (["--datadir", "{d}/plain", "--exclude-ports", "1-1000"], "1001-1024,5000,40000", NO_PING),
    (
        ["--datadir", "{d}/badratio1"],
        None,
        "{d}/badratio1/nmap-services:2 contains invalid port ratio string: 1/x\nQUITTING!\n",
    ),
    (
        ["--datadir", "{d}/badratio2"],
        None,
        "{d}/badratio2/nmap-services:1 contains an invalid negative value\nQUITTING!\n",
    ),
    (
        ["--datadir", "{d}/badratio3"],
        None,
        "{d}/badratio3/nmap-services:3 has a ratio 1.25. All ratios must be < 1\nQUITTING!\n",
    ),
    (
        ["--datadir", "{d}/badratio4"],
        None,
        "{d}/badratio4/nmap-services:1 has a ratio denominator of 0 causing a division by 0 error\nQUITTING!\n",
    ),
    (
        ["--datadir", "{d}/badratio5"],
        None,
        "{d}/badratio5/nmap-services:1 has a ratio inf. All ratios must be < 1\nQUITTING!\n",
    ),
    (
        ["--datadir", "{d}/badratio1", "-p", "22"],
        None,
        "{d}/badratio1/nmap-services:2 contains invalid port ratio string: 1/x\nQUITTING!\n",
    ),
    (["--datadir", "{d}/empty", "-p", "22"], "22", ""),
    (["--datadir", "{d}/empty"], "1-1024", ""),
    (
        ["--datadir", "{d}/isdir", "--top-ports", "3"],
        None,
        ETC
        + "Unable to use --top-ports or --port-ratio with an old style (no-ratio) services file\nQUITTING!\n",
    ),
    (["--datadir", "{d}/isdir", "-p", "ssh"], "22", ETC),
    (["--datadir", "/nonexistent", "--top-ports", "3"], "23,80,443", ""),
    (["--datadir", "{d}/proto", "-p", "[P:1-5]"], "", P_WARN + NO_TCP),
    (["--datadir", "{d}/proto", "-p", "P:tcp"], None, P_WARN + NO_PORTS),
    (
        ["--datadir", "{d}/proto", "-p", "P:hopopt"],
        None,
        P_WARN
        + "Found no matches for the service mask 'hopopt' and your specified protocols\nQUITTING!\n",
    ),
    (["--datadir", "{d}/proto", "-p", "P:ip"], "", P_WARN + NO_TCP),
    (["--datadir", "{d}/proto", "-p", "P:0-3,T:22"], "22", P_WARN),
    (
        ["--datadir", "{d}/proto", "-p", "P:256"],
        None,
        P_WARN + "Protocols specified must be between 0 and 255 inclusive\nQUITTING!\n",
    ),
    (["--datadir", "{d}/proto", "-p", "P:-"], "", P_WARN + NO_TCP),
    (
        ["--datadir", "{d}/proto", "-p", "P:5-2"],
        None,
        P_WARN + "Your protocol range 5-2 is backwards. Did you mean 2-5?\nQUITTING!\n",
    ),
    (["--datadir", "{d}/proto", "-p", "[P:-],22"], "22", P_WARN),
    (
        ["--top-ports", "10", "--exclude-ports", "22,22"],
        "21,23,25,80,110,139,143,443,445,3389",
        DUP + DUP,
    ),
    (
        ["--top-ports", "2147483647"],
        None,
        "Level argument to gettoppts (2.14748e+09) is too large\nQUITTING!\n",
    ),
    (
        ["--top-ports", "3000000000"],
        None,
        "--top-ports should be an integer 1 or greater\nQUITTING!\n",
    ),
    (["--top-ports", "0x10"], "21-23,25,53,80,110,135,139,143,443,445,1723,3306,3389,8080", ""),
    (["--top-ports", " 3"], "23,80,443", ""),
    (["--top-ports", "1e1"], "21-23,25,80,110,139,443,445,3389", ""),
    (
        ["--port-ratio", "nan"],
        None,
        "Argument to gettoppts (nan) should be a positive ratio below 1 or an integer of 1 or higher\nQUITTING!\n",
    ),
    (
        ["--port-ratio", "-nan"],
        None,
        "Argument to gettoppts (-nan) should be a positive ratio below 1 or an integer of 1 or higher\nQUITTING!\n",
    ),
    (["--port-ratio", "0.5abc"], "", NO_TCP),
    (["-PS[65001-65010]", "-p", "22"], None, "Bogus argument to -PS: [65001-65010]\nQUITTING!\n"),
    (["-p", "[T:]"], None, NO_PORTS),
    (["-p", "[]"], None, NO_PORTS),
    (["-p", "[],22"], "22", ""),
    (["-p", "22,[]"], "22", ""),
    (["-p", "[,22]"], None, E485),
    (["-p", "[22,]"], "22", ""),
    (["-p", "[ 22 ]"], "22", ""),
    (["-p", "[22 ,80]"], "22,80", ""),
    (
        ["-p", "[ssh x]"],
        None,
        "Found no matches for the service mask 'x' and your specified protocols\nQUITTING!\n",
    ),
    (["-p", "ssh  http"], "22,80,8008", ""),
    (["-p", "http,"], "80,8008", ""),
    (["-p", "http,,ssh"], None, E485),
    (["-p", "1,]"], None, "Unexpected ] character in port/protocol specification\nQUITTING!\n"),
    (["-p", "[1-5],"], "1-5", ""),
    (["-p", "[1-5],,22"], None, E485),
    (["-p", "-5,-3"], "1-5", DUP),
    (["-p", "5-,65535"], "5-65535", DUP),
    (["-p", "T:-5,T:3"], "1-5", DUP),
    (["-p", "U:1-5,T:1-5,1-5"], "1-5", U_WARN + DUP),
    (["-p", "U:1-5,[1-10]"], "", U_WARN + DUP + NO_TCP),
    (["-p", "ftp-data,ftp"], "20-21", ""),
    (["-p", "*-data"], "30 ports, sha256 6d799076710fcc79", ""),
    (["-p", "**ssh**"], "22,614,830,3897,4334,5161-5162,6252,17235", ""),
    (["-p", "?*"], "8366 ports, sha256 2cecfb640ce87b72", ""),
    (["-p", "echo*,discard"], "7,9,3610", ""),
    (["-p", "x11*"], "6000-6016,6018-6049,6051-6063", ""),
    (["-p", "ms-sql*"], "1433-1434,9152", ""),
    (["-p", "[ms-sql*]"], "1433-1434,9152", ""),
    (
        ["-p", "a]"],
        None,
        "Found no matches for the service mask 'a' and your specified protocols\nQUITTING!\n",
    ),
    (
        ["-p", "a[b"],
        None,
        "Found no matches for the service mask 'a[b' and your specified protocols\nQUITTING!\n",
    ),
    (["-p", "z:"], None, "Error parsing port list: Unknown protocol specifier 'z'.\nQUITTING!\n"),
    (["-p", "ssh\t,http"], None, E485),
    (["-p", "22\t"], "22", ""),
    (["-p", "\t22"], "22", ""),
    (["-p", "22-\t"], None, E486),
    (["--exclude-ports", "-"], "", NO_TCP + NO_PING),
    (["--exclude-ports", "-", "-p", "22"], "", NO_TCP + NO_PING),
    (["--exclude-ports", "1-1000", "--top-ports", "3"], "3306,3389,8080", NO_PING),
    (["--exclude-ports", "1-65535", "--top-ports", "3"], "", NO_TCP + NO_PING),
    (["--exclude-ports", "ssh", "-F"], "100 ports, sha256 6af11a3679518d14", ""),
    (["--exclude-ports", "22", "-PS"], "1000 ports, sha256 343f19a6e4fd9926", ""),
    (["--exclude-ports", "80", "-PS22,80"], "1000 ports, sha256 8a69a15a27d74df4", ""),
    (["--top-ports", "100", "-p", "[1-1024]"], "100 ports, sha256 71919b7b543e1661", ""),
    (["--top-ports", "3", "-p", "ssh,http*"], "22,80,443", ""),
    (["--port-ratio", "0.3", "-p", "-"], "80", ""),
    (["--port-ratio", "0.9"], "", NO_TCP),
    (["--port-ratio", "0.48"], "80", ""),
    (["--port-ratio", "0.484143"], "80", ""),
    (["--port-ratio", "0.4841431"], "", NO_TCP),
]


def digest(ports: tuple[int, ...]) -> str:
    text = P.compress_ranges(ports)
    if len(text) <= 100:
        return text
    return f"{len(ports)} ports, sha256 {hashlib.sha256(text.encode()).hexdigest()[:16]}"


def run_ports(args: list[str], *, cwd_has_no_data: bool = True) -> tuple[str | None, str]:
    """What nmap's option handling does with these port options, through pynmap's API."""
    out: list[str] = []
    spec = exclude = datadir = servicedb = None
    fast = False
    top: int | None = None
    ratio: float | None = None
    ping_arg: str | None = None
    try:
        i = 0
        while i < len(args):
            opt = args[i]
            if opt.startswith("-PS"):
                ping_arg, i = opt[3:], i + 1
                continue
            if opt == "-F":
                fast, i = True, i + 1
                continue
            value, i = args[i + 1], i + 2
            if opt == "-p":
                spec = value
            elif opt == "--exclude-ports":
                exclude = value
            elif opt == "--top-ports":
                top, ratio = P.parse_top_ports_option(value), None
            elif opt == "--port-ratio":
                ratio, top = P.parse_port_ratio_option(value), None
            elif opt == "--datadir":
                datadir = value
            elif opt == "--servicedb":
                servicedb, fast = value, True
            else:
                raise AssertionError(opt)
        requested = {"nmap-services": servicedb} if servicedb else None
        files = DataFiles(
            warn=out.append, datadir=datadir, requested=requested, environ={}, home_dirs=[]
        )
        services = ServiceDB(files)
        ping = [80, 443]
        if ping_arg is not None:
            ping = list(P.parse_ping_ports(ping_arg, services, warn=out.append))
        chosen = P.select_ports(
            spec=spec,
            exclude_spec=exclude,
            fast=fast,
            top_ports=top,
            port_ratio=ratio,
            services=services,
            ping_ports=ping,
            warn=out.append,
        )
    except (Fatal, SystemFatal) as exc:
        return None, "".join(f"{line}\n" for line in out) + exc.text
    return digest(chosen.tcp), "".join(f"{line}\n" for line in out)


def _etc_services_sha() -> str:
    try:
        return hashlib.sha256(Path("/etc/services").read_bytes()).hexdigest()[:16]
    except OSError:
        return ""


@pytest.mark.parametrize(
    ("args", "services", "stderr"), CASES, ids=[json.dumps(c[0]) for c in CASES]
)
def test_port_options_match_nmap(
    datadirs: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    services: str | None,
    stderr: str,
) -> None:
    if ETC in stderr and services is not None and _etc_services_sha() != ETC_SERVICES_SHA:
        pytest.skip("recorded with another /etc/services")
    monkeypatch.chdir(datadirs.parent)  # no ./nmap-services here
    real = [a.replace("{d}", str(datadirs)) for a in args]
    assert run_ports(real) == (services, stderr.replace("{d}", str(datadirs)))


# --- facts from the reference captures (../shared/nmap-reference/cases) ----


@pytest.fixture(scope="module")
def stock() -> ServiceDB:
    return ServiceDB(DataFiles(warn=_no_warning, environ={}, home_dirs=[])).load()


def _no_warning(text: str) -> None:
    raise AssertionError(f"unexpected warning: {text}")


def _select(stock: ServiceDB, **options: object) -> str:
    settings: dict[str, object] = {
        "spec": None,
        "exclude_spec": None,
        "fast": False,
        "top_ports": None,
        "port_ratio": None,
    }
    settings.update(options)
    return P.compress_ranges(P.select_scan_ports(services=stock, warn=_no_warning, **settings))  # type: ignore[arg-type]


FAST_100 = (
    "7,9,13,21-23,25-26,37,53,79-81,88,106,110-111,113,119,135,139,143-144,179,199,389,427,"
    "443-445,465,513-515,543-544,548,554,587,631,646,873,990,993,995,1025-1029,1110,1433,1720,"
    "1723,1755,1900,2000-2001,2049,2121,2717,3000,3128,3306,3389,3986,4899,5000,5009,5051,5060,"
    "5101,5190,5357,5432,5631,5666,5800,5900,6000-6001,6646,7070,8000,8008-8009,8080-8081,8443,"
    "8888,9100,9999-10000,32768,49152-49157"
)


def test_reference_port_lists(stock: ServiceDB) -> None:
    # cases/fast, top_ports_20, top_ports_exclude, port_ratio, default_oA_v
    assert _select(stock, fast=True) == FAST_100
    top20 = "21-23,25,53,80,110-111,135,139,143,443,445,993,995,1723,3306,3389,5900,8080"
    assert _select(stock, top_ports=20) == top20
    assert _select(stock, top_ports=20, exclude_spec="22,80") == (
        "21,23,25,53,110-111,135,139,143,443,445,587,993,995,1025,1723,3306,3389,5900,8080"
    )
    assert _select(stock, port_ratio=0.1) == "21-23,25,80,443"
    # the same, given as nmap's single level setting
    assert _select(stock, top_level=20) == top20
    assert _select(stock, top_level=0.1) == "21-23,25,80,443"
    assert _select(stock, top_level=-1) == _select(stock)
    default = _select(stock)
    assert len(default) == 3813
    assert hashlib.sha256(default.encode()).hexdigest()[:16] == "d71193196c09f53b"


SVC_TXT = (  # cases/servicedb/svc.txt = cases/datadir_*/data/nmap-services
    "# a tiny services file for --datadir / --servicedb tests\n"
    "alpha\t22/tcp\t0.300000\t# highest ratio\n"
    "beta\t3306/tcp\t0.200000\n"
    "gamma\t8080/tcp\t0.200000\t# ties with beta and delta: file order decides\n"
    "delta\t9929/tcp\t0.200000\n"
    "epsilon\t80/tcp\t0.100000\n"
    "zeta\t22222/tcp\n"
    "theta\t53/udp\t0.900000\n"
    "iota\t22/tcp\t0.999000\t# duplicate 22/tcp: ignored\n"
)


def test_reference_datadir_and_servicedb(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "nmap-services").write_text(SVC_TXT)
    (tmp_path / "svc.txt").write_text(SVC_TXT)
    in_dir = ServiceDB(DataFiles(warn=_no_warning, datadir=str(tmp_path / "data"), environ={}))
    # cases/datadir_top_ports: --top-ports 3, ties broken by file order
    assert _select(in_dir, top_ports=3) == "22,3306,8080"
    # cases/servicedb: --servicedb implies -F, zeta (no ratio) included
    named = DataFiles(warn=_no_warning, requested={"nmap-services": str(tmp_path / "svc.txt")})
    assert _select(ServiceDB(named), fast=True) == "22,80,3306,8080,9929,22222"


# --- debugging lines, ping ports, -sn -------------------------------------


def _lines(stock: ServiceDB, **options: object) -> tuple[P.ScanPorts, list[str], list[str]]:
    warned: list[str] = []
    logged: list[str] = []
    settings: dict[str, object] = {
        "spec": None,
        "exclude_spec": None,
        "fast": False,
        "top_ports": None,
        "port_ratio": None,
        "ping_ports": [80, 443],
    }
    settings.update(options)
    result = P.select_ports(services=stock, warn=warned.append, stdout=logged.append, **settings)  # type: ignore[arg-type]
    return result, warned, logged


def test_debug_lines_match_nmap(stock: ServiceDB) -> None:
    # nmap -sT -d2 --top-ports 3 --exclude-ports 80,21 (stdout lines)
    result, warned, logged = _lines(stock, top_ports=3, exclude_spec="80,21", debugging=2)
    assert result == P.ScanPorts((22, 23, 443), (443,))
    assert warned == []
    assert logged == [
        "Removed tcp ports: 21 80 ",
        "Removed 2 tcp ports that would have been considered for scanning otherwise.",
        "PORTS: Using top 3 ports found open (TCP:3, UDP:0, SCTP:0)",
        "Removed tcp ports: None",
        "Removed syn_ping ports: 80 ",
        "Removed 1 syn_ping ports that would have been considered for scanning otherwise.",
    ]
    # nmap -sT -d --port-ratio 0.2 --exclude-ports 80,21,1-2 -p 1-100
    _, _, logged = _lines(
        stock, port_ratio=0.2, exclude_spec="80,21,1-2", spec="1-100", debugging=1
    )
    assert logged == [
        "Removed 4 tcp ports that would have been considered for scanning otherwise.",
        "PORTS: Using ports open on 20% or more average hosts (TCP:1, UDP:0, SCTP:0)",
        "Removed 1 syn_ping ports that would have been considered for scanning otherwise.",
    ]
    # nmap -sT -d2 --exclude-ports 80,21,1-2 -p 1-100
    _, _, logged = _lines(stock, exclude_spec="80,21,1-2", spec="1-100", debugging=2)
    assert logged == [
        "Removed tcp ports: 1 2 21 80 ",
        "Removed 4 tcp ports that would have been considered for scanning otherwise.",
        "Removed syn_ping ports: 80 ",
        "Removed 1 syn_ping ports that would have been considered for scanning otherwise.",
    ]


def test_ping_only_exclusion_like_nmap_sn() -> None:
    # nmap -sn --exclude-ports ...: no port list; the exclusion applies to the ping ports
    def sn(exclude: str, debugging: int = 0) -> tuple[P.ScanPorts, list[str], list[str], bool]:
        services = ServiceDB(DataFiles(warn=_no_warning, environ={}, home_dirs=[]))
        result, warned, logged = _lines(
            services, exclude_spec=exclude, port_scan=False, debugging=debugging
        )
        return result, warned, logged, services.loaded

    result, warned, logged, loaded = sn("80,443", debugging=2)
    assert result.ping == ()
    assert warned == [NO_PING.rstrip("\n")]
    assert logged == [
        "Removed syn_ping ports: 80 443 ",
        "Removed 2 syn_ping ports that would have been considered for scanning otherwise.",
    ]
    assert not loaded  # nmap -d says "No data files read."
    assert sn("80")[:2] == (P.ScanPorts((), (443,)), [])
    with pytest.raises(Fatal) as err:
        sn("T:")
    assert err.value.text == NO_PORTS


def test_ping_only_exclusion_spans_every_protocol(stock: ServiceDB) -> None:
    # "biff" is only a udp name: nmap -sn accepts it (and reads nmap-services),
    # nmap -sT -p 22 refuses it
    services = ServiceDB(DataFiles(warn=_no_warning, environ={}, home_dirs=[]))
    result, warned, _ = _lines(services, exclude_spec="biff", port_scan=False)
    assert (result, warned, services.loaded) == (P.ScanPorts((), (80, 443)), [], True)
    with pytest.raises(Fatal) as err:
        _lines(stock, spec="22", exclude_spec="biff")
    assert err.value.message == (
        "Found no matches for the service mask 'biff' and your specified protocols"
    )


def test_pn_means_no_ping_list(stock: ServiceDB) -> None:
    # nmap -sn --exclude-ports 80,443 -Pn: no TCP ping, no warning
    result, warned, _ = _lines(stock, spec="22", exclude_spec="80,443", ping_ports=None)
    assert result == P.ScanPorts((22,), None)
    assert warned == []


# --- the API around the grammar -------------------------------------------


def test_parse_port_spec_per_protocol(stock: ServiceDB) -> None:
    # (from nmap's getpts: unprefixed items go to every scanned protocol)
    warned: list[str] = []
    got = P.parse_port_spec(
        "T:22,U:53,S:1-2", stock, protocols=("tcp", "udp", "sctp"), warn=warned.append
    )
    assert got == P.PortSelection(tcp=(22,), udp=(53,), sctp=(1, 2))
    got = P.parse_port_spec("80,[1-5]", stock, protocols=("tcp", "udp"), warn=warned.append)
    # [1-5]: 4/tcp and 5/tcp are in nmap-services, 4/udp is not
    assert got.tcp == (1, 2, 3, 4, 5, 80)
    assert got.udp == (1, 2, 3, 5, 80)
    assert warned == []


def test_ping_port_spec(stock: ServiceDB) -> None:
    assert P.parse_ping_ports("", stock, warn=_no_warning) == (80,)
    assert P.parse_ping_ports("ssh,1-3", stock, warn=_no_warning) == (1, 2, 3, 22)
    with pytest.raises(Fatal) as err:
        P.parse_ping_ports("[65001-65010]", stock, warn=_no_warning, flag="A")
    assert err.value.message == "Bogus argument to -PA: [65001-65010]"
    assert P.parse_port_spec("[65001-65010]", stock, for_ping=True, warn=_no_warning).count == 0


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", 1),
        ("20", 20),
        ("1e3", 1000),
        ("0x10", 16),
        (" 7", 7),
        ("5abc", 5),
        ("2147483647", 2**31 - 1),
    ],
)
def test_top_ports_option(text: str, value: int) -> None:
    assert P.parse_top_ports_option(text) == value


@pytest.mark.parametrize("text", ["0", "1.5", "abc", "-3", "3000000000", "inf", "nan", ""])
def test_top_ports_option_refused(text: str) -> None:
    with pytest.raises(Fatal) as err:
        P.parse_top_ports_option(text)
    assert err.value.message == "--top-ports should be an integer 1 or greater"


@pytest.mark.parametrize("text", ["1", "-0.1", "2", "inf"])
def test_port_ratio_option_refused(text: str) -> None:
    with pytest.raises(Fatal) as err:
        P.parse_port_ratio_option(text)
    assert err.value.message == "--port-ratio should be between [0 and 1)"


def test_port_ratio_option_accepts_like_strtod() -> None:
    assert P.parse_port_ratio_option("abc") == 0.0
    assert P.parse_port_ratio_option("0.5abc") == 0.5
    assert P.parse_port_ratio_option("nan") != P.parse_port_ratio_option("nan")  # NaN gets through


# --- scan order and range text ----------------------------------------------


def test_scan_order_ascending_with_r() -> None:
    assert P.scan_order([443, 22, 80, 1], randomize=False, rng=random.Random(1)) == [1, 22, 80, 443]


def test_scan_order_random_puts_popular_ports_first() -> None:
    ports = list(range(1, 1025))
    order = P.scan_order(ports, randomize=True, rng=random.Random(7))
    assert sorted(order) == ports
    popular = [p for p in order if p in P.POPULAR_TCP_PORTS]
    assert order[: len(popular)] == popular
    assert set(popular) == {p for p in P.POPULAR_TCP_PORTS if p <= 1024}
    assert order != sorted(order)
    # deterministic for a given generator, different for another
    assert P.scan_order(ports, randomize=True, rng=random.Random(7)) == order
    assert P.scan_order(ports, randomize=True, rng=random.Random(8)) != order
    # popular ports are not in a fixed order among themselves
    firsts = {
        tuple(P.scan_order(ports, randomize=True, rng=random.Random(s))[:3]) for s in range(20)
    }
    assert len(firsts) > 10


def test_scan_order_matches_capture() -> None:
    # cases/packet_trace (-p 22,80,3306): all three are popular, so they lead in
    # some order; the 28 popular ports are nmap's fixed list
    assert {22, 80, 3306} <= P.POPULAR_TCP_PORTS
    assert len(P.POPULAR_TCP_PORTS) == 28
    order = P.scan_order([22, 80, 3306, 5000], randomize=True, rng=random.Random(3))
    assert order[-1] == 5000


@pytest.mark.parametrize(
    ("ports", "text"),
    [
        ([], ""),
        ([80], "80"),
        ([1, 2, 3, 4, 5, 80], "1-5,80"),
        ([80, 1, 3, 2, 3], "1-3,80"),
        ([110, 111, 0, 65535], "0,110-111,65535"),
        (range(1, 65536), "1-65535"),
    ],
)
def test_compress_ranges(ports: list[int], text: str) -> None:
    assert P.compress_ranges(ports) == text


# --- the table above, against the real nmap -------------------------------


@pytest.mark.nmap
def test_cases_still_match_nmap(oracle_ns: Netns, tmp_path: Path) -> None:
    """Re-run nmap (inside the test namespace, no target) over every row of CASES."""
    from concurrent.futures import ThreadPoolExecutor

    root = tmp_path / "d"
    build_datadirs(root)
    work = tmp_path / "cwd"
    work.mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(work), "NMAP_UNPRIVILEGED": "1", "LANG": "C"}

    def nmap(args: list[str]) -> tuple[str | None, str]:
        real = [a.replace("{d}", str(root)) for a in args]
        done = subprocess.run(
            [*oracle_ns.exec_prefix(), NMAP, "-sT", *real, "-oX", "-"],
            capture_output=True,
            cwd=work,
            env=env,
            timeout=60,
            check=False,
        )
        out = done.stdout.decode("utf-8", "surrogateescape")
        err = done.stderr.decode("utf-8", "surrogateescape")
        err = err.replace("WARNING: No targets were specified, so 0 hosts scanned.\n", "")
        found = re.search(r'numservices="(\d+)" services="([^"]*)"', out)
        services = None
        if found:
            listed = tuple(_expand(found.group(2)))
            services = digest(listed)
        return services, err.replace(str(root), "{d}")

    # nmap takes ~40 ms a run: a fixed quarter of the table keeps this test
    # near two seconds; PYNMAP_ORACLE_FULL=1 checks every row
    rows = CASES if os.environ.get("PYNMAP_ORACLE_FULL") else CASES[::4]
    with ThreadPoolExecutor(max_workers=2) as pool:
        seen = list(pool.map(nmap, [c[0] for c in rows]))
    mismatched = [
        (case[0], got) for case, got in zip(rows, seen, strict=True) if got != (case[1], case[2])
    ]
    if _etc_services_sha() != ETC_SERVICES_SHA:
        mismatched = [m for m in mismatched if ETC not in m[1][1]]
    assert mismatched == []


def _expand(text: str) -> Iterator[int]:
    for item in filter(None, text.split(",")):
        first, _, last = item.partition("-")
        yield from range(int(first), int(last or first) + 1)
