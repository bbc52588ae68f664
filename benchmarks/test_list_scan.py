"""List scan of a million targets: the cost of target expansion and printing.

-sL -n sends nothing, so this measures pynmap's own work against nmap's.
PYNMAP_BENCH_LIST_TARGET swaps the /12 for a smaller block for a quick try.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from benchmarks.harness import Workload, bench, format_table
from tests.support.netns import Netns

TARGET = os.environ.get("PYNMAP_BENCH_LIST_TARGET", "10.0.0.0/12")
LIST_SCAN = Workload(f"-sL -n {TARGET}", ("-sL", "-n", TARGET))


def test_list_scan(benchmark: Any, bench_ns: Netns, rounds: int, tmp_path: Path) -> None:
    result = bench(benchmark, LIST_SCAN, bench_ns, tmp_path, rounds=rounds)
    print()
    print(format_table([result]))
    # the oracle itself must have run cleanly, or the numbers mean nothing
    assert {s.exit for s in result.samples["nmap"]} == {0}
