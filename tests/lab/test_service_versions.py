"""Version detection (-sV) in the service lab: nmap is the oracle, pynmap must print the same.

The lab (tests/support/servicelab.py) runs real daemons (OpenSSH, vsftpd,
Exim, nginx over HTTP and TLS, redis, memcached, Python's http.server) and
small services that say nothing, hang up at once or talk nonsense, on a
host at 0 ms, one behind a 50 ms link, and one that goes silent once its
service scan has begun.  Each scan below runs once per program (nmap -sV
waits out 6 s NULL probes, so runs are few and shared): nmap's -oX must
show what the lab declares for every service, then pynmap's stdout,
stderr, exit code, -oN, -oG and -oX must equal nmap's after the usual
masks and the lab's own (memcached's uptime).

    allports    -p- on MAIN: its services (but TLS and the silent one) found
                among 65535 ports and identified
    hosts       two hosts, one behind the 50 ms link; nginx over TLS
    intensity0  --version-intensity 0: the NULL probe and the probes
                registered for the port; a service that never answers; -v
    all         --version-all on a few services (every probe for the
                unmatched banner and for the service that hangs up)
    fading      FADING drops new connections once its service scan began
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.support.compare import Run, first_difference, run_one
from tests.support.mask import mask
from tests.support.servicelab import (
    FADING,
    MAIN,
    SLOW,
    WIDE,
    Service,
    ServiceLab,
    lab_mask,
    pick,
    port_list,
    service_lab,
    truth_problems,
)

pytestmark = [pytest.mark.lab, pytest.mark.nmap]

OUTPUTS = ("out.nmap", "out.gnmap", "out.xml")
# -p-: every port of MAIN but the TLS service (two NULL waits: it is in HOSTS) and the
# one that never answers (dozens of probes waited out)
ALL_PORTS = tuple(s for s in pick(*WIDE) if s.address == MAIN and s.label != "nginx-tls")
HOSTS = pick("openssh", "nginx", "nginx-tls", "unmatched", "openssh-slow", "nginx-slow")
INTENSITY0 = pick("openssh", "nginx", "memcached", "silent", "tcpwrapped", "unmatched")
ALL = pick("openssh", "exim", "tcpwrapped", "unmatched", "hush")
FADED = pick("openssh-fading", "fading")


@dataclass(frozen=True)
class Scan:
    args: tuple[str, ...]
    services: tuple[Service, ...]


SCANS = {
    # names from the scanner's hosts file (no -n): no DNS server is asked
    "allports": Scan(("-sV", "-p-", "--exclude-ports", "443,7001", MAIN), ALL_PORTS),
    "hosts": Scan(("-sV", "-p", port_list(HOSTS), MAIN, SLOW), HOSTS),
    # -v: the task lines of the service scan and of NSE, in every output
    "intensity0": Scan(("-sV", "-v", "-n", "--version-intensity", "0", "-p",
                        port_list(INTENSITY0), MAIN), INTENSITY0),
    "all": Scan(("-sV", "-n", "--version-all", "-p", port_list(ALL), MAIN), ALL),
    "fading": Scan(("-sV", "-n", "-p", port_list(FADED), FADING), FADED),
}


@dataclass(frozen=True)
class Pair:
    name: str
    scan: Scan
    nmap: Run
    pynmap: Run


@pytest.fixture(scope="module")
def svlab(nmap_oracle: str) -> Iterator[ServiceLab]:
    with service_lab() as running:
        yield running


def _command(scan: Scan) -> list[str]:
    return ["-sT", *scan.args, "-oA", "out"]


@pytest.fixture(scope="module", params=sorted(SCANS))
def pair(request: pytest.FixtureRequest, svlab: ServiceLab,
         tmp_path_factory: pytest.TempPathFactory) -> Pair:
    """One scan, run by nmap and then by pynmap (FADING revived before each)."""
    name: str = request.param
    scan = SCANS[name]
    workdir = tmp_path_factory.mktemp(f"sv-{name}")
    runs: dict[str, Run] = {}
    for program in ("nmap", "pynmap"):
        if name == "fading":
            svlab.revive()
        runs[program] = run_one(program, _command(scan), svlab.scanner, workdir / program,
                                outputs=OUTPUTS, timeout=300)
        if name == "fading" and program == "nmap":
            # the lab did what it declares: the service scan set off the drop
            assert svlab.faded(), "FADING's trigger did not fire during nmap's scan"
    svlab.revive()
    return Pair(name, scan, runs["nmap"], runs["pynmap"])


def _difference(want: str | None, got: str | None, what: str) -> str | None:
    """Where pynmap's `what` parts from nmap's after the masks; None when they agree."""
    if want is None or got is None:
        return None if want is got else f"{what}: only {'nmap' if got is None else 'pynmap'} wrote it"
    want, got = lab_mask(mask(want)), lab_mask(mask(got))
    return None if want == got else f"{what} {first_difference(want, got)}"


def _fail_on(pair: Pair, found: list[str | None]) -> None:
    __tracebackhide__ = True
    problems = [p for p in found if p is not None]
    if problems:
        pytest.fail(f"pynmap {' '.join(_command(pair.scan))}\n" + "\n".join(problems),
                    pytrace=False)


def test_nmap_reports_what_the_lab_declares(pair: Pair) -> None:
    nmap = pair.nmap
    assert nmap.exit == 0, nmap.stderr
    xml = nmap.files["out.xml"]
    assert xml is not None
    problems = truth_problems(xml, pair.scan.services)
    assert problems == [], "\n".join(problems)
    unmatched = sum(s.truth.fingerprint for s in pair.scan.services)
    if unmatched:
        assert (f"{unmatched} service unrecognized despite returning data"
                in nmap.stdout), nmap.stdout


def test_same_stdout_stderr_and_exit(pair: Pair) -> None:
    nmap, pynmap = pair.nmap, pair.pynmap
    _fail_on(pair, [None if nmap.exit == pynmap.exit else
                    f"exit: nmap {nmap.exit}, pynmap {pynmap.exit}",
                    _difference(nmap.stderr, pynmap.stderr, "stderr"),
                    _difference(nmap.stdout, pynmap.stdout, "stdout")])


@pytest.mark.parametrize("output", OUTPUTS)
def test_same_output_file(pair: Pair, output: str) -> None:
    assert pair.nmap.files[output] is not None, f"nmap wrote no {output}"
    _fail_on(pair, [_difference(pair.nmap.files[output], pair.pynmap.files[output], output)])
