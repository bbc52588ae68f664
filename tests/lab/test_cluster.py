"""--cluster in the lab: a scan cut into shards on Dask workers, merged by the client.

The lab: the four mixed hosts (open, closed, filtered and ICMP-rejected
ports) and a down host.  nmap scans it once, unsharded, and is held against
the lab's declared truth; every cluster run must then report the same hosts
and ports (ndiff finds no host or port difference, the port tables match
port by port) in XML that validates against nmap.dtd.

The workers run inside the lab's scanner namespace: `--cluster local:2`
starts them as children of pynmap, which runs there; the TLS test starts a
scheduler and workers there with `dask scheduler`/`dask worker`.  Faults
and marks come from tests/support/cluster_preload.py, a Dask worker preload
(set through Dask's own configuration, DASK_DISTRIBUTED__WORKER__PRELOAD),
not from anything in pynmap.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TypeVar

import pytest

import pynmap
from pynmap.report import Report
from pynmap.shard import shard_of
from tests.support.compare import Run, run_one
from tests.support.lab import Host, Lab, Scenario, lab
from tests.support.lab.network import _pids
from tests.support.lab.results import Table, port_table
from tests.support.lab.scenario import _mixed_hosts
from tests.support.mask import mask
from tests.support.netns import Netns, base_env, create_netns, delete_netns, pynmap_command

pytestmark = [pytest.mark.lab, pytest.mark.nmap]
T = TypeVar("T")

DTD = "/usr/share/nmap/nmap.dtd"
PRELOAD = str(Path(__file__).resolve().parents[1] / "support" / "cluster_preload.py")
DOWN = Host(20, down=True)
SCENARIO = Scenario("cluster", (*_mixed_hosts(), DOWN),
                    about="the mixed hosts and a down one, for --cluster")
PORTS = [22, 25, 80, 443, 2000, 2001, 2002, 2003, 2004, 3306, 8080, *range(100, 121)]
PORT_SPEC = ",".join(map(str, PORTS))
# Targets come from -iL, with a word that cannot be split (<target> in the XML), a
# name that does not resolve and an excluded address: each said once, not once a shard.
TARGET_FILE = "\n".join([*SCENARIO.targets(), "198.18.0.21", "198.18.0.9/x",
                         "nosuch.invalid", ""])
EXCLUDE_FILE = "198.18.0.21\n"
INPUTS = {"targets.txt": TARGET_FILE, "exclude.txt": EXCLUDE_FILE}
SCAN = ["-sT", "-n", "-v", "--reason", "-p", PORT_SPEC, "-iL", "targets.txt",
        "--excludefile", "exclude.txt"]
OUTPUTS = ["out.xml", "out.nmap", "out.gnmap", "out.json"]
FILES = ["-oX", "out.xml", "-oN", "out.nmap", "-oG", "out.gnmap"]
# slow enough to be interrupted: 50 ms between a host's probes, 32 ports
SLOW = ["--scan-delay", "50ms"]
SHARDS = ["--cluster-shards", "4"]


@pytest.fixture(scope="module")
def cluster_lab() -> Iterator[Lab]:
    with lab(SCENARIO) as running:
        yield running


class Unsharded:
    """nmap's run of the scan, and where its XML is."""

    def __init__(self, run: Run, xml_path: Path) -> None:
        self.run = run
        self.xml_path = xml_path


def nmap_scan(scanner: Netns, workdir: Path, slow: bool = False) -> Unsharded:
    """nmap's run of the scan (SLOW: as slowed down), checked against what the lab
    declares."""
    run = run_one("nmap", [*(SLOW if slow else []), *SCAN, *FILES], scanner, workdir,
                  setup_files=INPUTS, outputs=OUTPUTS)
    assert run.exit == 0, f"harness: nmap failed\n{run.stderr}"
    found = table(run)
    # a probe 50 ms after another: host 13 answers host-unreach on 80 before 443 is
    # tried, and nmap (as pynmap) then calls it down
    truth = SCENARIO.truth(PORTS)
    if slow:
        truth.pop("198.18.0.13")
    assert found == truth, "harness: nmap disagrees with the lab"
    assert '<status state="down"' in xml(run), "harness: nmap does not list the down host"
    return Unsharded(run, workdir / "out.xml")


@pytest.fixture(scope="module")
def unsharded(cluster_lab: Lab, nmap_oracle: str, tmp_path_factory: pytest.TempPathFactory
              ) -> Unsharded:
    return nmap_scan(cluster_lab.scanner, tmp_path_factory.mktemp("nmap"))


@pytest.fixture(scope="module")
def unsharded_slow(cluster_lab: Lab, nmap_oracle: str,
                   tmp_path_factory: pytest.TempPathFactory) -> Unsharded:
    return nmap_scan(cluster_lab.scanner, tmp_path_factory.mktemp("nmap-slow"), slow=True)


def xml(run: Run) -> str:
    text = run.files["out.xml"]
    assert text, f"no XML written (exit {run.exit})\n{run.stderr}"
    return text


def table(run: Run) -> Table:
    return port_table(xml(run))


def env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The preload in every worker, and what it is to do (cluster_preload.py)."""
    return {"DASK_DISTRIBUTED__WORKER__PRELOAD": json.dumps([PRELOAD]), **extra}


def check_valid(path: Path) -> None:
    done = subprocess.run(["xmllint", "--noout", "--dtdvalid", DTD, str(path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def ndiff_changes(ours: Path, theirs: Path) -> list[str]:
    done = subprocess.run(["ndiff", str(theirs), str(ours)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode in (0, 1), done.stderr
    return [line for line in done.stdout.splitlines()
            if line[:1] in "+-" and "scan initiated" not in line]


def host_blocks(text: str) -> Counter[str]:
    """The host reports of a normal output (masked), as a multiset: from its
    "Nmap scan report for" line to the blank line that ends it (a down host's
    report is its one line)."""
    blocks: list[list[str]] = []
    inside = False
    for line in mask(text).splitlines():
        if line.startswith("Nmap scan report for "):
            blocks.append([line])
            inside = "[host down" not in line
        elif inside:
            if not line:
                inside = False
            else:
                blocks[-1].append(line)
    return Counter("\n".join(block) for block in blocks)


def grep_hosts(text: str) -> Counter[str]:
    return Counter(line for line in mask(text).splitlines() if line.startswith("Host: "))


def no_traceback(run: Run) -> None:
    assert "Traceback" not in run.stderr and "Traceback" not in run.stdout, run.stderr


def cluster(args: list[str], scanner: Netns, workdir: Path, *,
            environment: Mapping[str, str] | None = None, timeout: float = 120) -> Run:
    return run_one("pynmap", args, scanner, workdir, setup_files=INPUTS, outputs=OUTPUTS,
                   env=environment, timeout=timeout)


# -- the merged outputs equal the unsharded scan ----------------------------------------------

def same_hosts(run: Run, workdir: Path, unsharded: Unsharded) -> None:
    """The cluster's XML is valid and holds nmap's hosts and ports."""
    __tracebackhide__ = True
    check_valid(workdir / "out.xml")
    assert ndiff_changes(workdir / "out.xml", unsharded.xml_path) == []
    assert table(run) == table(unsharded.run)


def test_merged_equals_unsharded(cluster_lab: Lab, unsharded: Unsharded, tmp_path: Path) -> None:
    nmap = unsharded.run
    run = cluster(["--cluster", "local:2", *SCAN, *FILES, "-oJ", "out.json"],
                  cluster_lab.scanner, tmp_path)
    assert run.exit == 0, run.stderr
    no_traceback(run)
    same_hosts(run, tmp_path, unsharded)
    # the down host is there, as in nmap's -v run
    assert xml(run).count('<status state="down"') == xml(nmap).count('<status state="down"')
    # every host's report, in every format, is nmap's (in the order the shards finished)
    assert host_blocks(run.files["out.nmap"] or "") == host_blocks(nmap.files["out.nmap"] or "")
    assert grep_hosts(run.files["out.gnmap"] or "") == grep_hosts(nmap.files["out.gnmap"] or "")
    assert host_blocks(run.stdout) == host_blocks(nmap.stdout)
    # the run's own closing counts, and the target words each said once, as nmap says them
    assert "Nmap done: 5 IP addresses (4 hosts up)" in run.stdout
    assert '<hosts up="4" down="1" total="5"/>' in xml(run)
    assert xml(run).count("<target ") == xml(nmap).count("<target ") == 1
    for line in ('Failed to resolve "nosuch.invalid".',
                 'Unable to split netmask from target expression: "198.18.0.9/x"'):
        assert line in nmap.stderr, f"harness: nmap does not say {line}"
        assert run.stderr.count(line) == (run.files["out.nmap"] or "").count(line) == 1
    # and nothing else: not a shard's own closing notes ("No targets were specified")
    assert set(run.stderr.splitlines()) == set(nmap.stderr.splitlines())
    # -oJ holds the same hosts
    report = Report.from_json(run.files["out.json"] or "")
    assert sorted(h.address or "" for h in report.hosts) == sorted([*table(nmap), DOWN.address])
    assert (report.runstats.up, report.runstats.total) == (4, 5)
    assert [t.specification for t in report.targets] == ["198.18.0.9/x"]
    assert _pids(cluster_lab.scanner.name) == []  # no worker left behind


# -- faults --------------------------------------------------------------------------------

def eventually(found: Callable[[], T | None], timeout: float,
               going: Callable[[], bool] = lambda: True) -> T | None:
    """`found()` once it is not None (polled), or None after `timeout` seconds or
    once `going()` is false."""
    deadline = time.monotonic() + timeout
    while True:
        value = found()
        if value is not None or time.monotonic() > deadline or not going():
            return value
        time.sleep(0.01)


class Background:
    """pynmap started in the scanner namespace, its own session (process group);
    stdout and stderr go to files the test reads while it runs."""

    def __init__(self, args: list[str], ns: Netns, workdir: Path,
                 environment: Mapping[str, str],
                 files: Mapping[str, str | bytes] | None = None) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        for name, content in {**INPUTS, **(files or {})}.items():
            path = workdir / name
            path.write_bytes(content.encode() if isinstance(content, str) else content)
        self.workdir = workdir
        self.out_path, self.err_path = workdir / "stdout", workdir / "stderr"
        with self.out_path.open("wb") as out, self.err_path.open("wb") as err:
            self.proc = subprocess.Popen([*ns.exec_prefix(), *pynmap_command(), *args],
                                         cwd=workdir, env=base_env(workdir, environment),
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                         start_new_session=True)

    def stdout(self) -> str:
        return self.out_path.read_text(errors="surrogateescape")

    def wait_for(self, what: str, found: Callable[[], T | None], timeout: float = 60) -> T:
        """`found()` once it is not None, while pynmap runs."""
        value = eventually(found, timeout, lambda: self.proc.poll() is None)
        if value is None:
            self.end()
            raise AssertionError(f"{what} did not happen; pynmap's stderr:\n"
                                 f"{self.err_path.read_text(errors='replace')}")
        return value

    def end(self, timeout: float = 120) -> Run:
        try:
            status = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            raise
        files = {name: (self.workdir / name).read_text(errors="surrogateescape")
                 if (self.workdir / name).exists() else None for name in OUTPUTS}
        return Run(status, self.stdout(), self.err_path.read_text(errors="surrogateescape"),
                   files)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def settled(ns: Netns) -> list[int]:
    """The processes left in `ns` once those on their way out are gone."""
    deadline = time.monotonic() + 10
    while (left := _pids(ns.name)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def test_a_killed_worker_loses_nothing(cluster_lab: Lab, unsharded_slow: Unsharded,
                                       tmp_path: Path) -> None:
    """A worker process killed while it scans a shard: Dask runs the shard again
    (on the other worker, or the one the nanny starts in its place), and the
    merged result is the unsharded scan's."""
    marks = tmp_path / "marks"
    marks.mkdir()
    scan = Background(["--cluster", "local:2", *SLOW, "--stats-every", "1s", *SCAN, *FILES],
                      cluster_lab.scanner, tmp_path / "run",
                      env(tmp_path, PYNMAP_TEST_MARKS=str(marks)))
    first = scan.wait_for("a shard's start", lambda: next(iter(sorted(marks.glob("*-[0-9]"))),
                                                           None))
    pid, index = first.name.split("-")
    os.kill(int(pid), signal.SIGKILL)
    run = scan.end()
    assert run.exit == 0, run.stderr
    no_traceback(run)
    same_hosts(run, tmp_path / "run", unsharded_slow)
    assert not alive(int(pid))
    again = [m.name for m in marks.glob(f"*-{index}") if m != first]
    assert again, f"shard {index} was not run again: {sorted(m.name for m in marks.iterdir())}"
    # the status lines counted the shards' hosts while they ran (their progress events)
    underway = [int(n) for n in re.findall(r"^Stats: .* (\d+) undergoing ", run.stdout, re.M)]
    assert any(underway), run.stdout
    assert settled(cluster_lab.scanner) == []


@pytest.mark.parametrize(("fault", "reason"), [
    ("PYNMAP_TEST_FAIL_SHARD", "RuntimeError: injected failure"),
    ("PYNMAP_TEST_DIE_SHARD",
     "its workers died while scanning it, too many times (Dask's KilledWorker)"),
], ids=["raises", "kills_its_worker"])
def test_a_shard_that_fails_is_reported(fault: str, reason: str, cluster_lab: Lab,
                                        unsharded: Unsharded, tmp_path: Path) -> None:
    """One shard's task raises on every try, or ends its worker process on every
    try (Dask gives up after the third death: KilledWorker): its hosts are
    missing, and the run says so on stderr, in -oN and in the XML, and exits 1;
    the other shards' hosts are there."""
    lost = shard_of("198.18.0.11", 4)  # the shard of a host up: its loss shows
    run = cluster(["--cluster", "local:2", *SHARDS, *SCAN, *FILES], cluster_lab.scanner,
                  tmp_path, environment=env(tmp_path, **{fault: str(lost)}))
    assert run.exit == 1
    no_traceback(run)
    line = f"WARNING: shard {lost}/4 failed: {reason}"
    assert line in run.stderr and line in (run.files["out.nmap"] or "")
    message = f"1 of 4 shards failed (their hosts are not in this report): shard {lost}/4: {reason}"
    assert f"{message}\nQUITTING!\n" in run.stderr
    check_valid(tmp_path / "out.xml")
    assert f'exit="error" errormsg="{message.replace(chr(39), "&apos;")}"' in xml(run)
    want = {a: ports for a, ports in table(unsharded.run).items() if shard_of(a, 4) != lost}
    assert table(run) == want


def test_a_worker_with_another_pynmap_is_refused(cluster_lab: Lab, tmp_path: Path) -> None:
    run = cluster(["--cluster", "local:2", *SHARDS, *SCAN, *FILES], cluster_lab.scanner,
                  tmp_path, environment=env(tmp_path, PYNMAP_TEST_WORKER_VERSION="0.0.0-test"))
    assert run.exit == 1
    no_traceback(run)
    assert run.stderr.count(f"has pynmap 0.0.0-test, the client {pynmap.__version__}: install "
                            f"pynmap {pynmap.__version__} on every worker") >= 4
    assert "4 of 4 shards failed" in run.stderr
    check_valid(tmp_path / "out.xml")
    assert table(run) == {}


def test_ctrl_c_merges_what_is_done_and_leaves_no_worker(cluster_lab: Lab,
                                                         tmp_path: Path) -> None:
    """SIGINT to pynmap's process group, as a terminal's Ctrl-C, once a shard is
    merged: the tasks are cancelled, the XML is closed with the hosts merged so
    far, no worker process is left, and pynmap dies of the signal.  Before that,
    while the cluster runs: neither a plain client nor one with a TLS key of its
    own can reach its scheduler (--cluster local:N uses a key of the run's)."""
    scan = Background(["--cluster", "local:2", *SLOW, *SCAN, *FILES], cluster_lab.scanner,
                      tmp_path, env(tmp_path))
    address = scan.wait_for("the cluster line", lambda: next(iter(re.findall(
        r"^Cluster: .* of ((?:tls|tcp)://127\.0\.0\.1:\d+)$", scan.stdout(), re.M)), None))
    for intruder in ("tcp", "tls"):
        refused = intrude(cluster_lab.scanner, address, intruder, tmp_path)
        assert refused, f"a {intruder} client without the run's key joined its cluster"
    scan.wait_for("a merged shard", lambda: "Nmap scan report for" in scan.stdout() or None)
    os.killpg(scan.proc.pid, signal.SIGINT)
    run = scan.end()
    assert run.exit == -signal.SIGINT
    no_traceback(run)
    check_valid(tmp_path / "out.xml")
    assert 'exit="error" errormsg="Scan interrupted by SIGINT (Ctrl-C)"' in xml(run)
    shown = set(re.findall(r"^Nmap scan report for (\S+)", run.stdout, re.M))
    merged = set(re.findall(r'<address addr="([^"]+)"', xml(run)))
    assert shown and shown <= merged
    assert settled(cluster_lab.scanner) == []


INTRUDER = """
import sys
from distributed import Client
from distributed.security import Security
address, kind = sys.argv[1:]
security = Security.temporary() if kind == "tls" else None
address = f"{kind}://{address.split('://')[1]}"
try:
    Client(address, security=security, timeout=5).close()
except Exception as exc:
    print("refused:", type(exc).__name__, exc)
    raise SystemExit(1)
print("joined")
"""


def intrude(ns: Netns, address: str, kind: str, workdir: Path) -> bool:
    """Whether a Dask client of its own (plain `tcp`, or `tls` with a key it made)
    is refused by the scheduler at `address`."""
    done = subprocess.run([*ns.exec_prefix(), sys.executable, "-c", INTRUDER, address, kind],
                          capture_output=True, text=True, timeout=60, cwd=workdir,
                          env=base_env(workdir))
    assert "refused" in done.stdout or "joined" in done.stdout, done.stderr
    return done.returncode == 1


def test_tcp_off_loopback_warns_once_and_fails_fast(tmp_path: Path) -> None:
    """No traffic leaves the namespace: 198.18.0.5 has no route there, 127.0.0.1:9
    no listener."""
    ns = create_netns("pynmap-cl")
    try:
        far = run_one("pynmap", ["--cluster", "tcp://198.18.0.5:8786", "-p", "80", "-oX", "x.xml",
                                 "198.18.0.9"], ns, tmp_path / "far", outputs=["x.xml"])
        near = run_one("pynmap", ["--cluster", "tcp://127.0.0.1:9", "-p", "80", "198.18.0.9"],
                       ns, tmp_path / "near")
    finally:
        delete_netns(ns)
    assert far.exit == 1
    warning = ("WARNING: the Dask scheduler tcp://198.18.0.5:8786 is not on this machine's "
               "loopback and tcp:// is neither encrypted nor authenticated")
    assert far.stderr.startswith(warning) and far.stderr.count("WARNING") == 1
    assert ("Could not connect to the Dask scheduler at tcp://198.18.0.5:8786: Network is "
            "unreachable\nQUITTING!\n") in far.stderr
    assert far.files["x.xml"] is None  # refused before any output was opened
    assert near.exit == 1 and "WARNING" not in near.stderr
    assert near.stderr == ("Could not connect to the Dask scheduler at tcp://127.0.0.1:9: "
                           "Connection refused\nQUITTING!\n")
    no_traceback(far)


# -- who may join: a TLS scheduler and workers of the test's own ----------------------------

def openssl(*args: str, cwd: Path) -> None:
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, f"harness: openssl {args[0]}: {done.stderr}"


def make_certificates(where: Path) -> None:
    """Two CAs (P-256 keys): `ca` signs the scheduler's, the workers' and the
    client's certificates; `other-ca` signs an intruder's."""
    new_key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    for ca in ("ca", "other-ca"):
        openssl("req", "-x509", *new_key, "-keyout", f"{ca}.key", "-out", f"{ca}.pem",
                "-days", "1", "-subj", f"/CN=pynmap test {ca}", cwd=where)
    for name, ca in (("scheduler", "ca"), ("worker", "ca"), ("client", "ca"),
                     ("intruder", "other-ca")):
        openssl("req", *new_key, "-keyout", f"{name}.key", "-out", f"{name}.csr",
                "-subj", f"/CN={name}", cwd=where)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
                "-CAcreateserial", "-out", f"{name}.pem", "-days", "1", cwd=where)


DASK = str(Path(sys.executable).parent / "dask")
SCHEDULER = "tls://127.0.0.1:8786"
WAIT_FOR_WORKERS = """
import sys
from distributed import Client
from distributed.security import Security
security = Security(tls_ca_file="ca.pem", tls_client_cert="client.pem",
                    tls_client_key="client.key", require_encryption=True)
deadline = 60
with Client(sys.argv[1], security=security, timeout=deadline) as client:
    client.wait_for_workers(int(sys.argv[2]), timeout=deadline)
"""


class Daemons:
    """`dask scheduler` and `dask worker` processes in a namespace, each its own
    process group, all of them ended (and waited for) by `stop`."""

    def __init__(self, ns: Netns, workdir: Path) -> None:
        self.ns = ns
        self.workdir = workdir
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, *args: str, log: str, **environment: str) -> None:
        with (self.workdir / log).open("wb") as out:
            self.procs.append(subprocess.Popen(
                [*self.ns.exec_prefix(), DASK, *args], cwd=self.workdir,
                env=base_env(self.workdir, environment), stdin=subprocess.DEVNULL,
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True))

    def wait_for_workers(self, count: int) -> None:
        done = subprocess.run([*self.ns.exec_prefix(), sys.executable, "-c", WAIT_FOR_WORKERS,
                               SCHEDULER, str(count)], cwd=self.workdir, capture_output=True,
                              text=True, timeout=90, env=base_env(self.workdir))
        logs = "".join(p.read_text(errors="replace") for p in self.workdir.glob("*.log"))
        assert done.returncode == 0, f"harness: the Dask cluster did not start\n{done.stderr}" \
                                     f"\n{logs}"

    def stop(self) -> None:
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


TLS_FILES = ["--cluster-ca", "ca.pem", "--cluster-cert", "client.pem", "--cluster-key",
             "client.key"]


def test_tls_cluster_scans_and_refuses_strangers(cluster_lab: Lab, unsharded: Unsharded,
                                                 tmp_path: Path) -> None:
    """A scheduler and two workers started as the README says, with certificates
    the test makes: pynmap with the client certificate scans through them; a
    Ctrl-C on the client stops the shards' scans on the workers as well; a
    client with another CA's certificate, one without TLS, and one without
    certificates are refused with one clear message each, before any output file
    is opened; and a worker with another pynmap stops the run before it scans."""
    make_certificates(tmp_path)
    marks = tmp_path / "marks"
    marks.mkdir()
    tls = ["--tls-ca-file", "ca.pem"]
    daemons = Daemons(cluster_lab.scanner, tmp_path)
    try:
        daemons.start("scheduler", "--host", "127.0.0.1", "--port", "8786", "--protocol",
                      "tls", "--no-dashboard", *tls, "--tls-cert", "scheduler.pem",
                      "--tls-key", "scheduler.key", log="scheduler.log")
        worker = ["worker", SCHEDULER, "--host", "127.0.0.1", "--nthreads", "1",
                  "--no-dashboard", *tls, "--tls-cert", "worker.pem", "--tls-key", "worker.key",
                  "--preload", PRELOAD]
        daemons.start(*worker, "--nworkers", "2", log="workers.log",
                      PYNMAP_TEST_MARKS=str(marks))
        daemons.wait_for_workers(2)
        certs: dict[str, str | bytes] = {
            n: (tmp_path / n).read_bytes()
            for n in ("ca.pem", "client.pem", "client.key", "intruder.pem", "intruder.key")}

        def client(args: list[str], name: str) -> Run:
            return run_one("pynmap", ["--cluster", *args, *SCAN, *FILES], cluster_lab.scanner,
                           tmp_path / name, setup_files={**INPUTS, **certs}, outputs=OUTPUTS)

        good = client([SCHEDULER, *TLS_FILES], "good")
        assert good.exit == 0, good.stderr
        no_traceback(good)
        same_hosts(good, tmp_path / "good", unsharded)
        assert "Cluster: 4 shards (seed 0) on 2 worker threads of tls://127.0.0.1:8786" \
            in good.stdout

        # Ctrl-C: the workers' scans stop too (32 ports a second apart: half a minute
        # each, if they went on)
        for mark in marks.iterdir():
            mark.unlink()
        slow = Background(["--cluster", SCHEDULER, *TLS_FILES, "--scan-delay", "1s", *SCAN,
                           *FILES], cluster_lab.scanner, tmp_path / "stopped", {}, certs)
        slow.wait_for("a shard's start", lambda: next(iter(marks.glob("*-[0-9]")), None))
        os.killpg(slow.proc.pid, signal.SIGINT)
        assert slow.end().exit == -signal.SIGINT
        started = {m.name for m in marks.glob("*-[0-9]")}
        stopped = eventually(lambda: started <= {m.name.removesuffix("-end")
                                                 for m in marks.glob("*-end")} or None, 15)
        assert stopped, f"the workers went on scanning: {sorted(started)} started, " \
                        f"{sorted(m.name for m in marks.glob('*-end'))} ended"

        refusals = {
            "stranger": ([SCHEDULER, "--cluster-ca", "ca.pem", "--cluster-cert",
                          "intruder.pem", "--cluster-key", "intruder.key"],
                         "The Dask scheduler at tls://127.0.0.1:8786 refused this client: the TLS "
                         "handshake failed: its CA did not sign this client's certificate "
                         "(--cluster-cert)"),
            "plain": (["tcp://127.0.0.1:8786"],
                      "The Dask scheduler at tcp://127.0.0.1:8786 refused this client: the "
                      "connection was reset (a tls:// scheduler?)"),
            "no_files": ([SCHEDULER], "No TLS files for the Dask scheduler at "
                                      "tls://127.0.0.1:8786: give --cluster-ca"),
        }
        for name, (args, message) in refusals.items():
            run = client(args, name)
            assert run.exit == 1, (name, run.stderr)
            assert run.stderr.startswith(message) and run.stderr.endswith("\nQUITTING!\n"), \
                (name, run.stderr)
            assert run.stderr.count("\n") == 2, run.stderr
            assert run.files["out.xml"] is None, name

        # a third worker, with another pynmap: the run stops before it scans
        daemons.start(*worker, "--preload", PRELOAD, log="odd-worker.log",
                      PYNMAP_TEST_WORKER_VERSION="0.0.0-test")
        daemons.wait_for_workers(3)
        odd = client([SCHEDULER, *TLS_FILES], "odd")
        assert odd.exit == 1
        assert re.fullmatch(r"The Dask worker tls://127\.0\.0\.1:\d+ has pynmap 0\.0\.0-test, "
                            rf"this client {re.escape(pynmap.__version__)}: install pynmap "
                            rf"{re.escape(pynmap.__version__)} on every worker\nQUITTING!\n",
                            odd.stderr), odd.stderr
        assert odd.files["out.xml"] is None
    finally:
        daemons.stop()
    assert settled(cluster_lab.scanner) == []


IN_PROCESS = """
import io, json, sys, psutil
from pynmap.cli.app import run_cli
err = io.StringIO()
status = run_cli(["pynmap", *sys.argv[1:]], io.StringIO(), err, {})
helpers = psutil.Process().children()  # multiprocessing's fork server and resource tracker
workers = [p.pid for helper in helpers for p in helper.children(recursive=True)]
print(json.dumps([status, len(helpers), workers, err.getvalue()]))
"""


def test_a_run_in_a_program_leaves_no_worker_behind(cluster_lab: Lab, tmp_path: Path) -> None:
    """pynmap.run (run_cli) with --cluster local:2 in a program that goes on: once it
    returns, the cluster's worker processes are gone (only multiprocessing's idle fork
    server and resource tracker stay, until the program ends)."""
    done = subprocess.run([*cluster_lab.scanner.exec_prefix(), sys.executable, "-c", IN_PROCESS,
                           "--cluster", "local:2", "-n", "-p", "80", "198.18.0.10"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env=base_env(tmp_path))
    assert done.returncode == 0, done.stderr
    status, helpers, workers, stderr = json.loads(done.stdout)
    assert (status, workers, stderr) == (0, [], ""), done.stdout
    assert helpers <= 2
