"""The FTP bounce scan (-b) against nmap's, through vsftpd relays in the lab.

tests/support/bouncelab.py has the lab: targets with open, closed and
filtered ports and a down host, a relay that bounces (vsftpd with
port_promiscuous) and one that refuses (vsftpd as shipped).  Each case
first holds nmap's run against what the lab declares ("harness: ..."),
then requires pynmap's exit code, stdout, stderr and -oN/-oG/-oX to be
nmap's after the usual mask.

nmap logs in with 9 s of waiting (7 s for the greeting to go quiet, 2 s
after PASS) and waits 12 s for LIST on a filtered port, so the runs of
both programs for every case start at once, in threads, when the module
starts; each test then checks its case.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

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
from tests.support.lab.results import port_table, scanned_ports

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
def runs(nmap_oracle: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    with bounce_lab() as running, ThreadPoolExecutor(max_workers=2 * len(CASES) + 2) as pool:
        yield _start(running, pool, tmp_path_factory)


def _start(lab: BounceLab, pool: ThreadPoolExecutor, tmp: pytest.TempPathFactory) -> Runs:
    ns = lab.network.scanner

    def submit(program: str, name: str, args: tuple[str, ...],
               outputs: list[str]) -> Future[Run]:
        workdir = tmp.mktemp(f"{name}-{program}")
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
