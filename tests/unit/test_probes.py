"""pynmap.probes: nmap-service-probes parsed, its patterns compiled, its templates filled,
its probes chosen (the differential twin, tests/differential/test_service_probes.py,
checks the probe order and the parse errors against nmap itself)."""

from __future__ import annotations

import functools
import os
import re
import re._parser as sre_parse  # re's own reading of a pattern: the oracle for literal_needs
import warnings
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pynmap import probes as probes_module
from pynmap.errors import SystemFatal
from pynmap.probes import (
    ANYTHING,
    Match,
    Needs,
    ProbeDB,
    ProbeFileError,
    ReadAhead,
    VersionInfo,
    compile_all,
    cstring_unescape,
    find_probe_db,
    literal_needs,
    load_probes,
    parse_match,
    parse_probes,
    port_is_excluded,
    probe_sequence,
    substitute,
    translate_pcre,
    version_info,
    version_intensity,
)
from pynmap.services import DataFiles, bundled_data_dir


def bundled_path() -> str:
    directory = bundled_data_dir()
    assert directory is not None
    return f"{directory}/nmap-service-probes"


@functools.cache
def bundled() -> ProbeDB:
    return load_probes(bundled_path())


# --- the bundled file --------------------------------------------------------------------------

def test_every_pattern_of_the_bundled_file_compiles_and_is_counted() -> None:
    lines = Path(bundled_path()).read_bytes().split(b"\n")
    # an independent count: the lines that start with the directive
    n_probes = sum(line.startswith(b"Probe ") for line in lines)
    n_matches = sum(line.startswith((b"match ", b"softmatch ")) for line in lines)
    n_soft = sum(line.startswith(b"softmatch ") for line in lines)
    db = load_probes(bundled_path())  # a fresh copy: nothing compiled yet
    everything = [p for p in (db.null_probe, *db.probes) if p is not None]
    assert len(everything) == n_probes == 148
    assert sum(len(p.matches) for p in everything) == n_matches == 11917
    assert sum(m.soft for p in everything for m in p.matches) == n_soft
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # re's FutureWarnings (nested sets...) would be errors
        assert compile_all(db) == n_matches


def test_patterns_compile_per_probe_on_first_use() -> None:
    db = parse_probes(Path(bundled_path()).read_bytes())
    assert all(not p._compiled for p in db.probes)
    get = db.probe_by_name("GetRequest", "TCP")
    assert get is not None
    patterns = get.compiled()
    assert len(patterns) == len(get.matches) > 1000
    assert get.compiled() is patterns  # not compiled twice
    assert sum(bool(p._compiled) for p in db.probes) == 1


def test_bundled_facts() -> None:
    db = bundled()
    assert db.null_probe is not None and db.null_probe.name == "NULL"
    assert db.null_probe.totalwaitms == 6000
    get = db.probe_by_name("GetRequest", "TCP")
    assert get is not None and get.payload == b"GET / HTTP/1.0\r\n\r\n"
    assert get.rarity == 1 and 80 in get.ports and 443 in get.sslports
    # a UDP probe's fallback name resolves to the TCP probe of that name (nmap's second pass)
    dns_tcp = db.probe_by_name("DNSVersionBindReqTCP", "TCP")
    assert dns_tcp is not None
    chain = db.fallbacks[("TCP", dns_tcp.name)]
    assert [p.name for p in chain] == ["DNSVersionBindReqTCP", "DNSVersionBindReq", "NULL"]
    assert port_is_excluded(db, 9100) and port_is_excluded(db, 9107)
    assert not port_is_excluded(db, 9108) and not port_is_excluded(db, 9100, allports=True)
    assert not port_is_excluded(db, 9100, protocol="UDP")  # T:9100-9107


def test_ssh_banner_gives_product_version_and_cpe() -> None:
    banner = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"
    null = bundled().null_probe
    assert null is not None
    first = next((m, f) for m, p in zip(null.matches, null.compiled(), strict=True)
                 if (f := p.search(banner)) is not None)
    match, found = first
    assert not match.soft and match.service == "ssh"
    info = version_info(match, found)
    assert (info.product, info.version, info.info) == (
        b"OpenSSH", b"9.2p1 Debian 2+deb12u3", b"protocol 2.0")
    assert info.ostype == b"Linux"
    assert info.cpes == (b"cpe:/a:openbsd:openssh:9.2p1", b"cpe:/o:linux:linux_kernel")


# --- literal needs: the patterns a response cannot match are neither compiled nor searched ---

def _top_level_literals(pattern: bytes, flags: int) -> tuple[bool, list[bytes]]:
    """re's parse of `pattern`: whether it starts with ^, and its runs of
    consecutive top-level literals (the text every match must contain; the
    first is where the match starts when it directly follows the ^)."""
    items = list(sre_parse.parse(pattern.decode("latin-1"), flags))
    anchored = bool(items) and items[0] == (sre_parse.AT, sre_parse.AT_BEGINNING)
    runs: list[bytes] = []
    current = bytearray()
    for op, value in items:
        if op is sre_parse.LITERAL:
            current.append(value)
            continue
        runs.append(bytes(current))
        current = bytearray()
    runs.append(bytes(current))
    return anchored, runs


def test_literal_needs_of_every_bundled_pattern_agree_with_res_parser() -> None:
    db = parse_probes(Path(bundled_path()).read_bytes())
    informative = 0
    for probe in (db.null_probe, *db.probes):
        assert probe is not None
        for match in probe.matches:
            pattern = translate_pcre(match.pattern)
            needs = literal_needs(pattern, ignorecase=match.ignorecase)
            anchored, runs = _top_level_literals(
                pattern, (re.IGNORECASE if match.ignorecase else 0)
                | (re.DOTALL if match.dotall else 0))
            if match.ignorecase:
                runs = [run.lower() for run in runs]
            if needs.prefix:
                # the prefix: the literals that directly follow the leading ^
                assert anchored and runs[1].startswith(needs.prefix), pattern
            for text in needs.inner:
                assert any(text in run for run in runs), pattern
            assert needs.folded == match.ignorecase
            informative += needs != ANYTHING
    # the point of it: nearly every pattern names text of its own
    assert informative > 11800


@pytest.mark.parametrize(("pattern", "needs"), [
    (rb"^SSH-([\d.]+)-OpenSSH_", Needs(b"SSH-", (b"-OpenSSH_",))),
    (rb"^ab?c", Needs(b"a", (b"c",))),  # a repeated character may be missing
    (rb"^ab{2,}c\x41*d", Needs(b"a", (b"c", b"d"))),
    (rb"^a{}b", Needs(b"", (b"b",))),  # (re reads {} as text: left out all the same)
    (rb"^a|b", ANYTHING),  # the ^ and the text hold for one alternative only
    (rb"x(a|b)y[|)(]z", Needs(b"", (b"x", b"y", b"z"))),  # inside groups and sets: nothing
    (rb"^\x41\0\012\.\r\n\-\\", Needs(b"A\0\n.\r\n-\\")),
    (rb"^(\d+)\1z\123", Needs(b"", (b"z",))),  # a back-reference, an octal escape
    (rb"a\sb\Bc\Zd", Needs(b"", (b"a", b"b", b"c", b"d"))),
    (rb"(?i)abc", ANYTHING),  # inline flags change what the text means
    (rb"(?#note)abc", ANYTHING),
    (rb"ab)c", ANYTHING),
    (rb"(ab", ANYTHING),
])
def test_literal_needs_read_conservatively(pattern: bytes, needs: Needs) -> None:
    assert literal_needs(pattern) == needs


def test_a_case_insensitive_pattern_needs_its_text_in_any_case() -> None:
    needs = literal_needs(rb"^Server: (\S+) HTTPd", ignorecase=True)
    assert needs == Needs(b"server: ", (b" httpd",), folded=True)
    data = b"SERVER: x HttpD"
    assert needs.admits(data, data.lower())
    assert not literal_needs(rb"^Server: ").admits(data, data.lower())


# fragments of patterns: text, escapes, sets, groups, repeats, anchors, alternatives
_FRAGMENTS = st.sampled_from([
    b"a", b"b", b"ab", b"A", b"\\x41", b"\\0", b"\\.", b".", b"[ab]", b"[^a]", b"\\d",
    b"?", b"*", b"+", b"{2}", b"{1,2}", b"(a|b)", b"(?:ab)?", b"|", b"$", b"^", b"\\b", b"\\n",
])


@settings(max_examples=300, deadline=None)
@given(fragments=st.lists(_FRAGMENTS, min_size=1, max_size=8), ignorecase=st.booleans(),
       data=st.data())
def test_no_pattern_matches_what_its_needs_rule_out(
        fragments: list[bytes], ignorecase: bool, data: st.DataObject) -> None:
    pattern = b"".join(fragments)
    try:
        compiled = re.compile(pattern)
    except re.error:
        return
    text = data.draw(st.from_regex(compiled))
    if ignorecase:
        # (hypothesis draws no bytes for a case-insensitive pattern:) any case of a match
        flips = data.draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
        text = bytes(c ^ 0x20 if flip and chr(c).isascii() and chr(c).isalpha() else c
                     for c, flip in zip(text, flips, strict=True))
        compiled = re.compile(pattern, re.IGNORECASE)
        assume(compiled.search(text) is not None)
    assert compiled.search(text) is not None
    assert literal_needs(pattern, ignorecase=ignorecase).admits(text, text.lower())


def test_a_banner_compiles_a_few_of_the_null_probes_patterns() -> None:
    db = parse_probes(Path(bundled_path()).read_bytes())
    null = db.null_probe
    assert null is not None
    banner = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"
    found = next(i for i in range(len(null.matches))
                 if null.search(i, banner, banner.lower()) is not None)
    # the same first match as compiling and searching every pattern in order
    assert found == next(i for i, p in enumerate(load_probes(bundled_path()).null_probe.compiled())
                         if p.search(banner))
    compiled = sum(p is not None for p in null._compiled)
    assert 0 < compiled < 60 < found


# --- parsing hand-written files ---------------------------------------------------------------

SMALL = b"""\
# comment
Exclude 10,T:20-21,U:53
Probe TCP NULL q||
totalwaitms 6000
tcpwrappedms 3000
match ftp m|^220 (\\S+) ready\\r\\n| p/Test FTP/ h/$1/ cpe:/a:test:ftp/
softmatch ftp m/^220/

Probe TCP Two q|a\\0b\\x41\\\\\\r\\n\\t| no-payload
rarity 8
ports 1-3, 7 ,9
sslports 443
fallback One
match two m=^x=is v/1/ v/2/

Probe UDP One q|one|
Probe TCP One q|1|
"""


def test_a_small_file_parses_into_frozen_objects() -> None:
    db = parse_probes(SMALL)
    assert db.has_exclude
    assert sorted(db.excluded) == [("TCP", 10), ("TCP", 20), ("TCP", 21), ("UDP", 10),
                                   ("UDP", 53)]
    null = db.null_probe
    assert null is not None and null.is_null and null.line == 3
    assert (null.totalwaitms, null.tcpwrappedms, null.rarity) == (6000, 3000, 5)
    hard, soft = null.matches
    assert (hard.soft, hard.service, hard.pattern, hard.line) == (False, "ftp",
                                                                   rb"^220 (\S+) ready\r\n", 6)
    assert hard.product == b"Test FTP" and hard.hostname == b"$1"
    assert hard.cpe == (b"cpe:/a:test:ftp",)
    assert soft.soft and soft.product is None
    two = db.probes[0]
    assert two.payload == b"a\0bA\\\r\n\t" and two.options == b"no-payload"
    assert two.ports == frozenset({1, 2, 3, 7, 9}) and two.sslports == frozenset({443})
    assert two.rarity == 8 and two.services == frozenset({"two"})
    (m,) = two.matches
    assert m.pattern == b"^x" and m.ignorecase and m.dotall and m.version == b"2"
    with pytest.raises(AttributeError):
        two.rarity = 1  # type: ignore[misc]
    # fallback by name: same protocol first; TCP chains end with NULL
    assert [(p.protocol, p.name) for p in db.fallbacks[("TCP", "Two")]] == [
        ("TCP", "Two"), ("TCP", "One"), ("TCP", "NULL")]
    assert [p.name for p in db.fallbacks[("UDP", "One")]] == ["One"]


def test_rarity_is_read_as_a_c_int() -> None:
    db = parse_probes(b"Probe TCP x q|a|\nrarity 4294967297\n")
    assert db.probes[0].rarity == 1
    with pytest.raises(ProbeFileError) as caught:
        parse_probes(b"Probe TCP x q|a|\nrarity 2147483648\n")
    assert caught.value.message == ("setRarity: Rarity directive on line 2 of "
                                    "nmap-service-probes must be between 1 and 9")


def test_templates_take_any_delimiter_and_cpe_keeps_its_prefix() -> None:
    m = parse_match(b"match x m|a/b| p=P/Q= i%1% cpe:|h:x:y|a o/L/\n", 9)
    assert m.pattern == b"a/b" and m.product == b"P/Q" and m.info == b"1"
    assert m.cpe == (b"cpe:/h:x:y",) and m.ostype == b"L"


def test_long_lines_are_read_in_fgets_pieces() -> None:
    # nmap 7.93 reads 2047 bytes at a time: the rest of a long line is a line of its own
    text = b"Probe TCP x q|a|\nmatch a m/" + b"b" * 2100 + b"/\n"
    with pytest.raises(ProbeFileError) as caught:
        parse_probes(text, "f")
    assert caught.value.message == (
        "next_template: parse error on line 2 of nmap-service-probes")


def test_unreadable_file_is_nmaps_pfatal(tmp_path: Path) -> None:
    with pytest.raises(SystemFatal) as caught:
        load_probes(str(tmp_path / "missing"))
    assert caught.value.text == (f"Failed to open nmap-service-probes file {tmp_path}/missing "
                                 "for reading: No such file or directory (2)\n")


def test_the_file_is_found_as_nmap_finds_data_files(tmp_path: Path) -> None:
    own = tmp_path / "mine"
    own.write_bytes(SMALL)
    files = DataFiles(warn=print, requested={"nmap-service-probes": str(own)}, environ={},
                      home_dirs=[])
    assert find_probe_db(files).probes[0].name == "Two"
    assert files.loaded == {"nmap-service-probes": str(own)}
    (tmp_path / "nmap-service-probes").write_bytes(SMALL)
    files = DataFiles(warn=print, datadir=str(tmp_path), environ={}, home_dirs=[])
    assert find_probe_db(files).null_probe is not None
    files = DataFiles(warn=print, environ={}, home_dirs=[])  # the bundled copy
    assert len(find_probe_db(files).probes) == 147
    files = DataFiles(warn=print, environ={}, home_dirs=[], search_dirs=[])
    with pytest.raises(ProbeFileError) as caught:
        find_probe_db(files)
    assert caught.value.message == (
        "Service scan requested but I cannot find nmap-service-probes file.")


# --- the parse cache: what the parse made, read back only for the very same file ---

@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "pynmap"


def _counting_parses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    parses: list[int] = []
    real = probes_module.parse_probes

    def parse(data: bytes, filename: str = "") -> ProbeDB:
        parses.append(len(data))
        return real(data, filename)
    monkeypatch.setattr(probes_module, "parse_probes", parse)
    return parses


def _everything(db: ProbeDB) -> tuple[object, ...]:
    """All a database says, the literal needs of every pattern included."""
    every = [p for p in (db.null_probe, *db.probes) if p is not None]
    return (db, db.fallbacks,
            [[p.needs_of(i) for i in range(len(p.matches))] for p in every])


def test_the_parse_cache_gives_what_the_parse_gives(
        cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "nmap-service-probes"
    copy.write_bytes(Path(bundled_path()).read_bytes())
    parses = _counting_parses(monkeypatch)
    first = load_probes(str(copy))
    assert len(parses) == 1 and len(list(cache.iterdir())) == 1
    again = load_probes(str(copy))
    assert len(parses) == 1  # read back, not parsed
    assert _everything(again) == _everything(first)
    assert _everything(first) == _everything(parse_probes(copy.read_bytes()))


def test_the_parse_cache_is_not_read_for_another_file_or_another_pynmap(
        cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "nmap-service-probes"
    text = Path(bundled_path()).read_bytes()
    copy.write_bytes(text)
    parses = _counting_parses(monkeypatch)
    load_probes(str(copy))
    # the file changed (same size and inode: an edit in place, a later mtime)
    copy.write_bytes(text.replace(b"q|GET / HTTP/1.0", b"q|GET / HTTP/1.1", 1))
    os.utime(copy, ns=(1, 10**18))

    def payload() -> bytes:
        get = load_probes(str(copy)).probe_by_name("GetRequest", "TCP")
        assert get is not None
        return get.payload
    assert payload().startswith(b"GET / HTTP/1.1")
    assert len(parses) == 2
    # damaged: parsed again, and rewritten
    for entry in cache.iterdir():
        entry.write_bytes(b"\x00garbage")
    assert payload().startswith(b"GET / HTTP/1.1")
    assert payload().startswith(b"GET / HTTP/1.1")
    assert len(parses) == 3
    # made by another probes.py (or another Python)
    real_key = probes_module._cache_key
    monkeypatch.setattr(probes_module, "_cache_key", lambda st: (*real_key(st), 1))
    load_probes(str(copy))
    assert len(parses) == 4


def test_an_unwritable_cache_only_costs_a_parse(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # a file: no directory can be made
    db = load_probes(bundled_path())
    assert db == bundled() and db.fallbacks == bundled().fallbacks


def test_small_and_bad_files_are_not_cached(cache: Path, tmp_path: Path) -> None:
    small = tmp_path / "small"
    small.write_bytes(SMALL)
    assert load_probes(str(small)).probes[0].name == "Two"
    bad = tmp_path / "bad"
    bad.write_bytes(Path(bundled_path()).read_bytes() + b"rarity 0\n")
    with pytest.raises(ProbeFileError):
        load_probes(str(bad))
    assert not cache.exists()


# --- read ahead: parsed while the port scan runs, used only if it is the file nmap reads ---

def _counting_loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths find_probe_db reads itself (rather than taking what was read ahead)."""
    read: list[str] = []
    real = probes_module.load_probes

    def load(path: str) -> ProbeDB:
        read.append(path)
        return real(path)
    monkeypatch.setattr(probes_module, "load_probes", load)
    return read


def test_what_was_read_ahead_is_used_for_the_same_unchanged_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    own = tmp_path / "mine"
    own.write_bytes(SMALL)

    def files() -> DataFiles:
        return DataFiles(warn=print, requested={"nmap-service-probes": str(own)}, environ={},
                         home_dirs=[])

    read = _counting_loads(monkeypatch)
    db = find_probe_db(files(), ReadAhead(files()))
    assert read == [] and db == parse_probes(SMALL)
    # changed after it was read ahead: read again, as nmap reads it at the service scan
    ahead = ReadAhead(files())
    ahead._thread.join()
    own.write_bytes(SMALL.replace(b"Probe TCP Two", b"Probe TCP New"))
    os.utime(own, ns=(1, 1))
    assert find_probe_db(files(), ahead).probes[0].name == "New"
    assert read == [str(own)]


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_bad_file_read_ahead_fails_where_nmap_fails(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad"
    bad.write_bytes(b"Probe TCP x q|a|\nrarity 0\n")
    files = DataFiles(warn=print, requested={"nmap-service-probes": str(bad)}, environ={},
                      home_dirs=[])
    ahead = ReadAhead(files)
    ahead._thread.join()
    assert capsys.readouterr() == ("", "")  # the thread says nothing
    with pytest.raises(ProbeFileError) as caught:
        find_probe_db(files, ahead)
    assert caught.value.message == ("setRarity: Rarity directive on line 2 of "
                                    "nmap-service-probes must be between 1 and 9")


def test_reading_ahead_gives_no_warning_or_debug_line_of_its_own(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a ./nmap-service-probes that nmap does not use: its warning, and -d2's line,
    # come once, when the service scan looks for the file
    data = tmp_path / "data"
    data.mkdir()
    (data / "nmap-service-probes").write_bytes(SMALL)
    (tmp_path / "nmap-service-probes").write_bytes(SMALL)
    monkeypatch.chdir(tmp_path)
    said: list[str] = []
    files = DataFiles(warn=said.append, search_dirs=[str(data)], environ={}, home_dirs=[],
                      debugging=2, plain_log=said.append)
    ahead = ReadAhead(files)
    ahead._thread.join()
    assert said == []
    find_probe_db(files, ahead)
    assert said == [
        f"Warning: File ./nmap-service-probes exists, but Nmap is using {data}/nmap-service-probes"
        " for security and consistency reasons.  set NMAPDIR=. to give priority to files in"
        " your local directory (may affect the other data files too).",
        f"Fetchfile found {data}/nmap-service-probes"]
    assert files.loaded == {"nmap-service-probes": f"{data}/nmap-service-probes"}


def test_probe_string_escapes() -> None:
    assert cstring_unescape(rb"\0\n\r\t\\\x00\xfF") == b"\0\n\r\t\\\0\xff"
    for bad in (rb"\a", rb"\x4", rb"\xg0", b"\\"):
        assert cstring_unescape(bad) is None


def test_pcre_constructs_python_reads_otherwise() -> None:
    assert translate_pcre(rb"a\z") == rb"a\Z"
    assert re.search(translate_pcre(rb"a\Z"), b"xa\n") and not re.search(rb"a\Z", b"xa\n")
    assert translate_pcre(rb"(?<v>\d+)") == rb"(?P<v>\d+)"
    assert translate_pcre(rb"(?<=a)(?<!b)") == rb"(?<=a)(?<!b)"  # look-behinds stay
    assert re.fullmatch(translate_pcre(rb"[[:alpha:][:digit:]_]+"), b"aZ9_")
    assert translate_pcre(rb"\\z") == rb"\\z"  # an escaped backslash, then z


# --- template substitution --------------------------------------------------------------------

def fill(pattern: bytes, subject: bytes, template: bytes, size: int = 80,
         cpe: bool = False) -> bytes | None:
    m = re.search(pattern, subject, re.S)
    assert m is not None
    return substitute(template, m, size, cpe=cpe)


def test_plain_captures_and_trimming() -> None:
    assert fill(rb"(\w+) (\w+)", b"foo bar", b"$2-$1") == b"bar-foo"
    assert fill(rb"(\w+) (\w+)", b"foo bar", b"$12") == b"foo2"  # one digit only
    assert fill(rb"(a)(b)?", b"a", b"x $1, \t,") == b"x a"  # trailing space and commas go
    assert fill(rb"(a)", b"a", b"$0") is None
    assert fill(rb"(a)", b"a", b"$2") is None  # no such group
    assert fill(rb"(a)(b)?", b"a", b"$2") is None  # unset group
    assert fill(rb"(a.c)", b"a\0c", b"<$1>") == b"<a>"  # a value ends at its NUL (strlen)
    assert fill(rb"(a)", b"a", b"cost $ 5") is None  # a lone $ is no variable
    assert fill(rb"(a)", b"a", b"$Q(1)") is None  # unknown command


def test_printable_only() -> None:
    assert fill(rb"^(.*)$", b"W\0O\0R\0K\x01\xff", b"$P(1)") == b"WORK"
    assert fill(rb"(.*)", b"ab", b"$P(1,2)") is None
    assert fill(rb"(.*)", b"ab", b"$P( 0x1 )") == b"ab"  # strtol base 0, spaces allowed


def test_subst() -> None:
    assert fill(rb"([\d_]+)", b"1_2_3", b'$SUBST(1,"_",".")') == b"1.2.3"
    assert fill(rb"(\w+)", b"a_b", b'v$SUBST(1, "_", "\\x2d")!') == b"va-b!"
    assert fill(rb"(\w+)", b"abc", b'$SUBST(1,"b")') is None


def test_integers() -> None:
    assert fill(rb"(..)", b"\x01\x02", b'$I(1,">")') == b"258"
    assert fill(rb"(..)", b"\x01\x02", b'$I(1,"<")') == b"513"
    assert fill(rb"(.{8})", b"\xff" * 8, b'$I(1,">")') == b"18446744073709551615"
    assert fill(rb"(.{9})", b"\x00" * 9, b'$I(1,">")') is None  # more than 8 bytes
    assert fill(rb"(..)", b"ab", b'$I(1,"=")') is None


def test_buffer_limits() -> None:
    # nmap's checks leave room for its NUL, and one byte more after a substitution
    assert fill(rb"(a+)", b"a" * 78, b"$1", size=80) == b"a" * 78
    assert fill(rb"(a+)", b"a" * 79, b"$1", size=80) is None
    assert fill(rb"(a)", b"a", b"x" * 79, size=80) == b"x" * 79
    assert fill(rb"(a)", b"a", b"x" * 80, size=80) is None


def test_cpe_values_are_escaped() -> None:
    assert fill(rb"(.*)", b"My Server:2/b", b"cpe:/a:x:$1", cpe=True) == (
        b"cpe:/a:x:my_server%3A2%2Fb")
    match = parse_match(b"match x m/(\\S+) (\\S+)/ p/$1/ cpe:/a:v:$1/ cpe:/a:w:$2/ "
                        b"cpe:/q:bad/ cpe:/o:$3/\n", 1)
    found = re.search(match.pattern, b"A B")
    assert found is not None
    info = version_info(match, found)
    # a later CPE of the same part replaces the first; an unknown part is skipped;
    # a failed one is empty and named
    assert (info.product, info.cpe_a, info.cpe_o) == (b"A", b"cpe:/a:w:b", b"")
    assert info.failed == ("cpe_o",)


def test_version_info_failures_leave_the_field_empty() -> None:
    match = Match(soft=False, service="x", pattern=b"(a)", product=b"$1" * 80, version=b"$1")
    found = re.search(b"(a)", b"a")
    assert found is not None
    info = version_info(match, found)
    assert (info.product, info.version, info.failed) == (b"", b"a", ("product",))


# --- probe selection --------------------------------------------------------------------------

CHOICE = b"""\
Probe TCP NULL q||
match ssh m/^SSH/
Probe TCP Common q|c|
rarity 1
match http m/^HTTP/
Probe TCP Rare q|r|
rarity 9
ports 80
match ftp m/^220/
Probe TCP Mid q|m|
rarity 5
sslports 443
softmatch ftp m/^2/
Probe UDP Dgram q|d|
rarity 1
ports 53
"""


def names(db: ProbeDB, port: int, **kw: object) -> list[str]:
    return [p.name for p in probe_sequence(db, port, **kw)]  # type: ignore[arg-type]


def test_probes_for_a_port() -> None:
    db = parse_probes(CHOICE)
    assert names(db, 80) == ["NULL", "Rare", "Common", "Mid"]  # listed first, rarity ignored
    assert names(db, 81) == ["NULL", "Common", "Mid"]
    assert names(db, 81, intensity=2) == ["NULL", "Common"]
    assert names(db, 81, intensity=0) == ["NULL"]
    assert names(db, 81, intensity=9) == ["NULL", "Common", "Rare", "Mid"]
    assert names(db, 443, ssl=True, intensity=2) == ["NULL", "Mid", "Common"]
    assert names(db, 443, intensity=2) == ["NULL", "Common"]  # sslports count through SSL only
    assert names(db, 53, protocol="UDP", intensity=0) == ["Dgram"]  # no NULL probe for UDP
    # after a softmatch of ftp: only probes that can match ftp, whatever their rarity
    assert names(db, 81, softmatched="ftp", intensity=2) == ["NULL", "Rare", "Mid"]
    assert names(db, 80, softmatched="ftp") == ["NULL", "Rare", "Mid"]
    assert names(db, 81, softmatched="ftp", intensity=9) == ["NULL", "Common", "Rare", "Mid"]


def test_intensity_shorthands() -> None:
    assert version_intensity() == 7
    assert version_intensity(light=True) == 2
    assert version_intensity(all_probes=True) == 9
    assert version_intensity(4, light=True) == 4


def test_bundled_port_80_at_each_intensity() -> None:
    db = bundled()
    counts = [len(probe_sequence(db, 80, intensity=i)) for i in range(10)]
    assert counts == sorted(counts) and counts[7] == 30  # 30: nmap's --version-trace
    rarities = {p.name: p.rarity for p in db.probes}
    listed = {p.name for p in db.probes if 80 in p.ports and p.protocol == "TCP"}
    for intensity in (0, 2, 7, 9):
        for name in names(db, 80, intensity=intensity)[1:]:
            assert name in listed or rarities[name] <= intensity


def test_a_later_match_replaces_only_the_fields_it_fills() -> None:
    # nmap's processMatch copies a match's product, version, ... only where the
    # match filled them: a softmatch's hostname survives the hard match after it
    soft = VersionInfo(product=b"Soft", hostname=b"h.example", cpe_o=b"cpe:/o:linux")
    hard = VersionInfo(product=b"Hard", version=b"2", cpe_a=b"cpe:/a:x")
    assert hard.over(soft) == VersionInfo(product=b"Hard", version=b"2", hostname=b"h.example",
                                          cpe_a=b"cpe:/a:x", cpe_o=b"cpe:/o:linux")
    assert VersionInfo().over(soft) == soft
