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
  -PE: ICMP echo, with --privileged where ping sockets are allowed (else a connect())
  -n/-R: Never resolve names/Resolve names of every target [default: of up hosts]
  --dns-servers <serv1[,serv2],...>: DNS servers to ask
  --system-dns: Resolve names through the operating system's resolver
SCAN TECHNIQUES:
  -sT: TCP connect() scan (the default)
  -b <[user:pass@]server[:port]>: FTP bounce scan: an FTP server that accepts
      PORT for other addresses connects to each port for you (default login
      anonymous, port 21)
PORT SPECIFICATION AND SCAN ORDER:
  -p <port ranges>: Ports to scan
    Ex: -p22; -p1-65535; -p 80,443,8000-8100; -p http*; -p [1-1024]
  --exclude-ports <port ranges>: Leave these ports out
  -F: Fast mode - the 100 most common ports
  -r: Scan ports in ascending order rather than at random
  --top-ports <number>: The <number> most common ports
  --port-ratio <ratio>: Ports more common than <ratio>
SERVICE/VERSION DETECTION:
  -sV: Ask each open port what service and version answers (nmap's probes)
  --version-intensity <level>: From 0 (the likeliest probes) to 9 (every one)
  --version-light: Intensity 2
  --version-all: Intensity 9
  --allports: Probe the ports nmap-service-probes excludes too
  --version-trace: Show each probe sent and what matched
  --versiondb <file>: Use this nmap-service-probes file
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
  --privileged: Add what needs no raw socket: the MAC address of hosts on a
      directly connected Ethernet, ICMP echo through ping sockets
  --datadir <dirname>: Where to find nmap-services
  --servicedb <file>: Use this services file (implies -F)
OUTPUT:
  -oN/-oX/-oS/-oG <file>: Normal, XML, s|<rIpt kIddi3, and Grepable output
     to the given file ("-" for standard output)
  -oA <basename>: The three main formats at once
  -oJ <file>: One JSON document for the whole run ("-" for standard output)
  --json-lines <file>: JSON Lines: one object per host as it ends, then a summary
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
SCALING OUT (pip install 'pynmap[cluster]'):
  --cluster local:<n>: Split the scan into shards run by <n> worker processes
  --cluster tls://<host>:<port>: ... by the workers of a Dask scheduler (TLS)
  --cluster-ca/--cluster-cert/--cluster-key <file>: TLS files for the cluster
  --cluster-shards <n>: Number of shards (default: twice the workers' threads)
EXAMPLES:
  pynmap -v 192.0.2.10
  pynmap -sL -n 198.51.100.0/24
  pynmap -p 22,80,443 -oX scan.xml 203.0.113.0/28
"""


def usage_text() -> str:
    return USAGE.format(version=__version__, nmap=NMAP_VERSION)


def version_text() -> str:
    """-V in nmap's five-line shape, with what pynmap itself is built from.

    The first line keeps nmap's words, so that python-nmap (which matches
    "Nmap version X.Y ( http(s)://... )") accepts the scanner; the rest of it
    names pynmap.  Platform is the GNU triplet of the Python running pynmap,
    as nmap's is the triplet it was built for.  Compiled with: the
    interpreter and the libraries pynmap's own code uses, and ipv6 where the
    interpreter has it, and the OpenSSL that Python's ssl module (-sV's TLS)
    was built with; Compiled without: the libraries nmap lists that pynmap
    has no use for (no scripts, no packet capture), so a tool that looks for
    liblua is not misled.  The engines: the connect scan's loop on poll(),
    the service scan's on epoll.
    """
    import socket
    import ssl
    import sysconfig
    from importlib import metadata

    platform_name = (sysconfig.get_config_var("HOST_GNU_TYPE")
                     or f"{platform.machine()}-unknown-{sys.platform}")
    with_ = [f"python-{platform.python_version()}"]
    for package in ("jinja2", "typer"):
        try:
            with_.append(f"{package}-{metadata.version(package)}")
        except metadata.PackageNotFoundError:
            with_.append(package)
    # "OpenSSL 3.0.19 27 Jan 2026": nmap names it as openssl-3.0.19
    with_.append(f"openssl-{ssl.OPENSSL_VERSION.split()[1]}")
    without = ["liblua", "libssh2", "libz", "libpcre", "libpcap", "libdnet"]
    (with_ if socket.has_ipv6 else without).append("ipv6")
    return (
        f"Nmap version {NMAP_VERSION} ( https://nmap.org ) compatible: pynmap {__version__}\n"
        f"Platform: {platform_name}\n"
        f"Compiled with:{''.join(' ' + item for item in with_)}\n"
        f"Compiled without:{''.join(' ' + item for item in without)}\n"
        "Available nsock engines: epoll poll\n"
    )
