"""How hard the engine pushes where nmap hard-codes the answer.

nmap's connect scan starts every congestion window at 10 probes, never lets
one grow past 300, hands out at most 50 probes per round, and pauses a
target for a second before its first retransmission at each new try number
in case the target rate-limits its answers.  None of these is a timing
option: they are nmap's engineering choices for a select()-based engine.

pynmap's own pacing ("pynmap", the default) differs only where the results
stay the same: wider windows, bigger rounds, and the one-second pause only
for a target whose silence looks like rate limiting (it answered, but timed
out on at least as many probes as it answered), and losses dated by the try
that was lost, so one burst of losses shrinks a window or raises a scan
delay once, not once per retransmission it causes; and a host group with
many ports is shared between two processes, so both cores connect().  "nmap" pacing
(PYNMAP_PACING=nmap) reproduces nmap's choices exactly, and is the default where the output
shows each probe (--packet-trace, -d2 and up).  The timing options
a user sets (-T, --max-parallelism, --min-parallelism, --max-rate, ...)
are honoured the same way under both.
"""

from __future__ import annotations

from dataclasses import dataclass

ENV_VAR = "PYNMAP_PACING"


@dataclass(frozen=True, slots=True)
class Pacing:
    name: str
    initial_cwnd: int  # a window's size before the first answer
    initial_ssthresh: int  # where slow start ends until the first drop
    max_cwnd: int  # the ceiling on a window when --max-parallelism is not given
    round_cap: int  # probes started per round before answers are read again
    always_pause: bool  # the rate-limit pause before every new try number (nmap)
    # A loss (an answer to a retransmission) counts from when the lost try
    # was sent (TCP) rather than from its retransmission (nmap).
    date_loss_by_lost_try: bool
    split: bool  # a host group with many ports is scanned by two processes (engine/split.py)


NMAP = Pacing("nmap", initial_cwnd=10, initial_ssthresh=75, max_cwnd=300, round_cap=50,
              always_pause=True, date_loss_by_lost_try=False, split=False)
PYNMAP = Pacing("pynmap", initial_cwnd=100, initial_ssthresh=1000, max_cwnd=4096,
                round_cap=250, always_pause=False, date_loss_by_lost_try=True,
                split=True)
PACINGS = {p.name: p for p in (NMAP, PYNMAP)}


def choose_pacing(name: str | None, *, shows_probes: bool) -> Pacing:
    """The pacing for a run: the one PYNMAP_PACING names (`name`), else nmap's
    when the output shows the engine probe by probe (--packet-trace, -d2 and
    up: those lines follow nmap's order and timing only under its pacing),
    else pynmap's.  An unknown name counts as unset."""
    chosen = PACINGS.get(name or "")
    if chosen is not None:
        return chosen
    return NMAP if shows_probes else PYNMAP
