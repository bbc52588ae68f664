"""pynmap.api without a network: keywords to argv, nmap's checks, errors, exports.

Nothing here sends a packet: the scans are list scans with -n (-sL -n), and
the failing ones fail before any target is read.
"""

from __future__ import annotations

import asyncio
import doctest
import io
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import pynmap
from pynmap import api
from pynmap.cli.app import run_cli
from pynmap.errors import NmapError

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("options", "words"), [
    ({"top_ports": 100}, ["--top-ports", "100"]),
    ({"max_retries": 2}, ["--max-retries", "2"]),
    ({"timing": 4}, ["-T", "4"]),
    ({"timing": "aggressive"}, ["-T", "aggressive"]),
    ({"skip_discovery": True}, ["-Pn"]),
    ({"skip_discovery": False}, []),
    ({"resolve": "never"}, ["-n"]),
    ({"resolve": "always"}, ["-R"]),
    ({"resolve": "default"}, []),
    ({"exclude": ["198.18.0.1", "198.18.0.9"]}, ["--exclude", "198.18.0.1,198.18.0.9"]),
    ({"host_timeout": "30s", "scan_delay": 0.5}, ["--host-timeout", "30s", "--scan-delay", "0.5"]),
    ({"open_only": True, "reason": True}, ["--open", "--reason"]),
    ({"syn_ping": [22, 80]}, ["-PS22,80"]),
    ({"verbose": 2}, ["-v2"]),
    ({"list_scan": True}, ["-sL"]),
    ({"ping_scan": True}, ["-sn"]),
    ({"privileged": True, "echo_ping": True}, ["--privileged", "-PE"]),
])
def test_keywords_become_nmaps_words(options: dict[str, Any], words: list[str]) -> None:
    assert api.build_argv("198.18.0.1", **options) == ["pynmap", *words, "198.18.0.1"]


def test_targets_and_ports() -> None:
    assert api.build_argv(["198.18.0.1", "198.18.1.0/30"], [22, "80-90"]) == [
        "pynmap", "-p", "22,80-90", "198.18.0.1", "198.18.1.0/30"]


@pytest.mark.parametrize(("targets", "options"), [
    ("198.18.0.1", {"bogus": 1}),  # unknown keyword
    ("198.18.0.1", {"reason": "yes"}),  # a flag takes a bool
    ("198.18.0.1", {"max_retries": True}),  # a value is not a bool
    ("198.18.0.1", {"resolve": "sometimes"}),
    ("198.18.0.1", {"exclude": [1.5]}),
    ([b"198.18.0.1"], {}),  # type: ignore[list-item]
])
def test_wrong_keyword_or_type_is_a_type_error(targets: Any, options: dict[str, Any]) -> None:
    with pytest.raises(TypeError):
        api.build_argv(targets, **options)


def test_a_target_that_reads_as_an_option_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot begin with '-'"):
        api.build_argv(["198.18.0.1", "-oN/tmp/x"])


SAMPLES: dict[str, Any] = {
    "list_scan": True, "ping_scan": True, "skip_discovery": True, "syn_ping": 22,
    "ack_ping": [80, 443], "top_ports": 10, "port_ratio": 0.5, "exclude_ports": "25",
    "fast": True, "allports": True, "exclude": "198.18.0.9", "excludefile": "/dev/null",
    "ipv6": True, "randomize_hosts": True, "resolve": "never", "dns_servers": "198.18.0.53",
    "system_dns": True, "resolve_all": True, "unique": True, "timing": 3,
    "min_hostgroup": 2, "max_hostgroup": 8, "min_parallelism": 1, "max_parallelism": 10,
    "min_rtt_timeout": "50ms", "max_rtt_timeout": "1s", "initial_rtt_timeout": "500ms",
    "max_retries": 3, "host_timeout": "1m", "scan_delay": "10ms", "max_scan_delay": "1s",
    "min_rate": 10, "max_rate": 100.5, "reason": True, "open_only": True, "verbose": 1,
    "interface": "lo", "source_address": "198.18.0.7", "ttl": 64, "datadir": "/tmp",
    "servicedb": "/dev/null", "shard": (0, 2), "seed": 7, "privileged": True,
    "echo_ping": True, "ftp_bounce": "u:p@198.18.0.21:2121",
}


def test_every_keyword_is_an_option_nmap_reads() -> None:
    """Each row of the table spells an option the parser accepts (a typo in a
    spelling is an OptionError here), and sets what its keyword says."""
    assert set(SAMPLES) == set(api.OPTIONS)
    for name, value in SAMPLES.items():
        target = "fd00:18::1" if name == "ipv6" else "198.18.0.1"
        needs = {"shard": "1/2"} if name == "seed" else {}  # a seed without a shard is refused
        api.parse(api.build_argv(target, **{name: value}, **needs))
    o = api.parse(api.build_argv("198.18.0.1", skip_discovery=True, resolve="never",
                                 max_retries=2, timing=4, open_only=True))
    assert (o.ping_none, o.no_resolve, o.timing.max_retries, o.timing.level, o.open_only) == (
        True, True, 2, 4, True)
    assert o.noninteractive  # the API's runs never read a keyboard or take signals
    o = api.parse(api.build_argv("198.18.0.1", ftp_bounce="u:p@198.18.0.21:2121"))
    assert o.bounce is not None and not o.connect_scan  # the bounce scan instead
    assert (o.bounce.user, o.bounce.password, o.bounce.server, o.bounce.port) == (
        "u", "p", "198.18.0.21", 2121)


def _cli(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    status = run_cli(argv, io.StringIO(), err, {})
    return status, err.getvalue()


@pytest.mark.parametrize("options", [
    {"max_retries": -1},
    {"timing": 9},
    {"top_ports": 0},
    {"host_timeout": "soon"},
    {"min_hostgroup": 10, "max_hostgroup": 5},
])
def test_a_bad_value_is_an_option_error_with_the_command_lines_message(
        options: dict[str, Any]) -> None:
    """The message and exit status the command line gives for the same words
    (tests/lab/test_api_scans.py checks them against nmap's)."""
    argv = api.build_argv("198.18.0.1", resolve="never", **options)
    status, stderr = _cli(argv)
    assert status != 0 and stderr
    with pytest.raises(pynmap.OptionError) as caught:
        pynmap.scan("198.18.0.1", resolve="never", **options)
    err = caught.value
    assert isinstance(err, pynmap.Error)
    assert (err.exit_code, err.text) == (status, stderr)
    assert stderr.startswith(err.message)


def test_iterators_and_async_check_options_at_the_call() -> None:
    with pytest.raises(pynmap.OptionError, match="max-retries"):
        pynmap.scan_iter("198.18.0.1", max_retries=-1)
    with pytest.raises(pynmap.OptionError):
        pynmap.scan_async_iter("198.18.0.1", timing=9)

    async def main() -> None:
        with pytest.raises(pynmap.OptionError):
            await pynmap.scan_async("198.18.0.1", timing=9)

    asyncio.run(main())


@pytest.mark.parametrize("options", [
    {"interface": "nosuchdev0"},  # nmap checks the device after its banner
    {"exclude_ports": "99999"},  # and the port lists
    {"ping_scan": True, "fast": True},
])
def test_option_checks_after_the_banner_are_option_errors_too(options: dict[str, Any]) -> None:
    """nmap refuses these after printing its banner, before any target is read:
    still an OptionError, with nmap's text and exit status, as the CLI's."""
    argv = api.build_argv("198.18.0.1", resolve="never", **options)
    status, stderr = _cli(argv)
    assert status != 0 and stderr
    with pytest.raises(pynmap.OptionError) as caught:
        pynmap.scan("198.18.0.1", resolve="never", **options)
    assert (caught.value.exit_code, caught.value.text) == (status, stderr)


def test_list_scan_in_all_forms() -> None:
    """-sL -n sends nothing: the four forms give the hosts the CLI lists, in order."""
    expected = [f"198.18.0.{i}" for i in range(4)]
    seen: list[str] = []
    report = pynmap.scan("198.18.0.0/30", list_scan=True, resolve="never",
                         on_host=lambda h: seen.append(str(h.address)))
    assert [h.address for h in report.hosts] == expected == seen
    assert report.args == "pynmap -sL -n 198.18.0.0/30"  # as the CLI logs it
    assert report.runstats.exit == "success"
    hosts = pynmap.scan_iter("198.18.0.0/30", list_scan=True, resolve="never")
    assert [h.address for h in hosts] == expected

    async def main() -> tuple[pynmap.Report, list[str]]:
        one = await pynmap.scan_async("198.18.0.0/30", list_scan=True, resolve="never")
        two = [str(h.address) async for h in
               pynmap.scan_async_iter("198.18.0.0/30", list_scan=True, resolve="never")]
        return one, two

    one, two = asyncio.run(main())
    assert [h.address for h in one.hosts] == expected == two


def test_scan_iter_returns_the_report() -> None:
    gen = pynmap.scan_iter("198.18.0.0/31", list_scan=True, resolve="never")
    assert [h.address for h in gen] == ["198.18.0.0", "198.18.0.1"]
    gen = pynmap.scan_iter("198.18.0.0/31", list_scan=True, resolve="never")
    with pytest.raises(StopIteration) as stop:
        while True:
            next(gen)
    assert isinstance(stop.value.value, pynmap.Report)


def test_run_is_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert pynmap.run(["-sL", "-n", "198.18.0.0/31"]) == 0
    out = capsys.readouterr().out
    assert "Nmap scan report for 198.18.0.1" in out
    assert pynmap.run(["--max-retries", "-1", "198.18.0.1"]) == 1
    assert capsys.readouterr().err == "max-retries must be positive\nQUITTING!\n"


def test_exports_and_a_cheap_import() -> None:
    for name in pynmap.__all__:
        assert getattr(pynmap, name) is not None
    assert pynmap.Error is NmapError
    code = "import sys, pynmap; print(' '.join(sys.modules))"
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                check=True).stdout.split())
    assert not loaded & {"pynmap.api", "pynmap.report", "asyncio", "pynmap.session"}


def readme_example() -> str:
    """The README's API example (the first python block after "## API")."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("\n## API"):]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found is not None
    return found.group(1)


def readme_doctests() -> str:
    """The README's API section, whose `>>>` examples are doctests (a code
    fence ends an example's expected output, as a blank line would)."""
    text = (ROOT / "README.md").read_text()
    start = text.index("\n## API")
    section = text[start:text.index("\n## ", start + 1)]
    return re.sub(r"^```.*$", "", section, flags=re.M)


DOCTEST_PROGRAM = """
import doctest, sys
test = doctest.DocTestParser().get_doctest(sys.argv[1], {}, "README", "README.md", 0)
runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
runner.run(test)
print(runner.summarize(verbose=False))
"""


def test_readme_doctests_name_every_method() -> None:
    """They run in tests/lab/test_api_scans.py, in a namespace; here: they are
    there, and show each form and each rendering."""
    section = readme_doctests()
    examples = doctest.DocTestParser().get_examples(section)
    assert len(examples) >= 8
    code = "".join(e.source for e in examples)
    for name in ("progress=", "to_normal()", "to_grepable()", "to_xml()", "from_xml(",
                 "scan_iter(", ".warnings"):
        assert name in code, name
    for name in ("to_json()", "scan_async(", "scan_async_iter(", "pynmap.Progress"):
        assert name in section, name


def test_readme_example_compiles() -> None:
    """It runs in tests/lab/test_api_scans.py, in a namespace; here it must compile."""
    compile(readme_example(), "README.md", "exec")


def test_a_keyboard_interrupt_stays_a_keyboard_interrupt() -> None:
    """Ctrl-C during scan() (here raised from the progress callback) reaches the
    caller as KeyboardInterrupt, not as the CLI's Interrupted(signal)."""
    def interrupt(_host: pynmap.Host) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pynmap.scan("198.18.0.0/30", list_scan=True, resolve="never", on_host=interrupt)


def test_an_exception_in_on_host_reaches_the_caller() -> None:
    def broken(_host: pynmap.Host) -> None:
        raise LookupError("from the callback")

    with pytest.raises(LookupError, match="from the callback"):
        pynmap.scan("198.18.0.0/30", list_scan=True, resolve="never", on_host=broken)


def test_warnings_are_in_the_report_not_in_its_json() -> None:
    """-sL -n sends nothing.  The bad word's warning is the Report's (the lab
    test tests/lab/test_api_warnings.py checks such lines against nmap's);
    the JSON holds what the XML holds, so not the warnings."""
    report = pynmap.scan(["198.18.0.0/31", "198.18.0.9/x"], list_scan=True, resolve="never")
    assert report.warnings == ('Unable to split netmask from target expression: "198.18.0.9/x"',)
    assert "warnings" not in report.to_dict()
    assert pynmap.Report.from_json(report.to_json()).warnings == ()
