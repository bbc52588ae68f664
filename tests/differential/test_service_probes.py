"""nmap-service-probes read as nmap reads it: the probes nmap sends, and its parse errors.

nmap's --version-trace names every probe it sends ("Service scan sending
probe NAME to 127.0.0.1:PORT (tcp)").  Against services that answer every
connection at once with the same unrecognized banner (tests.support.netns.
babbling), nmap goes through its whole list for each port without waiting,
so one -sV run shows the full order, which pynmap.probes.probe_sequence must
give for the same port and intensity.  The Exclude directive shows as a port
that gets no probe at all unless --allports.

A malformed file given with --versiondb makes nmap quit with its fatal()
text when the service scan starts; pynmap.probes raises the same text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from pynmap.probes import (
    ProbeDB,
    ProbeFileError,
    load_probes,
    port_is_excluded,
    probe_sequence,
    version_intensity,
)
from pynmap.services import bundled_data_dir
from tests.support.netns import (
    Netns,
    babbling,
    listening,
    netns_for_tests,
    run_nmap,
    run_pynmap,
)

BANNER = "zq9 k7\r\n"  # matched by no pattern of the bundled file
PORTS = (80, 9100, 31337)
# nmap's version scripts (NSE, run by every -sV) take seconds over port 80 named "http?"
# after the small file's probes: that test keeps to other ports.
SMALL_PORTS = (5080, 9100, 31337)
SENT = re.compile(r"^Service scan sending probe (\S+) to 127\.0\.0\.1:(\d+) \(tcp\)$", re.M)

# A small file of our own: port lists, rarities, a fallback and an Exclude line.
SMALL = """\
# hand-written
Exclude T:31337
Probe TCP NULL q||
totalwaitms 6000
match foo m/^nothing-here$/

Probe TCP Late q|late\\r\\n|
rarity 8
ports 5080

Probe TCP Rare q|rare\\r\\n|
rarity 3

Probe TCP Common q|common\\x0d\\n|
rarity 1
ports 9100
fallback Late

Probe UDP Datagram q|dgram|
rarity 1
"""


@pytest.fixture(scope="module")
def babble_ns(nmap_oracle: str) -> Iterator[Netns]:
    with netns_for_tests("pynmap-vp") as ns, babbling(ns, (*PORTS, 5080), BANNER):
        yield ns


def nmap_probes(ns: Netns, tmp_path: Path, *args: str,
                ports: tuple[int, ...] = PORTS) -> dict[int, list[str]]:
    """The probes nmap sends to each port (file order of the trace), checked to
    have found every port open and named no service."""
    result = run_nmap(["-sV", "--version-trace", "-n", "-Pn", "-p", ",".join(map(str, ports)),
                       *args, "127.0.0.1"], ns, tmp_path)
    assert result.exit == 0, result.stderr
    for port in ports:
        assert re.search(rf"^{port}/tcp +open ", result.stdout, re.M), result.stdout
    sent: dict[int, list[str]] = {p: [] for p in ports}
    for name, port in SENT.findall(result.stdout):
        sent[int(port)].append(name)
    return sent


def expected(db: ProbeDB, intensity: int, allports: bool = False,
             ports: tuple[int, ...] = PORTS) -> dict[int, list[str]]:
    return {port: [] if port_is_excluded(db, port, allports=allports)
            else [p.name for p in probe_sequence(db, port, intensity=intensity)]
            for port in ports}


@pytest.mark.parametrize(("args", "intensity", "allports"), [
    ((), version_intensity(), False),
    (("--version-light",), version_intensity(light=True), False),
    (("--version-all", "--allports"), version_intensity(all_probes=True), True),
    (("--version-intensity", "0"), 0, False),
])
def test_bundled_probe_order_is_nmaps(babble_ns: Netns, tmp_path: Path, args: tuple[str, ...],
                                      intensity: int, allports: bool) -> None:
    directory = bundled_data_dir()
    assert directory is not None
    db = load_probes(f"{directory}/nmap-service-probes")
    sent = nmap_probes(babble_ns, tmp_path, *args)
    # the environment's truth: every port gets the NULL probe first, 9100 none unless --allports
    assert sent[80][0] == sent[31337][0] == "NULL"
    assert (sent[9100] != []) == allports
    assert sent == expected(db, intensity, allports)


def test_a_small_file_is_read_and_ordered_as_nmap_does(babble_ns: Netns, tmp_path: Path) -> None:
    (tmp_path / "small").write_text(SMALL)
    db = load_probes(str(tmp_path / "small"))
    for args, intensity in (((), 7), (("--version-all",), 9), (("--version-intensity", "2"), 2)):
        sent = nmap_probes(babble_ns, tmp_path, "--versiondb", "small", *args,
                           ports=SMALL_PORTS)
        assert sent[31337] == []  # this file's Exclude
        assert sent[5080][:2] == ["NULL", "Late"]  # listed for the port: rarity 8 does not count
        assert sent == expected(db, intensity, ports=SMALL_PORTS), args


def test_pynmap_sends_the_probes_nmap_sends(babble_ns: Netns, tmp_path: Path) -> None:
    """pynmap's --version-trace lines name the probes its service scan sends: the
    order test_bundled_probe_order_is_nmaps proved to be nmap's."""
    directory = bundled_data_dir()
    assert directory is not None
    db = load_probes(f"{directory}/nmap-service-probes")
    result = run_pynmap(["-sV", "--version-trace", "-n", "-Pn", "-p",
                         ",".join(map(str, PORTS)), "127.0.0.1"], babble_ns, tmp_path)
    assert result.exit == 0, result.stderr
    sent: dict[int, list[str]] = {p: [] for p in PORTS}
    for name, port in SENT.findall(result.stdout):
        sent[int(port)].append(name)
    assert sent == expected(db, version_intensity())


# (file text, what it gets wrong); each is refused by nmap 7.93 on reading.
BAD_FILES = [
    ("match foo m/x/\n", "a match before any Probe"),
    ("Probe SCTP x q||\n", "an unknown protocol"),
    ("Probe TCP -x q||\n", "a probe name not starting alphanumeric"),
    ("Probe TCP x\n", "nothing after the name"),
    ("Probe TCP x r|a|\n", "a payload not in q"),
    ("Probe TCP x q|abc\n", "no end delimiter"),
    ("Probe TCP x q|\\q|\n", "an escape nmap does not know"),
    ("Probe TCP x q|\\x4|\n", "a one-digit hex escape"),
    ("Probe TCP x q||\n\nbogus line\n", "an unknown directive"),
    ("Probe TCP x q||\n rarity 3\n", "an indented directive"),
    ("Probe TCP x q||\nrarity 0\n", "rarity 0"),
    ("Probe TCP x q|a|\nrarity 2147483648\n", "a rarity that wraps to a negative int"),
    ("Probe TCP x q||\ntotalwaitms 99\n", "totalwaitms below 100"),
    ("Probe TCP x q||\ntcpwrappedms 300001\n", "tcpwrappedms above 300000"),
    ("Probe TCP x q||\nports 80-70\n", "a reversed range"),
    ("Probe TCP x q||\nports 80,,81\n", "an empty list item"),
    ("Probe TCP x q||\nsslports 70000\n", "a port above 65535"),
    ("Probe TCP x q||\nmatch foo m/x/x\n", "an unknown regex flag"),
    ("Probe TCP x q||\nmatch foo\n", "no service name ending in a space"),
    ("Probe TCP x q||\nmatch foo m\n", "a bare word"),
    ("Probe TCP x q||\nmatch foo m/abc\n", "no end delimiter"),
    ("Probe TCP x q||\nmatch foo p/x/ m/abc/\n", "not m first"),
    ("Probe TCP x q||\nmatch foo m/x/ z/y/\n", "an unknown template"),
    ("Probe TCP x q|a|\nfallback Nowhere\n", "an unknown fallback"),
    ("Probe TCP x q||\nExclude 80\n", "Exclude after a Probe"),
    ("Exclude 80\nExclude 81\nProbe TCP x q||\n", "two Exclude lines"),
]


def test_malformed_files_fail_with_nmaps_words(tmp_path: Path, nmap_oracle: str) -> None:
    with netns_for_tests("pynmap-vp") as ns, listening(ns, [80]):
        for text, what in BAD_FILES:
            (tmp_path / "bad").write_text(text)
            result = run_nmap(["-sV", "-n", "-Pn", "-p80", "--versiondb", "bad", "127.0.0.1"],
                              ns, tmp_path)
            # nmap read the file only once the port was found open, and quit there
            assert result.exit == 1 and result.stderr.endswith("QUITTING!\n"), (what, result)
            with pytest.raises(ProbeFileError) as caught:
                _parse(tmp_path / "bad")
            assert caught.value.text == result.stderr, what
        # and pynmap's -sV reads it at the same moment, with the same end
        for text, what in BAD_FILES[:3]:
            (tmp_path / "bad").write_text(text)
            args = ["-sV", "-n", "-Pn", "-p80", "--versiondb", "bad", "127.0.0.1"]
            ours = run_pynmap(args, ns, tmp_path)
            theirs = run_nmap(args, ns, tmp_path)
            assert (ours.exit, ours.stderr) == (theirs.exit, theirs.stderr), what


def _parse(path: Path) -> None:
    from pynmap.probes import parse_probes

    parse_probes(path.read_bytes(), path.name)
