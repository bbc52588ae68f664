"""Signals mid-scan, against nmap: every finished host is kept and the XML is closed.

What nmap 7.93 does (nmap_tty.cc): unless --noninteractive it handles
SIGINT, SIGTERM and SIGQUIT whatever their inherited disposition (a
non-interactive shell starts `nmap ... &` with SIGINT and SIGQUIT ignored,
and `kill -INT` still stops it), and dies of the signal; SIGHUP keeps its
inherited disposition (it kills, or is ignored under nohup), and so does
every signal with --noninteractive.  nmap leaves its XML cut off; pynmap
dies of the same signal, but first closes the XML with a runstats/finished
exit="error" that says why, so parsers read it (README, "Where pynmap
differs").  Exit status, stdout, stderr and the -oN file must be nmap's;
pynmap's XML must be nmap's cut-off XML followed by that closing.

The namespace has one listener on 127.0.0.1 and drops every connection
attempt to 127.0.0.2; with --max-hostgroup 1 the first host is reported at
once and the second keeps the scan busy until the signal.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

import pytest
from lxml import etree

from tests.support.mask import mask
from tests.support.netns import Netns, base_env, netns_for_tests, nmap_command, pynmap_command

pytestmark = [pytest.mark.lab, pytest.mark.nmap]

DTD = Path("/usr/share/nmap/nmap.dtd")
OPEN_PORT = 2222
SLOW_HOST = "127.0.0.2"
OUTPUTS = ["-oX", "out.xml", "-oN", "out.nmap"]
# 20000 ports: pynmap scans each host in two processes (pynmap/engine/split.py);
# nmap is still on the dropping host minutes later
LONG = ["-sT", "-Pn", "-n", "--max-hostgroup", "1", "-p", "1-20000", *OUTPUTS,
        "127.0.0.1", SLOW_HOST]
# a scan that ends a second or two after the first host (the signals are ignored):
# each unanswered probe waits 400 ms
SHORT = ["-sT", "-Pn", "-n", "--max-hostgroup", "1", "--initial-rtt-timeout", "400ms",
         "--min-rtt-timeout", "400ms", "--max-rtt-timeout", "400ms", "-p", f"20-25,{OPEN_PORT}",
         *OUTPUTS, "127.0.0.1", SLOW_HOST]


class Ended(NamedTuple):
    running: bool  # still scanning just after the signals
    status: int
    stdout: str
    stderr: str
    xml: str
    normal: str


@pytest.fixture(scope="module")
def slow_ns(nmap_oracle: str) -> Iterator[Netns]:
    with netns_for_tests("pynmap-int") as ns:
        rule = ["-A", "INPUT", "-d", SLOW_HOST, "-p", "tcp", "--syn", "-j", "DROP"]
        subprocess.run([*ns.exec_prefix(), "iptables", *rule], check=True, timeout=30)
        listener = subprocess.Popen(
            [*ns.exec_prefix(), "python3", "-c",
             "import socket,time\n"
             "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
             f"s.bind(('127.0.0.1', {OPEN_PORT})); s.listen(64); print('ready', flush=True)\n"
             "time.sleep(600)\n"],
            stdout=subprocess.PIPE,
        )
        try:
            assert listener.stdout is not None and listener.stdout.readline() == b"ready\n"
            yield ns
        finally:
            listener.kill()
            listener.wait()


def _pids(ns: Netns) -> set[str]:
    done = subprocess.run(["ip", "netns", "pids", ns.name], capture_output=True, text=True,
                          timeout=30, check=True)
    return set(done.stdout.split())


def _signal_after_first_host(command: Sequence[str], ns: Netns, workdir: Path,
                             args: Sequence[str], signals: Sequence[int],
                             shell: str) -> Ended:
    """Start `command args` through the sh script `shell` (it ends in `exec "$@"`, so
    the process signalled is the scanner), send `signals` once the first host is in
    the XML, and collect what it left."""
    workdir.mkdir()
    xml, normal = workdir / "out.xml", workdir / "out.nmap"
    before = _pids(ns)
    proc = subprocess.Popen([*ns.exec_prefix(), "/bin/sh", "-c", shell, "sh", *command, *args],
                            cwd=workdir, env=base_env(workdir), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while b"</host>" not in (xml.read_bytes() if xml.exists() else b""):
            assert proc.poll() is None, "the scan ended before the signal"
            assert time.monotonic() < deadline, "the first host never got reported"
            time.sleep(0.05)
        for signo in signals:
            proc.send_signal(signo)
            time.sleep(0.1)
        running = proc.poll() is None
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert _pids(ns) == before  # pynmap's second scanning process went with the first
    return Ended(running, proc.returncode, stdout.decode(), stderr.decode(), xml.read_text(),
                 normal.read_text())


def _assert_closed_xml(xml: str, errormsg: str) -> None:
    tree = etree.fromstring(xml.encode())  # well-formed: it raises otherwise
    dtd = etree.DTD(str(DTD))
    assert dtd.validate(tree), dtd.error_log.filter_from_errors()
    hosts = tree.findall("host")
    assert [h.find("address").get("addr") for h in hosts] == ["127.0.0.1"]
    open_ports = [p.get("portid") for p in hosts[0].iter("port")
                  if p.find("state").get("state") == "open"]
    assert open_ports == [str(OPEN_PORT)]
    finished = tree.find("runstats/finished")
    assert finished.get("exit") == "error"
    assert finished.get("errormsg") == errormsg


# (signals sent, the sh script that starts the scanner, extra options, how it ends)
CASES = {
    "SIGINT": ([signal.SIGINT], 'exec "$@"', [], signal.SIGINT),
    "SIGTERM": ([signal.SIGTERM], 'exec "$@"', [], signal.SIGTERM),
    "SIGHUP": ([signal.SIGHUP], 'exec "$@"', [], signal.SIGHUP),
    "SIGQUIT": ([signal.SIGQUIT], 'ulimit -c 0; exec "$@"', [], signal.SIGQUIT),
    # what `sh -c 'pynmap ... &'` does to the job: nmap's handler is installed all the same
    "SIGINT-inherited-ignored": ([signal.SIGINT], 'trap "" INT QUIT; exec "$@"', [],
                                 signal.SIGINT),
    # nohup, and --noninteractive (no handlers): ignored signals stay ignored
    "ignored-stay-ignored": ([signal.SIGHUP, signal.SIGINT, signal.SIGQUIT],
                             'trap "" HUP INT QUIT; exec "$@"', ["--noninteractive"], None),
}


@pytest.mark.parametrize("case", CASES)
def test_signal_mid_scan(slow_ns: Netns, tmp_path: Path, case: str) -> None:
    signals, shell, extra, dies_of = CASES[case]
    args = [*extra, *(LONG if dies_of is not None else SHORT)]
    nmap = _signal_after_first_host(nmap_command(), slow_ns, tmp_path / "nmap", args,
                                    signals, shell)
    pynmap = _signal_after_first_host(pynmap_command(), slow_ns, tmp_path / "pynmap", args,
                                      signals, shell)

    # nmap, as the namespace and the signal make it
    assert nmap.status == (-dies_of if dies_of is not None else 0), nmap
    assert nmap.stderr == "" and f"{OPEN_PORT}/tcp open" in nmap.normal
    if dies_of is not None:
        assert f"scan report for {SLOW_HOST}" not in nmap.normal
        assert "</host>" in nmap.xml and "</nmaprun>" not in nmap.xml
    else:
        assert nmap.running and nmap.xml.endswith("</nmaprun>\n")

    assert pynmap.status == nmap.status
    assert pynmap.stderr == nmap.stderr  # no traceback, no message
    assert mask(pynmap.stdout) == mask(nmap.stdout)
    assert mask(pynmap.normal) == mask(nmap.normal)
    if dies_of is None:
        assert pynmap.running  # the signals came mid-scan, and were ignored
        assert mask(pynmap.xml) == mask(nmap.xml)
        return
    # nmap's cut-off XML, then pynmap's closing
    assert mask(pynmap.xml).startswith(mask(nmap.xml))
    _assert_closed_xml(pynmap.xml, f"Scan interrupted by {signal.Signals(dies_of).name}"
                       + (" (Ctrl-C)" if dies_of == signal.SIGINT else ""))


def test_sigint_leaves_json_with_the_finished_hosts(slow_ns: Netns, tmp_path: Path) -> None:
    """-oJ and --json-lines on SIGINT: the JSON document is written with the hosts
    finished so far and runstats exit="error", equal to pynmap's closed XML; the
    JSON Lines end with that summary."""
    import json

    import jsonschema

    from pynmap.report import Report, schema_path

    args = [*LONG, "-oJ", "out.json", "--json-lines", "out.jsonl"]
    ended = _signal_after_first_host(pynmap_command(), slow_ns, tmp_path / "pynmap", args,
                                     [signal.SIGINT], 'exec "$@"')
    assert ended.status == -signal.SIGINT and ended.stderr == "", ended
    text = (tmp_path / "pynmap" / "out.json").read_text()
    jsonschema.validate(json.loads(text), json.loads(schema_path().read_text()))
    report = Report.from_json(text)
    assert report == Report.from_xml(ended.xml)
    assert [h.address for h in report.hosts] == ["127.0.0.1"]
    assert report.runstats.exit == "error"
    assert report.runstats.errormsg == "Scan interrupted by SIGINT (Ctrl-C)"
    lines = (tmp_path / "pynmap" / "out.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [json.loads(line)
                                                    for line in report.to_jsonl()]
