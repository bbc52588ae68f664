"""pynmap against nmap's golden captures, in the very environment they were taken in.

Each directory of tests/reference/cases holds a command line (`cmd`),
what nmap printed (`stdout`, `stderr`, `exit`) and every file it wrote.
tools/env_setup.sh rebuilds the namespace the captures came from
(listeners, firewall rules, DNS server); each case runs pynmap there the
way the capture ran nmap (`ip netns exec nmapref env NMAP_UNPRIVILEGED=1
TZ=UTC ...`, argv[0] "nmap") in a scratch directory holding the case's
input files, and compares everything after the one shared mask.  Every
XML file pynmap writes must also validate against nmap.dtd.
"""

from __future__ import annotations

import fcntl
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import pytest

from tests.support.compare import first_difference
from tests.support.mask import mask
from tests.support.netns import in_ci, pynmap_command
from tests.support.reference import CASES, REFERENCE

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
CASES_DIR = CASES
ENV_SETUP = REFERENCE / "tools" / "env_setup.sh"
NAMESPACE = "nmapref"
DTD = Path("/usr/share/nmap/nmap.dtd")
# Held while this session owns the namespace; a whole golden run takes about a minute.
LOCK = Path("/run/lock" if Path("/run/lock").is_dir() else tempfile.gettempdir()) / "nmapref.lock"
LOCK_WAIT = 900.0
CAPTURE_FILES = {"cmd", "setup", "stdout", "stderr", "exit"}
OUTPUT_PREFIXES = ("out.", "scan.")

# Cases whose output is pynmap's own by design: the usage screen and the
# version text.  Their exit code and stderr must still match, and the version
# text must begin as nmap's does (python-nmap reads the version from it).
OWN_STDOUT = {"help", "no_args", "version", "bad_scantype"}

# Known differences, each with its cause; strict, so a fix is noticed.
KNOWN: dict[str, str] = {}

# Cases whose stdout depends on how long the scan takes, not only on its
# results: they run under nmap's pacing (PYNMAP_PACING=nmap), which pynmap
# offers for exactly this, since its own pacing finishes sooner.
NMAP_PACED: dict[str, str] = {
    "stats_every": "--stats-every prints one progress line a second, each with the "
                   "percentage done and ETC at that moment",
}


def _cases() -> list[str]:
    # The captures are part of the project: none found is a broken checkout, not a skip.
    return sorted(p.name for p in CASES_DIR.iterdir() if (p / "cmd").is_file())


@pytest.fixture(scope="session")
def nmapref() -> Iterator[str]:
    """The capture environment, built for this session and torn down after it."""
    problem = None
    lock = None
    if os.geteuid() != 0:
        problem = "the golden tests need root (network namespaces)"
    elif not ENV_SETUP.is_file():
        problem = f"{ENV_SETUP} is missing"
    elif (lock := _claim_nmapref()) is None:
        problem = f"another test run held {LOCK} for {LOCK_WAIT:.0f} s"
    else:
        # a namespace left by an interrupted run would make `up` refuse
        _env_setup("down")
        status, log = _env_setup("up")
        if status != 0:
            problem = f"env_setup.sh up failed:\n{log}"
    if problem:
        if lock is not None:
            lock.close()
        if in_ci():
            pytest.fail(problem, pytrace=False)
        pytest.skip(problem)
    try:
        yield NAMESPACE
    finally:
        _env_setup("down")
        if lock is not None:
            lock.close()  # closing the file releases the lock


def _claim_nmapref() -> TextIO | None:
    """Wait for the lock on the one "nmapref" namespace; None if it stays taken.

    env_setup.sh can build only one namespace of that name per machine, and
    `down` tears it away from whoever uses it: two suites running at once
    (a CI check beside a developer's run) must take turns.
    """
    handle = LOCK.open("a")
    deadline = time.monotonic() + LOCK_WAIT
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return handle
        except BlockingIOError:
            if time.monotonic() > deadline:
                handle.close()
                return None
            time.sleep(1)


def _env_setup(action: str) -> tuple[int, str]:
    """Run tools/env_setup.sh; its daemons keep their output open, so it goes to a file."""
    with tempfile.TemporaryFile("w+") as log:
        done = subprocess.run(["sh", str(ENV_SETUP), action], stdout=log, stderr=log,
                              stdin=subprocess.DEVNULL, timeout=120)
        log.seek(0)
        return done.returncode, log.read()


def _inputs(case_dir: Path, workdir: Path) -> None:
    """The case's input files, as they were before nmap ran.

    An output file that existed before the run (`input_files:` in `setup`,
    for --append-output) held what precedes nmap's own first line.
    """
    setup = (case_dir / "setup").read_text()
    listed = next((line.split(":", 1)[1].split() for line in setup.splitlines()
                   if line.startswith("input_files:")), [])
    for name in listed:
        if name.startswith(OUTPUT_PREFIXES):
            text = (case_dir / name).read_text()
            (workdir / name).write_text(text[: text.find("# Nmap ")])
    for item in case_dir.iterdir():
        name = item.name
        if name in CAPTURE_FILES or name.startswith(OUTPUT_PREFIXES):
            continue
        if name.endswith(".before"):
            shutil.copyfile(item, workdir / name.removesuffix(".before"))
        elif (case_dir / f"{name}.before").exists():
            continue  # the state after the run: compared, not copied
        elif item.is_dir():
            shutil.copytree(item, workdir / name)
        else:
            shutil.copyfile(item, workdir / name)


def _outputs(case_dir: Path) -> list[str]:
    names = [p.name for p in case_dir.iterdir()
             if p.name.startswith(OUTPUT_PREFIXES) and p.is_file()]
    names += [p.name.removesuffix(".before") for p in case_dir.glob("*.before")]
    return sorted(names)


@pytest.fixture(scope="session")
def nmap_named_pynmap(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory whose `nmap` is pynmap, to be found through PATH as the captures
    found nmap: pynmap then prints the bare name "nmap" where nmap printed its argv[0].

    Python takes argv[0] from the script's path (`exec -a` does not reach
    it), so the console script is linked as .../nmap.
    """
    command = pynmap_command()
    script = Path(command[-1])
    if len(command) != 1 or not script.is_file():
        pytest.fail(f"cannot link {command} as nmap", pytrace=False)
    link = tmp_path_factory.mktemp("launcher") / "nmap"
    link.symlink_to(script)
    return link.parent


@pytest.fixture(scope="session")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One HOME for every case: no ~/.nmap in it, and pynmap's caches (~/.cache/pynmap)
    stay out of the directories compared and warm from one case to the next."""
    return tmp_path_factory.mktemp("home")


def _command(cmd: str, launcher: list[str]) -> tuple[list[str], bool]:
    """The capture's command line with pynmap in nmap's place, and whether the
    capture ran unprivileged by its uid (runuser -u nobody) rather than by
    NMAP_UNPRIVILEGED.  pynmap behaves the same under any uid, so those cases
    run it as root without the variable."""
    words = shlex.split(cmd)
    at = words.index("nmap")
    as_nobody = words[0] == "runuser"
    return [*launcher, *words[at + 1 :]], as_nobody


# -oS substitutes letters at random (A->4, e->3, i->!|1, o->0, s->$/z, case flips) and
# leaves digits alone, so a 0 may be an o and a time's digits vary: a script-kiddie
# file is compared on what no substitution touches, line by line.
_SKID_AMBIGUOUS = str.maketrans("", "", "0123456789aeiosz!|$")


def _skid_skeleton(text: str) -> str:
    return "\n".join(line.lower().translate(_SKID_AMBIGUOUS) for line in text.splitlines())


def _dtd_errors(xml: bytes) -> str:
    done = subprocess.run(["xmllint", "--noout", "--dtdvalid", str(DTD), "-"], input=xml,
                          capture_output=True, timeout=60)
    return "" if done.returncode == 0 else done.stderr.decode(errors="replace")


_SIGNAL = re.compile(r"^signal: SIGINT after (\d+) s$", re.MULTILINE)


def _sigint_after(case_dir: Path) -> float | None:
    """The delay after which the capture sent SIGINT (its `signal:` setup line), if any."""
    found = _SIGNAL.search((case_dir / "setup").read_text())
    return float(found.group(1)) if found else None


def _run(argv: list[str], cwd: Path, env: dict[str, str],
         sigint_after: float | None) -> subprocess.CompletedProcess[bytes]:
    """Run the case as the capture did; a SIGINT goes to the same PID, since `ip netns
    exec` execs its command.  Death by a signal is recorded as a shell shows it (128+N)."""
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        if sigint_after is not None:
            time.sleep(sigint_after)
            proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    status = proc.returncode if proc.returncode >= 0 else 128 - proc.returncode
    return subprocess.CompletedProcess(argv, status, stdout, stderr)


def _files(top: Path) -> list[str]:
    return [str(p.relative_to(top)) for p in top.rglob("*") if p.is_file()]


# Where nmap dies of SIGINT leaving its XML cut off after the last element it
# flushed, pynmap closes the XML first (pynmap.session, on purpose: parsers can
# read it): one <runstats> saying why, then </nmaprun>.  Everything before
# that trailer must be nmap's XML.
CLOSED_ON_SIGNAL = {"interrupted"}
_SIGNAL_TRAILER = re.compile(
    r'<runstats><finished time="<t>" timestr="<ctime>" summary="Nmap done at <ctime>; '
    r'\d+ IP address(?:es)? \(\d+ hosts? up\) scanned in <s> seconds" elapsed="<s>" '
    r'exit="error" errormsg="Scan interrupted by SIGINT \(Ctrl-C\)"/>'
    r'<hosts up="\d+" down="\d+" total="\d+"/>\n</runstats>\n</nmaprun>\n\Z')


def _without_signal_trailer(xml: str, problems: list[str]) -> str:
    found = _SIGNAL_TRAILER.search(xml)
    if found is None:
        problems.append("pynmap's XML does not end in the runstats of an interrupted scan")
        return xml
    return xml[: found.start()]


def _params() -> list[object]:
    return [pytest.param(case, marks=pytest.mark.xfail(strict=True, reason=KNOWN[case]))
            if case in KNOWN else case for case in _cases()]


@pytest.mark.parametrize("case", _params())
def test_golden(case: str, nmapref: str, nmap_named_pynmap: Path, home: Path,
                tmp_path: Path) -> None:
    case_dir = CASES_DIR / case
    _inputs(case_dir, tmp_path)
    inputs = _files(tmp_path)
    command, as_nobody = _command((case_dir / "cmd").read_text().strip(), ["nmap"])
    env = {"PATH": f"{nmap_named_pynmap}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
           "HOME": str(home), "LANG": "C.UTF-8", "NMAP_UNPRIVILEGED": "1", "TZ": "UTC"}
    if as_nobody:
        env.pop("NMAP_UNPRIVILEGED")
    if case in NMAP_PACED:
        env["PYNMAP_PACING"] = "nmap"
    done = _run(["ip", "netns", "exec", nmapref, *command], tmp_path, env,
                _sigint_after(case_dir))
    problems = []
    want_exit = int((case_dir / "exit").read_text().strip())
    if done.returncode != want_exit:
        problems.append(f"exit: nmap {want_exit}, pynmap {done.returncode}")
    streams = ["stderr"] if case in OWN_STDOUT else ["stdout", "stderr"]
    for stream in streams:
        want = mask((case_dir / stream).read_bytes().decode("utf-8", "surrogateescape"))
        got = mask(getattr(done, stream).decode("utf-8", "surrogateescape"))
        if want != got:
            problems.append(f"{stream} {first_difference(want, got)}")
    if case in OWN_STDOUT:
        assert done.stdout, "pynmap printed nothing"
    if case == "version":
        first = (case_dir / "stdout").read_bytes().split(b"\n", 1)[0]
        if not done.stdout.startswith(first):
            problems.append(f"stdout does not begin with {first!r}: {done.stdout[:80]!r}")
    if done.stdout.startswith(b"<?xml") and (errors := _dtd_errors(done.stdout)):  # -oX -
        problems.append(f"the XML on stdout is not valid against nmap.dtd:\n{errors}")
    outputs = _outputs(case_dir)
    # a file nmap did not write (a fatal error before the files are opened) pynmap must not either
    extra = sorted(set(_files(tmp_path)) - set(inputs) - set(outputs))
    if extra:
        problems.append(f"pynmap wrote files nmap did not: {extra}")
    for name in outputs:
        want = mask((case_dir / name).read_bytes().decode("utf-8", "surrogateescape"))
        path = tmp_path / name
        if not path.exists():
            problems.append(f"file {name}: pynmap wrote none")
            continue
        got = mask(path.read_bytes().decode("utf-8", "surrogateescape"))
        if name.endswith(".skid"):  # the mask cannot read l33t text: compare skeletons
            want = _skid_skeleton((case_dir / name).read_text())
            got = _skid_skeleton(path.read_text())
        if name.endswith(".xml") and case in CLOSED_ON_SIGNAL:
            got = _without_signal_trailer(got, problems)
        if want != got:
            problems.append(f"file {name} {first_difference(want, got)}")
        # nmap's own XML is not always valid: a fatal error before its header
        # leaves a bare <nmaprun><runstats>, which pynmap reproduces byte for
        # byte; everywhere else pynmap's XML must be valid, even where nmap
        # leaves it cut short by a signal
        if name.endswith(".xml") and (
            case in CLOSED_ON_SIGNAL or not _dtd_errors((case_dir / name).read_bytes())
        ) and (errors := _dtd_errors(path.read_bytes())):
            problems.append(f"file {name} is not valid against nmap.dtd:\n{errors}")
    assert not problems, f"{case}: {' '.join(command)}\n" + "\n".join(problems)
