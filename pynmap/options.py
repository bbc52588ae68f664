"""Options: what the command line asks for, validated the way nmap validates it.

OPTION_TABLE is the one list of options: each row is a name getopt knows,
whether it takes an argument, and its handler (a few shared handlers, told
apart by the row's `param`, serve most rows: switches, stored values, the
six time options, the integer ranges, the output files, the options accepted
and ignored or refused).  The argv lexer's grammar (pynmap.getopt) is built
from the same rows.

`parse_options()` walks the lexed tokens in order (nmap handles each option as
getopt returns it, so the first fatal problem on the line is the one reported),
then applies the "delayed" options and the cross-option checks nmap makes
before it opens any output file, and freezes the Options.  Everything that
needs the port lists or the data files happens later, after the banner (see
pynmap.session).
"""

from __future__ import annotations

import dataclasses
import os
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO, TypeAlias

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
from pynmap.getopt import NO_ARG, OPTIONAL_ARG, REQUIRED_ARG, Grammar, Lexer, LongOption
from pynmap.plain import FrozenData
from pynmap.services import ServiceDB
from pynmap.timing import TEMPLATE_NAMES, TEMPLATES, Timing

if TYPE_CHECKING:
    from pynmap.cluster.where import ClusterOptions
    from pynmap.engine.bounce import Relay
    from pynmap.rawopts import ProxyNode
    from pynmap.shard import Shard

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
    """What the command line asks for: frozen once parsed.

    The defaults are class attributes.  The parser builds an instance field by
    field (the mutable stage), then `freeze()` ends that: from then on an
    assignment raises FrozenInstanceError, and `replace()` makes a changed
    copy.  What changes while a scan runs (the v/V, d/D, p/P keys) is not
    here but in the session's RunState.
    """

    prog: str = "nmap"
    args: tuple[str, ...] = ()  # argv as logged: program, options, then targets
    # argv as typed, where a handler wrote into an argument (-b: nmap logs what is left)
    given_args: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    input_name: str | None = None  # -iL: the file name ("-" = stdin); opened at parse time
    input_stream: TextIO | None = None

    # scan types
    connect_scan: bool = False
    list_scan: bool = False
    no_port_scan: bool = False  # -sn (and -sL)
    version_scan: bool = False  # -sV: the service scan (pynmap.engine.service)
    # --version-intensity N, --version-light (2), --version-all (9): the last one given wins
    version_intensity: int = 7
    version_trace: bool = False  # --version-trace: the service scan's probes and matches
    script_scan: bool = False  # -sC / --script: accepted, not performed
    raw_scan_types: frozenset[str] = frozenset()
    bounce: Relay | None = None  # -b: the FTP relay of the bounce scan (pynmap.engine.bounce)
    bounce_given: int = 0  # how many -b: nmap counts each as a TCP scan type

    # host discovery
    ping_none: bool = False  # -Pn (also -sL)
    ping_icmp: bool = False  # -PE/-PP/-PM: fall back to a connect ping, as unprivileged nmap
    syn_ping_ports: tuple[int, ...] | None = None  # -PS (a bare -PS is port 80)
    ack_ping_ports: tuple[int, ...] | None = None  # -PA/-PB/-PT
    # -PU/-PY/-PO still asked for: refused unprivileged, unless an ICMP ping's
    # fallback to a connect ping (or -PB) has replaced them
    raw_ping: frozenset[str] = frozenset()

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
    # --shard I/N (--seed S): this run keeps only the hosts of shard I (pynmap.shard)
    shard: Shard | None = None
    # --cluster (pynmap's own): the scan runs as shards on Dask workers (pynmap.cluster)
    cluster: ClusterOptions | None = None
    exclude_stream: TextIO | None = None  # --excludefile's words read from here instead

    # timing
    timing: Timing = Timing()

    # output (verbosity, debugging and packet_trace as given: the keys change
    # the run's copies, pynmap.session.RunState)
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
    versiondb: str | None = None  # --versiondb: nmap-service-probes, read by -sV only
    # nmap-services as first needed: -PS names can need it while options are still read
    services: ServiceDB | None = None

    # connect-socket tweaks
    device: str | None = None
    proxies: tuple[ProxyNode, ...] = ()  # --proxies: the chain every connection goes through
    source_address: str | None = None
    source_port: int | None = None
    ttl: int | None = None
    raw_scan_options: bool = False  # options only raw packets could honour
    spoof_mac: str | None = None  # --spoof-mac: announced, not used (no raw sockets)
    traceroute_requested: bool = False  # refused after the banner, as unprivileged nmap does
    # --privileged: pynmap never has raw sockets, but it then adds what needs none
    # (pynmap.lan): MAC addresses of LAN hosts, and ICMP echo through ping sockets
    privileged: bool = False
    # --privileged where ping sockets are allowed: host discovery sends ICMP echo
    # requests (-PE, or nmap's default ping types as root); ping_connect is False
    # when they go alone (-PE without -PS/-PA: no connect ping)
    ping_echo: bool = False
    ping_connect: bool = True

    # things nmap offers that pynmap reports as not performed
    unsupported: tuple[str, ...] = ()
    start_time: float

    # --resume: the log's run is appended to (no new XML prologue), and the
    # targets up to and including `resume_after` were done by the earlier run
    resuming: bool = False
    resume_after: str | None = None

    def __init__(self, prog: str = "nmap") -> None:
        self.prog = prog
        self.start_time = time.time()

    @property
    def port_scan(self) -> bool:
        return not self.no_port_scan

    def freeze(self) -> Options:
        """End the building: no field changes from now on."""
        object.__setattr__(self, "_frozen", True)
        return self

    def replace(self, **changes: object) -> Options:
        """A frozen copy with some fields changed (dataclasses.replace's role)."""
        for name in changes:
            if name not in _FIELDS:
                raise TypeError(f"Options has no field {name!r}")
        copy = Options.__new__(Options)
        copy.__dict__.update(self.__dict__)
        copy.__dict__.update(changes)
        copy.__dict__["_frozen"] = True
        return copy

    if not TYPE_CHECKING:  # mypy checks the fields' types; this only stops late changes
        def __setattr__(self, name: str, value: object) -> None:
            if self.__dict__.get("_frozen"):
                raise dataclasses.FrozenInstanceError(
                    f"cannot assign to field {name!r}: options are frozen once parsed")
            if name not in _FIELDS:  # a table row naming a field that does not exist
                raise AttributeError(f"Options has no field {name!r}")
            object.__setattr__(self, name, value)


_FIELDS = frozenset(Options.__annotations__)


class _Delayed:
    """Values nmap applies only after the whole command line is read.

    Slotted: a table row naming a field that does not exist fails at once."""

    __slots__ = ("advanced", "af", "cluster", "decoys", "defeat_icmp", "defeat_rst",
                 "deprecations", "fragscan", "host_timeout", "icmp", "initial_rtt",
                 "magic_port_set", "max_parallelism", "max_retries", "max_rtt",
                 "max_scan_delay", "min_rtt", "osscan",
                 "payload_given", "raw_ping", "raw_ping_lists", "raw_scan_types", "scan_delay",
                 "seed", "shard", "traceroute", "unsupported")

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
        self.defeat_rst = False
        self.defeat_icmp = False
        self.payload_given = False
        # the ICMP ping types asked for: E (echo: -PE, -PI, -P), P (timestamp), M (address
        # mask), B (-PB: nmap's default ping types)
        self.icmp: set[str] = set()
        # -PU/-PY/-PO letters given a port list (nmap's "Only one -PU" counts
        # lists, which outlive the ping type that -PB resets)
        self.raw_ping_lists: set[str] = set()
        # Options' frozen sets and tuples, while they are built
        self.raw_scan_types: set[str] = set()
        self.raw_ping: set[str] = set()
        self.unsupported: list[str] = []
        # --shard's (index, count) and --seed, joined once both may have been given
        self.shard: tuple[int, int] | None = None
        self.seed: int | None = None
        # --cluster, --cluster-ca, --cluster-cert, --cluster-key, --cluster-shards as given
        self.cluster: dict[str, str] = {}

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


Handler: TypeAlias = "Callable[[_Parser, Opt, Any], None]"


class Opt(FrozenData):
    """One row of the option table: one name as getopt knows it.

    A one-letter `name` is a short option, a longer one a long option.  `arg`
    is whether it takes an argument (getopt's NO_ARG, REQUIRED_ARG,
    OPTIONAL_ARG).  A long option that nmap maps onto a short one names it
    in `stands_for` and has no handler of its own; every other row has a
    `handle(parser, row, value)` and, for a handler shared by several rows,
    the `param` that tells them apart.  `own`: one of pynmap's own long
    options, matched only when spelled out in full.
    """

    __match_args__ = ("name", "arg", "handle", "param", "stands_for", "own")
    __slots__ = __match_args__

    def __init__(self, name: str, arg: int, handle: Handler | None = None, param: Any = None,
                 *, stands_for: str | None = None, own: bool = False) -> None:
        self.name = name
        self.arg = arg
        self.handle = handle
        self.param = param
        self.stands_for = stands_for
        self.own = own


class _Parser:
    """One reading of a command line: the lexer's tokens, each handled by its table row."""

    def __init__(self, argv: list[str], warn: Warn, say: Warn, usage: Callable[[], str],
                 version: Callable[[], str]) -> None:
        self.lexer = Lexer(argv, GRAMMAR)
        self.o = Options(prog=self.lexer.prog)
        self.d = _Delayed()
        self.warn = warn
        self.say = say  # stdout, for the few things nmap prints while still parsing
        self.usage = usage
        self.version = version
        self.timing = Timing()

    # -- the walk over the command line ----------------------------------------------------
    def run(self) -> Options:
        for token in self.lexer:
            handle, row = _HANDLED[token.name]  # the lexer yields only the table's names
            handle(self, row, token.value)
        o = self.o
        o.targets = tuple(self.lexer.targets)
        o.args = tuple(self.lexer.permuted())
        o.given_args = tuple(self.lexer.permuted(as_given=True))
        self.apply_delayed()
        return o.freeze()

    def ping_ports(self, flag: str, spec: str) -> tuple[int, ...]:
        """A -PS/-PA list, parsed now: nmap parses it while reading the option."""
        from pynmap import ports

        if self.o.services is None:
            # Created now, with the data directory known so far; read only if a name needs it.
            self.o.services = ServiceDB.lazy(servicedb=self.o.servicedb, datadir=self.o.datadir,
                                             warn=self.warn, debugging=self.o.debugging)
        return ports.parse_ping_ports(spec, self.o.services, warn=self.warn, flag=flag)

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
        o.raw_scan_types = frozenset(d.raw_scan_types)
        o.unsupported = tuple(d.unsupported)
        if o.source_address is not None:
            o.source_address = _resolve_source(o.source_address, o.af)
        o.timing = self._final_timing()
        if o.ping_none:
            o.ping_icmp = False
            o.syn_ping_ports = o.ack_ping_ports = None
            d.raw_ping.clear()
        else:
            if o.privileged:
                self._ping_sockets()
            if o.ping_icmp:
                self.warn("Warning:  You are not root -- using TCP pingscan rather than ICMP")
                # nmap 7.93 then sets its ping type to TCP alone, dropping -PU/-PY/-PO
                d.raw_ping.clear()
        o.raw_ping = frozenset(d.raw_ping)
        self.validate()
        self._check_json_stdout()
        self._apply_cluster()
        self._apply_shard()

    def _apply_cluster(self) -> None:
        """--cluster and its companions (pynmap's own): checked after nmap's checks."""
        given = self.d.cluster
        if not given:
            return
        from pynmap.cluster.where import check_cluster_options, parse_shards

        shards = given.get("cluster-shards")
        self.o.cluster = check_cluster_options(
            given.get("cluster"), given.get("cluster-ca"), given.get("cluster-cert"),
            given.get("cluster-key"), None if shards is None else parse_shards(shards),
            seed=self.d.seed)
        if self.o.cluster is not None and self.d.shard is not None:
            raise Fatal("--shard cannot be used with --cluster, which makes the shards itself")

    def _ping_sockets(self) -> None:
        """--privileged: ICMP echo requests go through ping sockets where this process
        may open them (pynmap.lan), as nmap as root sends them for -PE and by default.
        Linux's ping sockets send nothing but echo requests: -PP and -PM still fall
        back to a connect ping as unprivileged nmap's do, with its message."""
        o, d = self.o, self.d
        default = not (o.ping_icmp or o.syn_ping_ports is not None
                       or o.ack_ping_ports is not None or d.raw_ping)
        if not (default or d.icmp & {"E", "B"}):
            return
        if o.proxies:
            return  # an echo request cannot go through the chain, and none goes around it
        from pynmap.lan import ping_sockets_allowed

        if not ping_sockets_allowed(o.af):
            return  # unprivileged nmap's behaviour, with its message if ICMP was asked for
        o.ping_echo = True
        if d.icmp & {"P", "M"}:
            return  # these still fall back
        o.ping_icmp = False
        if not default and o.syn_ping_ports is None and o.ack_ping_ports is None:
            o.ping_connect = False

    def _apply_shard(self) -> None:
        """--shard and --seed (pynmap's own): checked after all of nmap's checks."""
        d = self.d
        if d.shard is None:
            if d.seed is not None and self.o.cluster is None:  # --cluster takes a --seed
                from pynmap.shard import SEED_WITHOUT_SHARD

                raise Fatal(SEED_WITHOUT_SHARD)
            return
        from pynmap.shard import DEFAULT_SEED, Shard

        index, count = d.shard
        self.o.shard = Shard(index, count, DEFAULT_SEED if d.seed is None else d.seed)

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
        if (not o.no_port_scan and not o.connect_scan and not o.raw_scan_types
                and not o.bounce_given):
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
        any_scan = o.connect_scan or bool(o.raw_scan_types - {"O"}) or bool(o.bounce_given)
        if "O" in o.raw_scan_types and any_scan:
            raise Fatal("Sorry, the IPProtoscan (-sO) must currently be used alone rather than "
                        "combined with other scan types.")
        if o.no_port_scan and (o.connect_scan or o.raw_scan_types or o.bounce_given):
            raise Fatal("-sL and -sn (skip port scan) are not valid with any other scan types")
        if o.raw_scan_types:
            raise Fatal("You requested a scan type which requires root privileges.")
        if d.fragscan:
            raise Fatal("Sorry, but fragscan requires root privileges.")
        if d.osscan:
            raise Fatal("TCP/IP fingerprinting (for OS scan) requires root privileges.")
        if o.bounce_given and pinging and not o.stdout_muted:
            self.say("Hint: if your bounce scan target hosts aren't reachable from here, "
                     "remember to use -Pn so we don't try and ping them prior to the scan\n")
        if len(tcp_types) + int(o.connect_scan) + o.bounce_given > 1:
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
        if d.defeat_rst and not o.open_only:
            raise Fatal("Option --defeat-rst-ratelimit works only with a SYN scan (-sS)")
        if d.defeat_icmp:
            raise Fatal("Option --defeat-icmp-ratelimit works only with a UDP scan (-sU)")
        if o.af == socket.AF_INET6 and o.bounce_given:
            raise Fatal("Random targets, FTP bounce scan, and fragmentation are not supported "
                        "with IPv6.")
        if o.verbosity > 1:
            o.reason = True




# -- the handlers -------------------------------------------------------------------------
# Each is called as handle(parser, row, value): `value` is the option's argument
# (None when it takes none, or when an optional one is absent) and `row` the
# table row, whose `param` says what a shared handler does for that option.

def _set(**fields: object) -> Handler:
    """A switch: sets Options fields to fixed values (the argument, if any, is unused)."""
    def handle(p: _Parser, row: Opt, value: str | None) -> None:
        for name, constant in fields.items():
            setattr(p.o, name, constant)
    return handle


def _store(field: str, **also: object) -> Handler:
    """Keeps the argument in an Options field (and sets `also`)."""
    def handle(p: _Parser, row: Opt, value: str) -> None:
        setattr(p.o, field, value)
        for name, constant in also.items():
            setattr(p.o, name, constant)
    return handle


def _later(**fields: object) -> Handler:
    """A switch that nmap applies after the whole line is read (_Delayed)."""
    def handle(p: _Parser, row: Opt, value: str | None) -> None:
        for name, constant in fields.items():
            setattr(p.d, name, constant)
    return handle


def _ignored(p: _Parser, row: Opt, value: str | None) -> None:
    """Accepted and without effect here; the row's param says why."""


def _refused(p: _Parser, row: Opt, value: str | None) -> None:
    raise Fatal(f"pynmap does not support {row.param}.")


def _fatal(p: _Parser, row: Opt, value: str | None) -> None:
    raise Fatal(row.param)


def _warning(p: _Parser, row: Opt, value: str | None) -> None:
    p.warn(row.param)


class TimeLimit(FrozenData):
    """One of nmap's six time options (milliseconds; a bare number is seconds).

    `least`: the smallest value accepted, else `bogus` is the error; a value of
    `unit_needed` ms or more must carry a unit (the "Since April 2010" error in
    `scale`'s wording); below `small` ms, a warning.  Stored in `_Delayed.field`.
    """

    __match_args__ = ("field", "least", "bogus", "unit_needed", "scale", "small")
    __slots__ = __match_args__

    def __init__(self, field: str, least: int, bogus: str, unit_needed: int, scale: str,
                 small: int = 0) -> None:
        self.field = field
        self.least = least
        self.bogus = bogus
        self.unit_needed = unit_needed
        self.scale = scale
        self.small = small


def _time_limit(p: _Parser, row: Opt, value: str) -> None:
    spec: TimeLimit = row.param
    ms = tval2msecs(value)
    if ms < spec.least:
        raise Fatal(spec.bogus)
    if ms >= spec.unit_needed and not tval_has_unit(value):
        raise Fatal(_since_april_2010(row.name, value, ms, spec.scale))
    if ms < spec.small:
        p.warn(f"WARNING: You specified a round-trip time timeout ({ms} ms) that is "
               "EXTRAORDINARILY SMALL.  Accuracy may suffer.")
    setattr(p.d, spec.field, ms)


def _seconds(p: _Parser, row: Opt, value: str) -> None:
    """--script-timeout, --stats-every: seconds, checked; `param` the field kept, if any."""
    seconds = tval2secs(value)
    if seconds < 0 or seconds > 2**63 - 1:
        raise Fatal(f"Bogus --{row.name} argument specified")
    if row.param is not None:
        setattr(p.o, row.param, seconds)


class Bounded(FrozenData):
    """An integer option (C's atoi) with nmap's range check.

    `error` unless least <= n (<= most); past `warn_above`, `warning`.  The
    value is stored in `field` of `where`: "options", "later" (_Delayed) or
    "timing"; `raw` marks an option only raw packets could honour.
    """

    __match_args__ = ("least", "most", "error", "where", "field", "warn_above", "warning", "raw")
    __slots__ = __match_args__

    def __init__(self, least: int, most: int | None, error: str, where: str = "",
                 field: str = "", warn_above: int | None = None, warning: str = "",
                 raw: bool = False) -> None:
        self.least = least
        self.most = most
        self.error = error
        self.where = where
        self.field = field
        self.warn_above = warn_above
        self.warning = warning
        self.raw = raw


def _bounded(p: _Parser, row: Opt, value: str) -> None:
    spec: Bounded = row.param
    if spec.raw:
        p.o.raw_scan_options = True
    n = atoi(value)
    if n < spec.least or (spec.most is not None and n > spec.most):
        raise Fatal(spec.error)
    if spec.warn_above is not None and n > spec.warn_above:
        p.warn(spec.warning)
    if spec.where == "options":
        setattr(p.o, spec.field, n)
    elif spec.where == "later":
        setattr(p.d, spec.field, n)
    elif spec.where == "timing":
        p.timing = p.timing.with_(**{spec.field: n})


def _rate(p: _Parser, row: Opt, value: str) -> None:
    """--min-rate / --max-rate: `param` is the Timing field."""
    rate = scanf_float(value)
    if rate is None or rate <= 0.0:
        raise Fatal(f"Argument to --{row.name} must be a positive floating-point number")
    p.timing = p.timing.with_(**{row.param: rate})


class Output(FrozenData):
    """An output file option: which files it names (`kind`), the option its name is
    checked as, and the option it is a deprecated spelling of."""

    __match_args__ = ("kind", "checked_as", "deprecated_for")
    __slots__ = __match_args__

    def __init__(self, kind: str, checked_as: str, deprecated_for: str | None = None) -> None:
        self.kind = kind
        self.checked_as = checked_as
        self.deprecated_for = deprecated_for


def _output(p: _Parser, row: Opt, value: str) -> None:
    spec: Output = row.param
    o = p.o
    if spec.deprecated_for is not None:
        p.d.deprecated(row.name, spec.deprecated_for)
    _check_output_name(value, spec.checked_as)
    name = output_filename(value, o.start_time)
    if spec.kind == "normal":
        o.normal_file = name
    elif spec.kind == "grepable":
        o.grepable_file = name
    elif spec.kind == "kiddie":
        o.kiddie_file = name
    elif spec.kind == "xml":
        o.xml_file = name
    elif spec.kind == "json":
        o.json_file = name
    elif spec.kind == "json-lines":
        o.json_lines_file = name
    else:  # all (-oA): nmap's three formats, no JSON
        o.normal_file = name + ".nmap"
        o.grepable_file = name + ".gnmap"
        o.xml_file = name + ".xml"


def _exit(p: _Parser, row: Opt, value: str | None) -> None:
    """-h, -V, --thc: a text on stdout and exit status 0."""
    text = p.usage() if row.name == "h" else p.version() if row.name == "V" else row.param
    raise PlainExit("", 0, text)


def _family(p: _Parser, row: Opt, value: None) -> None:
    """-4 / -6: `param` the address family."""
    if p.d.af is not None and p.d.af != row.param:
        raise Fatal("Cannot use both -4 and -6 in one scan.")
    p.d.af = row.param


def _fragment(p: _Parser, row: Opt, value: None) -> None:
    """-f adds 8 to the fragment size, --ff 16."""
    p.o.raw_scan_options = True
    p.d.fragscan += row.param


def _debug(p: _Parser, row: Opt, value: str | None) -> None:
    o = p.o
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


def _verbose(p: _Parser, row: Opt, value: str | None) -> None:
    o = p.o
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


def _more_verbose(p: _Parser, row: Opt, value: None) -> None:
    """--vv: two levels at once."""
    p.o.verbosity = min(10, p.o.verbosity + 2)


def _version_trace(p: _Parser, row: Opt, value: None) -> None:
    p.o.debugging += 1
    p.o.version_trace = True


def _bounce(p: _Parser, row: Opt, value: str) -> None:
    """-b [user:pass@]server[:port]: the FTP bounce scan, nmap's reading of it."""
    from pynmap.engine.bounce import parse_bounce_argument

    relay = parse_bounce_argument(value, p.o.bounce, None if p.o.stdout_muted else p.say)
    p.o.bounce = relay
    p.o.bounce_given += 1
    p.lexer.rewrite_value(value, relay.logged)


def _decoys(p: _Parser, row: Opt, value: str) -> None:
    p.o.raw_scan_options = True
    p.d.decoys = value


def _source_port(p: _Parser, row: Opt, value: str) -> None:
    p.o.raw_scan_options = True
    port = atoi(value)
    p.o.source_port = port
    p.d.magic_port_set = True
    if port == 0:
        p.warn("WARNING: a source port of zero may not work on all systems.")


def _os_scan(p: _Parser, row: Opt, value: str | None) -> None:
    if not value or value[0] == "2":
        p.d.osscan = True
    elif value[0] == "1":
        raise Fatal("First-generation OS detection (-O1) is no longer supported. Use -O instead.")
    else:
        raise Fatal("Unknown argument to -O.")


def _ping(p: _Parser, row: Opt, value: str | None) -> None:
    o, d = p.o, p.d
    if value is None:
        d.deprecated("P", "PE")
        o.ping_icmp = True
        d.icmp.add("E")
        return
    letter, rest = value[:1], value[1:]
    if letter in ("", "I", "E"):
        if letter != "E":
            d.deprecated("P" + letter, "PE")
        o.ping_icmp = True
        d.icmp.add("E")
    elif letter in ("M", "P"):
        o.ping_icmp = True
        d.icmp.add(letter)
    elif letter in ("n", "0", "N", "D"):
        if letter != "n":
            d.deprecated("P" + letter, "Pn")
        if o.verbosity > 0:
            p.warn("Host discovery disabled (-Pn). All addresses will be marked 'up' and "
                   "scan times may be slower.")
        o.ping_none = True
    elif letter == "R":
        if o.verbosity > 0:
            p.warn("The -PR option is deprecated. ARP scan is always done when possible.")
    elif letter == "S":
        if o.syn_ping_ports is not None:
            raise Fatal("Only one -PS option is allowed. Combine port ranges with commas.")
        o.syn_ping_ports = p.ping_ports("S", rest)
    elif letter in ("T", "A", "B"):
        if o.ack_ping_ports is not None:
            raise Fatal("Only one -PB, -PA, or -PT option is allowed. Combine port ranges "
                        "with commas.")
        if letter == "B":
            # -PB sets nmap's whole default ping type: ICMP and TCP pings,
            # no -Pn and none of the -PU/-PY/-PO asked for so far
            o.ping_icmp = True
            o.ping_none = False
            d.raw_ping.clear()
            d.icmp = {"B"}  # nmap's default types replace those asked for so far
        o.ack_ping_ports = p.ping_ports("A" if letter == "T" else letter, rest)
    elif letter in ("U", "Y", "O"):
        if letter in d.raw_ping_lists:
            what = "protocol" if letter == "O" else "port"
            raise Fatal(f"Only one -P{letter} option is allowed. Combine {what} ranges with "
                        "commas.")
        # parsed now, as nmap does: a bad list is refused before privileges are looked at
        p.ping_ports(letter, rest)
        d.raw_ping_lists.add(letter)
        d.raw_ping.add(letter)
    else:
        raise Fatal("Illegal Argument to -P, use -Pn, -PE, -PS, -PA, -PP, -PM, -PU, -PY, or -PO")


def _ports(p: _Parser, row: Opt, value: str) -> None:
    if p.o.port_spec is not None:
        raise Fatal("Only 1 -p option allowed, separate multiple ranges with commas.")
    p.o.port_spec = value


def _source_address(p: _Parser, row: Opt, value: str) -> None:
    if p.o.source_address is not None:
        raise Fatal("You can only use the source option once!  Use -D <decoy1> -D <decoy2> "
                    "etc. for decoys\n")
    p.o.source_address = value
    p.o.raw_scan_options = True


def _scan_types(p: _Parser, row: Opt, value: str | None) -> None:
    o, d = p.o, p.d
    if not value:
        raise PlainExit(
            "An option is required for -s, most common are -sT (tcp scan), -sS (SYN scan), "
            "-sF (FIN scan), -sU (UDP scan) and -sn (Ping scan)\n", 255, p.usage())
    for letter in value:
        if letter == "P":
            d.deprecated("sP", "sn")
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
            d.deprecated("sR", "sV")
            p.warn("WARNING: -sR is now an alias for -sV and activates version detection "
                   "as well as RPC scan.")
        elif letter == "T":
            o.connect_scan = True
        elif letter == "V":
            o.version_scan = True
        elif letter in RAW_SCAN_LETTERS:
            d.raw_scan_types.add(letter)
        else:
            # nmap reads the value byte by byte: a multi-byte letter is named by its first byte
            first = os.fsencode(letter)[:1].decode("utf-8", "surrogateescape")
            raise PlainExit(f"Scantype {first} not supported\n\n", 255, p.usage())


def _timing_template(p: _Parser, row: Opt, value: str) -> None:
    level = _timing_level(value, p.warn)
    if level is None:
        raise Fatal(UNKNOWN_TIMING)
    if level != 3:
        p.timing = _apply_template(p.timing, level)


def _max_hostgroup(p: _Parser, row: Opt, value: str) -> None:
    size = atoi(value) % 2**32  # nmap stores it unsigned
    if size < p.timing.min_hostgroup:
        raise Fatal("Maximum host group size may not be set to less than the minimum size "
                    f"(currently {p.timing.min_hostgroup})\n")
    if size == 0:
        raise Fatal("Max host size must be at least 1")
    p.timing = p.timing.with_(max_hostgroup=size)


def _min_hostgroup(p: _Parser, row: Opt, value: str) -> None:
    size = atoi(value) % 2**32
    if size > p.timing.max_hostgroup:
        raise Fatal("Minimum host group size may not be set to greater than maximum size "
                    f"(currently {p.timing.max_hostgroup})\n")
    p.timing = p.timing.with_(min_hostgroup=size)
    if atoi(value) > 100:
        p.warn("Warning: You specified a highly aggressive --min-hostgroup.")


def _scanflags(p: _Parser, row: Opt, value: str) -> None:
    p.o.raw_scan_options = True
    if not _valid_scanflags(value):
        raise Fatal('--scanflags option must be a number between 0 and 255 (inclusive) or a '
                    'string like "URGPSHFIN".')


def _input_list(p: _Parser, row: Opt, value: str) -> None:
    """-iL (and the deprecated -i)."""
    o = p.o
    if row.name == "i":
        p.d.deprecated("i", "iL")
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


def _random_targets(p: _Parser, row: Opt, value: str) -> None:
    _, tail = strtoul(value)
    if tail:
        raise Fatal("ERROR: -iR argument must be the maximum number of random IPs you wish "
                    "to scan (use 0 for unlimited)")
    raise Fatal("pynmap does not support random targets (-iR).")


def _shard(p: _Parser, row: Opt, value: str) -> None:
    from pynmap.shard import parse_shard

    p.d.shard = parse_shard(value)  # the last --shard given counts, as for nmap's options


def _seed(p: _Parser, row: Opt, value: str) -> None:
    from pynmap.shard import parse_seed

    p.d.seed = parse_seed(value)


def _cluster(p: _Parser, row: Opt, value: str) -> None:
    """--cluster and --cluster-*: the last one given counts; checked together at the end."""
    p.d.cluster[row.name] = value


def _idle_scan(p: _Parser, row: Opt, value: str) -> None:
    # nmap's buffer holds 254 bytes (a longest domain name), and its message names that size
    if len(os.fsencode(value)) > 254:
        raise Fatal("ERROR: -sI argument must be less than 254 characters")
    p.d.raw_scan_types.add("I")


def _nsock_engine(p: _Parser, row: Opt, value: str) -> None:
    if value not in ("epoll", "poll", "select"):
        raise Fatal(f"Unknown or non-available engine: {value}")


def _proxies(p: _Parser, row: Opt, value: str) -> None:
    from pynmap.rawopts import parse_proxy_chain

    # nmap's proxies carry NSE and -sV; pynmap's carry every connection of the scan
    # (engine/proxy.py).  A later --proxies replaces an earlier one, as in nmap.
    p.o.proxies = parse_proxy_chain(value)


def _ip_options(p: _Parser, row: Opt, value: str) -> None:
    from pynmap.rawopts import check_ip_options

    p.o.raw_scan_options = True
    check_ip_options(value)


def _payload_once(p: _Parser) -> None:
    p.o.raw_scan_options = True
    if p.d.payload_given:
        raise Fatal("Can't use the --data option(s) multiple times, or together.")
    p.d.payload_given = True


def _big_payload(p: _Parser, length: int) -> None:
    if length > 1400:  # an Ethernet frame less IP and TCP headers with options
        p.warn("WARNING: Payloads bigger than 1400 bytes may not be sent successfully.")


def _data(p: _Parser, row: Opt, value: str) -> None:
    _payload_once(p)
    if not _valid_hex_payload(value):
        raise Fatal("Invalid hex string specified")
    _big_payload(p, len(_hex_body(value)) // 2)


def _data_string(p: _Parser, row: Opt, value: str) -> None:
    _payload_once(p)
    length = len(value.encode("utf-8", "surrogateescape"))
    if length > MAX_PAYLOAD:
        raise Fatal(f"string length must be between 0 and {MAX_PAYLOAD}")
    _big_payload(p, length)


def _data_length(p: _Parser, row: Opt, value: str) -> None:
    _payload_once(p)
    n = atoi(value)
    if n < 0 or n > MAX_PAYLOAD:
        raise Fatal(f"data-length must be between 0 and {MAX_PAYLOAD}")
    _big_payload(p, n)


def _mtu(p: _Parser, row: Opt, value: str) -> None:
    p.o.raw_scan_options = True
    mtu = atoi(value)
    p.d.fragscan = mtu
    if mtu <= 0 or mtu % 8 != 0:
        raise Fatal("Data payload MTU must be >0 and multiple of 8")


def _yoloscan(p: _Parser, row: Opt, value: None) -> None:
    # nmap's hidden alias for -A, which greets the user first.
    if not p.o.stdout_muted:
        p.say("LEEROY JENKINS!!!\n")
    p.d.advanced = True


def _port_ratio(p: _Parser, row: Opt, value: str) -> None:
    ratio, _ = strtod(value)
    if ratio < 0 or ratio >= 1:
        raise Fatal("--port-ratio should be between [0 and 1)")
    p.o.top_port_level = ratio


def _exclude_ports(p: _Parser, row: Opt, value: str) -> None:
    if p.o.exclude_ports is not None:
        raise Fatal("Only 1 --exclude-ports option allowed, separate multiple ranges with "
                    "commas.")
    p.o.exclude_ports = value


def _top_ports(p: _Parser, row: Opt, value: str) -> None:
    from pynmap.ports import parse_top_ports_option

    # nmap compares the value with its (int) cast, which x86-64 turns into
    # INT_MIN past INT_MAX: so integers 1..2147483647 only
    p.o.top_port_level = parse_top_ports_option(value)


# -- the table ----------------------------------------------------------------------------
# One row per name getopt knows: the short options in nmap 7.93's option-string
# order, then its long options in its table order (the order of the
# "possibilities" in an ambiguity message), then pynmap's own.  The argv
# lexer's grammar and the parser's dispatch are both built from it.

_RAW = dict(raw_scan_options=True)

OPTION_TABLE: tuple[Opt, ...] = (
    Opt("4", NO_ARG, _family, socket.AF_INET),
    Opt("6", NO_ARG, _family, socket.AF_INET6),
    Opt("A", NO_ARG, _later(advanced=True)),
    Opt("b", REQUIRED_ARG, _bounce),
    Opt("D", REQUIRED_ARG, _decoys),
    Opt("d", OPTIONAL_ARG, _debug),
    Opt("e", REQUIRED_ARG, _store("device")),
    Opt("F", NO_ARG, _set(fast=True)),
    Opt("f", NO_ARG, _fragment, 8),
    Opt("g", REQUIRED_ARG, _source_port),
    Opt("h", NO_ARG, _exit),
    Opt("I", NO_ARG, _warning, "WARNING: identscan (-I) no longer supported.  Ignoring -I"),
    Opt("i", REQUIRED_ARG, _input_list),
    Opt("M", REQUIRED_ARG, _bounded, Bounded(
        1, None, "Argument to -M must be at least 1!", "later", "max_parallelism", 900,
        "Warning: Your max-parallelism (-M) option is extraordinarily high, which can hurt "
        "reliability")),
    Opt("m", REQUIRED_ARG, _output, Output("grepable", "oG", "oG")),
    Opt("n", NO_ARG, _set(no_resolve=True)),
    Opt("O", OPTIONAL_ARG, _os_scan),
    Opt("o", REQUIRED_ARG, _output, Output("normal", "o", "oN")),
    Opt("P", OPTIONAL_ARG, _ping),
    Opt("p", REQUIRED_ARG, _ports),
    Opt("q", NO_ARG, _ignored, "in nmap's option string, does nothing there either"),
    Opt("R", NO_ARG, _set(always_resolve=True)),
    Opt("r", NO_ARG, _set(randomize_ports=False)),
    Opt("S", REQUIRED_ARG, _source_address),
    Opt("s", OPTIONAL_ARG, _scan_types),
    Opt("T", REQUIRED_ARG, _timing_template),
    Opt("V", NO_ARG, _exit),
    Opt("v", OPTIONAL_ARG, _verbose),
    # nmap's long options
    Opt("version", NO_ARG, stands_for="V"),
    Opt("verbose", NO_ARG, stands_for="v"),
    Opt("datadir", REQUIRED_ARG, _store("datadir")),
    Opt("servicedb", REQUIRED_ARG, _store("servicedb", fast=True)),
    Opt("versiondb", REQUIRED_ARG, _store("versiondb")),
    Opt("debug", OPTIONAL_ARG, stands_for="d"),
    Opt("help", NO_ARG, stands_for="h"),
    Opt("iflist", NO_ARG, _refused, "--iflist (interface and route listing)"),
    Opt("release-memory", NO_ARG, _ignored, "a memory-debugging switch of nmap's"),
    Opt("nogcc", NO_ARG, _ignored, "turns off nmap's group congestion control; no switch here"),
    Opt("max-os-tries", REQUIRED_ARG, _bounded, Bounded(
        1, 50, "Bogus --max-os-tries argument specified, must be between 1 and 50 (inclusive)")),
    Opt("max-parallelism", REQUIRED_ARG, stands_for="M"),
    Opt("min-parallelism", REQUIRED_ARG, _bounded, Bounded(
        1, None, "Argument to --min-parallelism must be at least 1!", "timing",
        "min_parallelism", 100,
        "Warning: Your --min-parallelism option is pretty high!  This can hurt reliability.")),
    Opt("timing", REQUIRED_ARG, stands_for="T"),
    Opt("max-rtt-timeout", REQUIRED_ARG, _time_limit, TimeLimit(
        "max_rtt", 5, "Bogus --max-rtt-timeout argument specified, must be at least 5ms",
        50 * 1000, "seconds", small=20)),
    Opt("min-rtt-timeout", REQUIRED_ARG, _time_limit, TimeLimit(
        "min_rtt", 0, "Bogus --min-rtt-timeout argument specified", 50 * 1000, "seconds")),
    Opt("initial-rtt-timeout", REQUIRED_ARG, _time_limit, TimeLimit(
        "initial_rtt", 1, "Bogus --initial-rtt-timeout argument specified.  Must be positive",
        50 * 1000, "seconds")),
    Opt("excludefile", REQUIRED_ARG, _store("exclude_file")),
    Opt("exclude", REQUIRED_ARG, _store("exclude_spec")),
    Opt("max-hostgroup", REQUIRED_ARG, _max_hostgroup),
    Opt("min-hostgroup", REQUIRED_ARG, _min_hostgroup),
    Opt("open", NO_ARG, _set(open_only=True)),
    Opt("scanflags", REQUIRED_ARG, _scanflags),
    Opt("defeat-rst-ratelimit", NO_ARG, _later(defeat_rst=True)),
    Opt("defeat-icmp-ratelimit", NO_ARG, _later(defeat_icmp=True)),
    Opt("host-timeout", REQUIRED_ARG, _time_limit, TimeLimit(
        "host_timeout", 0, "Bogus --host-timeout argument specified", 10000 * 1000, "hours")),
    Opt("scan-delay", REQUIRED_ARG, _time_limit, TimeLimit(
        "scan_delay", 0, "Bogus --scan-delay argument specified.", 100 * 1000, "minutes-ms")),
    Opt("max-scan-delay", REQUIRED_ARG, _time_limit, TimeLimit(
        "max_scan_delay", 0, "Bogus --max-scan-delay argument specified.", 100 * 1000,
        "minutes-s")),
    Opt("max-retries", REQUIRED_ARG, _bounded, Bounded(
        0, None, "max-retries must be positive", "later", "max_retries")),
    Opt("oA", REQUIRED_ARG, _output, Output("all", "oA")),
    Opt("oN", REQUIRED_ARG, _output, Output("normal", "oN")),
    Opt("oM", REQUIRED_ARG, _output, Output("grepable", "oM", "oG")),
    Opt("oG", REQUIRED_ARG, _output, Output("grepable", "oG")),
    Opt("oS", REQUIRED_ARG, _output, Output("kiddie", "oS")),
    Opt("oH", REQUIRED_ARG, _fatal,
        "HTML output is not directly supported, though Nmap includes an XSL for transforming "
        "XML output into HTML.  See the man page."),
    Opt("oX", REQUIRED_ARG, _output, Output("xml", "oX")),
    Opt("iL", REQUIRED_ARG, _input_list),
    Opt("iR", REQUIRED_ARG, _random_targets),
    Opt("sI", REQUIRED_ARG, _idle_scan),
    Opt("source-port", REQUIRED_ARG, stands_for="g"),
    Opt("randomize-hosts", NO_ARG, _set(randomize_hosts=True)),
    Opt("nsock-engine", REQUIRED_ARG, _nsock_engine),
    Opt("proxies", REQUIRED_ARG, _proxies),
    Opt("proxy", REQUIRED_ARG, _proxies),
    Opt("discovery-ignore-rst", NO_ARG, _ignored, "affects raw discovery only"),
    Opt("osscan-limit", NO_ARG, _ignored, "only meaningful with -O, refused unprivileged"),
    Opt("osscan-guess", NO_ARG, _ignored, "only meaningful with -O, refused unprivileged"),
    Opt("fuzzy", NO_ARG, _ignored, "only meaningful with -O, refused unprivileged"),
    Opt("packet-trace", NO_ARG, _set(packet_trace=True)),
    Opt("version-trace", NO_ARG, _version_trace),
    Opt("data", REQUIRED_ARG, _data),
    Opt("data-string", REQUIRED_ARG, _data_string),
    Opt("data-length", REQUIRED_ARG, _data_length),
    Opt("send-eth", NO_ARG, _ignored, "a connect scan sends no frames of its own"),
    Opt("send-ip", NO_ARG, _ignored, "a connect scan sends no frames of its own"),
    Opt("stylesheet", REQUIRED_ARG, _store("stylesheet")),
    Opt("no-stylesheet", NO_ARG, _set(stylesheet=None)),
    Opt("webxml", NO_ARG, _set(stylesheet="https://svn.nmap.org/nmap/docs/nmap.xsl")),
    Opt("rH", NO_ARG, _set(randomize_hosts=True)),
    Opt("vv", NO_ARG, _more_verbose),
    Opt("ff", NO_ARG, _fragment, 16),
    Opt("privileged", NO_ARG, _set(privileged=True)),
    Opt("unprivileged", NO_ARG, _set(privileged=False)),
    Opt("mtu", REQUIRED_ARG, _mtu),
    Opt("append-output", NO_ARG, _set(append_output=True)),
    Opt("noninteractive", NO_ARG, _set(noninteractive=True)),
    Opt("spoof-mac", REQUIRED_ARG, _store("spoof_mac", **_RAW)),  # read after the ports
    Opt("thc", NO_ARG, _exit, "!!Greets to Van Hauser, Plasmoid, Skyper and the rest of THC!!\n"),
    Opt("badsum", NO_ARG, _set(**_RAW)),
    Opt("ttl", REQUIRED_ARG, _bounded, Bounded(
        0, 255, "ttl option must be a number between 0 and 255 (inclusive)", "options", "ttl",
        raw=True)),
    Opt("traceroute", NO_ARG, _later(traceroute=True)),
    Opt("reason", NO_ARG, _set(reason=True)),
    Opt("allports", NO_ARG, _set(all_ports=True)),
    Opt("version-intensity", REQUIRED_ARG, _bounded, Bounded(
        0, 9, "version-intensity must be between 0 and 9", "options", "version_intensity")),
    Opt("version-light", NO_ARG, _set(version_intensity=2)),
    Opt("version-all", NO_ARG, _set(version_intensity=9)),
    Opt("system-dns", NO_ARG, _set(system_dns=True)),
    Opt("resolve-all", NO_ARG, _set(resolve_all=True)),
    Opt("unique", NO_ARG, _set(unique=True)),
    Opt("log-errors", NO_ARG, _ignored, "deprecated in nmap and a no-op there too"),
    Opt("deprecated-xml-osclass", NO_ARG, _ignored, "OS detection output only"),
    Opt("yoloscan", NO_ARG, _yoloscan),
    Opt("dns-servers", REQUIRED_ARG, _store("dns_servers")),
    Opt("port-ratio", REQUIRED_ARG, _port_ratio),
    Opt("exclude-ports", REQUIRED_ARG, _exclude_ports),
    Opt("top-ports", REQUIRED_ARG, _top_ports),
    Opt("script", REQUIRED_ARG, _set(script_scan=True)),
    Opt("script-trace", NO_ARG, _ignored, "NSE tracing; no scripts run here"),
    Opt("script-updatedb", NO_ARG, _refused, "--script-updatedb (pynmap has no NSE)"),
    Opt("script-args", REQUIRED_ARG, _ignored, "arguments for NSE scripts, which do not run"),
    Opt("script-args-file", REQUIRED_ARG, _ignored, "arguments for NSE scripts"),
    Opt("script-help", REQUIRED_ARG, _refused, "--script-help (pynmap has no NSE)"),
    Opt("script-timeout", REQUIRED_ARG, _seconds),
    Opt("ip-options", REQUIRED_ARG, _ip_options),
    Opt("min-rate", REQUIRED_ARG, _rate, "min_rate"),
    Opt("max-rate", REQUIRED_ARG, _rate, "max_rate"),
    Opt("adler32", NO_ARG, _ignored, "SCTP checksums; no SCTP here"),
    Opt("stats-every", REQUIRED_ARG, _seconds, "stats_every"),
    Opt("disable-arp-ping", NO_ARG, _ignored, "ARP discovery needs raw packets"),
    Opt("route-dst", REQUIRED_ARG, _refused, "--route-dst"),
    Opt("resume", REQUIRED_ARG, _fatal,
        "Cannot use --resume with other options. Usage: nmap --resume <filename>"),
    # pynmap's own (JSON output)
    Opt("oJ", REQUIRED_ARG, _output, Output("json", "oJ"), own=True),
    Opt("json-lines", REQUIRED_ARG, _output, Output("json-lines", "json-lines"), own=True),
    # pynmap's own (a scan split over several runs, pynmap.shard)
    Opt("shard", REQUIRED_ARG, _shard, own=True),
    Opt("seed", REQUIRED_ARG, _seed, own=True),
    # pynmap's own (the scan run as shards on a Dask cluster, pynmap.cluster)
    Opt("cluster", REQUIRED_ARG, _cluster, own=True),
    Opt("cluster-ca", REQUIRED_ARG, _cluster, own=True),
    Opt("cluster-cert", REQUIRED_ARG, _cluster, own=True),
    Opt("cluster-key", REQUIRED_ARG, _cluster, own=True),
    Opt("cluster-shards", REQUIRED_ARG, _cluster, own=True),
)

_ARG_MARKS = ("", ":", "::")
# getopt's option string and long-option tables, as the lexer (pynmap.getopt) reads them
SHORT_OPTIONS = "".join(row.name + _ARG_MARKS[row.arg] for row in OPTION_TABLE
                        if len(row.name) == 1)
LONG_OPTIONS: tuple[LongOption, ...] = tuple(
    (row.name, row.arg, row.stands_for) for row in OPTION_TABLE
    if len(row.name) > 1 and not row.own)
# Matched only when spelled out in full: getopt's prefix matching of nmap's
# table stays exactly nmap's (`--o` lists the same possibilities, `-j` is
# still unrecognized), so no abbreviation a script uses with nmap resolves
# differently.
PYNMAP_LONG_OPTIONS: tuple[LongOption, ...] = tuple(
    (row.name, row.arg, row.stands_for) for row in OPTION_TABLE if row.own)
GRAMMAR = Grammar(SHORT_OPTIONS, LONG_OPTIONS, PYNMAP_LONG_OPTIONS)
# the rows the parser dispatches on: every name the lexer yields
_HANDLED: dict[str, tuple[Handler, Opt]] = {
    row.name: (row.handle, row) for row in OPTION_TABLE if row.handle is not None}


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
