"""The result of one run as plain, immutable data: `Report` and what it holds.

A report says what nmap's XML says, in nmap's words: a `Report` (one
`<nmaprun>`) holds its `ScanInfo`, every `Host` (status, `Address`es,
`Hostname`s, `Port`s with their `Service`, `ExtraPorts`, `Times`) and its
`RunStats`.  States and reasons are `StrEnum`s whose values are the strings
nmap writes, so `port.state == "open"` and `port.state is State.OPEN` both
hold.  Collections are tuples; every class is a frozen dataclass with slots.

Three ways in and out, all of them here and none of them on the scan path:

* `Report.from_xml(path_or_text)` reads nmap's or pynmap's XML (lxml, imported
  when called).  A document cut off before `</nmaprun>` (an interrupted nmap)
  or anything that is not an nmap run raises `ReportError`.
* `report.to_json()` / `Report.from_json(text)`: one JSON document per run
  with the same content as the XML; `pynmap/schema/report.schema.json` (shipped
  in the package, see `schema_path()`) describes it.  Field names are the
  attribute names below, which are nmap's XML attribute names; a value that is
  absent in the XML (None here) is left out of the JSON.
* `report.to_jsonl()`: JSON Lines for pipelines, one `{"type": "host", ...}`
  object per host in the order of the report, then one `{"type": "summary",
  ...}` object holding everything else.

Read but not modelled (skipped without error): `<hosthint>` (repeats what the
host's own element says), `<taskbegin>`/`<taskprogress>`/`<taskend>` (progress,
not results), `<output>`, and the root-only results of other scan types: OS
detection (`<os>`, `<distance>`, `<uptime>`, `<tcpsequence>`, `<ipidsequence>`,
`<tcptssequence>`), `<trace>` and `<smurf>`.  A script's structured
`<table>`/`<elem>` children are left out; its `output` text is kept.
"""

from __future__ import annotations

import dataclasses
import enum
import os
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pynmap.errors import InputError

if TYPE_CHECKING:
    from datetime import datetime
    from types import EllipsisType

__all__ = [
    "Address",
    "AddressType",
    "Exit",
    "ExtraPorts",
    "ExtraReasons",
    "Host",
    "HostState",
    "Hostname",
    "HostnameType",
    "Port",
    "Protocol",
    "Reason",
    "Report",
    "ReportError",
    "RunStats",
    "ScanInfo",
    "Script",
    "Service",
    "Shard",
    "State",
    "Target",
    "Times",
    "schema_path",
]


class ReportError(InputError):
    """What cannot be read as a report: not XML, cut off, not an nmap run, a bad value."""


# -- nmap's words -------------------------------------------------------------


class State(enum.StrEnum):
    """A port's state (nmap's statenum2str)."""

    OPEN = "open"
    CLOSED = "closed"
    FILTERED = "filtered"
    UNFILTERED = "unfiltered"
    OPEN_FILTERED = "open|filtered"
    CLOSED_FILTERED = "closed|filtered"
    UNKNOWN = "unknown"  # a port a scan never settled (the bounce scan's lost replies)


class HostState(enum.StrEnum):
    """A host's status (nmap.dtd's host_states)."""

    UP = "up"
    DOWN = "down"
    UNKNOWN = "unknown"
    SKIPPED = "skipped"


class Reason(enum.StrEnum):
    """Why a port or host has its state: every name in nmap's reason table.

    A connect scan gives syn-ack (connected), conn-refused, no-response
    (timed out), host-unreach, net-unreach, admin-prohibited, proto-unreach,
    dest-unreach; a host is user-set under -Pn or when named on a list scan.
    The others come from nmap's raw-packet scans; they are here so any nmap
    XML reads.
    """

    RESET = "reset"
    CONN_REFUSED = "conn-refused"
    SYN_ACK = "syn-ack"
    SPLIT_HANDSHAKE_SYN = "split-handshake-syn"
    UDP_RESPONSE = "udp-response"
    PROTO_RESPONSE = "proto-response"
    PERM_DENIED = "perm-denied"
    NET_UNREACH = "net-unreach"
    HOST_UNREACH = "host-unreach"
    PROTO_UNREACH = "proto-unreach"
    PORT_UNREACH = "port-unreach"
    ECHO_REPLY = "echo-reply"
    DEST_UNREACH = "dest-unreach"
    SOURCE_QUENCH = "source-quench"
    NET_PROHIBITED = "net-prohibited"
    HOST_PROHIBITED = "host-prohibited"
    ADMIN_PROHIBITED = "admin-prohibited"
    TIME_EXCEEDED = "time-exceeded"
    TIMESTAMP_REPLY = "timestamp-reply"
    ADDRESSMASK_REPLY = "addressmask-reply"
    NO_IPID_CHANGE = "no-ipid-change"
    IPID_CHANGE = "ipid-change"
    ARP_RESPONSE = "arp-response"
    ND_RESPONSE = "nd-response"
    TCP_RESPONSE = "tcp-response"
    NO_RESPONSE = "no-response"
    INIT_ACK = "init-ack"
    ABORT = "abort"
    LOCALHOST_RESPONSE = "localhost-response"
    SCRIPT_SET = "script-set"
    UNKNOWN_RESPONSE = "unknown-response"
    USER_SET = "user-set"
    NO_ROUTE = "no-route"
    BEYOND_SCOPE = "beyond-scope"
    REJECT_ROUTE = "reject-route"
    PARAM_PROBLEM = "param-problem"


class Protocol(enum.StrEnum):
    IP = "ip"
    TCP = "tcp"
    UDP = "udp"
    SCTP = "sctp"


class AddressType(enum.StrEnum):
    IPV4 = "ipv4"
    IPV6 = "ipv6"
    MAC = "mac"


class HostnameType(enum.StrEnum):
    USER = "user"  # as given on the command line
    PTR = "PTR"  # from reverse DNS


class Exit(enum.StrEnum):
    SUCCESS = "success"
    ERROR = "error"


# -- the records ----------------------------------------------------------------



@dataclass(frozen=True, slots=True, kw_only=True)
class ScanInfo:
    """One `<scaninfo>`: a scan type and the ports it covers."""

    type: str  # connect, syn, udp, ... (nmap.dtd's scan_types)
    protocol: Protocol
    numservices: int
    services: str  # nmap's port list, e.g. "1-30,3306,8080"
    scanflags: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """A `<target>`: a target specification nmap could not use."""

    specification: str
    status: str | None = None  # "skipped"
    reason: str | None = None  # "invalid"


@dataclass(frozen=True, slots=True, kw_only=True)
class Address:
    addr: str
    addrtype: AddressType = AddressType.IPV4
    vendor: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Hostname:
    name: str
    type: HostnameType | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Script:
    """An NSE script's result (its structured table/elem children are not kept)."""

    id: str
    output: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Service:
    """A port's `<service>`: from nmap-services (method table) or a probe."""

    name: str
    method: str  # "table" or "probed"
    conf: int
    product: str | None = None
    version: str | None = None
    extrainfo: str | None = None
    tunnel: str | None = None
    proto: str | None = None
    rpcnum: int | None = None
    lowver: int | None = None
    highver: int | None = None
    hostname: str | None = None
    ostype: str | None = None
    devicetype: str | None = None
    servicefp: str | None = None
    cpe: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Port:
    """One `<port>` shown in a host's port table (its `<state>` folded in)."""

    protocol: Protocol
    portid: int
    state: State
    reason: Reason
    reason_ttl: int = 0
    reason_ip: str | None = None
    owner: str | None = None
    service: Service | None = None
    scripts: tuple[Script, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ExtraReasons:
    """The ports of one state that share one reason, within an `<extraports>`."""

    reason: Reason
    count: int
    proto: Protocol | None = None
    ports: str | None = None  # nmap's range list, e.g. "1-21,23-30"

    def port_numbers(self) -> tuple[int, ...]:
        """The ports of `ports` one by one ("1-3,7" gives 1, 2, 3, 7)."""
        found: list[int] = []
        for piece in (self.ports or "").split(","):
            if not piece:
                continue
            low, _, high = piece.partition("-")
            found.extend(range(int(low), int(high or low) + 1))
        return tuple(found)


@dataclass(frozen=True, slots=True, kw_only=True)
class ExtraPorts:
    """Ports of one state left out of the table ("Not shown: 29 closed tcp ports")."""

    state: State
    count: int
    reasons: tuple[ExtraReasons, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Times:
    """A host's round-trip estimates, in microseconds (nmap's `<times>`)."""

    srtt: int
    rttvar: int
    to: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Host:
    """One `<host>`: its status, addresses, names, ports and timing."""

    state: HostState
    reason: Reason
    reason_ttl: int = 0
    addresses: tuple[Address, ...] = ()
    hostnames: tuple[Hostname, ...] = ()
    extraports: tuple[ExtraPorts, ...] = ()
    ports: tuple[Port, ...] = ()
    hostscripts: tuple[Script, ...] = ()
    times: Times | None = None
    starttime: int | None = None  # Unix time
    endtime: int | None = None
    timedout: bool = False  # --host-timeout ended its scan
    comment: str | None = None

    @property
    def address(self) -> str | None:
        """The host's IP address (the first one that is not a MAC address)."""
        return next((a.addr for a in self.addresses if a.addrtype is not AddressType.MAC), None)

    @property
    def hostname(self) -> str | None:
        """The first of its names (the one typed, else the PTR name)."""
        return self.hostnames[0].name if self.hostnames else None

    def to_dict(self) -> dict[str, Any]:
        """The host's JSON form as Python values (an element of the report's "hosts")."""
        out: dict[str, Any] = _to_plain(self)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Host:
        """The inverse of `to_dict` (a `jsonl_line`'s "type" is ignored); a missing or
        ill-typed field raises ReportError."""
        host: Host = _from_plain(cls, data, "host")
        return host

    def jsonl_line(self) -> str:
        """The host's line of `Report.to_jsonl()` (a pipeline can write it as the host finishes)."""
        import json

        return json.dumps({"type": "host", **self.to_dict()}, ensure_ascii=False)

    def ports_in(self, state: State) -> tuple[Port, ...]:
        """The shown ports in one state (ports in `extraports` are not listed one by one)."""
        return tuple(p for p in self.ports if p.state is state)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunStats:
    """`<runstats>`: how the run ended (`<finished>`) and its host counts (`<hosts>`)."""

    time: int  # Unix time
    elapsed: float  # seconds
    up: int
    down: int
    total: int
    timestr: str | None = None
    summary: str | None = None
    exit: Exit | None = None
    errormsg: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Shard:
    """One of the runs a merged report was made of (`pynmap merge`): its own
    command line, start and `<runstats>`.  nmap's XML has no element for it,
    so pynmap writes each as a comment inside `<nmaprun>` holding a `<shard>`
    element (`<!-- <shard args=".." start=".." startstr=".."><finished ../><hosts ../></shard> -->`,
    escaped as nmap escapes its header comment), which `from_xml` reads back."""

    args: str
    start: int  # Unix time
    runstats: RunStats
    startstr: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    """One run (`<nmaprun>`).

    `args`, `start`, `startstr` and `version` are None only for the bare
    document nmap writes when it fails before its XML header (`<nmaprun>`
    with nothing but `<runstats>`).
    """

    runstats: RunStats
    scanner: str = "nmap"
    args: str | None = None
    start: int | None = None  # Unix time
    startstr: str | None = None
    version: str | None = None
    xmloutputversion: str | None = None
    profile_name: str | None = None
    scaninfo: tuple[ScanInfo, ...] = ()
    verbose: int = 0
    debugging: int = 0
    targets: tuple[Target, ...] = ()
    prescripts: tuple[Script, ...] = ()
    postscripts: tuple[Script, ...] = ()
    hosts: tuple[Host, ...] = ()
    # The runs a merged report was made of (pynmap.merge), in their order;
    # None for a report of one run.
    shards: tuple[Shard, ...] | None = None
    # What nmap prints as warnings while it runs: its error() lines (stderr and
    # -oN: "Failed to resolve ...", "Unable to split netmask ...", option
    # warnings) and the engine's notices it prints even without -v ("Warning:
    # ... giving up on port because retransmission cap hit (N)."), in order.
    # Facts about the run, not results: not in the XML, so neither in the JSON
    # nor in from_xml's reports.
    warnings: tuple[str, ...] = dataclasses.field(default=(), metadata={"json": False})

    @property
    def start_time(self) -> datetime | None:
        """`start` as an aware UTC datetime."""
        from datetime import UTC, datetime

        return None if self.start is None else datetime.fromtimestamp(self.start, UTC)

    @property
    def ok(self) -> bool:
        """The run finished without a fatal error."""
        return self.runstats.exit is not Exit.ERROR

    # -- XML ----------------------------------------------------------------

    @classmethod
    def from_xml(cls, source: str | bytes | os.PathLike[str]) -> Report:
        """Read nmap's or pynmap's XML: a path, or the document itself.

        A str is taken as the document when it starts with "<" (after blanks),
        otherwise as a path; bytes are always the document.
        """
        if isinstance(source, bytes):
            data = source
        elif isinstance(source, str) and source.lstrip().startswith("<"):
            data = source.encode()
        else:
            try:
                data = Path(source).read_bytes()
            except OSError as e:
                raise ReportError(f"Failed to open XML file {os.fsdecode(source)}: {e.strerror}") from e
        from pynmap import _report_xml  # lxml costs milliseconds: only when reading

        return _report_xml.parse(data)

    # -- nmap's formats -----------------------------------------------------

    def to_xml(self, stylesheet: str | EllipsisType | None = ...) -> str:
        """The run as nmap's XML (-oX), from pynmap's own templates.

        `stylesheet` is the `<?xml-stylesheet?>` href: by default the one
        pynmap writes by default (the nmap.xsl found, see
        pynmap.output.stylesheet), None for none (--no-stylesheet).  Not
        written, because a Report does not hold them: the `<hosthint>` host
        discovery writes for each host it finds up, and -v's
        `<taskbegin>`/`<taskprogress>`/`<taskend>` elements.  So for a pynmap
        scan this is byte for byte its -oX file less those elements (the
        whole file for a -Pn, -sn or -sL scan without -v).
        """
        from pynmap.output import fromreport  # Jinja: only when rendering

        return fromreport.to_xml(self, stylesheet)

    def to_normal(self, *, reason: bool | None = None, open_only: bool | None = None) -> str:
        """The run as nmap's normal output (-oN): the `# Nmap ... scan initiated`
        line, each host's report, and `# Nmap done at ...` when the run finished.

        This is the -oN file as a Report can rebuild it; the lines nmap writes
        to -oN while it runs are not in a Report and are not printed: warnings
        and errors (see `warnings` and `runstats.errormsg`), -v's
        `Read data files from`, -d's timing report and -d2's traces, and a
        typed name's `Other addresses for ... (not scanned)`.  So for a pynmap
        scan without -v, -d or warnings it equals that scan's -oN file.
        The REASON column and "received" words follow --reason, and the
        `--defeat-rst-ratelimit` note follows --open: both are read from the
        command line (`args`) unless given here (-vv and -d imply --reason).
        So does version detection (-sV, -A in `args`): the VERSION column,
        the "?" after a name it did not confirm and the closing "Service
        detection performed" line; the fingerprints and "Service Info:"
        lines come from the ports' services.
        """
        from pynmap.output import fromreport

        return fromreport.to_normal(self, reason, open_only)

    def to_grepable(self) -> str:
        """The run as nmap's grepable output (-oG): header, one or two lines per
        host, `# Nmap done at ...` when the run finished.  For a pynmap scan this
        is its -oG file."""
        from pynmap.output import fromreport

        return fromreport.to_grepable(self)

    # -- JSON ---------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The JSON form as Python values (what `to_json` writes)."""
        out: dict[str, Any] = _to_plain(self)
        return out

    def to_json(self, indent: int | None = None) -> str:
        """One JSON document for the run (see pynmap/schema/report.schema.json)."""
        import json

        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def to_jsonl(self) -> Iterator[str]:
        """JSON Lines: one line per host, then a summary line (no newlines included)."""

        for host in self.hosts:
            yield host.jsonl_line()
        yield self.jsonl_summary()

    def jsonl_summary(self) -> str:
        """The last line of `to_jsonl()`: everything but the hosts."""
        import json

        summary: dict[str, Any] = {"type": "summary"}
        summary.update((k, v) for k, v in _to_plain(dataclasses.replace(self, hosts=())).items()
                       if k != "hosts")
        return json.dumps(summary, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Report:
        """The inverse of `to_dict`; a missing or ill-typed field raises ReportError."""
        report: Report = _from_plain(cls, data, "report")
        return report

    @classmethod
    def from_json(cls, text: str | bytes) -> Report:
        import json

        try:
            data = json.loads(text)
        except ValueError as e:
            raise ReportError(f"Not a JSON document: {e}") from e
        if not isinstance(data, dict):
            raise ReportError("A report's JSON must be an object")
        return cls.from_dict(data)


def schema_path() -> Path:
    """The JSON Schema of `Report.to_json()` (and of each `to_jsonl()` line, in its $defs)."""
    return Path(__file__).parent / "schema" / "report.schema.json"


# -- conversion, driven by the field types above --------------------------------


def _to_plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            v = getattr(value, f.name)
            if v is not None and f.metadata.get("json", True):
                out[f.name] = _to_plain(v)
        return out
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple):
        return [_to_plain(v) for v in value]
    return value


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    found = _HINTS.get(cls)
    if found is None:
        found = _HINTS[cls] = typing.get_type_hints(cls)
    return found


def _from_plain(cls: type[Any], data: Any, where: str) -> Any:
    if not isinstance(data, Mapping):
        raise ReportError(f"{where}: expected an object")
    hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name in data and data[f.name] is not None:
            kwargs[f.name] = _convert(hints[f.name], data[f.name], f"{where}.{f.name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ReportError(f"{where}: missing {f.name}")
    return cls(**kwargs)


def _convert(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if origin is types.UnionType:  # X | None: None was handled by the caller
        (hint,) = [a for a in typing.get_args(hint) if a is not type(None)]
        origin = typing.get_origin(hint)
    if origin is tuple:
        if not isinstance(value, list):
            raise ReportError(f"{where}: expected a list")
        item = typing.get_args(hint)[0]
        return tuple(_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value))
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _from_plain(hint, value, where)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            return hint(value)
        except ValueError:
            raise ReportError(f"{where}: {value!r} is not one of nmap's words for it") from None
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, bool):
        raise ReportError(f"{where}: expected int")
    if not isinstance(value, hint):
        raise ReportError(f"{where}: expected {hint.__name__}")
    return value
