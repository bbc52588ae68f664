"""Timing values: the -T0..-T5 templates and the explicit timing options.

All durations are milliseconds, as nmap's timing report shows them.  0 means
"none"/"dynamic" where nmap uses 0 that way (max_parallelism, host_timeout,
scan_delay, min_rate, max_rate).
"""

from __future__ import annotations

from pynmap.pacing import PYNMAP, Pacing
from pynmap.plain import FrozenData, replace


class Timing(FrozenData):
    __match_args__ = ("initial_rtt_timeout", "min_rtt_timeout", "max_rtt_timeout",
                      "max_retries", "scan_delay", "max_scan_delay", "max_udp_scan_delay",
                      "min_parallelism", "max_parallelism", "host_timeout", "min_rate",
                      "max_rate", "min_hostgroup", "max_hostgroup", "level", "pacing")
    __slots__ = __match_args__

    def __init__(self, initial_rtt_timeout: int = 1000, min_rtt_timeout: int = 100,
                 max_rtt_timeout: int = 10000, max_retries: int = 10, scan_delay: int = 0,
                 max_scan_delay: int = 1000, max_udp_scan_delay: int = 1000,
                 min_parallelism: int = 0, max_parallelism: int = 0, host_timeout: int = 0,
                 min_rate: float = 0.0, max_rate: float = 0.0, min_hostgroup: int = 1,
                 max_hostgroup: int = 100000, level: int = 3, pacing: Pacing = PYNMAP) -> None:
        self.initial_rtt_timeout = initial_rtt_timeout
        self.min_rtt_timeout = min_rtt_timeout
        self.max_rtt_timeout = max_rtt_timeout
        self.max_retries = max_retries
        self.scan_delay = scan_delay
        self.max_scan_delay = max_scan_delay  # TCP (and SCTP)
        self.max_udp_scan_delay = max_udp_scan_delay  # only shown in the -d timing report
        self.min_parallelism = min_parallelism
        self.max_parallelism = max_parallelism
        self.host_timeout = host_timeout
        self.min_rate = min_rate
        self.max_rate = max_rate
        self.min_hostgroup = min_hostgroup
        self.max_hostgroup = max_hostgroup
        self.level = level  # the -T template in force
        self.pacing = pacing  # the engine's own choices (pynmap.pacing), not an nmap option

    def with_(self, **changes: object) -> Timing:
        return replace(self, **changes)


# -T levels, by the fields each template sets (the rest keep their defaults).
TEMPLATES: dict[int, dict[str, int]] = {
    0: dict(initial_rtt_timeout=300000, max_rtt_timeout=300000, scan_delay=300000, max_parallelism=1),
    1: dict(initial_rtt_timeout=15000, max_rtt_timeout=15000, scan_delay=15000, max_parallelism=1),
    2: dict(scan_delay=400, max_parallelism=1),
    3: {},
    4: dict(initial_rtt_timeout=500, max_rtt_timeout=1250, max_retries=6, max_scan_delay=10),
    5: dict(initial_rtt_timeout=250, min_rtt_timeout=50, max_rtt_timeout=300, max_retries=2,
            max_scan_delay=5, host_timeout=900000),
}

TEMPLATE_NAMES = ("paranoid", "sneaky", "polite", "normal", "aggressive", "insane")
