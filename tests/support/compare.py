"""Run nmap and pynmap side by side on the same command line and compare.

Each program gets its own scratch directory holding the same input files,
so relative output names (`-oN out.nmap`) are identical in both command
lines and the files can be compared after the run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.mask import mask
from tests.support.netns import Netns, Result, run_nmap, run_pynmap


@dataclass(frozen=True)
class Run:
    """One program's run: exit code, streams and the files it was asked to write."""

    exit: int
    stdout: str
    stderr: str
    files: dict[str, str | None] = field(default_factory=dict)


def _prepare(workdir: Path, setup_files: Mapping[str, str | bytes]) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    for name, content in setup_files.items():
        path = workdir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


def _collect(result: Result, workdir: Path, outputs: Sequence[str]) -> Run:
    files: dict[str, str | None] = {}
    for name in outputs:
        path = workdir / name
        files[name] = (
            path.read_bytes().decode("utf-8", "surrogateescape") if path.exists() else None
        )
    return Run(result.exit, result.stdout, result.stderr, files)


def run_one(
    program: str,
    args: Sequence[str],
    ns: Netns,
    workdir: Path,
    *,
    setup_files: Mapping[str, str | bytes] | None = None,
    stdin: str | bytes | None = None,
    outputs: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
    limits: Mapping[int, int] | None = None,
    shell: str | None = None,
) -> Run:
    """Run `program` ("nmap" or "pynmap") in a fresh `workdir` prepared with `setup_files`
    (`limits`: resource.RLIMIT_* -> soft and hard limit; `shell` as for
    tests.support.netns.run_pynmap)."""
    _prepare(workdir, setup_files or {})
    runner = run_nmap if program == "nmap" else run_pynmap
    result = runner(args, ns, workdir, stdin, env=env, timeout=timeout, limits=limits,
                    shell=shell)
    return _collect(result, workdir, outputs)


def run_both(
    args: Sequence[str],
    ns: Netns,
    tmp_path: Path,
    *,
    setup_files: Mapping[str, str | bytes] | None = None,
    stdin: str | bytes | None = None,
    outputs: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
    limits: Mapping[int, int] | None = None,
    shell: str | None = None,
) -> tuple[Run, Run]:
    """Run nmap, then pynmap, with the same arguments, input files and stdin."""
    runs = tuple(
        run_one(
            program,
            args,
            ns,
            tmp_path / program,
            setup_files=setup_files,
            stdin=stdin,
            outputs=outputs,
            env=env,
            timeout=timeout,
            limits=limits,
            shell=shell,
        )
        for program in ("nmap", "pynmap")
    )
    return runs[0], runs[1]


def first_difference(expected: str, actual: str) -> str:
    """A short description of where two texts part: line number and both lines."""
    exp_lines = expected.splitlines(keepends=True)
    act_lines = actual.splitlines(keepends=True)
    for number, (want, got) in enumerate(zip(exp_lines, act_lines, strict=False), start=1):
        if want != got:
            return f"line {number}:\n  nmap:   {want!r}\n  pynmap: {got!r}"
    number = min(len(exp_lines), len(act_lines)) + 1
    if len(exp_lines) > len(act_lines):
        return f"line {number}: pynmap stops early; nmap goes on with {exp_lines[number - 1]!r}"
    if len(act_lines) > len(exp_lines):
        return f"line {number}: pynmap has extra {act_lines[number - 1]!r}"
    return "identical"


def differences(nmap: Run, pynmap: Run, *, stdout: bool = True) -> list[str]:
    """Every way the two runs disagree after masking; empty when they match.

    `stdout=False` leaves stdout out, for the usage screen: pynmap's help
    text is written in its own words.
    """
    found: list[str] = []
    if nmap.exit != pynmap.exit:
        found.append(f"exit: nmap {nmap.exit}, pynmap {pynmap.exit}")
    for stream in ("stdout", "stderr") if stdout else ("stderr",):
        want, got = mask(getattr(nmap, stream)), mask(getattr(pynmap, stream))
        if want != got:
            found.append(f"{stream} {first_difference(want, got)}")
    for name, want_file in nmap.files.items():
        got_file = pynmap.files.get(name)
        if want_file is None or got_file is None:
            if want_file is not got_file:
                state = "missing" if got_file is None else "written, but nmap wrote none"
                found.append(f"file {name}: pynmap's is {state}")
            continue
        if mask(want_file) != mask(got_file):
            found.append(f"file {name} {first_difference(mask(want_file), mask(got_file))}")
    return found


def assert_same(
    nmap: Run, pynmap: Run, command: Sequence[str] = (), *, stdout: bool = True
) -> None:
    """Fail with the first differing line of every stream and file that differs."""
    __tracebackhide__ = True  # pytest then points at the test's own line
    found = differences(nmap, pynmap, stdout=stdout)
    if found:
        head = f"pynmap {' '.join(command)}\n" if command else ""
        raise AssertionError(head + "\n".join(found))
