"""pynmap: a drop-in replacement for nmap -sT (the TCP connect scan), and its Python API.

The command line is `pynmap` (or `python -m pynmap`), with nmap's own options.
As a library: `pynmap.scan(...)` returns a `Report` (see pynmap.api), and the
report's objects (`Host`, `Port`, `State`...) are those of pynmap.report.

The API's names are loaded when first used (module __getattr__), so `import
pynmap` stays cheap and the command line does not pay for what it does not use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# The nmap release whose behaviour pynmap reproduces (banner, XML version).
NMAP_VERSION = "7.93"

__all__ = [
    "NMAP_VERSION",
    "Address",
    "Error",
    "ExtraPorts",
    "ExtraReasons",
    "Host",
    "HostState",
    "Hostname",
    "MergeError",
    "OptionError",
    "Port",
    "Progress",
    "Protocol",
    "Reason",
    "Report",
    "ReportError",
    "RunStats",
    "ScanInfo",
    "Service",
    "Shard",
    "State",
    "Target",
    "Times",
    "__version__",
    "merge_reports",
    "run",
    "scan",
    "scan_async",
    "scan_async_iter",
    "scan_iter",
]

# where each lazily loaded name lives
_HOME = {
    "scan": "pynmap.api",
    "scan_iter": "pynmap.api",
    "scan_async": "pynmap.api",
    "scan_async_iter": "pynmap.api",
    "run": "pynmap.api",
    "merge_reports": "pynmap.merge",
    "MergeError": "pynmap.merge",
    "Error": "pynmap.errors",
    "OptionError": "pynmap.errors",
    "Report": "pynmap.report",
    "Host": "pynmap.report",
    "Port": "pynmap.report",
    "Service": "pynmap.report",
    "Address": "pynmap.report",
    "Hostname": "pynmap.report",
    "ExtraPorts": "pynmap.report",
    "ExtraReasons": "pynmap.report",
    "RunStats": "pynmap.report",
    "ScanInfo": "pynmap.report",
    "Target": "pynmap.report",
    "Times": "pynmap.report",
    "Shard": "pynmap.report",
    "State": "pynmap.report",
    "HostState": "pynmap.report",
    "Reason": "pynmap.report",
    "Protocol": "pynmap.report",
    "ReportError": "pynmap.report",
    "Progress": "pynmap.apiprogress",
}

if TYPE_CHECKING:
    from pynmap.api import run, scan, scan_async, scan_async_iter, scan_iter
    from pynmap.apiprogress import Progress
    from pynmap.errors import Error, OptionError
    from pynmap.merge import MergeError, merge_reports
    from pynmap.report import (
        Address,
        ExtraPorts,
        ExtraReasons,
        Host,
        Hostname,
        HostState,
        Port,
        Protocol,
        Reason,
        Report,
        ReportError,
        RunStats,
        ScanInfo,
        Service,
        Shard,
        State,
        Target,
        Times,
    )


def __getattr__(name: str) -> Any:
    import importlib

    module = _HOME.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'pynmap' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
