"""Bad and borderline command lines: pynmap against the live nmap.

stderr and the exit code must be identical, stdout identical after masking.
Where the case comes from the project's reference (badargs.tsv, recorded in
the capture namespace) nmap's own answer is first checked against that
record: a mismatch there means the harness is wrong, not pynmap.  Nothing
here sends a packet, except a few runs whose probes go to port 22 of the
test namespace's own loopback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from tests.support.compare import assert_same, run_both
from tests.support.netns import Netns

pytestmark = pytest.mark.nmap

PORT_485 = (
    "Error #485: Your port specifications are illegal.  Example of proper form: "
    '"-100,200-1024,T:3000-4000,U:60000-"\nQUITTING!\n'
)
SEE_HELP = "See the output of nmap -h for a summary of options.\n"
TIMING = (
    'Unknown timing mode (-T argument).  Use either "Paranoid", "Sneaky", "Polite", '
    '"Normal", "Aggressive", "Insane" or a number from 0 (Paranoid) to 5 (Insane)\nQUITTING!\n'
)
SKIP_SCAN = "-sL and -sn (skip port scan) are not valid with any other scan types\nQUITTING!\n"
ROOT_SCAN = "You requested a scan type which requires root privileges.\nQUITTING!\n"
F_AND_P = (
    "You cannot use -F (fast scan) with -p (explicit port selection) but see "
    "--top-ports and --port-ratio to fast scan a range of ports\nQUITTING!\n"
)
NOT_ROOT_PING = "Warning:  You are not root -- using TCP pingscan rather than ICMP\n"
ROOT_PING = (
    "Sorry, {} only works if you are root (because we need to read raw responses off the "
    "wire)\nQUITTING!\n"
)
RAW_NOTE = (
    "You have specified some options that require raw socket access.\n"
    "These options will not be honored without the necessary privileges.\n"
)
BIG_PAYLOAD = "WARNING: Payloads bigger than 1400 bytes may not be sent successfully.\n"
SPOOF_UNKNOWN = (
    "Could not parse as a prefix nor find as a vendor substring the given --spoof-mac "
    "argument: {}.  If you are giving hex digits, there must be an even number of them.\n"
    "QUITTING!\n"
)
TOP_PORTS = "--top-ports should be an integer 1 or greater\nQUITTING!\n"
T = ("-p", "22", "127.0.0.1")
BOUNCE_RESOLVE = "Failed to resolve FTP bounce proxy hostname/IP: {}\nQUITTING!\n"
ONE_TCP_SCAN = (
    "You specified more than one type of TCP scan.  Please choose only one of -sA, -b, -sT, "
    "-sF, -sI, -sM, -sN, -sS, -sW, and -sX\nQUITTING!\n"
)
BOUNCE_IPV6 = (
    "Random targets, FTP bounce scan, and fragmentation are not supported with IPv6.\nQUITTING!\n"
)


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]
    exit: int
    # From badargs.tsv (program name "pynmap" put in place of "nmap");
    # None where the case is ours: then only the exit code is a checked fact.
    stderr: str | None = None
    stdout_lines: int | None = None
    # stdout is the usage screen, which pynmap words its own way: not compared
    usage: bool = False


CASES: list[Case] = [
    # timing templates and values (badargs.tsv)
    Case(("-sT", "-T6", *T), 1, TIMING, 0),
    Case(("-sT", "-Tfoo", *T), 1, TIMING, 0),
    Case(("-sT", "-T"), 255, "pynmap: option requires an argument -- 'T'\n" + SEE_HELP, 0),
    Case(("-sT", "-T", "Sneaky", "-sL", "127.0.0.1"), 1, SKIP_SCAN, 0),
    Case(
        ("-sT", "--max-rtt-timeout", "2ms", *T),
        1,
        "Bogus --max-rtt-timeout argument specified, must be at least 5ms\nQUITTING!\n",
        0,
    ),
    Case(
        ("-sT", "--max-rtt-timeout", "60", *T),
        1,
        'Since April 2010, the default unit for --max-rtt-timeout is seconds, so your time of "60" '
        'is 60 seconds. Use "60ms" for 60 milliseconds.\nQUITTING!\n',
        0,
    ),
    Case(
        ("-sT", "--initial-rtt-timeout", "0", *T),
        1,
        "Bogus --initial-rtt-timeout argument specified.  Must be positive\nQUITTING!\n",
        0,
    ),
    Case(("-sT", "--max-retries", "-1", *T), 1, "max-retries must be positive\nQUITTING!\n", 0),
    Case(
        ("-sT", "--host-timeout", "20000", *T),
        1,
        'Since April 2010, the default unit for --host-timeout is seconds, so your time of "20000" '
        'is 5.6 hours. If this is what you want, use "20000s".\nQUITTING!\n',
        0,
    ),
    Case(
        ("-sT", "--host-timeout", "5x", *T),
        1,
        "Bogus --host-timeout argument specified\nQUITTING!\n",
        0,
    ),
    Case(
        ("-sT", "--scan-delay", "200", *T),
        1,
        'Since April 2010, the default unit for --scan-delay is seconds, so your time of "200" '
        'is 3.3 minutes. Use "200ms" for 200 milliseconds.\nQUITTING!\n',
        0,
    ),
    Case(
        ("-sT", "--min-rate", "abc", *T),
        1,
        "Argument to --min-rate must be a positive floating-point number\nQUITTING!\n",
        0,
    ),
    Case(
        ("-sT", "--min-rate", "10", "--max-rate", "5", *T),
        1,
        "--min-rate=10 must be less than or equal to --max-rate=5\nQUITTING!\n",
        0,
    ),
    Case(("-sT", "-M", "0", *T), 1, "Argument to -M must be at least 1!\nQUITTING!\n", 0),
    Case(
        ("-sT", "--min-parallelism", "10", "--max-parallelism", "5", *T),
        1,
        "--min-parallelism=10 must be less than or equal to --max-parallelism=5\nQUITTING!\n",
        0,
    ),
    Case(
        ("-sT", "--min-hostgroup", "10", "--max-hostgroup", "5", *T),
        1,
        "Maximum host group size may not be set to less than the minimum size (currently 10)\n"
        "\nQUITTING!\n",
        0,
    ),
    Case(
        ("-sT", "--stats-every", "abc", *T),
        1,
        "Bogus --stats-every argument specified\nQUITTING!\n",
        0,
    ),
    # port selection (badargs.tsv)
    Case(
        ("-sT", "--top-ports", "0", "127.0.0.1"),
        1,
        "--top-ports should be an integer 1 or greater\nQUITTING!\n",
        0,
    ),
    Case(
        ("-sT", "--top-ports", "1.5", "127.0.0.1"),
        1,
        "--top-ports should be an integer 1 or greater\nQUITTING!\n",
        0,
    ),
    # beyond a C int: nmap's (int) cast of the value then differs from it
    Case(("--top-ports", "4294967297", "-p22", "127.0.0.1"), 1, TOP_PORTS, 0),
    Case(("-sL", "-n", "--top-ports", "2147483648", "127.0.0.1"), 1, TOP_PORTS, 0),
    Case(("-sL", "-n", "--top-ports", "1e10", "127.0.0.1"), 1, TOP_PORTS, 0),
    Case(("-sL", "-n", "--top-ports", "2147483647", "127.0.0.1"), 0, "", 3),
    Case(
        ("-sT", "--top-ports", "70000", "127.0.0.1", "-oG", "/dev/null"),
        1,
        "Level argument to gettoppts (70000) is too large\nQUITTING!\n",
        1,
    ),
    Case(
        ("-sT", "--port-ratio", "1", "127.0.0.1"),
        1,
        "--port-ratio should be between [0 and 1)\nQUITTING!\n",
        0,
    ),
    Case(
        ("-sT", "--exclude-ports", "1", "--exclude-ports", "2", *T),
        1,
        "Only 1 --exclude-ports option allowed, separate multiple ranges with commas.\nQUITTING!\n",
        0,
    ),
    Case(
        ("-sT", "-p", "22", "-p", "80", "127.0.0.1"),
        1,
        "Only 1 -p option allowed, separate multiple ranges with commas.\nQUITTING!\n",
        0,
    ),
    Case(("-sT", "-p", "", "127.0.0.1"), 1, PORT_485, 1),
    Case(("-sT", "-p", ",", "127.0.0.1"), 1, PORT_485, 1),
    Case(("-sT", "-p", "1-2-3", "127.0.0.1"), 1, PORT_485.replace("485", "488"), 1),
    Case(
        ("-sT", "-p", "T:", "127.0.0.1"),
        1,
        "No ports specified -- If you really don't want to scan any ports use ping scan...\n"
        "QUITTING!\n",
        1,
    ),
    Case(
        ("-sT", "-p", "X:22", "127.0.0.1"),
        1,
        "Error parsing port list: Unknown protocol specifier 'X'.\nQUITTING!\n",
        1,
    ),
    Case(
        ("-sT", "-p", "]", "127.0.0.1"),
        1,
        "Unexpected ] character in port/protocol specification\nQUITTING!\n",
        1,
    ),
    Case(
        ("-sT", "-p", "[[1-5]]", "127.0.0.1"),
        1,
        "Can't nest [] brackets in port/protocol specification\nQUITTING!\n",
        1,
    ),
    Case(
        ("-sT", "-p", "65536", "127.0.0.1"),
        1,
        "Ports specified must be between 0 and 65535 inclusive\nQUITTING!\n",
        1,
    ),
    Case(("-sT", "-p", "22x", "127.0.0.1"), 1, PORT_485.replace("485", "487"), 1),
    Case(("-sT", "-p", "ssh ,http", "127.0.0.1"), 1, PORT_485, 1),
    Case(("-sT", "-p", "SSH", "127.0.0.1"), 1, PORT_485, 1),
    Case(("-sT", "-F", *T), 1, F_AND_P, 1),
    Case(("-sT", "--servicedb", "/nonexistent", *T), 1, F_AND_P, 1),
    # verbosity and output (badargs.tsv)
    Case(("-sT", "-vx", *T), 1, 'Invalid argument to -v: "x".\nQUITTING!\n', 0),
    Case(("-sT", "-dx", *T), 1, 'Invalid argument to -d: "x".\nQUITTING!\n', 0),
    Case(
        ("-sT", "-oN", "-foo", *T),
        1,
        "Output filename begins with '-'. Try '-oN ./-foo' if you really want it to be named as "
        "such.\nQUITTING!\n",
        0,
    ),
    Case(
        ("-sT", "-oA", "-", *T),
        1,
        "Cannot display multiple output types to stdout.\nQUITTING!\n",
        0,
    ),
    Case(
        ("-sT", "-oH", "x.html", *T),
        1,
        "HTML output is not directly supported, though Nmap includes an XSL for transforming XML "
        "output into HTML.  See the man page.\nQUITTING!\n",
        0,
    ),
    Case(
        ("-sT", "-oG", "/nonexistent/dir/x.gnmap", *T),
        1,
        "Failed to open machine output file /nonexistent/dir/x.gnmap for writing: "
        "No such file or directory (2)\n",
        0,
    ),
    Case(
        ("-sT", "-oNormal", *T),
        1,
        "You are using a deprecated option in a dangerous way. Did you mean: -oN ormal\n"
        "QUITTING!\n",
        0,
    ),
    # targets (badargs.tsv)
    Case(
        ("-sT", "-iL", "/nonexistent", *T),
        1,
        "Failed to open input file /nonexistent for reading: No such file or directory (2)\n",
        0,
    ),
    Case(
        ("-sT", "-iL", "/dev/null", "-iL", "/dev/null", *T),
        1,
        "Only one input filename allowed\nQUITTING!\n",
        0,
    ),
    Case(
        ("-sT", "--excludefile", "/nonexistent", *T),
        1,
        "Failed to open exclude file /nonexistent for reading: No such file or directory (2)\n",
        1,
    ),
    Case(
        ("-sT", "--exclude", "127.0.0.1/99", *T),
        1,
        'Illegal netmask in "127.0.0.1/99". Must be smaller than address bit length.\n\nQUITTING!\n',
        1,
    ),
    Case(
        ("-sT", "--exclude", "foo..bar", *T),
        1,
        'Error resolving name "foo..bar": Name or service not known\n\nQUITTING!\n',
        1,
    ),
    Case(
        ("-sT", "-p", "22", "127.0.0.1-300"),
        0,
        'Failed to resolve "127.0.0.1-300".\nWARNING: No targets were specified, so 0 hosts '
        "scanned.\n",
        2,
    ),
    Case(
        ("-sT", "-p", "22", "::1"),
        0,
        "::1 looks like an IPv6 target specification -- you have to use the -6 option.\n"
        "WARNING: No targets were specified, so 0 hosts scanned.\n",
        2,
    ),
    Case(
        ("-sT", "-6", *T),
        0,
        "Warning: Hostname 127.0.0.1 resolves, but not to any IPv6 address. Try scanning without "
        '-6\nFailed to resolve "127.0.0.1".\nWARNING: No targets were specified, so 0 hosts '
        "scanned.\n",
        2,
    ),
    Case(
        ("-sT", "-p", "22", "-4", "-6", "127.0.0.1"),
        1,
        "Cannot use both -4 and -6 in one scan.\nQUITTING!\n",
        0,
    ),
    # scan types and discovery (badargs.tsv)
    Case(("-sL", "-sT", "127.0.0.1"), 1, SKIP_SCAN, 0),
    # -sI's idle host: 254 bytes fit nmap's buffer (then -sL refuses the scan type);
    # one more byte is refused with a message that names 254
    Case(("-sL", "-n", "-sI", "\u00e9" * 127, "127.0.0.1"), 1, SKIP_SCAN, 0),
    Case(("-sL", "-n", "-sI", "b" * 254 + "\u00e9", "127.0.0.1"), 1),
    Case(("-sL", "-n", "-sI", "a" * 255, "127.0.0.1"), 1),
    Case(("-sn", "-sT", "127.0.0.1"), 1, SKIP_SCAN, 0),
    Case(
        ("-sn", "-F", "127.0.0.1"),
        1,
        "You cannot use -F (fast scan) or -p (explicit port selection) when not doing a port "
        "scan\nQUITTING!\n",
        1,
    ),
    Case(("-sT", "-sS", *T), 1, ROOT_SCAN, 0),
    Case(("-sS", "--unprivileged", *T), 1, ROOT_SCAN, 0),
    Case(
        ("-s", *T),
        255,
        "An option is required for -s, most common are -sT (tcp scan), -sS (SYN scan), -sF (FIN "
        "scan), -sU (UDP scan) and -sn (Ping scan)\n",
        115,
        usage=True,
    ),
    Case(("-sQ", *T), 255, "Scantype Q not supported\n\n", 115, usage=True),
    Case(
        ("-sT", "-PX", *T),
        1,
        "Illegal Argument to -P, use -Pn, -PE, -PS, -PA, -PP, -PM, -PU, -PY, or -PO\nQUITTING!\n",
        0,
    ),
    Case(
        ("-sT", "-PS22", "-PS80", *T),
        1,
        "Only one -PS option is allowed. Combine port ranges with commas.\nQUITTING!\n",
        0,
    ),
    Case(
        ("-sT", "-PSabc", *T),
        1,
        "Found no matches for the service mask 'abc' and your specified protocols\nQUITTING!\n",
        0,
    ),
    Case(
        ("-sT", "-PU", "--unprivileged", *T),
        1,
        "Sorry, UDP Ping (-PU) only works if you are root (because we need to read raw responses "
        "off the wire)\nQUITTING!\n",
        0,
    ),
    Case(("-sT", "-f", *T), 1, "Sorry, but fragscan requires root privileges.\nQUITTING!\n", 0),
    # an ICMP ping's fallback to a connect ping drops -PU/-PY/-PO (nmap 7.93 sets
    # its ping type to TCP alone); without an ICMP ping they are refused
    Case(("-sn", "-PE", "-PS22,80", "-PU53", "127.0.0.1"), 0, NOT_ROOT_PING, 4),
    Case(("-sn", "-PE", "-PU", "127.0.0.1"), 0, NOT_ROOT_PING, 4),
    Case(("-sn", "-PU", "-PE", "127.0.0.1"), 0, NOT_ROOT_PING, 4),
    Case(("-sn", "-PP", "-PY", "127.0.0.1"), 0, NOT_ROOT_PING, 4),
    Case(("-sn", "-PM", "-PO1,2", "127.0.0.1"), 0, NOT_ROOT_PING, 4),
    # protocol names come from the bundled nmap-protocols (no /etc/protocols warning)
    Case(("-sn", "-PE", "-POicmp,tcp", "127.0.0.1"), 0, NOT_ROOT_PING, 4),
    Case(("-sn", "-PU", "-PB22", "127.0.0.1"), 0, NOT_ROOT_PING, 4),
    Case(("-Pn", "-PB22", *T), 0, NOT_ROOT_PING),
    Case(("-sn", "-PU53", "127.0.0.1"), 1, ROOT_PING.format("UDP Ping (-PU)"), 0),
    Case(("-sn", "-PY", "127.0.0.1"), 1, ROOT_PING.format("SCTP INIT Ping (-PY)"), 0),
    Case(("-sn", "-PO", "127.0.0.1"), 1, ROOT_PING.format("IPProto Ping (-PO)"), 0),
    Case(("-sn", "-PS22", "-PU", "127.0.0.1"), 1, ROOT_PING.format("UDP Ping (-PU)"), 0),
    # the lists are read with the option, before privileges count
    Case(
        ("-sn", "-PU1", "-PY2", "-PU3", "127.0.0.1"),
        1,
        "Only one -PU option is allowed. Combine port ranges with commas.\nQUITTING!\n",
        0,
    ),
    Case(
        ("-sn", "-PE", "-PU99999", "127.0.0.1"),
        1,
        "Ports specified must be between 0 and 65535 inclusive\nQUITTING!\n",
        0,
    ),
    Case(
        ("-sn", "-PE", "-PO300", "127.0.0.1"),
        1,
        "Protocols specified must be between 0 and 255 inclusive\nQUITTING!\n",
        0,
    ),
    Case(
        ("-sn", "-PE", "-PUnosuchname", "127.0.0.1"),
        1,
        "Found no matches for the service mask 'nosuchname' and your specified protocols\n"
        "QUITTING!\n",
        0,
    ),
    Case(
        ("-sT", "--defeat-rst-ratelimit", *T),
        1,
        "Option --defeat-rst-ratelimit works only with a SYN scan (-sS)\nQUITTING!\n",
        0,
    ),
    Case(
        ("--resume", "x.gnmap", "-v"),
        1,
        "Cannot use --resume with other options. Usage: nmap --resume <filename>\nQUITTING!\n",
        0,
    ),
    Case(
        ("--resume", "/nonexistent"),
        1,
        "Could not mmap() /nonexistent file: No such file or directory (2)\n",
        0,
    ),
    # getopt (badargs.tsv)
    Case(("--foo",), 255, "pynmap: unrecognized option '--foo'\n" + SEE_HELP, 0),
    Case(("-foo",), 1, "Sorry, but fragscan requires root privileges.\nQUITTING!\n", 0),
    Case(
        ("--max", *T),
        255,
        "pynmap: option '--max' is ambiguous; possibilities: '--max-os-tries' '--max-parallelism' "
        "'--max-rtt-timeout' '--max-hostgroup' '--max-scan-delay' '--max-retries' '--max-rate'\n"
        + SEE_HELP,
        0,
    ),
    Case(
        ("--versio",),
        255,
        "pynmap: option '--versio' is ambiguous; possibilities: '--version' '--versiondb' "
        "'--version-trace' '--version-intensity' '--version-light' '--version-all'\n" + SEE_HELP,
        0,
    ),
    # warnings around a real probe of the namespace's own port 22 (badargs.tsv)
    Case(
        ("-sT", "-p", "22,22", "127.0.0.1"),
        0,
        "WARNING: Duplicate port number(s) specified.  Are you alert enough to be using Nmap?  "
        "Have some coffee or Jolt(tm).\n",
    ),
    Case(
        ("-sT", "-g", "53", *T),
        0,
        "WARNING: -g is incompatible with the default connect() scan (-sT).  Use a raw scan such "
        "as -sS if you want to set the source port.\nYou have specified some options that require "
        "raw socket access.\nThese options will not be honored without the necessary privileges.\n",
    ),
    Case(
        ("-sT", "--max-rtt-timeout", "10ms", *T),
        0,
        "WARNING: You specified a round-trip time timeout (10 ms) that is EXTRAORDINARILY SMALL.  "
        "Accuracy may suffer.\n",
    ),
    # payload sizes and --spoof-mac, read after the ports are chosen
    Case(("-sT", "--data-length", "2000", *T), 0, BIG_PAYLOAD + RAW_NOTE),
    Case(("-sT", "--data-string", "x" * 1401, *T), 0, BIG_PAYLOAD + RAW_NOTE),
    Case(("-sT", "--data", "0x" + "ab" * 1401, *T), 0, BIG_PAYLOAD + RAW_NOTE),
    Case(("-sT", "--data-length", "1400", *T), 0, RAW_NOTE),
    Case(
        ("-sT", "--data-length", "65436", *T),
        1,
        "data-length must be between 0 and 65435\nQUITTING!\n",
        0,
    ),
    Case(("-sT", "--spoof-mac", "00:11:22:33:44:55", "-oN", "-", *T), 0, RAW_NOTE),
    Case(("-sT", "--spoof-mac", "a0b1c2d3e4f5", "-v", *T), 0, RAW_NOTE),
    Case(
        ("-sT", "--spoof-mac", "00:11:22:33:44:55:66", *T),
        1,
        "Bogus --spoof-mac value encountered (00:11:22:33:44:55:66) -- only up to 6 bytes "
        "permitted\nQUITTING!\n",
        1,
    ),
    Case(("-sT", "--spoof-mac", "00:11:2", *T), 1, SPOOF_UNKNOWN.format("00:11:2"), 1),
    Case(("-sT", "--spoof-mac", "no such vendor", *T), 1,
         SPOOF_UNKNOWN.format("no such vendor"), 1),
    # ours: checked against nmap 7.93 when written; only the exit code is pinned here
    Case((), 255, usage=True),
    Case(("-sU", "-p", "22"), 1),
    Case(("-O", "-p", "22"), 1),
    Case(("-sT", "-iL"), 255),
    Case(("-sT", "--top-ports"), 255),
    Case(("-sT", "--top-ports="), 1),
    Case(("-sT", "--min-rate"), 255),
    Case(("-sT", "-p"), 255),
    Case(("-j",), 255),
    # pynmap's -oJ/--json-lines are matched only in full: nmap's abbreviations and
    # errors around them are unchanged
    Case(("--o", "x"), 255),
    Case(("--json", "x"), 255),
    Case(("--json-line", "x"), 255),
    Case(("-j", "x"), 255),
    Case(("-sL", "-n", "-oJfoo", "127.0.0.1"), 0),
    Case(("-sT", "-p", "100-1"), 1),
    Case(("-sT", "-p", "nosuchservice"), 1),
    Case(("-sT", "-p", "70000"), 1),
    Case(("-sT", "-p", "22-x"), 1),
    Case(("-sT", "-p", "22", "nosuch.invalid"), 0),
    Case(("-sT", "-p", "22", "127.0.0.1/x"), 0),
    Case(("\u2013p", "22"), 1),  # en dash
    Case(("-sT", "-p", "22", "\u2014"), 1),  # em dash, as a target
    Case(("-sT", "\udc97p", "22"), 1),  # cp1252 em dash byte 0x97
    # -b: nmap resolves the relay after its banner, before it pings or connects
    Case(("-b", "", *T), 1, BOUNCE_RESOLVE.format(""), 2),
    Case(("-b", "u:p@", *T), 1, BOUNCE_RESOLVE.format(""), 2),
    Case(("-b", "bob@relay.invalid:21", *T), 1, BOUNCE_RESOLVE.format("relay.invalid"), 3),
    Case(("-Pn", "-b", "relay.invalid:x", *T), 1, BOUNCE_RESOLVE.format("relay.invalid"), 1),
    # -b is a scan type of its own, IPv4 only, and unprivileged nmap's
    Case(("-sT", "-b", "x", *T), 1, ONE_TCP_SCAN, 1),
    Case(("-b", "x", "-b", "y", *T), 1, ONE_TCP_SCAN, 1),
    Case(("-v0", "-b", "bob@x", "-b", "x", *T), 1, ONE_TCP_SCAN, 0),
    Case(("-6", "-b", "x", "-p", "22", "::1"), 1, BOUNCE_IPV6, 1),
    Case(("-Pn", "-6", "-b", "x", "-p", "22", "::1"), 1, BOUNCE_IPV6, 0),
    Case(("-sn", "-b", "x", "127.0.0.1"), 1, SKIP_SCAN, 0),
    Case(("-sS", "-b", "x", *T), 1, ROOT_SCAN, 0),
    # nothing listens on the namespace's own port 2121
    Case(("-Pn", "-b", "127.0.0.1:2121", *T), 1,
         "Your FTP bounce proxy server won't talk to us!\nQUITTING!\n", 1),
]


def _id(case: Case) -> str:
    words = (w if len(w) <= 40 else f"{w[:8]}...({len(w)} chars)" for w in case.args)
    return " ".join(words).encode("ascii", "backslashreplace").decode() or "no-args"


@pytest.mark.parametrize("case", CASES, ids=[_id(case) for case in CASES])
def test_bad_args_match_nmap(case: Case, oracle_ns: Netns, tmp_path: Path) -> None:
    nmap, pynmap = run_both(case.args, oracle_ns, tmp_path)
    assert nmap.exit == case.exit, f"harness: nmap exit {nmap.exit}\n{nmap.stderr}"
    if case.stderr is not None:
        assert nmap.stderr == case.stderr, "harness: nmap's stderr differs from badargs.tsv"
    if case.stdout_lines is not None:
        assert len(nmap.stdout.splitlines()) == case.stdout_lines, "harness: nmap's stdout"
    assert_same(nmap, pynmap, case.args, stdout=not case.usage)
    if case.usage:
        assert pynmap.stdout, "pynmap printed no usage screen"


def test_enough_cases() -> None:
    assert len(CASES) >= 30
    assert len({_id(case) for case in CASES}) == len(CASES)


SPOOFED = re.compile(r"^(Spoofing MAC address ..:..:..):..:..:.. ", re.MULTILINE)


@pytest.mark.parametrize("spec", ["Apple", "cimsys", "0"])
def test_spoof_mac_vendor_and_random_bytes(spec: str, oracle_ns: Netns, tmp_path: Path) -> None:
    """A vendor's name picks its first prefix; the other bytes are random (masked here),
    and "0" makes all six random: its vendor is then nearly always unregistered."""
    args = ("-sL", "-n", "--spoof-mac", spec, "-oN", "out.nmap", "127.0.0.1")
    nmap, pynmap = run_both(args, oracle_ns, tmp_path, outputs=["out.nmap"])
    expected = {"Apple": "Spoofing MAC address 00:03:93", "cimsys": "Spoofing MAC address 00:11:22"}
    if spec in expected:
        assert expected[spec] in nmap.stdout, nmap.stdout  # the harness
    masked = [
        replace(run, stdout=SPOOFED.sub(r"\1:XX:XX:XX ", run.stdout),
                files={n: SPOOFED.sub(r"\1:XX:XX:XX ", t or "") for n, t in run.files.items()})
        for run in (nmap, pynmap)
    ]
    if spec == "0":  # the first three bytes are random too
        masked = [replace(run, stdout=re.sub(r"address ..:..:..:XX:XX:XX \(.*\)", "address R",
                                             run.stdout), files={})
                  for run in masked]
    assert_same(*masked, args)
