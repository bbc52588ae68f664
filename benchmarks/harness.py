"""Side-by-side timing of nmap and pynmap: the machinery every workload shares.

A workload is a command line (plus optional stdin) run by both programs in
a network namespace the caller owns.  The two programs take turns, round
after round, so a slow patch of the machine hurts both alike.  Each run's
wall time comes from a monotonic clock around spawn and reap.  Peak RSS
comes from GNU time (`/usr/bin/time -f %M`, Debian package `time`), which
forks the program from a 1 MiB process: the rusage of a child forked from
this Python process would count the pages it shared with us before exec()
(Linux carries the pre-exec high-water mark over), about 30 MiB of noise.
Without GNU time the wait4() figure is used and is only an upper bound.

stdout goes to a scratch file rather than /dev/null: writing it costs the
same, and hashing the masked text afterwards (outside the timed part)
tells whether the two programs printed the same thing.
"""

from __future__ import annotations

import hashlib
import os
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.mask import mask
from tests.support.netns import Netns, base_env, nmap_command, pynmap_command

PROGRAMS = ("nmap", "pynmap")


@dataclass(frozen=True)
class Workload:
    """One command line to time; `name` is the row label in the table.

    `mask`, when given, hides what else differs from run to run in this
    workload's output (after tests.support.mask), before the outputs are compared."""

    name: str
    args: tuple[str, ...]
    stdin: bytes | None = None
    mask: Callable[[str], str] | None = None
    # When set, the reference column is not nmap with `args` but pynmap with these:
    # a row that measures one of pynmap's ways against another (--cluster's overhead).
    reference_args: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Sample:
    """One run of one program."""

    seconds: float
    max_rss_kib: int
    exit: int
    digest: str


@dataclass
class Comparison:
    """All rounds of one workload, and what the table shows about them."""

    workload: Workload
    samples: dict[str, list[Sample]] = field(default_factory=lambda: {p: [] for p in PROGRAMS})

    def median(self, program: str) -> float:
        return statistics.median(s.seconds for s in self.samples[program])

    def peak_rss_kib(self, program: str) -> int:
        return max(s.max_rss_kib for s in self.samples[program])

    @property
    def ratio(self) -> float:
        """pynmap's median over nmap's: above 1 means pynmap is slower."""
        return self.median("pynmap") / self.median("nmap")

    @property
    def identical(self) -> bool:
        """Every run of both programs printed the same masked stdout and exit code."""
        seen = {(s.digest, s.exit) for runs in self.samples.values() for s in runs}
        return len(seen) == 1


GNU_TIME = Path("/usr/bin/time")


def _command(program: str, workload: Workload) -> list[str]:
    """The command line of `program`'s turn: "nmap" is the reference column."""
    if program == "nmap" and workload.reference_args is not None:
        return [*pynmap_command(), *workload.reference_args]
    return [*(nmap_command() if program == "nmap" else pynmap_command()), *workload.args]


def _gnu_time_kib(path: Path) -> int | None:
    """The %M figure GNU time wrote (its last line), if it wrote one."""
    try:
        lines = path.read_text().split()
    except OSError:
        return None
    return int(lines[-1]) if lines and lines[-1].isdigit() else None


def run_once(
    program: str, workload: Workload, ns: Netns, workdir: Path, *, timeout: float = 600
) -> Sample:
    """Run `program` on `workload` once inside `ns` and measure it."""
    workdir.mkdir(parents=True, exist_ok=True)
    out_path, err_path = workdir / f"{program}.out", workdir / f"{program}.err"
    rss_path = workdir / f"{program}.rss"
    rss_path.unlink(missing_ok=True)
    meter = [str(GNU_TIME), "--quiet", "-f", "%M", "-o", str(rss_path)] if GNU_TIME.exists() else []
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [*ns.exec_prefix(), *meter, *_command(program, workload)],
            stdin=subprocess.PIPE if workload.stdin is not None else subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            cwd=workdir,
            env=base_env(workdir),
        )
        if workload.stdin is not None and proc.stdin is not None:
            proc.stdin.write(workload.stdin)
            proc.stdin.close()
        deadline = started + timeout
        # wait4() rather than Popen.wait(): it also hands back the rusage
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.002)
        elapsed = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = out_path.read_bytes().decode("utf-8", "surrogateescape")
    masked = mask(text) if workload.mask is None else workload.mask(mask(text))
    digest = hashlib.sha256(masked.encode("utf-8", "surrogateescape")).hexdigest()
    peak = _gnu_time_kib(rss_path) if meter else None
    return Sample(elapsed, peak if peak is not None else usage.ru_maxrss, proc.returncode, digest)


def compare(workload: Workload, ns: Netns, workdir: Path, *, rounds: int = 5) -> Comparison:
    """Alternate nmap and pynmap for `rounds` rounds each."""
    result = Comparison(workload)
    for _ in range(rounds):
        for program in PROGRAMS:
            result.samples[program].append(run_once(program, workload, ns, workdir))
    return result


def bench(
    benchmark: Any, workload: Workload, ns: Netns, workdir: Path, *, rounds: int = 5
) -> Comparison:
    """`compare()` through pytest-benchmark's fixture.

    pytest-benchmark times pynmap's runs (its statistics and --benchmark-json
    describe pynmap); nmap runs in the untimed setup step just before each,
    which keeps the alternation.  The comparison lands in RESULTS and in the
    benchmark's extra_info.
    """
    result = Comparison(workload)

    def nmap_turn() -> None:
        result.samples["nmap"].append(run_once("nmap", workload, ns, workdir))

    def pynmap_turn() -> None:
        result.samples["pynmap"].append(run_once("pynmap", workload, ns, workdir))

    benchmark.pedantic(pynmap_turn, setup=nmap_turn, rounds=rounds, iterations=1)
    # --benchmark-disable runs the target once without its setup
    while len(result.samples["nmap"]) < len(result.samples["pynmap"]):
        nmap_turn()
    benchmark.extra_info.update(
        {
            "nmap_median_s": result.median("nmap"),
            "pynmap_median_s": result.median("pynmap"),
            "ratio": result.ratio,
            "nmap_peak_rss_kib": result.peak_rss_kib("nmap"),
            "pynmap_peak_rss_kib": result.peak_rss_kib("pynmap"),
            "identical_output": result.identical,
        }
    )
    RESULTS.append(result)
    return result


def format_table(rows: Sequence[Comparison]) -> str:
    """A plain-text table: one line per workload."""
    header = (
        "workload",
        "nmap median",
        "pynmap median",
        "ratio",
        "nmap peak RSS",
        "pynmap peak RSS",
        "identical output",
    )
    lines = [header]
    for row in rows:
        lines.append(
            (
                row.workload.name,
                f"{row.median('nmap'):.3f} s",
                f"{row.median('pynmap'):.3f} s",
                f"{row.ratio:.2f}x",
                f"{row.peak_rss_kib('nmap') / 1024:.1f} MiB",
                f"{row.peak_rss_kib('pynmap') / 1024:.1f} MiB",
                "yes" if row.identical else "no",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    rendered = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    ]
    rendered.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(rendered)


# Every comparison of the session, for the summary printed at the end.
RESULTS: list[Comparison] = []
