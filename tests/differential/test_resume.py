"""--resume FILE: nmap and pynmap resuming the same log, side by side.

The real resumptions start from logs nmap itself wrote (list scans, and
one connect scan of the namespace's loopback), cut after the second host
as an interrupted run leaves them.  The odd logs are written by hand, one
per way nmap's reading of a log can fail or surprise.  Each program gets
its own copy; stdout, stderr, the exit code and the log afterwards (nmap
writes into it while reading it, then appends to it) must be the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.compare import assert_same, run_both, run_one
from tests.support.netns import Netns

pytestmark = pytest.mark.nmap

HEAD = "# Nmap 7.93 scan initiated Wed Nov 25 03:09:48 2026 as: nmap "
XML_HEAD = "<!-- Nmap 7.93 scan initiated Wed Nov 25 03:09:48 2026 as: nmap "


@dataclass(frozen=True)
class Log:
    """A log nmap writes, and where its third host's report begins."""

    args: tuple[str, ...]
    name: str
    third: str  # the text that starts the report of the first host not yet done
    record: str = ""  # the report starts at the last such text before `third`
    extra_byte: bool = True  # keep one byte of the third report, as a write cut short does
    hosts: tuple[str, ...] = ("127.0.0.3", "127.0.0.4", "127.0.0.5")


LOGS = {
    "normal": Log(("-sL", "-n", "127.0.0.1-5"), "log.nmap", "Nmap scan report for 127.0.0.3"),
    "grepable": Log(("-sL", "-n", "127.0.0.1-5"), "log.gnmap", "Host: 127.0.0.3"),
    "xml": Log(("-sL", "-n", "127.0.0.1-5"), "log.xml", '<address addr="127.0.0.3"', "<host>"),
    "xml_ipv6": Log(("-6", "-sL", "-n", "::1", "::2", "::3"), "log6.xml", '<address addr="::3"',
                    "<host>", hosts=("::3",)),
    "connect_scan": Log(("-sT", "-n", "-p", "22", "127.0.0.1-3"), "scan.gnmap", "Host: 127.0.0.3",
                        extra_byte=False, hosts=("127.0.0.3",)),
}


def _flag(name: str) -> str:
    return "-oX" if name.endswith(".xml") else "-oG" if name.endswith(".gnmap") else "-oN"


@pytest.fixture(scope="module")
def cut_logs(netns: Netns, nmap_oracle: str, tmp_path_factory: pytest.TempPathFactory
             ) -> dict[str, str]:
    """nmap's own logs, cut after the second host."""
    cut: dict[str, str] = {}
    for case, log in LOGS.items():
        workdir = tmp_path_factory.mktemp(case)
        run = run_one("nmap", [*log.args, _flag(log.name), log.name], netns, workdir,
                      outputs=[log.name])
        text = run.files[log.name]
        assert run.exit == 0 and text, run.stderr
        at = text.index(log.third)
        if log.record:
            at = text.rindex(log.record, 0, at)
        cut[case] = text[: at + 1 if log.extra_byte else at]
    return cut


@pytest.mark.parametrize("case", list(LOGS))
def test_resume_after_the_last_finished_host(
    case: str, cut_logs: dict[str, str], oracle_ns: Netns, tmp_path: Path
) -> None:
    name = LOGS[case].name
    nmap, pynmap = run_both(["--resume", name], oracle_ns, tmp_path,
                            setup_files={name: cut_logs[case]}, outputs=[name])
    # nmap's truth first: only the hosts after the second are reported, appended to the log
    assert nmap.exit == 0, nmap.stderr
    reported = [line.split()[-1] for line in nmap.stdout.splitlines()
                if line.startswith("Nmap scan report for ")]
    assert reported == list(LOGS[case].hosts)
    assert nmap.files[name] and len(nmap.files[name]) > len(cut_logs[case])
    assert_same(nmap, pynmap, ["--resume", name])


@dataclass(frozen=True)
class Odd:
    content: str | None
    says: str  # part of nmap's stderr: checks the case before pynmap is judged
    path: str = "log"


ODD_LOGS = {
    # root may write a 0444 file; sysfs refuses even root
    "no_permission": Odd(None, "file: Permission denied (13)", "/sys/kernel/uevent_seqnum"),
    "too_short": Odd("# Nmap 7.93 as: x\n", "is too short -- no use resuming"),
    # the last byte is left a NUL in the file
    "not_a_log": Odd("Host: 127.0.0.1 ()\nnothing to see\n", "Are you sure this is an Nmap"),
    "unclosed_name_quote": Odd('# Nmap 7.93 scan initiated x as: "nmap -sL -n 127.0.0.1\nX\n',
                               "unclosed quote."),
    "randomized_unparseable": Odd(HEAD + "-sL -n --randomize-hosts 'x\nmore\n",
                                  "randomized batch"),
    # the NUL that ended the address stays in the file
    "bad_grepable_address": Odd(HEAD + "-sL -n 127.0.0.1-4\nHost: 127.0.0.1 ()\n"
                                "Host: 127.0.0.9x ()\nX", "Unable to parse ip (127.0.0.9x)"),
    "xml_other_family": Odd(XML_HEAD + "-sL -n 127.0.0.1-2 -->\n"
                            '<address addr="::1" addrtype="ipv6"/>\n<\n', "Unable to parse ip ()"),
    "paren_last": Odd(HEAD + "-sL -n 127.0.0.1-4\nNmap scan report for foo (\nmore\nend\n",
                      "Unable to parse ip (\nmore\nend)"),
    # "x" becomes ")"; the scan goes on after 127.0.0.2
    "paren_rewrite": Odd(HEAD + "-sL -n 127.0.0.1-4\nNmap scan report for foo (127.0.0.2x\nX",
                         ""),
    # a full scan, and the file's last byte becomes a newline
    "no_hosts": Odd(HEAD + "-sL -n 127.0.0.1-3\n# nothing done yet", "Starting from the beginning"),
    # a "Host:" line inside the quoted program name does not count
    "name_hides_host": Odd('# Nmap 7.93 scan initiated x as: "nm\nHost: 127.0.0.2 x" -sL -n '
                           "127.0.0.1-3\nend\n", "Starting from the beginning"),
    # "-oN -" shows the arguments nmap rebuilt
    "xml_entities": Odd(XML_HEAD + "-sL -n -oN - &foo;127.0.0.1 &lt;&#x41;b &ab--> x;y\n<\n",
                        'Failed to resolve "<41#x41;b"'),
    # the resumed run's argv[0] is "nmap", whatever nmap was started as
    "resumed_program_name": Odd(HEAD + "-sL -n --bogus 127.0.0.1\nX\n",
                                "nmap: unrecognized option '--bogus'"),
}


@pytest.mark.parametrize("case", list(ODD_LOGS))
def test_odd_logs(case: str, oracle_ns: Netns, tmp_path: Path) -> None:
    odd = ODD_LOGS[case]
    if odd.path.startswith("/") and not Path(odd.path).exists():
        pytest.skip(f"{odd.path} is not there")
    files = {} if odd.content is None else {odd.path: odd.content}
    outputs = [odd.path] if files else []
    nmap, pynmap = run_both(["--resume", odd.path], oracle_ns, tmp_path,
                            setup_files=files, outputs=outputs)
    assert odd.says in nmap.stderr
    assert_same(nmap, pynmap, ["--resume", odd.path])
