"""The FTP bounce scan (-b) against nmap's, through vsftpd relays in the lab.

tests/support/bouncelab.py has the lab: targets with open, closed and
filtered ports and a down host, a relay that bounces (vsftpd with
port_promiscuous) and one that refuses (vsftpd as shipped).  Each case
first holds nmap's run against what the lab declares ("harness: ..."),
then requires pynmap's exit code, stdout, stderr and -oN/-oG/-oX to be
nmap's after the usual mask.

nmap logs in with 9 s of waiting (7 s for the greeting to go quiet, 2 s
after PASS) and waits 12 s for LIST on a filtered port, so nmap's runs of
every case start at once, in threads, when the module starts, and
pynmap's follow one another meanwhile; each test then checks its case.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from pynmap.report import Report
from tests.support.bouncelab import (
    CLOSED,
    DOWN,
    FILTERED,
    OPEN,
    RELAY,
    SECOND,
    STRICT,
    TARGET,
    BounceLab,
    bounce_lab,
    truth,
)
from tests.support.compare import Run, assert_same, run_one
from tests.support.lab.network import UPLINK4
from tests.support.lab.results import port_table, scanned_ports
from tests.support.proxylab import TINY, proxy_daemons, url

pytestmark = [pytest.mark.lab, pytest.mark.nmap]

FILES = ("-oN", "out.nmap", "-oG", "out.gnmap", "-oX", "out.xml")
OUTPUTS = ["out.nmap", "out.gnmap", "out.xml"]
HINT = ("Hint: if your bounce scan target hosts aren't reachable from here, remember to use "
        "-Pn so we don't try and ping them prior to the scan\n")
DTD = "/usr/share/nmap/nmap.dtd"
SPEC = ",".join(map(str, sorted({*OPEN, *CLOSED})))  # the unfiltered ports


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]
    exit: int = 0
    # nmap's port states (the XML's), address -> port -> state; None: no table to check
    table: dict[str, dict[int, str]] | None = None
    stderr: str | None = None  # nmap's stderr, where it is a fact of the case
    in_stdout: tuple[str, ...] = ()  # lines nmap's stdout must have


def _table(*addresses: str, ports: tuple[int, ...]) -> dict[str, dict[int, str]]:
    return {a: {p: truth(a, p) for p in ports} for a in addresses}


CASES: dict[str, Case] = {
    # -r puts the filtered port last: the relay's late 425 for it (vsftpd gives up
    # after 60 s) would be read as the next PORT's reply; -v: the task lines
    "filtered_last": Case(
        ("-n", "-v", "-r", "-b", RELAY, "-p", f"{SPEC},{FILTERED}", *FILES, TARGET),
        table=_table(TARGET, ports=(*OPEN, *CLOSED, FILTERED)),
        in_stdout=("Initiating Bounce Scan at", "Discovered open port 8080/tcp on 198.18.0.10",
                   "Login credentials accepted by FTP server!")),
    # -d: every line of the conversation; two hosts up and one down, in one group
    "debug": Case(
        ("-n", "-d", "-r", "-b", RELAY, "-p", SPEC, *FILES, TARGET, SECOND, DOWN),
        table=_table(TARGET, SECOND, ports=(*OPEN, *CLOSED)),
        in_stdout=("nxt line: 226 Directory send OK.\r",
                   "result of LIST: 425 Failed to establish connection.\r")),
    # nmap's random port order; -Pn: no ping, no hint
    "random_order": Case(
        ("-n", "-Pn", "-b", RELAY, "-p", SPEC, *FILES, TARGET, SECOND),
        table=_table(TARGET, SECOND, ports=(*OPEN, *CLOSED))),
    # the strict relay refuses PORT to 21 (privileged): nmap skips the privileged
    # ports, and 8080 after them (its off-by-one); no port gets a state.  The logged
    # command line keeps "-b 198.18.255.1": nmap wrote a NUL over the ":"
    "privileged": Case(
        ("-n", "-r", "-b", f"{RELAY}:{STRICT}", "-p", "21,8080", *FILES, TARGET),
        table={TARGET: {21: "unknown", 8080: "unknown"}},
        stderr="Your FTP bounce server doesn't allow privileged ports, skipping them.\n"),
    "refuses_bounce": Case(
        ("-n", "-b", f"{RELAY}:{STRICT}", "-p", "8080", *FILES, TARGET), exit=1,
        stderr="Your FTP bounce server sucks, it won't let us feed bogus ports!\nQUITTING!\n"),
    "wrong_password": Case(
        ("-n", "-b", f"nosuchuser:wrong@{RELAY}", "-p", "8080", *FILES, TARGET), exit=1,
        stderr="Your FTP bounce server refused login combo (nosuchuser/wrong)\nQUITTING!\n"),
    "user_refused": Case(
        ("-n", "-b", f"bob@{RELAY}:{STRICT}", "-p", "8080", *FILES, TARGET), exit=1,
        stderr='Your FTP bounce server doesn\'t like the username "bob"\nQUITTING!\n',
        in_stdout=("Assuming bob is a username, and using the default password: -wwwuser@",)),
    # no FTP server there (a closed port), and a relay that is down
    "relay_closed": Case(
        ("-n", "-b", f"{TARGET}:21", "-p", "8080", *FILES, TARGET), exit=1,
        stderr="Your FTP bounce proxy server won't talk to us!\nQUITTING!\n"),
    "relay_down": Case(
        ("-n", "-b", DOWN, "-p", "8080", *FILES, TARGET), exit=1,
        stderr="Your FTP bounce proxy server won't talk to us!\nQUITTING!\n"),
}
# pynmap's own outputs of two cases (not nmap's options): -oJ
JSON_RUNS = {"random_order": "random_order", "privileged": "privileged"}


@dataclass
class Runs:
    nmap: dict[str, Future[Run]]
    pynmap: dict[str, Future[Run]]
    json: dict[str, Future[Run]]


@pytest.fixture(scope="module")
def bounce(nmap_oracle: str) -> Iterator[BounceLab]:
    with bounce_lab() as running:
        yield running


@pytest.fixture(scope="module")
def runs(bounce: BounceLab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    with ThreadPoolExecutor(max_workers=len(CASES)) as nmaps, \
            ThreadPoolExecutor(max_workers=1) as pynmaps:
        yield _start(bounce, nmaps, pynmaps, tmp_path_factory)


def _start(lab: BounceLab, nmaps: ThreadPoolExecutor, pynmaps: ThreadPoolExecutor,
           tmp: pytest.TempPathFactory) -> Runs:
    """nmap's runs all at once (they mostly wait), pynmap's one after the other: a
    pynmap starting up takes a core for a moment, and a crowd of them at once could
    delay a ping past its timeout (-d then prints a retransmission nmap did not have)."""
    ns = lab.network.scanner

    def submit(program: str, name: str, args: tuple[str, ...],
               outputs: list[str]) -> Future[Run]:
        workdir = tmp.mktemp(f"{name}-{program}")
        pool = nmaps if program == "nmap" else pynmaps
        return pool.submit(run_one, program, args, ns, workdir, outputs=outputs, timeout=90)

    return Runs(
        nmap={n: submit("nmap", n, c.args, OUTPUTS) for n, c in CASES.items()},
        pynmap={n: submit("pynmap", n, c.args, OUTPUTS) for n, c in CASES.items()},
        json={n: submit("pynmap", f"{n}-json", (*CASES[c].args, "-oJ", "out.json"),
                        [*OUTPUTS, "out.json"]) for n, c in JSON_RUNS.items()},
    )


def states(xml: str | None) -> dict[str, dict[int, str]]:
    assert xml, "no XML written"
    return {a: {p: s for p, (s, _) in ports.items()} for a, ports in port_table(xml).items()}


@pytest.mark.parametrize("name", list(CASES))
def test_bounce_like_nmap(name: str, runs: Runs) -> None:
    case = CASES[name]
    nmap = runs.nmap[name].result()
    # the harness: nmap's own run is what the lab declares
    assert nmap.exit == case.exit, f"harness: nmap exit {nmap.exit}\n{nmap.stderr}"
    if case.stderr is not None:
        assert nmap.stderr == case.stderr, f"harness: nmap's stderr\n{nmap.stderr}"
    for line in case.in_stdout:
        assert line in nmap.stdout, f"harness: nmap's stdout lacks {line!r}\n{nmap.stdout}"
    if case.table is not None:
        assert states(nmap.files["out.xml"]) == case.table, f"harness: nmap's ports\n{nmap.stdout}"
    # every case gets as far as the XML header
    assert '<scaninfo type="bounce" protocol="tcp"' in (nmap.files["out.xml"] or ""), "harness"
    pynmap = runs.pynmap[name].result()
    assert_same(nmap, pynmap, case.args)


def test_hint_only_when_pinging(runs: Runs) -> None:
    """nmap's hint about -Pn comes first, and only when it pings the targets."""
    assert runs.nmap["debug"].result().stdout.startswith(HINT)
    assert HINT not in runs.nmap["random_order"].result().stdout
    assert runs.pynmap["debug"].result().stdout.startswith(HINT)
    assert HINT not in runs.pynmap["random_order"].result().stdout


@pytest.mark.parametrize("name", list(JSON_RUNS))
def test_json_holds_the_xml(name: str, runs: Runs) -> None:
    """-oJ: the same report as the run's XML (which the test above holds against nmap's),
    scaninfo type "bounce", ports the relay never answered for "unknown"."""
    run = runs.json[name].result()
    assert run.exit == 0, run.stderr
    text, xml = run.files["out.json"], run.files["out.xml"]
    assert text and xml
    from_json, from_xml = Report.from_json(text), Report.from_xml(xml)
    assert from_json == from_xml
    assert [i.type for i in from_json.scaninfo] == ["bounce"]
    assert scanned_ports(xml) == sorted(p for p in CASES[name].table[TARGET])  # type: ignore[index]
    document = json.loads(text)
    assert document["scaninfo"][0]["type"] == "bounce"
    # the XML with its "unknown" ports is still nmap.dtd's (port states are CDATA there)
    valid = subprocess.run(["xmllint", "--noout", "--dtdvalid", DTD, "-"], input=xml.encode(),
                           capture_output=True, check=False)
    assert valid.returncode == 0, valid.stderr.decode()


def test_through_proxies_the_relay_is_reached_through_the_chain(
        bounce: BounceLab, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """pynmap's own --proxies (nmap has no such thing for -b): the connection to the
    relay goes through the chain, as every connection of pynmap's does; the scan is
    the relay's as without proxies."""
    args = ("-n", "-Pn", "-b", RELAY, "--proxies", url("http", TINY), "-p", SPEC,
            "-oX", "out.xml", TARGET)
    with proxy_daemons(bounce.network, tmp_path_factory.mktemp("proxies")) as proxies:
        run = run_one("pynmap", args, bounce.network.scanner, tmp_path / "run",
                      outputs=["out.xml"])
        assert proxies.processes
    assert run.exit == 0, run.stderr
    assert states(run.files["out.xml"]) == _table(TARGET, ports=(*OPEN, *CLOSED))
    # the relay's last client: tinyproxy, on the router's uplink (without the chain,
    # the scanner itself: the relay's own address)
    assert bounce.clients("promiscuous")[-1] == UPLINK4
