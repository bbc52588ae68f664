"""The Reporter replays the situations of nmap's golden captures.

Each test builds the HostResults a capture's scan found (from the capture
environment of reference 0.1: which ports are open, closed or filtered, which
names resolve) and drives the Reporter through the run as the CLI will; every
output (stdout, stderr, each file) must equal nmap's after masking dates,
times, elapsed seconds, latencies and RTT figures.  The progress lines that
belong to the CLI ("Scanning ...", "Discovered open port ...") are taken from
the capture and passed through `interactive`.  Every XML document produced is
also validated against nmap.dtd.
"""

from __future__ import annotations

import copy
import io
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from lxml import etree

from pynmap.errors import Fatal, SystemFatal
from pynmap.output import OutputSpec, Reporter
from pynmap.results import HostResult, PortResult, RunStats, Times
from tests.support.mask import mask
from tests.support.reference import REFERENCE

REF = REFERENCE
CASES = REF / "cases"
DTD = Path("/usr/share/nmap/nmap.dtd")
# The href nmap found in the capture environment (its binary is /usr/bin/nmap).
GOLDEN_HREF = "file:///usr/bin/../share/nmap/nmap.xsl"
READ_DATA = "Read data files from: /usr/bin/../share/nmap"
T0 = 1795576136.25

pytestmark = [
    pytest.mark.usefixtures("utc"),  # times print as in the captures
]


def _load_services() -> dict[int, str]:
    names: dict[int, str] = {}
    with open("/usr/share/nmap/nmap-services", encoding="latin-1") as f:
        for line in f:
            fields = line.split()
            if len(fields) < 2 or fields[0].startswith("#"):
                continue
            number, _, proto = fields[1].partition("/")
            if proto == "tcp":
                names.setdefault(int(number), fields[0])
    return names


SERVICES = _load_services()

# The capture environment (reference 0.1).
OPEN = frozenset({22, 3306, 8080, 9929, 22222, 28080, 33306})
FILTERED4 = {
    44444: "no-response",
    44445: "host-unreach",
    44446: "host-unreach",
    44447: "net-unreach",
}
FILTERED4.update({p: "no-response" for p in range(45000, 45100)})
FILTERED6 = {44444: "no-response", **{p: "no-response" for p in range(45000, 45100)}}
PTR = {
    "127.0.0.1": "localhost",
    "127.0.0.2": "alpha.lab.test",
    "127.0.0.3": "beta.lab.test",
    "127.0.0.5": "blackhole.lab.test",
    "::1": "ip6-localhost",
}


def port_results(address: str, ports: list[int]) -> list[PortResult]:
    filtered = FILTERED6 if ":" in address else FILTERED4
    out = []
    for p in ports:
        if p in filtered:
            out.append(PortResult(p, "filtered", filtered[p]))
        elif p in OPEN and address in ("127.0.0.1", "::1"):
            out.append(PortResult(p, "open", "syn-ack"))
        else:
            out.append(PortResult(p, "closed", "conn-refused"))
    return out


def scanned_host(
    address: str,
    ports: list[int],
    *,
    user_name: str | None = None,
    ptr: bool = True,
    reason: str = "conn-refused",
    other: tuple[str, ...] = (),
) -> HostResult:
    return HostResult(
        address=address,
        family=socket.AF_INET6 if ":" in address else socket.AF_INET,
        status="up",
        reason=reason,
        user_name=user_name,
        ptr_name=PTR.get(address) if ptr else None,
        other_addresses=other,
        times=Times(srtt=96, rttvar=1600, timeout=100000),
        ports=port_results(address, ports),
        scanned_ports=len(ports),
        start_time=T0,
        end_time=T0 + 0.04,
    )


def down_host(address: str, *, ptr: bool = False) -> HostResult:
    return HostResult(
        address=address,
        family=socket.AF_INET,
        status="down",
        reason="no-response",
        ptr_name=PTR.get(address) if ptr else None,
    )


def hint_of(host: HostResult) -> HostResult:
    hint = copy.copy(host)
    hint.ptr_name, hint.ports, hint.reason = None, [], "unknown-response"
    return hint


def words(command: str) -> list[str]:
    return command.split()


def ports_of(spec: str) -> list[int]:
    out: list[int] = []
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


TOP_1000 = ports_of(
    (CASES / "default_oA_v" / "scan.gnmap").read_text().split("TCP(1000;")[1].split(")")[0]
)




@dataclass
class Run:
    """One Reporter run into memory and files under a temporary directory."""

    case: str
    tmp: Path
    spec_args: dict[str, object]
    stdout: io.StringIO = field(default_factory=io.StringIO)
    stderr: io.StringIO = field(default_factory=io.StringIO)
    rep: Reporter = field(init=False)

    def __post_init__(self) -> None:
        kwargs: dict[str, object] = {"stylesheet": GOLDEN_HREF}
        for key, value in self.spec_args.items():
            if key in ("normal", "grepable", "xml", "kiddie") and value not in (None, "-"):
                value = str(self.tmp / str(value))
            kwargs[key] = value
        self.spec = OutputSpec(**kwargs)  # type: ignore[arg-type]
        self.rep = Reporter(self.spec, SERVICES.get, stdout=self.stdout, stderr=self.stderr)

    def golden(self, name: str) -> str:
        return (CASES / self.case / name).read_text(encoding="utf-8", errors="surrogateescape")

    def golden_lines(self, prefix: str) -> list[str]:
        return [line for line in self.golden("stdout").splitlines() if line.startswith(prefix)]

    def outputs(self) -> dict[str, str]:
        out = {"stdout": self.stdout.getvalue(), "stderr": self.stderr.getvalue()}
        for key in ("normal", "grepable", "xml", "kiddie"):
            value = self.spec_args.get(key)
            if value not in (None, "-"):
                out[str(value)] = (self.tmp / str(value)).read_text(errors="surrogateescape")
        return out

    def check(self, *, skip: tuple[str, ...] = ()) -> None:
        for name, ours in self.outputs().items():
            if name in skip:
                continue
            assert mask(ours) == mask(self.golden(name)), name
            if name.endswith(".xml") or (name == "stdout" and ours.startswith("<?xml")):
                validate(ours)


def validate(document: str) -> None:
    dtd = etree.DTD(str(DTD))
    root = etree.fromstring(document.encode())
    assert dtd.validate(root), dtd.error_log.filter_from_errors()


# --------------------------------------------------------------------------
# How the CLI drives a port scan of one host group (reference 3.2, 5.2).


def port_scan(
    run: Run,
    *,
    args: str | list[str],
    ports: list[int],
    hosts: list[HostResult],
    down: list[HostResult] | None = None,
    ping: bool = True,
    dns: str | None = None,
    elapsed: float = 0.04,
) -> None:
    rep = run.rep
    down = down or []
    verbose = run.spec.verbosity > 0
    scanning = run.golden_lines("Scanning ")
    rep.open_files()
    rep.banner(T0)
    argv = args.split() if isinstance(args, str) else args
    rep.begin(args=argv, start=T0, scan_ports=ports, scan_type="connect")
    if ping:
        rep.task_begin("Ping Scan", T0)
        if verbose and scanning:
            rep.interactive(scanning.pop(0))
        for h in hosts:
            rep.hosthint(hint_of(h))
        rep.task_end("Ping Scan", T0, f"{len(hosts) + len(down)} total hosts")
    if dns:
        rep.task_begin(dns, T0)
        rep.task_end(dns, T0)
    for h in down:
        rep.host(h, scan_type="connect")
    if hosts:
        rep.task_begin("Connect Scan", T0)
        if verbose and scanning:
            rep.interactive(scanning.pop(0))
            for line in run.golden_lines("Discovered "):
                rep.interactive(line)
        rep.task_end("Connect Scan", T0 + 0.02, f"{len(ports) * len(hosts)} total ports")
        for h in hosts:
            rep.host(h, scan_type="connect")
    total = len(hosts) + len(down)
    rep.finish(
        stats=RunStats(total=total, up=len(hosts), down=len(down)),
        end=T0 + elapsed,
        elapsed=elapsed,
        pre_done_lines=[READ_DATA] if verbose else (),
        ping_disabled=not ping,
    )


Scenario = Callable[[Path], Run]
SCENARIOS: dict[str, Scenario] = {}


def scenario(fn: Scenario) -> Scenario:
    SCENARIOS[fn.__name__.removeprefix("case_")] = fn
    return fn


@scenario
def case_default(tmp: Path) -> Run:
    run = Run("default", tmp, {})
    port_scan(
        run, args="nmap -sT 127.0.0.1", ports=TOP_1000, hosts=[scanned_host("127.0.0.1", TOP_1000)]
    )
    return run


@scenario
def case_default_v(tmp: Path) -> Run:
    run = Run("default_v", tmp, {"verbosity": 1})
    port_scan(
        run,
        args="nmap -sT -v 127.0.0.1",
        ports=TOP_1000,
        hosts=[scanned_host("127.0.0.1", TOP_1000)],
    )
    return run


@scenario
def case_default_vv(tmp: Path) -> Run:
    run = Run("default_vv", tmp, {"verbosity": 2})
    port_scan(
        run,
        args="nmap -sT -vv 127.0.0.1",
        ports=TOP_1000,
        hosts=[scanned_host("127.0.0.1", TOP_1000)],
    )
    return run


@scenario
def case_default_v0(tmp: Path) -> Run:
    run = Run("default_v0", tmp, {"verbosity": 0, "quiet": True, "normal": "out.nmap"})
    port_scan(
        run,
        args="nmap -sT -v0 -oN out.nmap 127.0.0.1",
        ports=TOP_1000,
        hosts=[scanned_host("127.0.0.1", TOP_1000)],
    )
    return run


@scenario
def case_default_oA_v(tmp: Path) -> Run:
    run = Run(
        "default_oA_v",
        tmp,
        {"verbosity": 1, "normal": "scan.nmap", "grepable": "scan.gnmap", "xml": "scan.xml"},
    )
    port_scan(
        run,
        args="nmap -sT -v -oA scan 127.0.0.1",
        ports=TOP_1000,
        hosts=[scanned_host("127.0.0.1", TOP_1000)],
    )
    return run


@scenario
def case_oA(tmp: Path) -> Run:
    run = Run("oA", tmp, {"normal": "scan.nmap", "grepable": "scan.gnmap", "xml": "scan.xml"})
    ports = [*range(1, 101), 3306, 8080]
    port_scan(
        run,
        args="nmap -sT -p 1-100,3306,8080 -oA scan 127.0.0.1",
        ports=ports,
        hosts=[scanned_host("127.0.0.1", ports)],
    )
    return run


@scenario
def case_reason(tmp: Path) -> Run:
    run = Run("reason", tmp, {"reason": True, "xml": "out.xml", "grepable": "out.gnmap"})
    ports = [*range(1, 31), 3306, 8080, 44444, 44445, 44446, 44447]
    port_scan(
        run,
        args="nmap -sT --reason -p 1-30,3306,8080,44444-44447 -oX out.xml -oG out.gnmap 127.0.0.1",
        ports=ports,
        hosts=[scanned_host("127.0.0.1", ports)],
        elapsed=1.24,
    )
    return run


@scenario
def case_filtered_states(tmp: Path) -> Run:
    run = Run("filtered_states", tmp, {"verbosity": 1, "xml": "out.xml"})
    ports = [22, 80, 44444, 44445, 44446, 44447]
    port_scan(
        run,
        args="nmap -sT -v -p 22,80,44444-44447 -oX out.xml 127.0.0.1",
        ports=ports,
        hosts=[scanned_host("127.0.0.1", ports)],
    )
    return run


@scenario
def case_two_ignored_states(tmp: Path) -> Run:
    run = Run("two_ignored_states", tmp, {"grepable": "out.gnmap", "xml": "out.xml"})
    ports = [*range(1, 201), 3306, *range(45000, 45100)]
    port_scan(
        run,
        args="nmap -sT -p 1-200,3306,45000-45099 -oG out.gnmap -oX out.xml 127.0.0.1",
        ports=ports,
        hosts=[scanned_host("127.0.0.1", ports)],
    )
    return run


@scenario
def case_two_ignored_states_reason(tmp: Path) -> Run:
    run = Run("two_ignored_states_reason", tmp, {"verbosity": 2, "normal": "out.nmap"})
    ports = [*range(1, 201), 3306, *range(45000, 45100)]
    host = scanned_host("127.0.0.1", ports)
    host.end_time = T0 + 1.4
    port_scan(
        run,
        args="nmap -sT -vv -p 1-200,3306,45000-45099 -oN out.nmap 127.0.0.1",
        ports=ports,
        hosts=[host],
    )
    return run


@scenario
def case_all_ports_closed(tmp: Path) -> Run:
    run = Run("all_ports_closed", tmp, {"grepable": "-"})
    ports = list(range(23, 101))
    port_scan(
        run,
        args="nmap -sT -p 23-100 -oG - 127.0.0.1",
        ports=ports,
        hosts=[scanned_host("127.0.0.1", ports)],
    )
    return run


@scenario
def case_all_ignored_two_states(tmp: Path) -> Run:
    run = Run("all_ignored_two_states", tmp, {"grepable": "out.gnmap", "xml": "out.xml"})
    ports = [*range(23, 61), *range(45000, 45100)]
    port_scan(
        run,
        args="nmap -sT -p 23-60,45000-45099 -oG out.gnmap -oX out.xml 127.0.0.1",
        ports=ports,
        hosts=[scanned_host("127.0.0.1", ports)],
    )
    return run


@scenario
def case_few_closed_shown(tmp: Path) -> Run:
    run = Run("few_closed_shown", tmp, {"grepable": "out.gnmap", "xml": "out.xml"})
    ports = list(range(1, 27))
    port_scan(
        run,
        args="nmap -sT -p 1-26 -oG out.gnmap -oX out.xml 127.0.0.1",
        ports=ports,
        hosts=[scanned_host("127.0.0.1", ports)],
    )
    return run


@scenario
def case_collapse_threshold_v51(tmp: Path) -> Run:
    run = Run("collapse_threshold_v51", tmp, {"verbosity": 1})
    ports = [*range(1, 53), 22222]
    port_scan(
        run,
        args="nmap -sT -v -p 1-52,22222 127.0.0.1",
        ports=ports,
        hosts=[scanned_host("127.0.0.1", ports)],
    )
    return run


@scenario
def case_collapse_threshold_v50(tmp: Path) -> Run:
    run = Run("collapse_threshold_v50", tmp, {"verbosity": 1})
    ports = [*range(1, 52), 22222]
    port_scan(
        run,
        args="nmap -sT -v -p 1-51,22222 127.0.0.1",
        ports=ports,
        hosts=[scanned_host("127.0.0.1", ports)],
    )
    return run


@scenario
def case_ports_unknown_service(tmp: Path) -> Run:
    run = Run(
        "ports_unknown_service", tmp, {"reason": True, "xml": "out.xml", "grepable": "out.gnmap"}
    )
    ports = [22222, 28080, 33306]
    port_scan(
        run,
        args="nmap -sT -p 22222,28080,33306 --reason -oX out.xml -oG out.gnmap 127.0.0.1",
        ports=ports,
        hosts=[scanned_host("127.0.0.1", ports)],
    )
    return run


@scenario
def case_ports_zero(tmp: Path) -> Run:
    run = Run("ports_zero", tmp, {"xml": "out.xml"})
    ports = [0, 1, 2, 3]
    port_scan(
        run,
        args="nmap -sT -p 0-3 -oX out.xml 127.0.0.1",
        ports=ports,
        hosts=[scanned_host("127.0.0.1", ports)],
    )
    return run


@scenario
def case_open_only(tmp: Path) -> Run:
    run = Run(
        "open_only",
        tmp,
        {"open_only": True, "normal": "scan.nmap", "grepable": "scan.gnmap", "xml": "scan.xml"},
    )
    ports = [*range(1, 1001), 22222, 33306, 44444]
    port_scan(
        run,
        args="nmap -sT --open -p 1-1000,22222,33306,44444 -oA scan 127.0.0.1",
        ports=ports,
        hosts=[scanned_host("127.0.0.1", ports)],
    )
    return run


@scenario
def case_open_only_no_open(tmp: Path) -> Run:
    run = Run(
        "open_only_no_open",
        tmp,
        {"open_only": True, "normal": "scan.nmap", "grepable": "scan.gnmap", "xml": "scan.xml"},
    )
    ports = list(range(23, 101))
    port_scan(
        run,
        args="nmap -sT --open -p 23-100 -oA scan 127.0.0.1",
        ports=ports,
        hosts=[scanned_host("127.0.0.1", ports)],
    )
    return run


@scenario
def case_open_only_multi(tmp: Path) -> Run:
    run = Run(
        "open_only_multi",
        tmp,
        {"open_only": True, "verbosity": 1, "grepable": "out.gnmap", "xml": "out.xml"},
    )
    ports = [22, 80, 3306]
    hosts = [scanned_host(f"127.0.0.{i}", ports) for i in (1, 2, 3)]
    port_scan(
        run,
        args="nmap -sT --open -v -p 22,80,3306 -oG out.gnmap -oX out.xml 127.0.0.1-3",
        ports=ports,
        hosts=hosts,
        dns="Parallel DNS resolution of 2 hosts.",
    )
    return run


@scenario
def case_Pn(tmp: Path) -> Run:
    run = Run("Pn", tmp, {"reason": True, "xml": "out.xml"})
    ports = [22, 80, 3306]
    port_scan(
        run,
        args="nmap -sT -Pn --reason -p 22,80,3306 -oX out.xml 127.0.0.1",
        ports=ports,
        hosts=[scanned_host("127.0.0.1", ports, reason="user-set")],
        ping=False,
    )
    return run


@scenario
def case_ipv6(tmp: Path) -> Run:
    run = Run("ipv6", tmp, {"xml": "out.xml", "grepable": "out.gnmap"})
    ports = [*range(1, 101), 3306, 8080, 44444]
    port_scan(
        run,
        args="nmap -sT -6 -p 1-100,3306,8080,44444 -oX out.xml -oG out.gnmap ::1",
        ports=ports,
        hosts=[scanned_host("::1", ports)],
    )
    return run


@scenario
def case_hostname_two_a(tmp: Path) -> Run:
    run = Run("hostname_two_a", tmp, {"xml": "out.xml", "grepable": "out.gnmap"})
    host = scanned_host("127.0.0.2", [22, 80], user_name="multi.lab.test", other=("127.0.0.3",))
    port_scan(
        run,
        args="nmap -sT -p 22,80 -oX out.xml -oG out.gnmap multi.lab.test",
        ports=[22, 80],
        hosts=[host],
    )
    return run


@scenario
def case_hostname_two_a_vv(tmp: Path) -> Run:
    run = Run("hostname_two_a_vv", tmp, {"verbosity": 2, "normal": "out.nmap"})
    host = scanned_host("127.0.0.2", [22], user_name="multi.lab.test", other=("127.0.0.3",))
    rep = run.rep
    rep.open_files()
    rep.banner(T0)
    rep.begin(
        args=words("nmap -sT -vv -p 22 -oN out.nmap multi.lab.test"),
        start=T0,
        scan_ports=[22],
        scan_type="connect",
    )
    rep.warning("Warning: Hostname multi.lab.test resolves to 2 IPs. Using 127.0.0.2.")
    scanning = run.golden_lines("Scanning ")
    rep.task_begin("Ping Scan", T0)
    rep.interactive(scanning[0])
    rep.hosthint(hint_of(host))
    rep.task_end("Ping Scan", T0, "1 total hosts")
    rep.task_begin("Parallel DNS resolution of 1 host.", T0)
    rep.task_end("Parallel DNS resolution of 1 host.", T0)
    rep.task_begin("Connect Scan", T0)
    rep.interactive(scanning[1])
    rep.task_end("Connect Scan", T0, "1 total ports")
    rep.host(host, scan_type="connect")
    rep.finish(stats=RunStats(1, 1, 0), end=T0, elapsed=0.04, pre_done_lines=[READ_DATA])
    return run


@scenario
def case_hostname_localhost(tmp: Path) -> Run:
    run = Run("hostname_localhost", tmp, {"xml": "out.xml"})
    host = scanned_host("127.0.0.1", [22, 80, 3306], user_name="localhost")
    port_scan(
        run, args="nmap -sT -p 22,80,3306 -oX out.xml localhost", ports=[22, 80, 3306], hosts=[host]
    )
    return run


@scenario
def case_hostname_rdns_differs(tmp: Path) -> Run:
    run = Run("hostname_rdns_differs", tmp, {"xml": "out.xml", "grepable": "out.gnmap"})
    host = scanned_host("127.0.0.1", [22], user_name="vm.lab.test")
    port_scan(
        run, args="nmap -sT -p 22 -oX out.xml -oG out.gnmap vm.lab.test", ports=[22], hosts=[host]
    )
    return run


@scenario
def case_hostname_R_noptr(tmp: Path) -> Run:
    run = Run("hostname_R_noptr", tmp, {"xml": "out.xml", "grepable": "out.gnmap"})
    host = scanned_host("127.0.0.4", [22])
    port_scan(
        run, args="nmap -sT -R -p 22 -oX out.xml -oG out.gnmap 127.0.0.4", ports=[22], hosts=[host]
    )
    return run


@scenario
def case_unpriv_host_down(tmp: Path) -> Run:
    run = Run("unpriv_host_down", tmp, {"xml": "out.xml", "grepable": "out.gnmap"})
    port_scan(
        run,
        args="nmap -sT --unprivileged -p 22 -oX out.xml -oG out.gnmap 127.0.0.5",
        ports=[22],
        hosts=[],
        down=[down_host("127.0.0.5")],
        elapsed=3.04,
    )
    return run


@scenario
def case_unpriv_host_down_v(tmp: Path) -> Run:
    run = Run(
        "unpriv_host_down_v",
        tmp,
        {"verbosity": 1, "reason": True, "xml": "out.xml", "grepable": "out.gnmap"},
    )
    port_scan(
        run,
        args="nmap -sT -v --unprivileged --reason -p 22 -oX out.xml -oG out.gnmap 127.0.0.5,1",
        ports=[22],
        hosts=[scanned_host("127.0.0.1", [22])],
        down=[down_host("127.0.0.5")],
        elapsed=1.24,
    )
    return run


@scenario
def case_hostname_R_down_v(tmp: Path) -> Run:
    run = Run("hostname_R_down_v", tmp, {"verbosity": 1, "xml": "out.xml", "grepable": "out.gnmap"})
    port_scan(
        run,
        args="nmap -sT -v -R -p 22 -oX out.xml -oG out.gnmap 127.0.0.4,5",
        ports=[22],
        hosts=[scanned_host("127.0.0.4", [22])],
        down=[down_host("127.0.0.5", ptr=True)],
        dns="Parallel DNS resolution of 2 hosts.",
        elapsed=1.24,
    )
    return run


@scenario
def case_multi_hosts(tmp: Path) -> Run:
    run = Run("multi_hosts", tmp, {"xml": "out.xml", "grepable": "out.gnmap"})
    ports = [22, 80, 3306, 8080]
    hosts = [scanned_host(f"127.0.0.{i}", ports) for i in (1, 2, 3)]
    port_scan(
        run,
        args="nmap -sT -p 22,80,3306,8080 -oX out.xml -oG out.gnmap 127.0.0.1-3",
        ports=ports,
        hosts=hosts,
    )
    return run


@scenario
def case_oX_stdout(tmp: Path) -> Run:
    run = Run("oX_stdout", tmp, {"xml": "-"})
    ports = [22, 80, 3306, 8080]
    port_scan(
        run,
        args="nmap -sT -p 22,80,3306,8080 -oX - 127.0.0.1",
        ports=ports,
        hosts=[scanned_host("127.0.0.1", ports)],
    )
    return run


@scenario
def case_oN_stdout(tmp: Path) -> Run:
    run = Run("oN_stdout", tmp, {"normal": "-"})
    ports = [22, 80, 3306, 8080]
    port_scan(
        run,
        args="nmap -sT -p 22,80,3306,8080 -oN - 127.0.0.1",
        ports=ports,
        hosts=[scanned_host("127.0.0.1", ports)],
    )
    return run


@scenario
def case_oG_stdout(tmp: Path) -> Run:
    run = Run("oG_stdout", tmp, {"grepable": "-"})
    ports = [22, 80, 3306, 8080]
    port_scan(
        run,
        args="nmap -sT -p 22,80,3306,8080 -oG - 127.0.0.1",
        ports=ports,
        hosts=[scanned_host("127.0.0.1", ports)],
    )
    return run


@scenario
def case_stylesheet_none(tmp: Path) -> Run:
    run = Run("stylesheet_none", tmp, {"xml": "-", "stylesheet": None})
    port_scan(
        run,
        args="nmap -sT -p 22 --no-stylesheet -oX - 127.0.0.1",
        ports=[22],
        hosts=[scanned_host("127.0.0.1", [22])],
    )
    return run


@scenario
def case_stylesheet_custom(tmp: Path) -> Run:
    run = Run("stylesheet_custom", tmp, {"xml": "-", "stylesheet": "my style.xsl"})
    port_scan(
        run,
        args=["nmap", "-sT", "-p", "22", "--stylesheet", "my style.xsl", "-oX", "-", "127.0.0.1"],
        ports=[22],
        hosts=[scanned_host("127.0.0.1", [22])],
    )
    return run


@scenario
def case_stylesheet_webxml(tmp: Path) -> Run:
    run = Run(
        "stylesheet_webxml",
        tmp,
        {"xml": "-", "stylesheet": "https://svn.nmap.org/nmap/docs/nmap.xsl"},
    )
    port_scan(
        run,
        args="nmap -sT -p 22 --webxml -oX - 127.0.0.1",
        ports=[22],
        hosts=[scanned_host("127.0.0.1", [22])],
    )
    return run


@scenario
def case_xml_escaping(tmp: Path) -> Run:
    run = Run("xml_escaping", tmp, {"xml": "-", "verbosity": 2, "stylesheet": 'a&b<c>"q".xsl'})
    port_scan(
        run,
        args=[
            "nmap",
            "-sT",
            "-p",
            "22",
            "--stylesheet",
            'a&b<c>"q".xsl',
            "-oX",
            "-",
            "--max-retries=2",
            "-vv",
            "127.0.0.1",
        ],
        ports=[22],
        hosts=[scanned_host("127.0.0.1", [22])],
    )
    return run


@scenario
def case_append_output(tmp: Path) -> Run:
    (tmp / "out.nmap").write_text("PREVIOUS NORMAL CONTENT\n")
    (tmp / "out.gnmap").write_text("PREVIOUS GREPABLE CONTENT\n")
    run = Run("append_output", tmp, {"append": True, "normal": "out.nmap", "grepable": "out.gnmap"})
    port_scan(
        run,
        args="nmap -sT -p 22,80 --append-output -oN out.nmap -oG out.gnmap 127.0.0.1",
        ports=[22, 80],
        hosts=[scanned_host("127.0.0.1", [22, 80])],
    )
    return run


@scenario
def case_bad_target_netmask(tmp: Path) -> Run:
    run = Run("bad_target_netmask", tmp, {"xml": "out.xml"})
    rep = run.rep
    rep.open_files()
    rep.banner(T0)
    rep.begin(
        args=words("nmap -sT -p 22 -oX out.xml 127.0.0.1/33 127.0.0.1/x"),
        start=T0,
        scan_ports=[22],
        scan_type="connect",
    )
    rep.warning('Illegal netmask in "127.0.0.1/33". Assuming /32 (one host)')
    rep.warning('Unable to split netmask from target expression: "127.0.0.1/x"')
    rep.skipped_target("127.0.0.1/x")
    host = scanned_host("127.0.0.1", [22])
    rep.hosthint(hint_of(host))
    rep.host(host, scan_type="connect")
    rep.finish(stats=RunStats(1, 1, 0), end=T0, elapsed=0.04)
    return run


@scenario
def case_host_timeout(tmp: Path) -> Run:
    run = Run(
        "host_timeout", tmp, {"xml": "out.xml", "grepable": "out.gnmap", "normal": "out.nmap"}
    )
    host = scanned_host("127.0.0.1", [])
    host.timed_out = True
    host.end_time = T0 + 2
    port_scan(
        run,
        args="nmap -sT -p 45000-45099 --max-rate 10 --host-timeout 2s -oX out.xml -oG out.gnmap -oN out.nmap 127.0.0.1",
        ports=list(range(45000, 45100)),
        hosts=[host],
        elapsed=2.14,
    )
    return run


@scenario
def case_stats_every(tmp: Path) -> Run:
    run = Run("stats_every", tmp, {"verbosity": 1, "xml": "out.xml"})
    ports = list(range(45000, 45100))
    host = scanned_host("127.0.0.1", ports)
    rep = run.rep
    rep.open_files()
    rep.banner(T0)
    rep.begin(
        args=words("nmap -sT -v --stats-every 1s -p 45000-45099 -oX out.xml 127.0.0.1"),
        start=T0,
        scan_ports=ports,
        scan_type="connect",
    )
    scanning = run.golden_lines("Scanning ")
    rep.task_begin("Ping Scan", T0)
    rep.interactive(scanning[0])
    rep.hosthint(hint_of(host))
    rep.task_end("Ping Scan", T0, "1 total hosts")
    rep.task_begin("Connect Scan", T0)
    rep.interactive(scanning[1])
    rep.interactive(run.golden_lines("Stats: ")[0])
    rep.task_progress("Connect Scan", T0 + 1, 0.05, 19.4)
    rep.task_end("Connect Scan", T0 + 1.7, "100 total ports")
    rep.host(host, scan_type="connect")
    rep.finish(stats=RunStats(1, 1, 0), end=T0 + 1.74, elapsed=1.74, pre_done_lines=[READ_DATA])
    return run


@scenario
def case_debug(tmp: Path) -> Run:
    run = Run("debug", tmp, {"verbosity": 1, "debugging": 1, "reason": True, "xml": "out.xml"})
    ports = [*range(20, 31), 3306]
    host = scanned_host("127.0.0.1", ports)
    rep = run.rep
    rep.open_files()
    rep.banner(T0)
    rep.begin(
        args=words("nmap -sT -d -p 20-30,3306 -oX out.xml 127.0.0.1"),
        start=T0,
        scan_ports=ports,
        scan_type="connect",
    )
    golden = run.golden("stdout").splitlines()
    for line in golden[golden.index("--------------- Timing report ---------------") :]:
        rep.plain(line)
        if line.startswith("-----") and "Timing" not in line:
            break
    scanning = run.golden_lines("Scanning ")
    rates = run.golden_lines("Overall sending rates")
    rep.task_begin("Ping Scan", T0)
    rep.interactive(scanning[0])
    rep.hosthint(hint_of(host))
    rep.task_end("Ping Scan", T0, "1 total hosts")
    rep.interactive(rates[0])
    rep.interactive("mass_rdns: Using DNS server 127.0.0.53")
    rep.task_begin("Connect Scan", T0)
    rep.interactive(scanning[1])
    for line in run.golden_lines("Discovered "):
        rep.interactive(line)
    rep.task_end("Connect Scan", T0, "12 total ports")
    rep.interactive(rates[1])
    rep.host(host, scan_type="connect")
    rep.finish(
        stats=RunStats(1, 1, 0),
        end=T0,
        elapsed=0.04,
        pre_done_lines=["Read from /usr/bin/../share/nmap: nmap-services."],
    )
    return run


@scenario
def case_packet_trace(tmp: Path) -> Run:
    run = Run("packet_trace", tmp, {"packet_trace": True, "normal": "out.nmap"})
    ports = [22, 80, 3306]
    rep = run.rep
    rep.open_files()
    rep.banner(T0)
    rep.begin(
        args=words("nmap -sT --packet-trace -p 22,80,3306 -oN out.nmap 127.0.0.1"),
        start=T0,
        scan_ports=ports,
        scan_type="connect",
    )
    for line in run.golden_lines("CONN "):
        rep.packet_trace(line)
    rep.host(scanned_host("127.0.0.1", ports), scan_type="connect")
    rep.finish(stats=RunStats(1, 1, 0), end=T0, elapsed=0.04)
    return run


def list_scan(run: Run, args: str, hosts: list[HostResult], dns: str | None = None) -> None:
    rep = run.rep
    rep.open_files()
    rep.banner(T0)
    rep.begin(args=args.split(), start=T0, scan_ports=None, scan_type="list")
    if dns:
        rep.task_begin(dns, T0)
        rep.task_end(dns, T0)
    for h in hosts:
        rep.host(h, scan_type="list")
    rep.finish(stats=RunStats(len(hosts), 0, 0), end=T0, elapsed=0.0)


def listed(
    address: str, user_name: str | None = None, *, ptr: bool = True, other: tuple[str, ...] = ()
) -> HostResult:
    return HostResult(
        address=address,
        family=socket.AF_INET,
        status="unknown",
        reason="user-set",
        user_name=user_name,
        ptr_name=PTR.get(address) if ptr else None,
        other_addresses=other,
    )


@scenario
def case_list_scan(tmp: Path) -> Run:
    run = Run("list_scan", tmp, {"xml": "out.xml", "grepable": "out.gnmap"})
    hosts = [
        listed("127.0.0.1"),
        listed("127.0.0.2"),
        listed("127.0.0.3"),
        listed("127.0.0.1", "localhost"),
    ]
    list_scan(run, "nmap -sL -oX out.xml -oG out.gnmap 127.0.0.1-3 localhost", hosts)
    return run


@scenario
def case_list_scan_n(tmp: Path) -> Run:
    run = Run("list_scan_n", tmp, {"xml": "out.xml"})
    list_scan(
        run,
        "nmap -sL -n -oX out.xml 127.0.0.1,3",
        [listed("127.0.0.1", ptr=False), listed("127.0.0.3", ptr=False)],
    )
    return run


@scenario
def case_list_scan_names(tmp: Path) -> Run:
    run = Run("list_scan_names", tmp, {"xml": "out.xml", "grepable": "out.gnmap"})
    hosts = [listed(f"127.0.0.{i}") for i in range(1, 6)]
    hosts.append(listed("127.0.0.2", "multi.lab.test", other=("127.0.0.3",)))
    hosts.append(listed("127.0.0.1", "vm.lab.test"))
    list_scan(
        run, "nmap -sL -oX out.xml -oG out.gnmap 127.0.0.1-5 multi.lab.test vm.lab.test", hosts
    )
    return run


@scenario
def case_list_scan_v(tmp: Path) -> Run:
    run = Run("list_scan_v", tmp, {"verbosity": 1, "grepable": "out.gnmap"})
    hosts = [listed(f"127.0.0.{i}") for i in range(0, 4)]
    list_scan(
        run,
        "nmap -sL -v -oG out.gnmap 127.0.0.0/30",
        hosts,
        dns="Parallel DNS resolution of 3 hosts.",
    )
    return run


def pinged(address: str, srtt: int = 63) -> HostResult:
    return HostResult(
        address=address,
        family=socket.AF_INET,
        status="up",
        reason="conn-refused",
        ptr_name=PTR.get(address),
        times=Times(srtt=srtt, rttvar=5000, timeout=100000),
    )


def ping_scan(
    run: Run,
    args: str,
    up: list[HostResult],
    down: list[HostResult],
    dns: str | None,
    elapsed: float,
) -> None:
    rep = run.rep
    rep.open_files()
    rep.banner(T0)
    rep.begin(args=args.split(), start=T0, scan_ports=None, scan_type="ping")
    rep.task_begin("Ping Scan", T0)
    for line in run.golden_lines("Scanning "):
        rep.interactive(line)
    rep.task_end("Ping Scan", T0 + elapsed, f"{len(up) + len(down)} total hosts")
    if dns:
        rep.task_begin(dns, T0 + elapsed)
        rep.task_end(dns, T0 + elapsed)
    for h in [*up, *down]:
        rep.host(h, scan_type="ping")
    rep.finish(
        stats=RunStats(len(up) + len(down), len(up), len(down)), end=T0 + elapsed, elapsed=elapsed
    )


@scenario
def case_ping_scan(tmp: Path) -> Run:
    run = Run("ping_scan", tmp, {"xml": "out.xml", "grepable": "out.gnmap"})
    ping_scan(
        run,
        "nmap -sn -oX out.xml -oG out.gnmap 127.0.0.1-3",
        [pinged(f"127.0.0.{i}") for i in (1, 2, 3)],
        [],
        None,
        0.0,
    )
    return run


@scenario
def case_ping_scan_v_reason(tmp: Path) -> Run:
    run = Run(
        "ping_scan_v_reason",
        tmp,
        {"verbosity": 1, "reason": True, "xml": "out.xml", "grepable": "out.gnmap"},
    )
    ping_scan(
        run,
        "nmap -sn -v --reason -oX out.xml -oG out.gnmap 127.0.0.1-3,5",
        [pinged(f"127.0.0.{i}") for i in (1, 2, 3)],
        [down_host("127.0.0.5")],
        "Parallel DNS resolution of 2 hosts.",
        1.2,
    )
    return run


@scenario
def case_fatal_before_xml_header(tmp: Path) -> Run:
    run = Run(
        "fatal_before_xml_header",
        tmp,
        {"xml": "out.xml", "normal": "out.nmap", "grepable": "out.gnmap"},
    )
    run.rep.open_files()
    run.rep.banner(T0)
    run.rep.fatal(
        Fatal(
            'Error #486: Your port specifications are illegal.  Example of proper form: "-100,200-1024,T:3000-4000,U:60000-"'
        ),
        end=T0 + 0.04,
    )
    return run


@scenario
def case_fatal_after_xml_header(tmp: Path) -> Run:
    run = Run(
        "fatal_after_xml_header",
        tmp,
        {"xml": "out.xml", "normal": "out.nmap", "grepable": "out.gnmap"},
    )
    rep = run.rep
    rep.open_files()
    rep.banner(T0)
    rep.begin(
        args=words(
            "nmap -sT -p 22 --exclude 127.0.0.1/99 -oX out.xml -oN out.nmap -oG out.gnmap 127.0.0.1"
        ),
        start=T0,
        scan_ports=[22],
        scan_type="connect",
    )
    rep.fatal(
        Fatal('Illegal netmask in "127.0.0.1/99". Must be smaller than address bit length.\n')
    )
    return run


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_matches_capture(name: str, tmp_path: Path) -> None:
    run = SCENARIOS[name](tmp_path)
    if name == "fatal_before_xml_header":
        # nmap's own document here is not DTD-valid (a bare <nmaprun>), so only compare it.
        for fname, ours in run.outputs().items():
            assert mask(ours) == mask(run.golden(fname)), fname
        return
    run.check()


def test_interrupted_keeps_what_was_flushed_and_closes_the_xml(tmp_path: Path) -> None:
    """cases/interrupted: -oN and -oG end after their headers; nmap leaves the XML cut
    after the last <taskbegin>, pynmap closes it there with exit="error"."""
    run = Run(
        "interrupted",
        tmp_path,
        {"verbosity": 1, "normal": "scan.nmap", "grepable": "scan.gnmap", "xml": "scan.xml"},
    )
    rep = run.rep
    ports = [*range(1, 31), 3306, 8080]
    hosts = [scanned_host(f"127.0.0.{i}", ports) for i in (1, 2, 3)]
    rep.open_files()
    rep.banner(T0)
    rep.begin(
        args=words("nmap -sT -v --scan-delay 1s -p 1-30,3306,8080 -oA scan 127.0.0.1-3"),
        start=T0,
        scan_ports=ports,
        scan_type="connect",
    )
    scanning = run.golden_lines("Scanning ")
    rep.task_begin("Ping Scan", T0)
    rep.interactive(scanning[0])
    for h in hosts:
        rep.hosthint(hint_of(h))
    rep.task_end("Ping Scan", T0 + 1, "3 total hosts")
    rep.task_begin("Parallel DNS resolution of 2 hosts.", T0 + 1)
    rep.task_end("Parallel DNS resolution of 2 hosts.", T0 + 1)
    rep.task_begin("Connect Scan", T0 + 1)
    rep.interactive(scanning[1])
    for line in run.golden_lines("Discovered "):
        rep.interactive(line)
    rep.interrupted(T0 + 3, 3.0, stats=RunStats(0, 0, 0))
    out = run.outputs()
    for name in ("stdout", "stderr", "scan.nmap", "scan.gnmap"):
        assert mask(out[name]) == mask(run.golden(name)), name
    xml = out["scan.xml"]
    cut = run.golden("scan.xml")
    assert mask(xml).startswith(mask(cut))
    tail = xml[len(cut) :]
    assert tail.startswith("<runstats><finished ") and tail.endswith("</runstats>\n</nmaprun>\n")
    assert 'exit="error" errormsg="' in tail
    validate(xml)


def test_open_error_names_the_file_type(tmp_path: Path) -> None:
    # reference 1.2: "Failed to open normal output file X for writing: No such file or directory (2)"
    missing = tmp_path / "no" / "such"
    rep = Reporter(
        OutputSpec(xml=str(missing), normal=str(missing)),
        SERVICES.get,
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    with pytest.raises(SystemFatal) as info:
        rep.open_files()
    assert (
        info.value.text
        == f"Failed to open normal output file {missing} for writing: No such file or directory (2)\n"
    )
    rep = Reporter(
        OutputSpec(grepable=str(missing)), SERVICES.get, stdout=io.StringIO(), stderr=io.StringIO()
    )
    with pytest.raises(SystemFatal, match="Failed to open machine output file"):
        rep.open_files()
    rep = Reporter(
        OutputSpec(xml=str(missing)), SERVICES.get, stdout=io.StringIO(), stderr=io.StringIO()
    )
    with pytest.raises(SystemFatal, match="Failed to open XML output file"):
        rep.open_files()


def test_pfatal_after_normal_file_opened_is_copied_there(tmp_path: Path) -> None:
    # nmap's pfatal writes to the normal log too, and closes an open XML as in 5.3.
    stderr = io.StringIO()
    normal = tmp_path / "out.nmap"
    rep = Reporter(
        OutputSpec(normal=str(normal), xml=str(tmp_path / "no" / "x.xml")),
        SERVICES.get,
        stdout=io.StringIO(),
        stderr=stderr,
    )
    with pytest.raises(SystemFatal) as info:
        rep.open_files()
    rep.fatal(info.value)
    assert normal.read_text() == stderr.getvalue() == info.value.text
