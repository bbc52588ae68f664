"""Options: what the command line asks for, validated the way nmap validates it.

`parse_options()` walks the lexed tokens in order (nmap handles each option as
getopt returns it, so the first fatal problem on the line is the one reported),
then applies the "delayed" options and the cross-option checks nmap makes
before it opens any output file.  Everything that needs the port lists or the
data files happens later, after the banner (see pynmap.session).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from typing import TextIO

from pynmap.cli.argv import ArgvLexer, Token
from pynmap.cnumbers import (
    atoi,
    c_g,
    scanf_float,
    strtod,
    strtoul,
    tval2msecs,
    tval2secs,
    tval_has_unit,
)
from pynmap.errors import Fatal, PlainExit, SystemFatal, Warn
from pynmap.services import ServiceDB
from pynmap.timing import TEMPLATE_NAMES, TEMPLATES, Timing

# Scan types nmap knows.  pynmap performs the connect scan; the others need raw
# sockets, and unprivileged nmap refuses them, so pynmap does the same.
RAW_SCAN_LETTERS = frozenset("AFMNOSUWXYZ")
SCAN_LETTERS = frozenset("PnABCFLMNORSTUVWXYZ")

UNKNOWN_TIMING = (
    'Unknown timing mode (-T argument).  Use either "Paranoid", "Sneaky", "Polite", '
    '"Normal", "Aggressive", "Insane" or a number from 0 (Paranoid) to 5 (Insane)'
)

DEFAULT_PING_PORTS = "80,443"

# nmap's largest --data* payload: 65535 less 60 (IP header) and 40 (TCP header)
MAX_PAYLOAD = 65535 - 60 - 40


class Options:
    """What the command line asks for.

    The defaults are class attributes, and the parser sets what the command
    line changes; the mutable values are made per instance, in __init__.
    """

    prog: str = "nmap"
    args: list[str]  # argv as logged: program, options, then targets
    targets: list[str]
    input_name: str | None = None  # -iL: the file name ("-" = stdin); opened at parse time
    input_stream: TextIO | None = None

    # scan types
    connect_scan: bool = False
    list_scan: bool = False
    no_port_scan: bool = False  # -sn (and -sL)
    version_scan: bool = False  # -sV: accepted, not performed (see README)
    script_scan: bool = False  # -sC / --script: accepted, not performed
    raw_scan_types: set[str]

    # host discovery
    ping_none: bool = False  # -Pn (also -sL)
    ping_icmp: bool = False  # -PE/-PP/-PM: fall back to a connect ping, as unprivileged nmap
    syn_ping_ports: tuple[int, ...] | None = None  # -PS (a bare -PS is port 80)
    ack_ping_ports: tuple[int, ...] | None = None  # -PA/-PB/-PT
    # -PU/-PY/-PO still asked for: refused unprivileged, unless an ICMP ping's
    # fallback to a connect ping (or -PB) has replaced them
    raw_ping: set[str]

    # ports
    port_spec: str | None = None
    exclude_ports: str | None = None
    fast: bool = False
    top_port_level: float | None = None  # --top-ports N or --port-ratio R: one setting in nmap
    randomize_ports: bool = True
    all_ports: bool = False

    # targets and DNS
    af: int = socket.AF_INET
    no_resolve: bool = False
    always_resolve: bool = False
    dns_servers: str | None = None
    system_dns: bool = False
    resolve_all: bool = False
    unique: bool = False
    exclude_spec: str | None = None
    exclude_file: str | None = None
    decoys: str | None = None  # -D: checked (resolved) after the exclude file is opened
    randomize_hosts: bool = False

    # timing
    timing: Timing = Timing()

    # output
    verbosity: int = 0
    debugging: int = 0
    stdout_muted: bool = False  # -v0 (or an output sent to "-")
    reason: bool = False
    open_only: bool = False
    packet_trace: bool = False
    stats_every: float = 0.0
    noninteractive: bool = False
    normal_file: str | None = None
    grepable_file: str | None = None
    xml_file: str | None = None
    kiddie_file: str | None = None
    json_file: str | None = None  # -oJ (pynmap's own)
    json_lines_file: str | None = None  # --json-lines (pynmap's own)
    append_output: bool = False
    stylesheet: str | None = "default"  # "default" = our own rule; None = --no-stylesheet
    datadir: str | None = None
    servicedb: str | None = None
    # nmap-services as first needed: -PS names can need it while options are still read
    services: ServiceDB | None = None

    # connect-socket tweaks
    device: str | None = None
    source_address: str | None = None
    source_port: int | None = None
    ttl: int | None = None
    raw_scan_options: bool = False  # options only raw packets could honour
    spoof_mac: str | None = None  # --spoof-mac: announced, not used (no raw sockets)
    traceroute_requested: bool = False  # refused after the banner, as unprivileged nmap does
    privileged: bool = False  # --privileged: accepted; pynmap never has raw sockets

    # things nmap offers that pynmap reports as not performed
    unsupported: list[str]
    start_time: float

    def __init__(self, prog: str = "nmap") -> None:
        self.prog = prog
        self.args = []
        self.targets = []
        self.raw_scan_types = set()
        self.raw_ping = set()
        self.unsupported = []
        self.start_time = time.time()

    @property
    def port_scan(self) -> bool:
        return not self.no_port_scan


class _Delayed:
    """Values nmap applies only after the whole command line is read."""

    def __init__(self) -> None:
        self.max_parallelism = -1
        self.scan_delay = -1
        self.max_scan_delay = -1
        self.initial_rtt = -1
        self.min_rtt = -1
        self.max_rtt = -1
        self.max_retries = -1
        self.host_timeout = -1
        self.af: int | None = None
        self.advanced = False
        self.deprecations: list[str] = []
        self.decoys: str | None = None
        self.fragscan = 0
        self.osscan = False
        self.traceroute = False
        self.magic_port_set = False
        # -PU/-PY/-PO letters given a port list (nmap's "Only one -PU" counts
        # lists, which outlive the ping type that -PB resets)
        self.raw_ping_lists: set[str] = set()

    def deprecated(self, given: str, replacement: str) -> None:
        self.deprecations.append(
            f"Warning: The -{given} option is deprecated. Please use -{replacement}"
        )


def output_filename(spec: str, when: float) -> str:
    """nmap's strftime-like escapes in output file names (%H %M %S %T %R %m %d %y %Y %D %F)."""
    formats = {"H": "%H", "M": "%M", "S": "%S", "T": "%H%M%S", "R": "%H%M", "m": "%m",
               "d": "%d", "y": "%y", "Y": "%Y", "D": "%m%d%y", "F": "%Y-%m-%d"}
    tm = time.localtime(when)
    out: list[str] = []
    i = 0
    while i < len(spec):
        ch = spec[i]
        if ch != "%":
            out.append(ch)
            i += 1
            continue
        if i + 1 >= len(spec):
            break
        code = spec[i + 1]
        out.append(time.strftime(formats[code], tm) if code in formats else code)
        i += 2
    return "".join(out)


def _check_output_name(name: str, option: str) -> None:
    if name.startswith("-") and name != "-":
        raise Fatal(
            f"Output filename begins with '-'. Try '-{option} ./{name}' if you really want it "
            "to be named as such."
        )
    if option == "o" and name[:1] and name[0] in "NAXGS":
        raise Fatal(
            "You are using a deprecated option in a dangerous way. Did you mean: "
            f"-o{name[0]} {name[1:]}"
        )
    if name.startswith("-") and option == "oA":
        raise Fatal("Cannot display multiple output types to stdout.")


def _since_april_2010(option: str, text: str, ms: int, scale: str) -> str:
    if scale == "seconds":
        return (f'Since April 2010, the default unit for --{option} is seconds, so your time of '
                f'"{text}" is {c_g(ms / 1000.0)} seconds. Use "{text}ms" for {c_g(ms / 1000.0)} '
                "milliseconds.")
    if scale == "minutes-ms":
        return (f'Since April 2010, the default unit for --{option} is seconds, so your time of '
                f'"{text}" is {ms / 1000.0 / 60:.1f} minutes. Use "{text}ms" for '
                f"{c_g(ms / 1000.0)} milliseconds.")
    if scale == "minutes-s":
        return (f'Since April 2010, the default unit for --{option} is seconds, so your time of '
                f'"{text}" is {ms / 1000.0 / 60:.1f} minutes. If this is what you want, use '
                f'"{text}s".')
    return (f'Since April 2010, the default unit for --{option} is seconds, so your time of '
            f'"{text}" is {ms / 1000.0 / 3600:.1f} hours. If this is what you want, use "{text}s".')


class _Parser:
    def __init__(self, argv: list[str], warn: Warn, say: Warn, usage: Callable[[], str],
                 version: Callable[[], str]) -> None:
        self.lexer = ArgvLexer(argv)
        self.o = Options(prog=self.lexer.prog)
        self.d = _Delayed()
        self.warn = warn
        self.say = say  # stdout, for the few things nmap prints while still parsing
        self.usage = usage
        self.version = version
        self.timing = Timing()
        self.defeat_rst = False
        self.defeat_icmp = False
        self.payload_given = False

    # -- the walk over the command line ----------------------------------------------------
    def run(self) -> Options:
        for token in self.lexer:
            self.handle(token)
        o = self.o
        o.targets = list(self.lexer.targets)
        o.args = self.lexer.permuted()
        self.apply_delayed()
        return o

    def handle(self, tok: Token) -> None:
        name, value = tok.name, tok.value
        method = getattr(self, "opt_" + name.replace("-", "_"), None)
        if method is None:
            raise AssertionError(f"no handler for option {name}")  # a table/handler mismatch is our bug
        if value is None:
            method()
        else:
            method(value)

    # -- short options ------------------------------------------------------------------------
    def opt_4(self) -> None:
        if self.d.af == socket.AF_INET6:
            raise Fatal("Cannot use both -4 and -6 in one scan.")
        self.d.af = socket.AF_INET

    def opt_6(self) -> None:
        if self.d.af == socket.AF_INET:
            raise Fatal("Cannot use both -4 and -6 in one scan.")
        self.d.af = socket.AF_INET6

    def opt_A(self) -> None:
        self.d.advanced = True

    def opt_b(self, value: str) -> None:
        raise Fatal("pynmap does not support the FTP bounce scan (-b).")

    def opt_D(self, value: str) -> None:
        self.o.raw_scan_options = True
        self.d.decoys = value

    def opt_d(self, value: str | None = None) -> None:
        o = self.o
        if value and value[0].isdigit():
            o.debugging = o.verbosity = max(0, min(10, atoi(value)))
        else:
            o.debugging = min(10, o.debugging + 1)
            o.verbosity = min(10, o.verbosity + 1)
            rest = value or ""
            while rest.startswith("d"):
                o.debugging = min(10, o.debugging + 1)
                o.verbosity = min(10, o.verbosity + 1)
                rest = rest[1:]
            if rest:
                raise Fatal(f'Invalid argument to -d: "{value}".')
        o.reason = True

    def opt_e(self, value: str) -> None:
        self.o.device = value

    def opt_F(self) -> None:
        self.o.fast = True

    def opt_f(self) -> None:
        self.o.raw_scan_options = True
        self.d.fragscan += 8

    def opt_g(self, value: str) -> None:
        self.o.raw_scan_options = True
        port = atoi(value)
        self.o.source_port = port
        self.d.magic_port_set = True
        if port == 0:
            self.warn("WARNING: a source port of zero may not work on all systems.")

    def opt_h(self) -> None:
        raise PlainExit("", 0, self.usage())

    def opt_I(self) -> None:
        self.warn("WARNING: identscan (-I) no longer supported.  Ignoring -I")

    def opt_i(self, value: str) -> None:
        self.d.deprecated("i", "iL")
        self.opt_iL(value)

    def opt_M(self, value: str) -> None:
        n = atoi(value)
        self.d.max_parallelism = n
        if n < 1:
            raise Fatal("Argument to -M must be at least 1!")
        if n > 900:
            self.warn("Warning: Your max-parallelism (-M) option is extraordinarily high, which "
                      "can hurt reliability")

    def opt_m(self, value: str) -> None:
        self.d.deprecated("m", "oG")
        _check_output_name(value, "oG")
        self.o.grepable_file = output_filename(value, self.o.start_time)

    def opt_n(self) -> None:
        self.o.no_resolve = True

    def opt_O(self, value: str | None = None) -> None:
        if not value or value[0] == "2":
            self.d.osscan = True
        elif value[0] == "1":
            raise Fatal("First-generation OS detection (-O1) is no longer supported. Use -O instead.")
        else:
            raise Fatal("Unknown argument to -O.")

    def opt_o(self, value: str) -> None:
        self.d.deprecated("o", "oN")
        _check_output_name(value, "o")
        self.o.normal_file = output_filename(value, self.o.start_time)

    def opt_P(self, value: str | None = None) -> None:
        o = self.o
        if value is None:
            self.d.deprecated("P", "PE")
            o.ping_icmp = True
            return
        letter, rest = value[:1], value[1:]
        if letter in ("", "I", "E"):
            if letter != "E":
                self.d.deprecated("P" + letter, "PE")
            o.ping_icmp = True
        elif letter in ("M", "P"):
            o.ping_icmp = True
        elif letter in ("n", "0", "N", "D"):
            if letter != "n":
                self.d.deprecated("P" + letter, "Pn")
            if o.verbosity > 0:
                self.warn("Host discovery disabled (-Pn). All addresses will be marked 'up' and "
                          "scan times may be slower.")
            o.ping_none = True
        elif letter == "R":
            if o.verbosity > 0:
                self.warn("The -PR option is deprecated. ARP scan is always done when possible.")
        elif letter == "S":
            if o.syn_ping_ports is not None:
                raise Fatal("Only one -PS option is allowed. Combine port ranges with commas.")
            o.syn_ping_ports = self._ping_ports("S", rest)
        elif letter in ("T", "A", "B"):
            if o.ack_ping_ports is not None:
                raise Fatal("Only one -PB, -PA, or -PT option is allowed. Combine port ranges "
                            "with commas.")
            if letter == "B":
                # -PB sets nmap's whole default ping type: ICMP and TCP pings,
                # no -Pn and none of the -PU/-PY/-PO asked for so far
                o.ping_icmp = True
                o.ping_none = False
                o.raw_ping.clear()
            o.ack_ping_ports = self._ping_ports("A" if letter == "T" else letter, rest)
        elif letter in ("U", "Y", "O"):
            if letter in self.d.raw_ping_lists:
                what = "protocol" if letter == "O" else "port"
                raise Fatal(f"Only one -P{letter} option is allowed. Combine {what} ranges with "
                            "commas.")
            # parsed now, as nmap does: a bad list is refused before privileges are looked at
            self._ping_ports(letter, rest)
            self.d.raw_ping_lists.add(letter)
            o.raw_ping.add(letter)
        else:
            raise Fatal("Illegal Argument to -P, use -Pn, -PE, -PS, -PA, -PP, -PM, -PU, -PY, or -PO")

    def _ping_ports(self, flag: str, spec: str) -> tuple[int, ...]:
        """A -PS/-PA list, parsed now: nmap parses it while reading the option."""
        from pynmap import ports

        if self.o.services is None:
            # Created now, with the data directory known so far; read only if a name needs it.
            self.o.services = ServiceDB.lazy(servicedb=self.o.servicedb, datadir=self.o.datadir,
                                             warn=self.warn, debugging=self.o.debugging)
        return ports.parse_ping_ports(spec, self.o.services, warn=self.warn, flag=flag)

    def opt_p(self, value: str) -> None:
        if self.o.port_spec is not None:
            raise Fatal("Only 1 -p option allowed, separate multiple ranges with commas.")
        self.o.port_spec = value

    def opt_q(self) -> None:
        """-q is in nmap's option string but does nothing."""

    def opt_R(self) -> None:
        self.o.always_resolve = True

    def opt_r(self) -> None:
        self.o.randomize_ports = False

    def opt_S(self, value: str) -> None:
        if self.o.source_address is not None:
            raise Fatal("You can only use the source option once!  Use -D <decoy1> -D <decoy2> "
                        "etc. for decoys\n")
        self.o.source_address = value
        self.o.raw_scan_options = True

    def opt_s(self, value: str | None = None) -> None:
        o = self.o
        if not value:
            raise PlainExit(
                "An option is required for -s, most common are -sT (tcp scan), -sS (SYN scan), "
                "-sF (FIN scan), -sU (UDP scan) and -sn (Ping scan)\n", 255, self.usage())
        for letter in value:
            if letter == "P":
                self.d.deprecated("sP", "sn")
                o.no_port_scan = True
            elif letter == "n":
                o.no_port_scan = True
            elif letter == "B":
                raise Fatal("No scan type 'B', did you mean bounce scan (-b)?")
            elif letter == "C":
                o.script_scan = True
            elif letter == "L":
                o.list_scan = True
                o.no_port_scan = True
                o.ping_none = True
            elif letter == "R":
                o.version_scan = True
                self.d.deprecated("sR", "sV")
                self.warn("WARNING: -sR is now an alias for -sV and activates version detection "
                          "as well as RPC scan.")
            elif letter == "T":
                o.connect_scan = True
            elif letter == "V":
                o.version_scan = True
            elif letter in RAW_SCAN_LETTERS:
                o.raw_scan_types.add(letter)
            else:
                # nmap reads the value byte by byte: a multi-byte letter is named by its first byte
                first = os.fsencode(letter)[:1].decode("utf-8", "surrogateescape")
                raise PlainExit(f"Scantype {first} not supported\n\n", 255, self.usage())

    def opt_T(self, value: str) -> None:
        level = _timing_level(value, self.warn)
        if level is None:
            raise Fatal(UNKNOWN_TIMING)
        if level != 3:
            self.timing = _apply_template(self.timing, level)

    def opt_V(self) -> None:
        raise PlainExit("", 0, self.version())

    def opt_v(self, value: str | None = None) -> None:
        o = self.o
        if value and value[0].isdigit():
            o.verbosity = max(0, min(10, atoi(value)))
            if o.verbosity == 0:
                o.stdout_muted = True
            return
        o.verbosity = min(10, o.verbosity + 1)
        rest = value or ""
        while rest.startswith("v"):
            o.verbosity = min(10, o.verbosity + 1)
            rest = rest[1:]
        if rest:
            raise Fatal(f'Invalid argument to -v: "{value}".')

    # -- long options -------------------------------------------------------------------------
    def _refuse(self, what: str) -> None:
        raise Fatal(f"pynmap does not support {what}.")

    def _not_performed(self, what: str) -> None:
        self.o.unsupported.append(what)

    def opt_datadir(self, value: str) -> None:
        self.o.datadir = value

    def opt_servicedb(self, value: str) -> None:
        self.o.servicedb = value
        self.o.fast = True

    def opt_versiondb(self, value: str) -> None:
        """Only version detection reads it; accepted and unused."""

    def opt_iflist(self) -> None:
        self._refuse("--iflist (interface and route listing)")

    def opt_release_memory(self) -> None:
        """A memory-debugging switch of nmap's; nothing to do."""

    def opt_nogcc(self) -> None:
        """Disables nmap's group congestion control; pynmap has no switch for it."""

    def opt_max_os_tries(self, value: str) -> None:
        n = atoi(value)
        if n < 1 or n > 50:
            raise Fatal("Bogus --max-os-tries argument specified, must be between 1 and 50 "
                        "(inclusive)")

    def opt_min_parallelism(self, value: str) -> None:
        n = atoi(value)
        if n < 1:
            raise Fatal("Argument to --min-parallelism must be at least 1!")
        if n > 100:
            self.warn("Warning: Your --min-parallelism option is pretty high!  This can hurt "
                      "reliability.")
        self.timing = self.timing.with_(min_parallelism=n)

    def opt_max_rtt_timeout(self, value: str) -> None:
        ms = tval2msecs(value)
        if ms < 5:
            raise Fatal("Bogus --max-rtt-timeout argument specified, must be at least 5ms")
        if ms >= 50 * 1000 and not tval_has_unit(value):
            raise Fatal(_since_april_2010("max-rtt-timeout", value, ms, "seconds"))
        if ms < 20:
            self.warn(f"WARNING: You specified a round-trip time timeout ({ms} ms) that is "
                      "EXTRAORDINARILY SMALL.  Accuracy may suffer.")
        self.d.max_rtt = ms

    def opt_min_rtt_timeout(self, value: str) -> None:
        ms = tval2msecs(value)
        if ms < 0:
            raise Fatal("Bogus --min-rtt-timeout argument specified")
        if ms >= 50 * 1000 and not tval_has_unit(value):
            raise Fatal(_since_april_2010("min-rtt-timeout", value, ms, "seconds"))
        self.d.min_rtt = ms

    def opt_initial_rtt_timeout(self, value: str) -> None:
        ms = tval2msecs(value)
        if ms <= 0:
            raise Fatal("Bogus --initial-rtt-timeout argument specified.  Must be positive")
        if ms >= 50 * 1000 and not tval_has_unit(value):
            raise Fatal(_since_april_2010("initial-rtt-timeout", value, ms, "seconds"))
        self.d.initial_rtt = ms

    def opt_excludefile(self, value: str) -> None:
        self.o.exclude_file = value

    def opt_exclude(self, value: str) -> None:
        self.o.exclude_spec = value

    def opt_max_hostgroup(self, value: str) -> None:
        size = atoi(value) % 2**32  # nmap stores it unsigned
        if size < self.timing.min_hostgroup:
            raise Fatal("Maximum host group size may not be set to less than the minimum size "
                        f"(currently {self.timing.min_hostgroup})\n")
        if size == 0:
            raise Fatal("Max host size must be at least 1")
        self.timing = self.timing.with_(max_hostgroup=size)

    def opt_min_hostgroup(self, value: str) -> None:
        size = atoi(value) % 2**32
        if size > self.timing.max_hostgroup:
            raise Fatal("Minimum host group size may not be set to greater than maximum size "
                        f"(currently {self.timing.max_hostgroup})\n")
        self.timing = self.timing.with_(min_hostgroup=size)
        if atoi(value) > 100:
            self.warn("Warning: You specified a highly aggressive --min-hostgroup.")

    def opt_open(self) -> None:
        self.o.open_only = True

    def opt_scanflags(self, value: str) -> None:
        self.o.raw_scan_options = True
        if not _valid_scanflags(value):
            raise Fatal('--scanflags option must be a number between 0 and 255 (inclusive) or a '
                        'string like "URGPSHFIN".')

    def opt_defeat_rst_ratelimit(self) -> None:
        self.defeat_rst = True

    def opt_defeat_icmp_ratelimit(self) -> None:
        self.defeat_icmp = True

    def opt_host_timeout(self, value: str) -> None:
        ms = tval2msecs(value)
        if ms < 0:
            raise Fatal("Bogus --host-timeout argument specified")
        if ms >= 10000 * 1000 and not tval_has_unit(value):
            raise Fatal(_since_april_2010("host-timeout", value, ms, "hours"))
        self.d.host_timeout = ms

    def opt_scan_delay(self, value: str) -> None:
        ms = tval2msecs(value)
        if ms < 0:
            raise Fatal("Bogus --scan-delay argument specified.")
        if ms >= 100 * 1000 and not tval_has_unit(value):
            raise Fatal(_since_april_2010("scan-delay", value, ms, "minutes-ms"))
        self.d.scan_delay = ms

    def opt_max_scan_delay(self, value: str) -> None:
        ms = tval2msecs(value)
        if ms < 0:
            raise Fatal("Bogus --max-scan-delay argument specified.")
        if ms >= 100 * 1000 and not tval_has_unit(value):
            raise Fatal(_since_april_2010("max-scan-delay", value, ms, "minutes-s"))
        self.d.max_scan_delay = ms

    def opt_max_retries(self, value: str) -> None:
        n = atoi(value)
        self.d.max_retries = n
        if n < 0:
            raise Fatal("max-retries must be positive")

    def _output(self, option: str, value: str) -> None:
        _check_output_name(value, option)
        name = output_filename(value, self.o.start_time)
        if option == "oN":
            self.o.normal_file = name
        elif option in ("oG", "oM"):
            self.o.grepable_file = name
        elif option == "oS":
            self.o.kiddie_file = name
        elif option == "oX":
            self.o.xml_file = name
        elif option == "oJ":
            self.o.json_file = name
        elif option == "json-lines":
            self.o.json_lines_file = name
        else:  # oA (nmap's three formats: no JSON)
            self.o.normal_file = name + ".nmap"
            self.o.grepable_file = name + ".gnmap"
            self.o.xml_file = name + ".xml"

    def opt_oA(self, value: str) -> None:
        self._output("oA", value)

    def opt_oN(self, value: str) -> None:
        self._output("oN", value)

    def opt_oM(self, value: str) -> None:
        self._output("oM", value)
        self.d.deprecated("oM", "oG")

    def opt_oG(self, value: str) -> None:
        self._output("oG", value)

    def opt_oS(self, value: str) -> None:
        self._output("oS", value)

    def opt_oH(self, value: str) -> None:
        raise Fatal("HTML output is not directly supported, though Nmap includes an XSL for "
                    "transforming XML output into HTML.  See the man page.")

    def opt_oX(self, value: str) -> None:
        self._output("oX", value)

    def opt_oJ(self, value: str) -> None:
        self._output("oJ", value)

    def opt_json_lines(self, value: str) -> None:
        self._output("json-lines", value)

    def opt_iL(self, value: str) -> None:
        o = self.o
        if o.input_name is not None:
            raise Fatal("Only one input filename allowed")
        if value == "-":
            from pynmap.stdio import stdin_words_stream

            # like a named file: undecodable bytes survive, CR is a separator, not a newline
            o.input_stream = stdin_words_stream()
        else:
            from pynmap.targets import open_word_file

            try:
                # read while scanning; bytes that are not UTF-8 survive as surrogates
                o.input_stream = open_word_file(value)
            except OSError as exc:
                raise SystemFatal(f"Failed to open input file {value} for reading",
                                  exc.errno or 2) from None
        o.input_name = value

    def opt_iR(self, value: str) -> None:
        _, tail = strtoul(value)
        if tail:
            raise Fatal("ERROR: -iR argument must be the maximum number of random IPs you wish "
                        "to scan (use 0 for unlimited)")
        self._refuse("random targets (-iR)")

    def opt_sI(self, value: str) -> None:
        if len(value) > 255:
            raise Fatal("ERROR: -sI argument must be less than 255 characters")
        self.o.raw_scan_types.add("I")

    def opt_randomize_hosts(self) -> None:
        self.o.randomize_hosts = True

    opt_rH = opt_randomize_hosts

    def opt_nsock_engine(self, value: str) -> None:
        if value not in ("epoll", "poll", "select"):
            raise Fatal(f"Unknown or non-available engine: {value}")

    def opt_proxies(self, value: str) -> None:
        from pynmap.rawopts import check_proxy_chain

        check_proxy_chain(value)
        # nmap's proxies carry NSE and version-detection traffic only, which pynmap does not send.
        self._not_performed("--proxies")

    opt_proxy = opt_proxies

    def opt_discovery_ignore_rst(self) -> None:
        """Affects raw discovery only."""

    def opt_osscan_limit(self) -> None:
        """Only meaningful with -O, which is refused unprivileged."""

    opt_osscan_guess = opt_osscan_limit
    opt_fuzzy = opt_osscan_limit

    def opt_packet_trace(self) -> None:
        self.o.packet_trace = True

    def opt_version_trace(self) -> None:
        self.o.debugging += 1

    def opt_data(self, value: str) -> None:
        self._payload_once()
        if not _valid_hex_payload(value):
            raise Fatal("Invalid hex string specified")
        self._big_payload(len(_hex_body(value)) // 2)

    def opt_data_string(self, value: str) -> None:
        self._payload_once()
        length = len(value.encode("utf-8", "surrogateescape"))
        if length > MAX_PAYLOAD:
            raise Fatal(f"string length must be between 0 and {MAX_PAYLOAD}")
        self._big_payload(length)

    def opt_data_length(self, value: str) -> None:
        self._payload_once()
        n = atoi(value)
        if n < 0 or n > MAX_PAYLOAD:
            raise Fatal(f"data-length must be between 0 and {MAX_PAYLOAD}")
        self._big_payload(n)

    def _big_payload(self, length: int) -> None:
        if length > 1400:  # an Ethernet frame less IP and TCP headers with options
            self.warn("WARNING: Payloads bigger than 1400 bytes may not be sent successfully.")

    def _payload_once(self) -> None:
        self.o.raw_scan_options = True
        if self.payload_given:
            raise Fatal("Can't use the --data option(s) multiple times, or together.")
        self.payload_given = True

    def opt_send_eth(self) -> None:
        """Raw sending preference; a connect scan sends no frames of its own."""

    opt_send_ip = opt_send_eth

    def opt_stylesheet(self, value: str) -> None:
        self.o.stylesheet = value

    def opt_no_stylesheet(self) -> None:
        self.o.stylesheet = None

    def opt_webxml(self) -> None:
        self.o.stylesheet = "https://svn.nmap.org/nmap/docs/nmap.xsl"

    def opt_vv(self) -> None:
        self.o.verbosity = min(10, self.o.verbosity + 2)

    def opt_ff(self) -> None:
        self.o.raw_scan_options = True
        self.d.fragscan += 16

    def opt_privileged(self) -> None:
        self.o.privileged = True

    def opt_unprivileged(self) -> None:
        self.o.privileged = False

    def opt_mtu(self, value: str) -> None:
        self.o.raw_scan_options = True
        mtu = atoi(value)
        self.d.fragscan = mtu
        if mtu <= 0 or mtu % 8 != 0:
            raise Fatal("Data payload MTU must be >0 and multiple of 8")

    def opt_append_output(self) -> None:
        self.o.append_output = True

    def opt_noninteractive(self) -> None:
        self.o.noninteractive = True

    def opt_spoof_mac(self, value: str) -> None:
        self.o.raw_scan_options = True
        self.o.spoof_mac = value  # read after the ports are chosen (pynmap.macs)

    def opt_thc(self) -> None:
        raise PlainExit("", 0, "!!Greets to Van Hauser, Plasmoid, Skyper and the rest of THC!!\n")

    def opt_badsum(self) -> None:
        self.o.raw_scan_options = True

    def opt_ttl(self, value: str) -> None:
        self.o.raw_scan_options = True
        ttl = atoi(value)
        if ttl < 0 or ttl > 255:
            raise Fatal("ttl option must be a number between 0 and 255 (inclusive)")
        self.o.ttl = ttl

    def opt_traceroute(self) -> None:
        self.d.traceroute = True

    def opt_reason(self) -> None:
        self.o.reason = True

    def opt_allports(self) -> None:
        self.o.all_ports = True

    def opt_version_intensity(self, value: str) -> None:
        n = atoi(value)
        if n < 0 or n > 9:
            raise Fatal("version-intensity must be between 0 and 9")

    def opt_version_light(self) -> None:
        """Tunes version detection, which pynmap does not perform."""

    opt_version_all = opt_version_light

    def opt_system_dns(self) -> None:
        self.o.system_dns = True

    def opt_resolve_all(self) -> None:
        self.o.resolve_all = True

    def opt_unique(self) -> None:
        self.o.unique = True

    def opt_log_errors(self) -> None:
        """Deprecated in nmap and a no-op there too."""

    def opt_deprecated_xml_osclass(self) -> None:
        """OS detection output only."""

    def opt_yoloscan(self) -> None:
        # nmap's hidden alias for -A, which greets the user first.
        if not self.o.stdout_muted:
            self.say("LEEROY JENKINS!!!\n")
        self.d.advanced = True

    def opt_dns_servers(self, value: str) -> None:
        self.o.dns_servers = value

    def opt_port_ratio(self, value: str) -> None:
        ratio, _ = strtod(value)
        if ratio < 0 or ratio >= 1:
            raise Fatal("--port-ratio should be between [0 and 1)")
        self.o.top_port_level = ratio

    def opt_exclude_ports(self, value: str) -> None:
        if self.o.exclude_ports is not None:
            raise Fatal("Only 1 --exclude-ports option allowed, separate multiple ranges with "
                        "commas.")
        self.o.exclude_ports = value

    def opt_top_ports(self, value: str) -> None:
        from pynmap.ports import parse_top_ports_option

        # nmap compares the value with its (int) cast, which x86-64 turns into
        # INT_MIN past INT_MAX: so integers 1..2147483647 only
        self.o.top_port_level = parse_top_ports_option(value)

    def opt_script(self, value: str) -> None:
        self.o.script_scan = True

    def opt_script_trace(self) -> None:
        """NSE tracing; pynmap runs no scripts."""

    def opt_script_updatedb(self) -> None:
        self._refuse("--script-updatedb (pynmap has no NSE)")

    def opt_script_args(self, value: str) -> None:
        """Arguments for NSE scripts, which pynmap does not run."""

    opt_script_args_file = opt_script_args

    def opt_script_help(self, value: str) -> None:
        self._refuse("--script-help (pynmap has no NSE)")

    def opt_script_timeout(self, value: str) -> None:
        seconds = tval2secs(value)
        if seconds < 0 or seconds > 2**63 - 1:
            raise Fatal("Bogus --script-timeout argument specified")

    def opt_ip_options(self, value: str) -> None:
        from pynmap.rawopts import check_ip_options

        self.o.raw_scan_options = True
        check_ip_options(value)

    def opt_min_rate(self, value: str) -> None:
        rate = scanf_float(value)
        if rate is None or rate <= 0.0:
            raise Fatal("Argument to --min-rate must be a positive floating-point number")
        self.timing = self.timing.with_(min_rate=rate)

    def opt_max_rate(self, value: str) -> None:
        rate = scanf_float(value)
        if rate is None or rate <= 0.0:
            raise Fatal("Argument to --max-rate must be a positive floating-point number")
        self.timing = self.timing.with_(max_rate=rate)

    def opt_adler32(self) -> None:
        """SCTP checksums; no SCTP here."""

    def opt_stats_every(self, value: str) -> None:
        seconds = tval2secs(value)
        if seconds < 0 or seconds > 2**63 - 1:
            raise Fatal("Bogus --stats-every argument specified")
        self.o.stats_every = seconds

    def opt_disable_arp_ping(self) -> None:
        """ARP discovery needs raw packets; pynmap never does it."""

    def opt_route_dst(self, value: str) -> None:
        self._refuse("--route-dst")

    def opt_resume(self, value: str) -> None:
        raise Fatal("Cannot use --resume with other options. Usage: nmap --resume <filename>")

    # -- after the whole line has been read --------------------------------------------------
    def apply_delayed(self) -> None:
        o, d = self.o, self.d
        o.af = d.af or socket.AF_INET
        if o.verbosity > 0:
            for line in d.deprecations:
                self.warn(line)
        if d.advanced:
            o.version_scan = True
            o.script_scan = True
        o.traceroute_requested = d.traceroute
        o.decoys = d.decoys
        if o.source_address is not None:
            o.source_address = _resolve_source(o.source_address, o.af)
        o.timing = self._final_timing()
        if o.ping_none:
            o.ping_icmp = False
            o.syn_ping_ports = o.ack_ping_ports = None
            o.raw_ping.clear()
        elif o.ping_icmp:
            self.warn("Warning:  You are not root -- using TCP pingscan rather than ICMP")
            # nmap 7.93 then sets its ping type to TCP alone, dropping -PU/-PY/-PO
            o.raw_ping.clear()
        self.validate()
        self._check_json_stdout()

    def _check_json_stdout(self) -> None:
        """A JSON document or JSON Lines on stdout must be alone there to be read."""
        o = self.o
        json_outputs = [f for f in (o.json_file, o.json_lines_file) if f == "-"]
        others = [f for f in (o.normal_file, o.grepable_file, o.xml_file, o.kiddie_file)
                  if f == "-"]
        if json_outputs and len(json_outputs) + len(others) > 1:
            raise Fatal("Cannot display multiple output types to stdout.")

    def _final_timing(self) -> Timing:
        t, d = self.timing, self.d
        if d.max_parallelism != -1:
            t = t.with_(max_parallelism=d.max_parallelism)
        if d.scan_delay != -1:
            t = t.with_(scan_delay=d.scan_delay)
            if d.scan_delay > t.max_scan_delay:
                t = t.with_(max_scan_delay=d.scan_delay)
            if d.scan_delay > t.max_udp_scan_delay:
                t = t.with_(max_udp_scan_delay=d.scan_delay)
            if d.max_parallelism != -1 or t.min_parallelism != 0:
                self.warn("Warning: --min-parallelism and --max-parallelism are ignored with "
                          "--scan-delay.")
        if d.max_scan_delay != -1:
            t = t.with_(max_scan_delay=d.max_scan_delay, max_udp_scan_delay=d.max_scan_delay)
        if d.initial_rtt != -1:
            t = _set_initial_rtt(t, d.initial_rtt)
        if d.min_rtt != -1:
            t = _set_min_rtt(t, d.min_rtt)
        if d.max_rtt != -1:
            t = _set_max_rtt(t, d.max_rtt)
        if d.max_retries != -1:
            t = t.with_(max_retries=d.max_retries)
        if d.host_timeout != -1:
            t = t.with_(host_timeout=d.host_timeout)
        return t

    def validate(self) -> None:
        """nmap's cross-option checks, in nmap's order."""
        o, d = self.o, self.d
        if not o.no_port_scan and not o.connect_scan and not o.raw_scan_types:
            o.connect_scan = True
        pinging = not o.ping_none
        if pinging and o.source_address is not None:
            self.warn("WARNING: If -S is being used to fake your source address, you may also "
                      "have to use -e <interface> and -Pn .  If you are using it to specify your "
                      "real source address, you can ignore this warning.")
        if pinging and "I" in o.raw_scan_types:
            self.warn("WARNING: Many people use -Pn w/Idlescan to prevent pings from their true "
                      "IP.  On the other hand, timing info Nmap gains from pings can allow for "
                      "faster, more reliable scans.")
        if o.connect_scan and o.source_address is not None:
            self.warn("WARNING: -S will only affect the source address used in a connect() scan "
                      "if you specify one of your own addresses.  Use -sS or another raw scan if "
                      "you want to completely spoof your source address, but then you need to "
                      "know what you're doing to obtain meaningful results.")
        if "U" in o.raw_ping:
            raise Fatal("Sorry, UDP Ping (-PU) only works if you are root (because we need to "
                        "read raw responses off the wire)")
        if "Y" in o.raw_ping:
            raise Fatal("Sorry, SCTP INIT Ping (-PY) only works if you are root (because we need "
                        "to read raw responses off the wire)")
        if "O" in o.raw_ping:
            raise Fatal("Sorry, IPProto Ping (-PO) only works if you are root (because we need "
                        "to read raw responses off the wire)")
        tcp_types = {"A", "F", "M", "N", "S", "W", "X", "I"} & o.raw_scan_types
        any_scan = o.connect_scan or bool(o.raw_scan_types - {"O"})
        if "O" in o.raw_scan_types and any_scan:
            raise Fatal("Sorry, the IPProtoscan (-sO) must currently be used alone rather than "
                        "combined with other scan types.")
        if o.no_port_scan and (o.connect_scan or o.raw_scan_types):
            raise Fatal("-sL and -sn (skip port scan) are not valid with any other scan types")
        if o.raw_scan_types:
            raise Fatal("You requested a scan type which requires root privileges.")
        if d.fragscan:
            raise Fatal("Sorry, but fragscan requires root privileges.")
        if d.osscan:
            raise Fatal("TCP/IP fingerprinting (for OS scan) requires root privileges.")
        if len(tcp_types) + int(o.connect_scan) > 1:
            raise Fatal("You specified more than one type of TCP scan.  Please choose only one of "
                        "-sA, -b, -sT, -sF, -sI, -sM, -sN, -sS, -sW, and -sX")
        if d.magic_port_set and o.connect_scan:
            self.warn("WARNING: -g is incompatible with the default connect() scan (-sT).  Use a "
                      "raw scan such as -sS if you want to set the source port.")
        t = o.timing
        if t.max_parallelism and t.min_parallelism and t.min_parallelism > t.max_parallelism:
            raise Fatal(f"--min-parallelism={t.min_parallelism} must be less than or equal to "
                        f"--max-parallelism={t.max_parallelism}")
        if t.min_rate and t.max_rate and t.min_rate > t.max_rate:
            raise Fatal(f"--min-rate={c_g(t.min_rate)} must be less than or equal to "
                        f"--max-rate={c_g(t.max_rate)}")
        if self.defeat_rst and not o.open_only:
            raise Fatal("Option --defeat-rst-ratelimit works only with a SYN scan (-sS)")
        if self.defeat_icmp:
            raise Fatal("Option --defeat-icmp-ratelimit works only with a UDP scan (-sU)")
        if o.verbosity > 1:
            o.reason = True


def _timing_level(value: str, warn: Warn) -> int | None:
    """The -T level, with nmap's reading of its argument (only the first digit counts)."""
    text = value
    if len(text) >= 2 and text[1] <= "5":
        if text[0] != text[1]:
            text = text[0]
        elif text[1] == "1":
            warn("ok nigel")
            text = "5" + text[1:]
    if text[:1].isdigit() and text[0] <= "5":
        return int(text[0])
    lowered = value.lower()
    if lowered in TEMPLATE_NAMES:
        return TEMPLATE_NAMES.index(lowered)
    return None


def _apply_template(t: Timing, level: int) -> Timing:
    values = dict(TEMPLATES[level])
    t = t.with_(level=level)
    if "min_rtt_timeout" in values:
        t = _set_min_rtt(t, values.pop("min_rtt_timeout"))
    if "max_rtt_timeout" in values:
        t = _set_max_rtt(t, values.pop("max_rtt_timeout"))
    if "initial_rtt_timeout" in values:
        t = _set_initial_rtt(t, values.pop("initial_rtt_timeout"))
    return t.with_(**values)


# nmap's RTT setters drag the other two bounds along so that min <= initial <= max.
def _set_max_rtt(t: Timing, ms: int) -> Timing:
    return t.with_(max_rtt_timeout=ms, min_rtt_timeout=min(t.min_rtt_timeout, ms),
                   initial_rtt_timeout=min(t.initial_rtt_timeout, ms))


def _set_min_rtt(t: Timing, ms: int) -> Timing:
    return t.with_(min_rtt_timeout=ms, max_rtt_timeout=max(t.max_rtt_timeout, ms),
                   initial_rtt_timeout=max(t.initial_rtt_timeout, ms))


def _set_initial_rtt(t: Timing, ms: int) -> Timing:
    return t.with_(initial_rtt_timeout=ms, max_rtt_timeout=max(t.max_rtt_timeout, ms),
                   min_rtt_timeout=min(t.min_rtt_timeout, ms))


def _valid_scanflags(text: str) -> bool:
    """Flag names are searched for anywhere (never an error); a number must be all digits."""
    if not text[:1].isdigit():
        return True
    try:
        value = int(text, 0) if not (len(text) > 1 and text[0] == "0" and text[1].isdigit()) \
            else int(text, 8)
    except ValueError:
        return False
    return 0 <= value <= 255


def _hex_body(text: str) -> str:
    body = text[2:] if text[:2].lower() == "0x" else text
    return body.replace("\\x", "")


def _valid_hex_payload(text: str) -> bool:
    body = _hex_body(text)
    return bool(body) and len(body) % 2 == 0 and all(c in "0123456789abcdefABCDEF" for c in body)


def _resolve_source(address: str, af: int) -> str:
    try:
        # the bytes as typed, as nmap hands them to the C library (no IDNA encoding)
        info = socket.getaddrinfo(os.fsencode(address), None, af, socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, ValueError) as exc:
        family = "IPv4" if af == socket.AF_INET else "IPv6"
        reason = exc.strerror if isinstance(exc, socket.gaierror) else "Name or service not known"
        raise Fatal(f'Failed to resolve/decode supposed {family} source address "{address}": '
                    f"{reason}") from None
    return str(info[0][4][0])


def parse_options(argv: list[str], *, warn: Warn, say: Warn, usage: Callable[[], str],
                  version: Callable[[], str]) -> Options:
    """Parse argv (argv[0] is the program name) into Options, or raise an NmapError.

    `warn` receives nmap's error()/warning lines (stderr), `say` the few lines
    nmap prints on stdout while it is still reading options.
    """
    return _Parser(argv, warn, say, usage, version).run()
