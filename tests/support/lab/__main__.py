"""`python -m tests.support.lab up SCENARIO` builds a lab and keeps it; `down` removes it.

The namespaces are named pynmap-lab-s (scanner), -l (link) and -t (targets):
`ip netns exec pynmap-lab-s pynmap -sT 198.18.0.10` scans into it.  `up` stays
in the foreground (the delay link runs in it) until interrupted; `down`
removes whatever a killed `up` left behind.
"""

from __future__ import annotations

import argparse
import signal
import sys

from tests.support.lab.network import Lab
from tests.support.lab.scenario import SCENARIOS
from tests.support.netns import NetnsUnavailable

PREFIX = "pynmap-lab"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.lab")
    parser.add_argument("action", choices=["up", "down"])
    parser.add_argument("scenario", nargs="?", default="mixed", choices=sorted(SCENARIOS))
    args = parser.parse_args()
    running = Lab(SCENARIOS[args.scenario], PREFIX)
    if args.action == "down":
        running.down()
        return 0
    running.down()  # idempotent: start from nothing
    try:
        running.up()
    except NetnsUnavailable as exc:
        print(f"lab: {exc}", file=sys.stderr)
        return 1
    print(f"lab {args.scenario} is up; scan from namespace {running.scanner.name}; "
          "Ctrl-C takes it down", flush=True)
    # blocked only now: the lab's own processes must keep their default signal mask
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        running.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
