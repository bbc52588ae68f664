"""`pynmap merge`: the subcommand's dispatch, outputs, bad input and exit codes.

What a merge writes is checked against the API (`merge_reports` and the
report's renderings) on shards cut from nmap's captures (test_merge.cut);
test_merge.py checks that those equal nmap's own output.  A host named
"merge" is still a scan target when it is not the first argument: that
runs in a namespace (tests/differential/test_merge_dispatch.py).
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from pynmap.cli.app import run_cli
from pynmap.merge import merge_reports
from pynmap.report import Report
from tests.support.reference import CASES
from tests.unit.test_merge import cut

CAPTURE = CASES / "multi_hosts" / "out.xml"  # 3 hosts up, 4 ports each


@pytest.fixture
def shards(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Two shard files in the working directory (a temporary one)."""
    monkeypatch.chdir(tmp_path)
    names = []
    for i, xml in enumerate(cut(CAPTURE.read_bytes(), 2), 1):
        Path(f"s{i}.xml").write_bytes(xml)
        names.append(f"s{i}.xml")
    return names


def merged(names: list[str]) -> Report:
    return merge_reports([Report.from_xml(Path(n)) for n in names], names)


def merge(*args: str) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    status = run_cli(["pynmap", "merge", *args], stdout, stderr, {})
    return status, stdout.getvalue(), stderr.getvalue()


def one_line(stderr: str) -> str:
    __tracebackhide__ = True
    assert stderr.count("\n") == 1 and stderr.startswith("pynmap merge: "), stderr
    assert "Traceback" not in stderr
    return stderr[len("pynmap merge: "):-1]


def test_stdout_gets_the_normal_output(shards: list[str]) -> None:
    assert merge(*shards) == (0, merged(shards).to_normal(), "")


def test_each_output_file_holds_its_format(shards: list[str]) -> None:
    status, out, err = merge("-oX", "m.xml", "-oN", "m.nmap", "-oG", "m.gnmap",
                             "-oJ", "m.json", *shards)
    assert (status, err) == (0, "")
    report = merged(shards)
    assert out == report.to_normal()
    assert Path("m.xml").read_text() == report.to_xml()
    assert Path("m.nmap").read_text() == report.to_normal()
    assert Path("m.gnmap").read_text() == report.to_grepable()
    assert Report.from_json(Path("m.json").read_text()) == report


def test_oA_and_append_output(shards: list[str]) -> None:
    Path("all.nmap").write_text("before\n")
    assert merge("-oA", "all", "--append-output", *shards)[0] == 0
    report = merged(shards)
    assert Path("all.nmap").read_text() == "before\n" + report.to_normal()
    assert Path("all.gnmap").read_text() == report.to_grepable()
    assert Path("all.xml").read_text() == report.to_xml()


@pytest.mark.parametrize(("option", "render"), [("-oX", "to_xml"), ("-oG", "to_grepable"),
                                                ("-oJ", "to_json")])
def test_an_output_on_stdout_replaces_the_normal_output(shards: list[str], option: str,
                                                        render: str) -> None:
    status, out, _ = merge(option, "-", *shards)
    text = getattr(merged(shards), render)()
    assert (status, out) == (0, text + "\n" if option == "-oJ" else text)


def test_options_and_files_mix_as_in_nmaps_grammar(shards: list[str]) -> None:
    assert merge(shards[0], "-oX", "m.xml", shards[1])[0] == 0
    assert Path("m.xml").read_text() == merged(shards).to_xml()


def test_help() -> None:
    status, out, err = merge("-h")
    assert (status, err) == (0, "")
    assert out.startswith("Usage: pynmap merge [Options] FILE.xml...\n")
    assert "pynmap -- merge" in out


@pytest.mark.parametrize(("args", "message"), [
    ([], "no XML files to merge; see pynmap merge -h"),
    (["-x", "s1.xml"], "unrecognized option '-x'; see pynmap merge -h"),
    (["--bogus", "s1.xml"], "unrecognized option '--bogus'; see pynmap merge -h"),
    (["s1.xml", "-oX"], "option '-oX' requires an argument; see pynmap merge -h"),
])
def test_bad_command_lines_exit_255(shards: list[str], args: list[str], message: str) -> None:
    status, out, err = merge(*args)
    assert (status, out, one_line(err)) == (255, "", message)


def test_bad_files_exit_1(shards: list[str]) -> None:
    Path("junk.xml").write_text("not xml\n")
    Path("other.xml").write_text("<?xml version='1.0'?><html/>\n")
    Path("cut.xml").write_bytes((CASES / "interrupted" / "scan.xml").read_bytes())
    Path("dir.xml").mkdir()
    cases = {
        "missing.xml": "missing.xml: No such file or directory",
        "dir.xml": "dir.xml: Is a directory",
        "junk.xml": "junk.xml: Not a complete, well-formed XML document: Start tag expected, "
                    "'<' not found, line 1, column 1 (<string>, line 1)",
        "other.xml": "other.xml: Not an nmap run: the root element is <html>, not <nmaprun>",
        "cut.xml": "cut.xml: Not a complete, well-formed XML document: ",
    }
    for name, message in cases.items():
        status, out, err = merge(shards[0], name)
        assert (status, out) == (1, ""), name
        assert one_line(err).startswith(message), name


def test_another_scan_is_refused(shards: list[str]) -> None:
    Path("other.xml").write_bytes((CASES / "Pn" / "out.xml").read_bytes())
    status, out, err = merge(shards[0], "other.xml")
    assert (status, out) == (1, "")
    assert one_line(err) == (
        "s1.xml and other.xml are not from the same scan: ports differ "
        "(tcp 22,80,3306,8080 in s1.xml; tcp 22,80,3306 in other.xml)")


@pytest.mark.parametrize(("args", "message"), [
    (["-oX", "/nonexistent/m.xml"],
     "Failed to open XML output file /nonexistent/m.xml for writing: No such file or directory"),
    (["-oN", "/dev/full"], "Failed to write normal output file /dev/full: No space left on device"),
    (["-oA", "-"], "Cannot display multiple output types to stdout."),
    (["-oJ", "-", "-oX", "-"], "Cannot display multiple output types to stdout."),
    (["-oX", "-m.xml"], "Output filename begins with '-'. Try '-oX ./-m.xml' if you really "
                        "want it to be named as such."),
])
def test_outputs_that_cannot_be_written_exit_1(shards: list[str], args: list[str],
                                               message: str) -> None:
    status, out, err = merge(*args, *shards)
    assert (status, out, one_line(err)) == (1, "", message)


def test_no_output_is_written_when_one_cannot_be_opened(shards: list[str]) -> None:
    status, out, err = merge("-oX", "m.xml", "-oJ", "/nonexistent/m.json", *shards)
    assert (status, out) == (1, "")
    assert one_line(err).startswith("Failed to open JSON output file /nonexistent/m.json")
    assert Path("m.xml").read_text() == ""  # opened (created), as a scan opens its outputs


def test_a_run_that_ended_with_an_error_is_merged_with_a_note(shards: list[str]) -> None:
    failed = Path(shards[1]).read_text().replace('exit="success"', 'exit="error" errormsg="boom"')
    Path(shards[1]).write_text(failed)
    status, out, err = merge(*shards)
    assert (status, out) == (0, merged(shards).to_normal())
    assert err == "pynmap merge: note: s2.xml ended with an error: boom\n"


def test_the_command_runs_as_a_program(shards: list[str]) -> None:
    """The console script's path (the Typer app, main()) reaches the subcommand too."""
    run = subprocess.run([sys.executable, "-m", "pynmap", "merge", "-oX", "-", *shards],
                         capture_output=True, text=True, timeout=60)
    assert (run.returncode, run.stderr) == (0, "")
    assert run.stdout == merged(shards).to_xml()
