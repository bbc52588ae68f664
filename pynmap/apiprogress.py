"""The API's `progress=` reports (pynmap.api): a frozen Progress per report.

Kept out of pynmap.progress, which every scan imports: defining a dataclass
costs a millisecond of start-up that only the API's callers need.
"""

from __future__ import annotations

from dataclasses import dataclass

from pynmap.progress import estimate_left


@dataclass(frozen=True, slots=True, kw_only=True)
class Progress:
    """Where a scan stands, for the API's `progress=` callback (pynmap.api).

    The numbers of nmap's status lines: `Stats: 0:00:05 elapsed; 2 hosts
    completed (1 up), 3 undergoing Connect Scan` and `Connect Scan Timing:
    About 42.00% done; ETC: 12:34 (0:00:07 remaining)`.  A phase's reports
    start at 0%, never go down (nmap's own estimate dips when a host is
    allowed more retries; a report then repeats the last percentage) and end
    at 100% when the phase is over.
    """

    task: str  # nmap's name of the phase under way: "Ping Scan", "Connect Scan"
    percent: float  # of that phase, 0.0 to 100.0 (the status line shows it with 2 decimals)
    elapsed: float  # seconds since the scan started
    hosts_completed: int  # hosts whose scan is over (reported, or down)
    hosts_up: int  # of the hosts found so far, those up
    hosts_in_task: int  # hosts undergoing this phase (its host group)
    etc: int | None = None  # Unix time the phase should end, once 1% is done
    remaining: float | None = None  # seconds left until `etc`

    @property
    def done(self) -> bool:
        """The phase is over (its last report)."""
        return self.percent >= 100.0


def progress_of(task: str, fraction: float, begun: float, now: float, *,
                floor: float, elapsed: float, completed: int, up: int,
                scanning: int) -> Progress:
    """The Progress of a phase `fraction` done at `now`: nmap's estimate of the
    time left (as Reporter.task_progress prints it), the percentage kept at
    `floor` or above."""
    etc: int | None = None
    left: float | None = None
    if fraction >= 1.0:
        etc, left = int(now), 0.0
    elif fraction >= 0.01:
        left = estimate_left(fraction, begun, now)
        etc = int(now) + int(left + 0.5)
    percent = max(floor, min(100.0, fraction * 100))
    return Progress(task=task, percent=percent, elapsed=elapsed, hosts_completed=completed,
                    hosts_up=up, hosts_in_task=scanning, etc=etc, remaining=left)
