"""`python -m tests.support.lab up SCENARIO` builds a lab and leaves it up; `down` removes it.

    python -m tests.support.lab list
    python -m tests.support.lab up mixed            # namespaces pynmap-lab-*
    ip netns exec pynmap-lab-scan env NMAP_UNPRIVILEGED=1 nmap -sT -n 198.18.0.10-13
    python -m tests.support.lab down

Run it from the repository's root, as root.  `up` returns once the lab
answers; its helper processes (the delay link, the listeners) keep running
inside the lab's namespaces until `down`.  Both are idempotent: `up` first
removes whatever the prefix had, `down` of nothing does nothing.
"""

from __future__ import annotations

import argparse
import sys

from tests.support.lab.network import build, lab_namespaces, remove
from tests.support.lab.scenario import SCENARIOS
from tests.support.netns import NetnsUnavailable

PREFIX = "pynmap-lab"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.lab",
                                     description="Build or remove pynmap's test lab.")
    parser.add_argument("action", choices=["up", "down", "list", "status"])
    parser.add_argument("scenario", nargs="?", default="mixed", choices=sorted(SCENARIOS))
    parser.add_argument("--prefix", default=PREFIX, help="namespace name prefix")
    parser.add_argument("--seed", type=int, help="the link's loss seed")
    args = parser.parse_args(argv)
    if args.action == "list":
        for name, scenario in SCENARIOS.items():
            print(f"{name:10} {scenario.about}")
        return 0
    if args.action == "status":
        names = lab_namespaces(args.prefix)
        print("\n".join(names) if names else f"no lab under {args.prefix}")
        return 0
    if args.action == "down":
        remove(args.prefix)
        return 0
    scenario = SCENARIOS[args.scenario]
    if args.seed is not None:
        scenario = scenario.with_seed(args.seed)
    try:
        running = build(scenario, prefix=args.prefix, detach=True)
    except NetnsUnavailable as exc:
        print(f"lab: {exc}", file=sys.stderr)
        return 1
    targets = " ".join([*running.targets, *scenario.ranges()]) or "127.0.0.1"
    print(f"lab {scenario.name} is up: {scenario.about}\n"
          f"  rtt {2 * scenario.delay_ms:g} ms, loss {scenario.loss:.0%} each way, "
          f"seed {scenario.seed}\n"
          f"  ip netns exec {running.scanner.name} env NMAP_UNPRIVILEGED=1 "
          f"nmap -sT -n {targets}\n"
          f"  python -m tests.support.lab down --prefix {args.prefix}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
