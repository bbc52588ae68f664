"""Start-up: what importing a connect scan's modules must leave out.

Each of these costs milliseconds on every run that does not need it (see
pynmap.plain and the lazy imports in dns, render and cli.app).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

NOT_ON_THE_SCAN_PATH = (
    "lxml",  # only the tests validate XML
    "pydantic",  # Typer's optional extras
    "rich",
    "concurrent.futures",  # --system-dns threads
    "ctypes",  # interface listing
    "pynmap.resume",  # --resume
    "pynmap.interfaces",
    "pynmap.report",  # -oJ / --json-lines and the API
    "pynmap.output.jsonout",
    "pynmap.api",  # the Python API: the command line does not go through it
    "pynmap.apiprogress",  # the API's progress= reports
    "pynmap.output.fromreport",  # Report.to_xml/to_normal/to_grepable
    "asyncio",
    "pynmap.probes",  # nmap-service-probes: -sV only
)


def test_a_connect_scan_imports_only_what_it_needs() -> None:
    code = ("import sys, typer, pynmap.cli.app, pynmap.session, pynmap.engine.scan; "
            "print(' '.join(sys.modules))")
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                check=True).stdout.split())
    assert "pynmap.session" in loaded
    assert sorted(loaded.intersection(NOT_ON_THE_SCAN_PATH)) == []


def test_reports_without_json_leave_the_report_model_out(tmp_path: Path) -> None:
    """A list scan writing XML and normal output (-sL -n: nothing is sent) loads
    neither pynmap.report nor the JSON writer; -oJ loads them."""
    code = ("import io, sys; from pynmap.cli.app import run_cli; "
            "status = run_cli(['pynmap', '-sL', '-n', '127.0.0.1', *sys.argv[1:]], "
            "io.StringIO(), io.StringIO(), {}); "
            "print(status, ' '.join(sys.modules))")
    json_modules = {"pynmap.report", "pynmap.output.jsonout", "lxml"}

    def loaded(*args: str) -> set[str]:
        out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True,
                             text=True, check=True, cwd=tmp_path).stdout.split()
        assert out[0] == "0"
        return set(out[1:]) & json_modules

    assert loaded("-oX", "x.xml", "-oN", "x.nmap") == set()
    assert loaded("-oJ", "x.json") == {"pynmap.report", "pynmap.output.jsonout"}


def test_version_options_leave_the_probe_database_unread(tmp_path: Path) -> None:
    """--versiondb and the intensity options are only stored: nothing imports
    pynmap.probes (or reads nmap-service-probes) until a service scan runs."""
    code = ("import io, sys; from pynmap.cli.app import run_cli; "
            "status = run_cli(['pynmap', '-sL', '-n', '-sV', '--versiondb', 'nowhere', "
            "'--version-all', '127.0.0.1'], io.StringIO(), io.StringIO(), {}); "
            "print(status, 'pynmap.probes' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=tmp_path).stdout.split()
    assert out == ["0", "False"]
