"""--resume: reading an earlier run's log as nmap 7.93 reads it.

The expected values come from nmap: its reference captures (cases/resume,
cases/interrupted, cases/xml_escaping) and runs of `nmap --resume` on the
same texts (the resumed run's "as:" line shows the arguments nmap rebuilt,
its host list shows where it picked up, and the log is compared byte by
byte before and after).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from pynmap.errors import Fatal, SystemFatal
from pynmap.resume import Resumption, parse_log, read_resume_file, xml_unescape
from tests.support.reference import CASES

HEAD = b"# Nmap 7.93 scan initiated Wed Nov 25 03:09:48 2026 as: "
NOTHING_DONE = (
    "Warning: You asked for --resume but it doesn't look like any hosts in the log file were "
    "successfully scanned.  Starting from the beginning."
)
RANDOMIZED = (
    "WARNING: You are attempting to resume a scan which used --randomize-hosts.  Some hosts "
    "in the last randomized batch may be missed and others may be repeated once"
)
PERHAPS = (
    "Unable to parse supposed log file {}.  Perhaps the Nmap execution had not finished at "
    'least one host?  In that case there is no use "resuming"'
)


class Warnings(list[str]):
    def __call__(self, line: str) -> None:
        self.append(line)


def parse(text: bytes, path: str = "log") -> tuple[Resumption, list[str]]:
    """What nmap parses: the file without its last byte."""
    warnings = Warnings()
    return parse_log(text[:-1], path, warn=warnings), warnings


def fatal(text: bytes, path: str = "log") -> str:
    with pytest.raises(Fatal) as caught:
        parse(text, path)
    return caught.value.message


def capture(case: str, name: str) -> bytes:
    path = CASES / case / name
    if not path.exists():
        pytest.skip(f"reference capture {path} is not there")
    return path.read_bytes()


# -- nmap's own logs ------------------------------------------------------------------------

def test_grepable_log_of_the_resume_capture() -> None:
    resumption, warnings = parse(capture("resume", "partial.gnmap.before"))
    assert resumption.address == "127.0.0.2"
    assert warnings == []
    # the resumed run logged its own command line in the same file
    after = capture("resume", "partial.gnmap").decode()
    assert f"as: {' '.join(resumption.argv)}\n" in after
    assert resumption.args[0] == "--append-output"


def test_xml_host_hints_count_as_finished_hosts() -> None:
    # an interrupted -v -oX log holds <hosthint> addresses of hosts not yet scanned;
    # nmap resumes after the last of them (here: every target is skipped)
    resumption, warnings = parse(capture("interrupted", "scan.xml"))
    assert resumption.address == "127.0.0.3"
    assert resumption.args == ["--append-output", "-sT", "-v", "--scan-delay", "1s", "-p",
                               "1-30,3306,8080", "-oA", "scan", "127.0.0.1-3"]
    assert warnings == []


def test_grepable_log_without_hosts_starts_over() -> None:
    resumption, warnings = parse(capture("interrupted", "scan.gnmap"))
    assert resumption.address is None
    assert warnings == [NOTHING_DONE]


def test_a_log_of_the_command_line_alone_is_refused() -> None:
    # its only newline is the last byte, which nmap does not parse
    assert fatal(capture("interrupted", "scan.nmap"), "scan.nmap") == PERHAPS.format("scan.nmap")


def test_xml_escaped_arguments_are_unescaped_then_split() -> None:
    resumption, _ = parse(capture("xml_escaping", "stdout"))
    # nmap logged the stylesheet name with backslashed quotes: they stay, the word is one
    assert resumption.args == ["--append-output", "-sT", "-p", "22", "--stylesheet",
                               'a&b<c>\\"q\\".xsl', "-oX", "-", "--max-retries=2", "-vv",
                               "127.0.0.1"]
    assert resumption.address == "127.0.0.1"


# -- finding the arguments ------------------------------------------------------------------

def test_no_as_marker() -> None:
    assert fatal(b"# this is no log of any scanner\n") == (
        "Unable to parse supposed log file log.  Are you sure this is an Nmap output file?")


@pytest.mark.parametrize("name", [b'"/opt/my nmap"', b"'my nmap'x", b"&QUOT;/usr/bin/my nmap&amp;&quot;"])
def test_quoted_program_names_are_skipped(name: bytes) -> None:
    resumption, _ = parse(HEAD + name + b" -sL -n 127.0.0.1-3\nHost: 127.0.0.2 ()\n\n")
    assert resumption.args == ["--append-output", "-sL", "-n", "127.0.0.1-3"]


@pytest.mark.parametrize("name", [b'"nmap -sL', b"&quot;nmap -sL &amp;"])
def test_unclosed_program_name_quote(name: bytes) -> None:
    assert fatal(HEAD + name + b" 127.0.0.1\n\n") == (
        "Unable to parse supposed log file log: unclosed quote.")


def test_hosts_are_searched_after_the_program_name() -> None:
    # a quoted name may hold a newline; a "Host:" line inside it does not count
    resumption, warnings = parse(HEAD + b'"nm\nHost: 127.0.0.2 x" -sL -n 127.0.0.1-3\nend\n')
    assert resumption.address is None
    assert warnings == [NOTHING_DONE]


def test_arguments_may_start_on_the_next_line() -> None:
    resumption, _ = parse(HEAD + b"nmap\n-sL 127.0.0.1\nHost: 127.0.0.1 ()\n\n")
    assert resumption.args == ["--append-output", "-sL", "127.0.0.1"]


@pytest.mark.parametrize("tail", [b"nmap", b"nmap ", b"nmap \n-sL\n"])
def test_no_arguments(tail: bytes) -> None:
    assert fatal(HEAD + tail + b"\n") == "Unable to parse supposed log file log.  Sorry"


def test_arguments_line_length_limit() -> None:
    def log(length: int) -> bytes:
        return HEAD + b"nmap " + b"-sL -n 127.0.0.1".ljust(length) + b"\nX\n"

    assert parse(log(4063))[0].args == ["--append-output", "-sL", "-n", "127.0.0.1"]
    assert fatal(log(4064)) == PERHAPS.format("log")


def test_word_count_limit() -> None:
    # "nmap --append-output" and 252 words more make nmap's 254
    def log(flags: int) -> bytes:
        return HEAD + b"nmap -sL 127.0.0.1" + b" -n" * flags + b"\nX\n"

    assert len(parse(log(250))[0].args) == 253
    assert fatal(log(251)) == "Unable to parse supposed log file log.  Sorry"


def test_quotes_in_the_arguments() -> None:
    resumption, _ = parse(HEAD + b"nmap -sL \"a b\"c '' 127.0.0.1\nX\n")
    assert resumption.args == ["--append-output", "-sL", "a b", "c", "", "127.0.0.1"]
    assert fatal(HEAD + b"nmap -sL 'unclosed\nmore\n") == (
        "Unable to parse supposed log file log.  Sorry")


def test_randomize_hosts_warns_before_the_arguments_are_split() -> None:
    warnings = Warnings()
    with pytest.raises(Fatal):
        parse_log(HEAD + b"nmap --randomize-hosts 'x\n\n", "log", warn=warnings)
    assert warnings == [RANDOMIZED]


# -- nmap's XML unescaping ------------------------------------------------------------------

def unescape(text: bytes) -> bytes:
    return xml_unescape(text, text.index(b"-->"))


def test_known_entities() -> None:
    assert unescape(b"&lt;&gt;&amp;&quot;&apos;-&#45; -->") == b"<>&\"'-- "


def test_unknown_entities_lose_the_ampersand_and_gain_their_tail() -> None:
    # nmap resumed "&foo;127.0.0.1 &lt;&#x41;b" as "ofoo;127.0.0.1 <41#x41;b"
    assert unescape(b"&foo;127.0.0.1 &lt;&#x41;b -->") == b"ofoo;127.0.0.1 <41#x41;b "
    assert unescape(b"&nosemicolon -->") == b"nosemicolon "


def test_an_ampersand_at_the_cut_reads_past_it() -> None:
    # as nmap resumed "... 127.0.0.1 &X--> x;y" for X = "ab", "a" and nothing
    assert unescape(b"1 &ab--> x;y") == b"1 ab"
    assert unescape(b"1 &a--> x;y") == b"1 -> xa"
    assert unescape(b"1 &--> x;y") == b"1 > x"


def test_without_a_comment_end_nothing_is_unescaped() -> None:
    resumption, _ = parse(HEAD + b"nmap -sL -n &lt;x&gt;\nX\n")
    assert resumption.args == ["--append-output", "-sL", "-n", "&lt;x&gt;"]


# -- the last host --------------------------------------------------------------------------

def test_grepable_beats_xml_beats_normal() -> None:
    body = (b'<address addr="127.0.0.3" addrtype="ipv4"/>\nNmap scan report for 127.0.0.1\n'
            b"Host: 127.0.0.2 (x)\n\n")
    assert parse(HEAD + b"nmap -sL -n 127.0.0.1-4\n" + body)[0].address == "127.0.0.2"
    body = (b'<address addr="::1" addrtype="ipv6"/>\n<address addr="127.0.0.2" addrtype="ipv4"/>\n'
            b"Nmap scan report for 127.0.0.3\n\n")
    assert parse(HEAD + b"nmap -sL -n 127.0.0.1-4\n" + body)[0].address == "127.0.0.2"


def test_xml_address_of_the_other_family_last() -> None:
    text = HEAD + b'nmap -sL -n 127.0.0.1-2\n<address addr="::1" addrtype="ipv6"/>\n<\n'
    assert fatal(text) == "Unable to parse ip () supposed log file log.  Sorry"


def test_normal_log_with_names() -> None:
    text = capture("resume", "stdout")  # "Nmap scan report for beta.lab.test (127.0.0.3)"
    resumption, _ = parse(HEAD + b"nmap -sT 127.0.0.1-4\n" + text)
    assert resumption.address == "127.0.0.4"
    assert parse(HEAD + b"nmap 127.0.0.1-4\nNmap scan report for beta (127.0.0.3)\n\n")[0].address \
        == "127.0.0.3"


def test_normal_log_paren_last_reads_on() -> None:
    # nmap: "Unable to parse ip (\nmore\nend) in supposed log file log.  Sorry"
    text = HEAD + b"nmap -sL -n 127.0.0.1-4\nNmap scan report for foo (\nmore\nend\n"
    assert fatal(text) == "Unable to parse ip (\nmore\nend) in supposed log file log.  Sorry"
    text = HEAD + b"nmap -sL -n 127.0.0.1-4\nNmap scan report for \nend\n"
    assert fatal(text) == "Unable to parse ip () in supposed log file log.  Sorry"


@pytest.mark.parametrize(("options", "host", "address"), [
    (b"-6 -sL -n ::1 ::2 ::3", b"0:0::2", "::2"),
    (b"-sL -6n ::1 ::2 ::3", b"::2", "::2"),  # "-6" as a prefix is enough
    (b"-6 -4 -sL -n 127.0.0.1-3", b"127.2", "127.0.0.2"),  # the last one counts
])
def test_address_family_from_the_arguments(options: bytes, host: bytes, address: str) -> None:
    assert parse(HEAD + b"nmap " + options + b"\nHost: " + host + b" ()\n\n")[0].address == address


@pytest.mark.parametrize("host", [b"127.0.0.999", b"::1"])
def test_grepable_address_that_does_not_parse(host: bytes) -> None:
    text = HEAD + b"nmap -sL -n 127.0.0.1-4\nHost: " + host + b" ()\n\n"
    assert fatal(text) == f"Unable to parse ip ({host.decode()}) in supposed log file log. Sorry"


# -- the file itself ------------------------------------------------------------------------

def read(tmp_path: Path, content: bytes) -> tuple[Resumption | Fatal, bytes]:
    log = tmp_path / "log"
    log.write_bytes(content)
    warnings = Warnings()
    try:
        result: Resumption | Fatal = read_resume_file(str(log), warn=warnings)
    except Fatal as exc:
        result = exc
    return result, log.read_bytes()


def system_fatal(path: str) -> SystemFatal:
    with pytest.raises(SystemFatal) as caught:
        read_resume_file(path, warn=Warnings())
    return caught.value


def test_missing_file() -> None:
    err = system_fatal("/nonexistent")
    assert err.text == "Could not mmap() /nonexistent file: No such file or directory (2)\n"


def test_empty_file_cannot_be_mapped(tmp_path: Path) -> None:
    (tmp_path / "empty").write_bytes(b"")
    assert system_fatal(str(tmp_path / "empty")).errno == errno.EINVAL


def test_directory(tmp_path: Path) -> None:
    assert system_fatal(str(tmp_path)).errno == errno.EISDIR


@pytest.mark.skipif(not os.path.exists("/sys/kernel/uevent_seqnum"), reason="no sysfs")
def test_a_file_nobody_may_write() -> None:
    # sysfs refuses even root; nmap: "... file: Permission denied (13)"
    assert system_fatal("/sys/kernel/uevent_seqnum").errno == errno.EACCES


def test_too_short_and_left_alone(tmp_path: Path) -> None:
    result, after = read(tmp_path, b"# Nmap 7.93 as: x\n")
    assert isinstance(result, Fatal)
    assert result.message == f"Output file {tmp_path / 'log'} is too short -- no use resuming"
    assert after == b"# Nmap 7.93 as: x\n"


def test_last_byte_becomes_a_newline(tmp_path: Path) -> None:
    content = HEAD + b"nmap -sL -n 127.0.0.1-4\nNmap scan report for 127.0.0.2\nX"
    result, after = read(tmp_path, content)
    assert isinstance(result, Resumption) and result.address == "127.0.0.2"
    assert after == content[:-1] + b"\n"


def test_a_failure_leaves_the_nul(tmp_path: Path) -> None:
    result, after = read(tmp_path, b"01234567890123456789")
    assert isinstance(result, Fatal)
    assert after == b"0123456789012345678\0"


def test_a_bad_grepable_address_keeps_its_nul(tmp_path: Path) -> None:
    content = HEAD + b"nmap -sL -n 127.0.0.1-4\nHost: 127.0.0.1 ()\nHost: 127.0.0.9x ()\nX"
    result, after = read(tmp_path, content)
    assert isinstance(result, Fatal)
    cut = content.rindex(b"9x ") + 2
    assert after == content[:cut] + b"\0" + content[cut + 1 : -1] + b"\0"


def test_the_byte_before_a_named_hosts_newline_becomes_a_paren(tmp_path: Path) -> None:
    content = HEAD + b"nmap -sL -n 127.0.0.1-4\nNmap scan report for foo (127.0.0.2x\nend\n"
    result, after = read(tmp_path, content)
    assert isinstance(result, Resumption) and result.address == "127.0.0.2"
    assert after == content.replace(b"2x\n", b"2)\n")
