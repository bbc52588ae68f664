"""--resume and NMAP_ARGS, nmap and pynmap side by side.

The logs to resume are written by nmap itself (a list scan of five
addresses in every format), then cut after the second host, as an
interrupted run leaves them.  Both programs resume from identical copies;
their output, exit code and the log they append to must be the same.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.compare import assert_same, run_both, run_one
from tests.support.netns import Netns

TARGETS = "127.0.0.1-5"
FORMATS = {"oN": "log.nmap", "oG": "log.gnmap", "oX": "log.xml"}
# where each format's report of 127.0.0.2 ends: the log is cut there (plus one byte of the next)
CUT_AFTER = {
    "oN": "Nmap scan report for 127.0.0.2\n",
    "oG": "Host: 127.0.0.2 ()\tStatus: Unknown\n",
    "oX": '<address addr="127.0.0.2" addrtype="ipv4"/>\n',
}


@pytest.fixture(scope="module")
def full_logs(netns: Netns, nmap_oracle: str, tmp_path_factory: pytest.TempPathFactory
              ) -> dict[str, str]:
    """nmap's own complete logs of the list scan, by format."""
    workdir = tmp_path_factory.mktemp("full")
    names = [FORMATS[f] for f in FORMATS]
    args = ["-sL", "-n", TARGETS]
    for flag, name in FORMATS.items():
        args += [f"-{flag}", name]
    run = run_one("nmap", args, netns, workdir, outputs=names)
    assert run.exit == 0, run.stderr
    logs = {flag: run.files[name] for flag, name in FORMATS.items()}
    assert all(logs.values())
    return logs  # type: ignore[return-value]


def _cut(log: str, flag: str) -> str:
    at = log.index(CUT_AFTER[flag]) + len(CUT_AFTER[flag])
    return log[: at + 1]


@pytest.mark.parametrize("flag", list(FORMATS))
def test_resume_after_the_last_finished_host(
    flag: str, full_logs: dict[str, str], oracle_ns: Netns, tmp_path: Path
) -> None:
    name = FORMATS[flag]
    cut = _cut(full_logs[flag], flag)
    nmap, pynmap = run_both(["--resume", name], oracle_ns, tmp_path,
                            setup_files={name: cut}, outputs=[name])
    # nmap's truth: hosts 3 to 5 only, appended to the log
    assert nmap.exit == 0, nmap.stderr
    reported = [ln for ln in nmap.stdout.splitlines() if ln.startswith("Nmap scan report")]
    assert reported == [f"Nmap scan report for 127.0.0.{i}" for i in (3, 4, 5)]
    assert_same(nmap, pynmap, ["--resume", name])


def test_resume_with_no_finished_host_starts_over(
    full_logs: dict[str, str], oracle_ns: Netns, tmp_path: Path
) -> None:
    head = full_logs["oN"].split("\n", 1)[0] + "\n# nothing scanned yet\n"
    nmap, pynmap = run_both(["--resume", "log.nmap"], oracle_ns, tmp_path,
                            setup_files={"log.nmap": head}, outputs=["log.nmap"])
    assert "Starting from the beginning" in nmap.stderr
    assert nmap.stdout.count("Nmap scan report") == 5
    assert_same(nmap, pynmap)


BAD_LOGS = {
    "too_short": "# Nmap as: nmap\n",
    "no_as": "# this is not a log file of any scanner\nHost: 127.0.0.1\n",
    "unclosed_quote": '# Nmap 7.93 scan initiated x as: "nmap -sL -n 127.0.0.1\nmore\n',
    "no_args": "# Nmap 7.93 scan initiated x as: nmap\n\n",
    "last_line_unterminated": (
        "# Nmap 7.93 scan initiated x as: nmap -sL -n 127.0.0.1-3\n"
        "Nmap scan report for 127.0.0.1\nNmap scan report for 127.0.0.2\n"
    ),
    "bad_ip": "# Nmap 7.93 scan initiated x as: nmap -sL -n 127.0.0.1-3\nHost: 127.0.0.999 ()\n\n",
    "randomized": (
        # one target, already done: the order of a randomized rest cannot be compared
        "# Nmap 7.93 scan initiated x as: nmap -sL -n --randomize-hosts 127.0.0.1\n"
        "Nmap scan report for 127.0.0.1\n#\n"
    ),
    "xml_escaped_args": (
        '<!-- Nmap 7.93 scan initiated x as: nmap -sL -n &quot;127.0.0.1&quot; 127.0.0.2 -->\n'
        '<address addr="127.0.0.1" addrtype="ipv4"/>\n<\n'
    ),
    "xml_other_family": (
        "<!-- Nmap 7.93 scan initiated x as: nmap -sL -n 127.0.0.1-2 -->\n"
        '<address addr="::1" addrtype="ipv6"/>\n<\n'
    ),
    # nmap finds the resume address before applying --exclude: .3 and .4 come next
    "excluded_last_host": (
        "# Nmap 7.93 scan initiated x as: nmap -sL -n --exclude 127.0.0.2 127.0.0.1-4\n"
        "Host: 127.0.0.2 ()\tStatus: Unknown\n#\n"
    ),
    "unparseable_args": "# Nmap 7.93 scan initiated x as: nmap -sL 'unclosed\nmore\n",
}


@pytest.mark.parametrize("case", list(BAD_LOGS))
def test_odd_logs(case: str, oracle_ns: Netns, tmp_path: Path) -> None:
    nmap, pynmap = run_both(["--resume", "log"], oracle_ns, tmp_path,
                            setup_files={"log": BAD_LOGS[case]}, outputs=["log"])
    assert_same(nmap, pynmap, ["--resume", "log"])


ENV_CASES = {
    "options_first": ("-sL -n", ["127.0.0.1", "-oN", "-"]),
    "quoted_words": ("-sL -n '127.0.0.1' \"127.0.0.2\"", ["-oG", "-"]),
    "unclosed_quote": ("-sL 'oops", ["127.0.0.1"]),
    "blank": ("", ["-sL", "-n", "127.0.0.3"]),
    "resume_is_an_option_then": ("", ["--resume", "log"]),
    "too_long": ("-sL -n " + "127.0.0.1 " * 230, ["127.0.0.2"]),
}


@pytest.mark.parametrize("case", list(ENV_CASES))
def test_nmap_args(case: str, oracle_ns: Netns, tmp_path: Path) -> None:
    value, args = ENV_CASES[case]
    nmap, pynmap = run_both(args, oracle_ns, tmp_path, env={"NMAP_ARGS": value},
                            setup_files={"log": BAD_LOGS["randomized"]})
    assert_same(nmap, pynmap, args)
