"""One report out of the reports of one scan run in pieces (`pynmap merge`, the Dask driver).

`merge_reports(reports)` takes the reports of a scan whose targets were
split among several runs (pynmap's `--shard I/N`, or nmap run by hand on
parts of a target list; `Report.from_xml` reads either's XML) and returns
the one report of the whole scan, as nmap would have written it for all
those hosts in one run.  It is pure: no file, no clock, no network.

The rules, in nmap's words:

* Same scan, or refused (`MergeError`, naming the two reports and what
  differs): the same `<scaninfo>` (scan types, protocols, ports), version
  detection in all or none (-sV, -A), `--open` in all or none, and for runs
  made with `--shard`: all of them, with one shard count N and one `--seed`.
  A report that holds no scan (nmap's bare document of an early fatal
  error) is refused too.  The same shard twice (a re-run) is accepted.
* Hosts are de-duplicated by address (a host is the same host whichever
  run scanned it).  Of several copies of a host, the one reported is the
  best: up before unknown before down, not timed out before timed out,
  then the copy that finished last; its status, times and span are kept,
  names and addresses of the other copies are added.  Port tables of the
  copies that are up are unioned, port by port: the state that says most
  wins (an answer before silence: open, closed, unfiltered, closed|filtered,
  open|filtered, filtered), the best copy's on a tie.  A copy whose hidden
  ports cannot be listed one by one (nmap before 7.80 wrote no `ports` in
  `<extrareasons>`) is not unioned: the best copy's table is kept as it is.
* Each host's "Not shown" ports (`<extraports>`) are recomputed from its
  whole port table with nmap's collapsing rule (pynmap.output.context) at
  the merged run's verbosity: the lowest of the runs', as is debugging.
  (A host with one port table, from a run at that verbosity, keeps the
  split that run made: the rule would make it again.)
* Hosts come in address order: IPv4 numerically, then IPv6 numerically,
  then anything else by its text.
* `<runstats>`: start the earliest, finished the latest, elapsed from the
  earliest start to the latest end (start + elapsed of each run), the
  summary worded as nmap words it.  Hosts up are those of the merged list
  (plus hosts a run counted up but did not list: --open); total is the
  runs' totals less the hosts two runs both listed; down is the rest.  Runs
  with the same command line (less its output files) are re-runs of one
  target list: their totals count once.  exit="error" if any run ended so,
  with the first such run's errormsg.
* `args`: the command line of the whole scan: the first run's program
  name, the options all runs share (output files, `--shard` and `--seed`
  left out), then every run's targets, each once.  Each run's own command
  line, start and run stats are kept in `Report.shards` (in the XML as
  comments holding `<shard>` elements, which nmap.dtd allows anywhere).
  Merging merged reports keeps the runs they were made of.

The result does not depend on the order of its inputs (they are put in
shard order, then start, end and command line), except between inputs
that are equal in all of those.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, TypeVar

from pynmap.errors import InputError, UsageError
from pynmap.getopt import Grammar, Lexer
from pynmap.output import fmt
from pynmap.output.context import CollapsePolicy, collapse
from pynmap.output.fromreport import service_scan, view_options
from pynmap.report import (
    Exit,
    ExtraPorts,
    ExtraReasons,
    Host,
    HostState,
    Port,
    Protocol,
    Reason,
    Report,
    RunStats,
    Service,
    Shard,
    State,
)
from pynmap.results import PortResult
from pynmap.shard import DEFAULT_SEED

if TYPE_CHECKING:
    from pynmap.services import ServiceDB

__all__ = ["MergeError", "address_order", "merge_reports"]

T = TypeVar("T")


class MergeError(InputError):
    """Reports that cannot be merged: not one scan, or no scan at all."""


# -- a run's command line ---------------------------------------------------------


def _output_options() -> frozenset[str]:
    """The options that name a run's own output files (and --append-output)."""
    from pynmap.options import OPTION_TABLE, Output

    return frozenset({row.name for row in OPTION_TABLE if isinstance(row.param, Output)}
                     | {"append-output"})


# options that differ from shard to shard by design
_SHARD_OPTIONS = frozenset({"shard", "seed"})


class _Command:
    """A run's `args` read with nmap's grammar: its option groups (the words of
    one option and its argument), the options getopt makes of them, its targets."""

    def __init__(self, args: str, grammar: Grammar) -> None:
        # nmap joins its argv with single spaces (unquoted): split them back
        words = args.split()
        self.prog = words[0] if words else "nmap"
        # each option group's words and the names of the options in it
        self.groups: list[tuple[tuple[str, ...], frozenset[str]]] = []
        self.tokens: list[tuple[str, str | None]] = []  # (name, value) of every option
        self.targets: list[str] = []
        self.double_dash = False
        try:
            self._read(words, grammar)
        except UsageError:
            # not nmap's grammar (another version's option?): one opaque group
            self.groups = [(tuple(words[1:]), frozenset())]
            self.tokens = []
            self.targets = []

    def _read(self, words: list[str], grammar: Grammar) -> None:
        i = 1
        while i < len(words):
            word = words[i]
            if word == "--":
                self.double_dash = True
                self.targets.extend(words[i + 1:])
                return
            if not word.startswith("-") or word == "-":
                self.targets.append(word)
                i += 1
                continue
            # an option group is the word alone, or the word and its argument
            for size in (1, 2):
                lexer = Lexer([self.prog, *words[i:i + size]], grammar)
                try:
                    tokens = list(lexer)
                except UsageError:
                    if size == 2 or i + 1 >= len(words):
                        raise
                    continue
                break
            self.groups.append((tuple(words[i:i + size]), frozenset(t.name for t in tokens)))
            self.tokens.extend((t.name, t.value) for t in tokens)
            i += size

    def options(self, leaving_out: frozenset[str]) -> list[tuple[str, ...]]:
        """The option groups' words, less the groups holding one of the options named."""
        return [words for words, names in self.groups if not names & leaving_out]

    def value(self, name: str) -> str | None:
        """The option's argument (the last one given), None if absent."""
        return next((v for n, v in reversed(self.tokens) if n == name), None)

    @property
    def shard(self) -> str | None:
        return self.value("shard")

    @property
    def seed(self) -> str | None:
        return self.value("seed")

    @property
    def shard_index(self) -> str | None:
        return None if self.shard is None else self.shard.partition("/")[0].strip()

    @property
    def shard_count(self) -> str | None:
        return None if self.shard is None else self.shard.partition("/")[2].strip()


class _Run:
    """One input: the report, its name for messages, its command line(s)."""

    def __init__(self, report: Report, name: str, position: int, grammar: Grammar) -> None:
        self.report = report
        self.name = name
        self.position = position
        self.command = _Command(report.args or "", grammar)
        # a merged input: its shards' command lines say how it was sharded
        first = report.shards[0].args if report.shards else None
        self.sharding = self.command if first is None else _Command(first, grammar)

    def order(self) -> tuple[int, str, int, int, str, int]:
        index = self.sharding.shard_index
        number = int(index) if index is not None and index.isdigit() else -1
        stats = self.report.runstats
        return (number, index or "", self.report.start or 0, stats.time,
                self.report.args or "", self.position)

    def group_key(self, per_run: frozenset[str]) -> tuple[str, ...]:
        """Runs with the same key are re-runs of one target list: the same command
        line (--shard I/N included), output files aside."""
        return (self.command.prog, *(" ".join(g) for g in self.command.options(per_run)),
                "--", *self.command.targets)


# -- same scan or not ---------------------------------------------------------------


def _scan_types(run: _Run) -> str:
    report = run.report
    if report.scaninfo:
        return ", ".join(f"{s.type}/{s.protocol.value}" for s in report.scaninfo)
    if any(name == "s" and "L" in (value or "") for name, value in run.command.tokens):
        return "list scan (-sL)"
    return "no port scan (-sn)"


def _ports(run: _Run) -> str:
    return ", ".join(f"{s.protocol.value} {s.services}" for s in run.report.scaninfo)


def _version_detection(run: _Run) -> str:
    # fromreport.service_scan's reading, on this grammar (which knows --shard)
    asked = any(name == "A" or (name == "s" and not {"V", "R"}.isdisjoint(value or ""))
                for name, value in run.command.tokens)
    return "-sV" if asked or service_scan(run.report) else "none"


def _open_only(run: _Run) -> str:
    return "--open" if view_options(run.report, False, None).open_only else "none"


def _sharding(run: _Run) -> str:
    count = run.sharding.shard_count
    return "no --shard" if count is None else f"--shard ?/{_number(count)}"


def _seed(run: _Run) -> str:
    if run.sharding.shard is None:
        return "no --seed" if run.sharding.seed is None else f"--seed {run.sharding.seed}"
    # a shard without --seed has the default seed: the same split as one that names it
    seed = run.sharding.seed
    return f"--seed {DEFAULT_SEED if seed is None else _number(seed)}"


def _number(text: str) -> str:
    """A count or seed as a number (04 and 4 are one), or as written if it is not one."""
    text = text.strip()
    return str(int(text)) if text.isascii() and text.isdigit() else text


# (what differs, how each run says it), in the order they are checked
_SAME_SCAN: tuple[tuple[str, Callable[[_Run], str]], ...] = (
    ("scan types differ", _scan_types),
    ("ports differ", _ports),
    ("version detection differs", _version_detection),
    ("--open differs", _open_only),
    ("shard counts differ", _sharding),
    ("seeds differ", _seed),
)


def _check_same_scan(runs: Sequence[_Run]) -> None:
    for run in runs:
        if run.report.args is None or run.report.start is None:
            raise MergeError(f"{run.name} holds no scan (nmap stopped before it began"
                             + (f": {run.report.runstats.errormsg})"
                                if run.report.runstats.errormsg else ")"))
    first = runs[0]
    for aspect, say in _SAME_SCAN:
        expected = say(first)
        for run in runs[1:]:
            found = say(run)
            if found != expected:
                raise MergeError(f"{first.name} and {run.name} are not from the same scan: "
                                 f"{aspect} ({expected} in {first.name}; {found} in {run.name})")


# -- hosts --------------------------------------------------------------------------

_HOST_RANK = {HostState.UP: 0, HostState.UNKNOWN: 1, HostState.DOWN: 2, HostState.SKIPPED: 3}
# the state that says most about a port: answers, then guesses, then silence
_PORT_RANK = {State.OPEN: 0, State.CLOSED: 1, State.UNFILTERED: 2, State.CLOSED_FILTERED: 3,
              State.OPEN_FILTERED: 4, State.FILTERED: 5}

PortKey = tuple[Protocol, int]
PortEntry = tuple[State, Reason, Port | None]


def address_order(address: str | None) -> tuple[int, int, str]:
    """Hosts' order in a merged report: IPv4 numerically, then IPv6, then other text."""
    if address is None:
        return (3, 0, "")
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return (2, 0, address)
    return (0 if ip.version == 4 else 1, int(ip), address)


def _port_table(host: Host) -> dict[PortKey, PortEntry] | None:
    """Every scanned port of a host, the hidden ones included; None when the
    `<extraports>` do not list their ports one by one."""
    table: dict[PortKey, PortEntry] = {}
    for extra in host.extraports:
        if sum(r.count for r in extra.reasons) != extra.count:
            return None
        for group in extra.reasons:
            numbers = group.port_numbers()
            if group.ports is None or len(numbers) != group.count:
                return None
            for number in numbers:
                table[(group.proto or Protocol.TCP, number)] = (extra.state, group.reason, None)
    for port in host.ports:
        table[(port.protocol, port.portid)] = (port.state, port.reason, port)
    return table


def _union(tables: Sequence[dict[PortKey, PortEntry]]) -> dict[PortKey, PortEntry]:
    """Port by port, the state that says most; on a tie the earlier table's."""
    merged: dict[PortKey, PortEntry] = {}
    for table in tables:
        for key, entry in table.items():
            held = merged.get(key)
            if held is None or _PORT_RANK.get(entry[0], 9) < _PORT_RANK.get(held[0], 9):
                merged[key] = entry
    return merged


class _ServiceNames:
    """The nmap-services name nmap gives a listed port that its copy of the host
    hid (the bundled table, read only if such a port comes up)."""

    def __init__(self) -> None:
        self._db: ServiceDB | None = None

    def __call__(self, port: int, protocol: str) -> str | None:
        if self._db is None:
            from pynmap.services import ServiceDB

            self._db = ServiceDB.lazy(servicedb=None, datadir=None, warn=lambda line: None)
        return self._db.name(port, protocol)


def _collapsed(table: dict[PortKey, PortEntry], policy: CollapsePolicy,
               names: _ServiceNames) -> tuple[tuple[ExtraPorts, ...], tuple[Port, ...]]:
    """A whole port table split as nmap shows it: extraports and listed ports."""
    results = [PortResult(number, state.value, reason.value, protocol.value)
               for (protocol, number), (state, reason, _) in table.items()]
    split = collapse(results, policy)
    extraports = tuple(
        ExtraPorts(state=State(ignored.state), count=ignored.count, reasons=tuple(
            ExtraReasons(reason=Reason(g.reason), count=g.count, proto=Protocol(g.protocol),
                         ports=g.ranges)
            for g in ignored.groups))
        for ignored in split.ignored)
    ports: list[Port] = []
    for shown in split.shown:
        state, reason, port = table[(Protocol(shown.protocol), shown.port)]
        if port is None:  # hidden in the copy it comes from
            name = names(shown.port, shown.protocol)
            port = Port(protocol=Protocol(shown.protocol), portid=shown.port, state=state,
                        reason=reason,
                        service=None if name is None else Service(name=name, method="table",
                                                                  conf=3))
        ports.append(port)
    return extraports, tuple(ports)


def _unique(items: Iterable[T]) -> list[T]:
    """Each item once, in the order first seen."""
    return list(dict.fromkeys(items))


def _merge_host(copies: Sequence[tuple[Host, int]], policy: CollapsePolicy,
                policies: Sequence[CollapsePolicy], names: _ServiceNames) -> Host:
    """One host out of its copies (each with its input's place in the merge order;
    `policies` the collapsing rule of each input, `policy` the merged report's)."""
    ranked = sorted(copies, key=lambda c: (_HOST_RANK.get(c[0].state, 9), c[0].timedout,
                                          -(c[0].endtime or 0), c[1]))
    best = ranked[0][0]
    hostnames = tuple(_unique(n for host, _ in ranked for n in host.hostnames))
    addresses = tuple(_unique(a for host, _ in ranked for a in host.addresses))
    merged = dataclasses.replace(best, hostnames=hostnames, addresses=addresses)
    scanned = [(host, place) for host, place in ranked
               if host.state is HostState.UP and not host.timedout
               and (host.ports or host.extraports)]
    if not scanned or scanned[0][0] is not best:
        return merged
    if len(scanned) == 1 and policies[scanned[0][1]] == policy:
        # one table, split by the rule it would be split by again: nmap's split
        # stands (and a /16 of shards merges in seconds, not minutes)
        return merged
    tables = [_port_table(host) for host, _ in scanned]
    if any(t is None for t in tables):
        return merged
    extraports, ports = _collapsed(_union([t for t in tables if t is not None]), policy, names)
    return dataclasses.replace(merged, extraports=extraports, ports=ports)


# -- the whole ------------------------------------------------------------------------


def merge_reports(reports: Sequence[Report], names: Sequence[str] | None = None) -> Report:
    """The report of one scan out of the reports of its pieces (see the module's rules).

    `names` name the reports in MergeError messages (file names, "shard 3/8");
    by default "report 1", "report 2", ...  Raises MergeError when there is
    nothing to merge or the reports are not of one scan.
    """
    if not reports:
        raise MergeError("no reports to merge")
    if names is None:
        names = [f"report {i}" for i in range(1, len(reports) + 1)]
    if len(names) != len(reports):
        raise ValueError("one name per report")
    from pynmap.options import GRAMMAR as grammar
    given = [_Run(r, n, i, grammar) for i, (r, n) in enumerate(zip(reports, names, strict=True))]
    _check_same_scan(given)
    runs = sorted(given, key=_Run.order)
    first = runs[0].report

    verbose = min(r.report.verbose for r in runs)
    debugging = min(r.report.debugging for r in runs)
    open_only = view_options(first, False, None).open_only
    policy = CollapsePolicy(verbose, debugging, open_only)

    copies: dict[object, list[tuple[Host, int]]] = {}
    for place, run in enumerate(runs):
        for n, host in enumerate(run.report.hosts):
            key: object = host.address if host.address is not None else (place, n)
            copies.setdefault(key, []).append((host, place))
    policies = [CollapsePolicy(r.report.verbose, r.report.debugging, open_only) for r in runs]
    names_db = _ServiceNames()
    hosts = sorted((_merge_host(c, policy, policies, names_db) for c in copies.values()),
                   key=lambda h: address_order(h.address))

    runstats = _runstats(runs, hosts, copies, _output_options())
    start_run = min(runs, key=lambda r: (r.report.start or 0))
    return Report(
        runstats=runstats,
        scanner=first.scanner,
        args=_common_args([r.command for r in runs], _SHARD_OPTIONS),
        start=start_run.report.start,
        startstr=start_run.report.startstr,
        version=first.version,
        xmloutputversion=first.xmloutputversion,
        profile_name=first.profile_name,
        scaninfo=first.scaninfo,
        verbose=verbose,
        debugging=debugging,
        targets=tuple(_unique(t for r in runs for t in r.report.targets)),
        prescripts=first.prescripts,
        postscripts=first.postscripts,
        hosts=tuple(hosts),
        shards=tuple(_unique(s for r in runs for s in _shards_of(r.report))),
        warnings=tuple(_unique(w for r in runs for w in r.report.warnings)),
    )


def _shards_of(report: Report) -> tuple[Shard, ...]:
    if report.shards:
        return report.shards
    assert report.args is not None and report.start is not None  # _check_same_scan
    return (Shard(args=report.args, start=report.start, startstr=report.startstr,
                  runstats=report.runstats),)


def _common_args(commands: Sequence[_Command], leaving_out: frozenset[str]) -> str:
    """The first run's program, the option groups every run has (but those
    holding an option of `leaving_out`), every run's targets once."""
    common = commands[0].options(leaving_out)
    for command in commands[1:]:
        available = Counter(command.options(leaving_out))
        kept = []
        for group in common:
            if available[group] > 0:
                available[group] -= 1
                kept.append(group)
        common = kept
    targets = _unique(t for c in commands for t in c.targets)
    words = [commands[0].prog, *(w for group in common for w in group)]
    if commands[0].double_dash or any(t.startswith("-") for t in targets):
        words.append("--")
    return " ".join([*words, *targets])


def _runstats(runs: Sequence[_Run], hosts: Sequence[Host],
              copies: dict[object, list[tuple[Host, int]]],
              per_run: frozenset[str]) -> RunStats:
    # Re-runs of one target list count their hosts once; a host that two
    # target lists both hold (listed in each) is taken off the sum.
    groups: dict[tuple[str, ...], list[int]] = {}
    for place, run in enumerate(runs):
        groups.setdefault(run.group_key(per_run), []).append(place)
    group_of = {place: key for key, places in groups.items() for place in places}
    total = sum(max(runs[p].report.runstats.total for p in places) for places in groups.values())
    for key, listed in copies.items():
        if isinstance(key, str):
            per_group: Counter[tuple[str, ...]] = Counter()
            in_run = Counter(place for _, place in listed)
            for place, count in in_run.items():
                group = group_of[place]
                per_group[group] = max(per_group[group], count)
            total -= sum(per_group.values()) - 1
    # hosts a run counted up without listing them (--open hides those with nothing open)
    unlisted_up = sum(
        min(runs[p].report.runstats.up
            - sum(h.state is HostState.UP for h in runs[p].report.hosts) for p in places)
        for places in groups.values())
    up = sum(h.state is HostState.UP for h in hosts) + unlisted_up

    last = max(runs, key=lambda r: r.report.runstats.time)
    time = last.report.runstats.time
    timestr = last.report.runstats.timestr or fmt.ctime(time)
    start = min(r.report.start or 0 for r in runs)
    end = max((r.report.start or 0) + r.report.runstats.elapsed for r in runs)
    elapsed = round(end - start, 2)  # as nmap writes it, without the float's noise
    failed = [r for r in runs if r.report.runstats.exit is Exit.ERROR]
    return RunStats(
        time=time,
        elapsed=elapsed,
        up=up,
        down=total - up,
        total=total,
        timestr=timestr,
        summary=f"Nmap done at {timestr}; {fmt.hosts_summary(total, up)} scanned in "
                f"{elapsed:.2f} seconds",
        exit=Exit.ERROR if failed else Exit.SUCCESS,
        errormsg=failed[0].report.runstats.errormsg if failed else None,
    )
