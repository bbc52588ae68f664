"""pynmap's -h and -V texts: nmap's shape, pynmap's own words."""

from __future__ import annotations

import platform
import sys

from pynmap import NMAP_VERSION, __version__

USAGE = """\
pynmap {version} (nmap {nmap} -sT compatible)
Usage: pynmap [Scan Type(s)] [Options] {{target specification}}
TARGET SPECIFICATION:
  Names, addresses, CIDR blocks and octet ranges, for example
  host.example, 192.0.2.0/24, 198.51.100.1-20, 10.0.0-2.1,3
  -iL <inputfilename>: Read targets from a file ("-" for standard input)
  --exclude <host1[,host2][,host3],...>: Leave these hosts/networks out
  --excludefile <exclude_file>: Leave out the targets listed in a file
HOST DISCOVERY:
  -sL: List Scan - print the targets without sending anything to them
  -sn: Ping Scan - find which hosts are up, without a port scan
  -Pn: Skip host discovery and treat every target as up
  -PS/PA[portlist]: Discover hosts by connect() to these ports (default 80,443)
  -n/-R: Never resolve names/Resolve names of every target [default: of up hosts]
  --dns-servers <serv1[,serv2],...>: DNS servers to ask
  --system-dns: Resolve names through the operating system's resolver
SCAN TECHNIQUES:
  -sT: TCP connect() scan (the only scan pynmap performs; also the default)
  -sV: Accepted for compatibility; version detection is not performed
PORT SPECIFICATION AND SCAN ORDER:
  -p <port ranges>: Ports to scan
    Ex: -p22; -p1-65535; -p 80,443,8000-8100; -p http*; -p [1-1024]
  --exclude-ports <port ranges>: Leave these ports out
  -F: Fast mode - the 100 most common ports
  -r: Scan ports in ascending order rather than at random
  --top-ports <number>: The <number> most common ports
  --port-ratio <ratio>: Ports more common than <ratio>
TIMING AND PERFORMANCE:
  Times are in seconds, or take a unit: 'ms', 's', 'm' or 'h' (30m, 0.25h).
  -T<0-5>: Timing template (higher is faster)
  --min-hostgroup/max-hostgroup <size>: Bounds of a parallel host group
  --min-parallelism/max-parallelism <numprobes>: Bounds of probes in flight
  --min-rtt-timeout/max-rtt-timeout/initial-rtt-timeout <time>: Probe round
      trip time bounds
  --max-retries <tries>: Most retransmissions of one port probe
  --host-timeout <time>: Give up on a host after this long
  --scan-delay/--max-scan-delay <time>: Pause between probes
  --min-rate <number>: Send at least <number> probes per second
  --max-rate <number>: Send at most <number> probes per second
MISC CONNECT OPTIONS:
  -S <IP_Address>: Connect from this local address
  -e <iface>: Connect through this interface
  -6: Scan IPv6 targets
  --datadir <dirname>: Where to find nmap-services
  --servicedb <file>: Use this services file (implies -F)
OUTPUT:
  -oN/-oX/-oS/-oG <file>: Normal, XML, s|<rIpt kIddi3, and Grepable output
     to the given file ("-" for standard output)
  -oA <basename>: The three main formats at once
  -v: More verbose (-vv or more for even more)
  -d: Debugging output (-dd for more)
  --reason: Say why each port is in its state
  --open: Show only open ports (and hosts with some)
  --packet-trace: Show every connection attempt
  --append-output: Append to the output files rather than replace them
  --stylesheet <path/URL>: XSL stylesheet for the XML output
  --webxml: Use the stylesheet nmap publishes on the web
  --no-stylesheet: No stylesheet reference in the XML output
  --stats-every <time>: Print progress at this interval
  --noninteractive: No keyboard interaction during the scan
  -V: Print the version
  -h: Print this summary
EXAMPLES:
  pynmap -v 192.0.2.10
  pynmap -sL -n 198.51.100.0/24
  pynmap -p 22,80,443 -oX scan.xml 203.0.113.0/28
"""


def usage_text() -> str:
    return USAGE.format(version=__version__, nmap=NMAP_VERSION)


def version_text() -> str:
    # python-nmap accepts a scanner whose first -V line matches
    # "Nmap version X.Y ( http(s)://... )"; the rest of the line and the
    # following lines say what this program really is.
    return (
        f"Nmap version {NMAP_VERSION} ( https://nmap.org ) compatible: pynmap {__version__}\n"
        f"pynmap {__version__}: the nmap -sT (TCP connect scan) subset, in Python\n"
        f"Platform: {platform.machine()}-{sys.platform}\n"
        f"Python: {platform.python_version()}\n"
    )
