"""A host named "merge" is scanned as nmap scans it unless it is the first argument.

`pynmap merge ...` is the merge subcommand (tests/unit/test_merge_cli.py);
anywhere else on the command line, and after `--` in first place, "merge"
is a target as it is to nmap.  The namespace's resolver knows no such name,
so both programs say they failed to resolve it: same streams, same exit.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.compare import assert_same, run_both
from tests.support.netns import Netns

pytestmark = pytest.mark.nmap


@pytest.mark.parametrize("args", [["--", "merge", "a.xml"], ["-sL", "-n", "merge", "a.xml"]],
                         ids=["double_dash", "option_first"])
def test_merge_after_the_first_argument_is_a_target(args: list[str], oracle_ns: Netns,
                                                    tmp_path: Path) -> None:
    nmap, pynmap = run_both(args, oracle_ns, tmp_path)
    assert 'Failed to resolve "merge".' in nmap.stderr, f"harness: nmap said {nmap.stderr!r}"
    assert_same(nmap, pynmap, args)
