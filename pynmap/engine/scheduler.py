"""The sans-I/O heart of the connect engine: which probe to send when.

The scheduler never reads a clock and never touches a socket.  The loop
feeds it the time and the answers; it hands back probes to start and says
when it next needs attention.  One scheduler runs one phase (host discovery
or the port scan) over one host group, the way one nmap ultra_scan() call does.

The rules are nmap's:
* a congestion window per target and one for the group (congestion.py);
* an RTT estimator per target and one for the group; a target without a
  sample of its own borrows the group's timeout (rtt.py);
* a probe unanswered within the timeout is "timed out" and may be retried,
  but only up to one try more than the highest try that ever got an answer
  (and never more than --max-retries): a target that answers every first
  try gets each silent port probed twice, not eleven times;
* the first time a target needs a higher try number, its sending pauses for
  a second (nmap's rate-limit detection), which is why a DROPped port
  costs about 1.2 s;
* probes at the try limit wait "on the bench" while the limit may still rise;
* answers to a retransmission count as drops and shrink the windows;
  repeated drops raise the target's scan delay, up to --max-scan-delay;
* once a port of a target has answered it becomes that target's timing
  ping, re-probed when the target has been silent for a while;
* at most 50 probes per round, --scan-delay, --min-rate/--max-rate,
  --host-timeout, and a cap on sockets in flight.

Where nmap's numbers are engineering choices rather than options (the first
and largest window, the round size, the one-second pause, how a loss is
dated), they come from the Timing's pacing (pynmap.pacing): nmap's own, or
pynmap's faster one, which keeps the results.

Call order, once per round: expired(now) (then on_timeout, or on_outcome with
late=True, for what it returns), next_probes(now), next_deadline(); between
rounds, on_outcome() for every answer.  Probes the scheduler gives up on
while their socket is open are listed by abandoned().
"""

from __future__ import annotations

import operator
from collections import deque
from collections.abc import Callable, Iterable, Sequence

from pynmap.timing import Timing

from .congestion import CongestionParams, Window
from .messages import (
    DelayRaised,
    Dropped,
    Event,
    GlobalPingHost,
    HostAnswer,
    HostCompleted,
    HostDone,
    HostUp,
    MaxTryno,
    PingProbe,
    PortState,
    RetransmissionCap,
    RttVarCapped,
    Untimed,
)
from .probe import Outcome, Probe
from .rtt import RttEstimator, RttLimits

RLD_WAIT = 1.0  # seconds a target pauses before its first try at a new try number
PING_INTERVAL = 1.25  # silence (s) after which a target gets a timing ping
PING_EVERY = 10  # ... and only after this many probes since the last ping
PING_WEIGHT = 3  # a ping answer opens the window like this many answers
OWN_TIMING_BELOW = 80  # a target uses its own window until it has sent this many
_EPSILON = 1e-6  # timeouts are strict: "more than `to` has passed"
_by_index = operator.attrgetter("index")


def _ignore(event: Event) -> None:
    """Where events go when nobody listens."""


class HostState:
    """Everything the scheduler keeps about one target.  Read-only for callers."""

    __slots__ = (
        "active",
        "address",
        "answers",
        "bad",
        "bench",
        "bench_tryno",
        "capped_warned",
        "clock_start",
        "delay",
        "end",
        "finished",
        "good",
        "hint_reason",
        "index",
        "last_boost",
        "last_ping_probes",
        "last_ping_sent",
        "last_rcvd",
        "last_sent",
        "max_ok_tryno",
        "n_active",
        "next_fresh",
        "ping_port",
        "probes_sent",
        "reason",
        "reason_ttl",
        "replies",
        "retry",
        "rld_max_tryno",
        "rld_until",
        "rld_waiting",
        "rtt",
        "status",
        "timed_out",
        "timeouts",
        "waiting",
        "window",
    )

    def __init__(self, index: int, address: str, rtt: RttEstimator, window: Window) -> None:
        self.index = index
        self.address = address
        self.rtt = rtt
        self.window = window
        self.active: deque[Probe] = deque()  # in send order; dead ones are skipped lazily
        self.n_active = 0  # live probes, i.e. sockets open
        self.waiting: list[Probe] = []  # timed out, not yet retransmitted
        self.bench: list[int] = []  # ports at the try limit, parked
        self.bench_tryno = 0
        self.retry: list[tuple[int, int]] = []  # (port, tryno to send), taken from the end
        self.next_fresh = 0
        self.answers: dict[int, tuple[str, str]] = {}  # port -> (state, reason)
        self.finished = 0  # ports with a state
        self.probes_sent = 0
        self.max_ok_tryno = 0
        self.last_sent = float("-inf")
        self.last_rcvd = 0.0
        self.last_ping_sent = 0.0
        self.last_ping_probes = 0
        self.ping_port: int | None = None
        self.rld_max_tryno = 0
        self.rld_waiting = False
        self.rld_until = 0.0
        self.delay = 0.0  # current scan delay, seconds
        self.last_boost = float("-inf")
        self.good = 0
        self.bad = 0
        self.replies = 0  # probes answered, for rate-limit suspicion (pynmap pacing)
        self.timeouts = 0  # probes timed out
        self.capped_warned = False
        self.clock_start: float | None = None  # host-timeout clock (port scan only)
        self.end: float | None = None
        self.timed_out = False
        self.status: str | None = None  # host discovery: "up" / "down"
        self.reason = ""
        self.reason_ttl = 0  # the TTL of the answer that decided it, where known
        # nmap's <hosthint> shows the reason a host had just before it was found up
        self.hint_reason = "unknown-response"

    def merge_half(self, answers: dict[int, tuple[str, str]], timed_out: bool,
                   clock_start: float | None, end: float | None) -> None:
        """Take in what another process's scheduler learnt of this target over
        the other half of the ports (split.py): its answers, whether it timed
        out, and its start and end, keeping the earlier start and later end."""
        self.answers.update(answers)
        self.timed_out = self.timed_out or timed_out
        if clock_start is not None:
            self.clock_start = min(clock_start, self.clock_start or clock_start)
        if end is not None:
            self.end = max(end, self.end or end)


class Scheduler:
    """One phase over one host group: a port scan, or host discovery (`ping_scan`).

    `ports` is the scan order (the ping ports for discovery).  `rtt` gives
    each target's estimator (carried over from discovery); `group_rtt` the
    group's (nmap keeps discovery's across groups); `ping_ports` each
    target's timing-ping port found by discovery.  `max_sockets` bounds the
    probes in flight at once, whatever the windows say.
    """

    def __init__(
        self,
        addresses: Sequence[str],
        ports: Sequence[int],
        timing: Timing,
        *,
        ping_scan: bool = False,
        max_sockets: int = 1 << 30,
        rtt: Sequence[RttEstimator] | None = None,
        group_rtt: RttEstimator | None = None,
        ping_ports: Sequence[int | None] | None = None,
        emit: Callable[[Event], None] = _ignore,
    ) -> None:
        self.timing = timing
        self.ports = ports
        self.ping_scan = ping_scan
        self.emit = emit  # what the scheduler reports (messages.py), as it happens
        # Kinds of event nobody would hear now (the phase driver keeps this up
        # to date, as key presses change -v and -d): the ones made per answer
        # or per target are then not even built, which is most of a big
        # scan's events (four per target of a two-port scan).
        self.quiet: frozenset[type[Event]] = frozenset()
        self.limits = RttLimits.from_timing(timing)
        self.params = CongestionParams.from_timing(timing)
        self.round_cap = timing.pacing.round_cap
        self.always_pause = timing.pacing.always_pause
        self.date_loss_by_lost_try = timing.pacing.date_loss_by_lost_try
        self.max_sockets = max(1, max_sockets)
        self.tryno_cap = timing.max_retries
        self.max_scan_delay = timing.max_scan_delay / 1000
        self.host_timeout = timing.host_timeout / 1000
        self.min_rate = timing.min_rate
        self.max_rate = timing.max_rate
        self.group_rtt = group_rtt if group_rtt is not None else RttEstimator.fresh(self.limits)
        self.window = Window.initial(self.params)
        self.n_active = 0
        self.probes_sent = 0
        self.hosts = [
            HostState(
                i,
                address,
                rtt[i] if rtt is not None else RttEstimator.fresh(self.limits),
                Window.initial(self.params),
            )
            for i, address in enumerate(addresses)
        ]
        for h in self.hosts:
            h.delay = timing.scan_delay / 1000
            if ping_ports is not None:
                h.ping_port = ping_ports[h.index]
        # Nothing to probe means nothing to do (nmap skips the phase).
        self._incomplete: list[HostState] = list(self.hosts) if ports else []
        self._rr = 0  # round-robin position in _incomplete
        self._round = 0  # probes handed out in the current round
        self._started: float | None = None
        self._now = 0.0
        self._abandoned: list[Probe] = []
        self._no_earlier = 0.0  # --max-rate schedule
        self._no_later = 0.0  # --min-rate schedule
        self._name = "Ping Scan" if ping_scan else "Connect Scan"
        self._pinghost: HostState | None = None  # nmap's "global ping host" of this phase
        # What spares the rounds their walks over every target of the group
        # (thousands in a big host group, most of them idle at any moment):
        # live probes in the order they were sent (dead ones skipped lazily),
        # so the oldest tells whether any can have timed out yet; ...
        self._sent_order: deque[Probe] = deque()
        # ... no timeout is ever shorter than this (µs; the estimators are
        # clamped to the minimum once they have a sample) ...
        self._shortest_to = min(
            [self.limits.minimum, self.limits.initial, self.group_rtt.timeout,
             *(h.rtt.timeout for h in self.hosts)])
        # ... the targets with probes waiting for a retry or on the bench (a
        # superset: pruned by expired()); ...
        self._parked: set[HostState] = set()
        # ... the targets with probes in flight; ...
        self._flying: set[HostState] = set()
        # ... the targets that may have finished since the last look (a probe
        # of theirs ended, or expired() changed their retries) ...
        self._maybe_done: list[HostState] = []
        # ... and whether any target may have something on its retry stack.
        self._maybe_retry = False
        # Targets with fresh ports left (an upper bound: a target that leaves
        # early keeps its count): at 0 a round needs no walk to find none.
        self._fresh_hosts = len(self._incomplete)

    # ---------------------------------------------------------------- queries

    @property
    def done(self) -> bool:
        return not self._incomplete

    @property
    def in_flight(self) -> int:
        return self.n_active

    def abandoned(self) -> list[Probe]:
        """Live probes the scheduler gave up on since the last call: close their sockets."""
        out, self._abandoned = self._abandoned, []
        return out

    def limit_sockets(self, n: int) -> None:
        """The loop ran short of descriptors: never have more than `n` in flight."""
        self.max_sockets = max(1, n)

    def completion(self) -> float:
        """Fraction of the phase done, nmap's estimate (for progress lines)."""
        if not self.hosts:
            return 1.0
        total = float(len(self.hosts) - len(self._incomplete))
        per_host = max(1, len(self.ports))
        for h in self._incomplete:
            maxtries = self._allowed_tryno(h)[0] + 1
            frac = (h.finished * (maxtries - 1) + h.probes_sent) / (maxtries * per_host)
            total += min(frac, 0.9999)
        return total / len(self.hosts)

    def timeout_of(self, h: HostState) -> float:
        """How long (s) a probe to `h` may go unanswered before it is timed out."""
        if h.rtt.srtt > 0:
            us = h.rtt.timeout
        elif self.group_rtt.srtt > 0:
            us = self.group_rtt.timeout
        else:
            us = h.rtt.timeout
        return us / 1e6

    # ---------------------------------------------------------------- the round

    def expired(self, now: float) -> list[Probe]:
        """Housekeeping at `now`; returns the live probes whose timeout has passed.

        The caller checks each one's socket: an answer that is there but was
        not read yet goes to on_outcome(late=True), silence to on_timeout().
        """
        self._tick(now)
        self._remove_completed(now)
        due: list[Probe] = []
        if self._parked:
            self._parked = {h for h in self._parked if h.waiting or h.bench}
        if not self._parked:
            order = self._sent_order
            while order and not order[0].live:
                order.popleft()
            if not order or now - order[0].sent <= self._shortest_to / 1e6:
                # Nothing parked, and not even the oldest probe in flight can
                # have timed out: no target has anything to do here.
                return due
        for h in self._incomplete:
            if not (h.active or h.waiting or h.bench):
                continue  # nothing in flight or parked: nothing can expire
            if h.waiting or h.bench:
                self._maybe_done.append(h)
            maxtries, capped, may_increase = self._allowed_tryno(h)
            if h.bench:
                if maxtries == h.bench_tryno and not may_increase:
                    self._dismiss_bench(h)
                elif maxtries > h.bench_tryno:
                    h.retry.extend((port, h.bench_tryno + 1) for port in h.bench)
                    h.bench = []
                    self._maybe_retry = True
            to = self.timeout_of(h)
            if h.waiting:
                keep: list[Probe] = []
                for p in h.waiting:
                    if p.tryno >= maxtries and not may_increase:
                        self._give_up(h, p, capped)
                    elif p.tryno >= maxtries and now - p.sent > to:
                        # Parked until the limit rises or is known never to.
                        h.bench.append(p.port)
                        h.bench_tryno = p.tryno
                    else:
                        keep.append(p)
                h.waiting = keep
            active = h.active
            while active:
                p = active[0]
                if not p.live:
                    active.popleft()
                elif now - p.sent > to:
                    active.popleft()
                    due.append(p)
                else:
                    break
        self._remove_completed(now)
        return due

    def next_probes(self, now: float) -> list[Probe]:
        """The probes to start now (at most one round's worth)."""
        self._tick(now)
        self._round = 0
        self._remove_completed(now)
        out: list[Probe] = []
        if not self._incomplete:
            return out
        self._send_pings(now, out)
        self._send_retransmits(now, out)
        self._send_retry_stack(now, out)
        self._send_fresh(now, out)
        return out

    def next_deadline(self) -> float | None:
        """When the scheduler next needs a round, if no answer comes first.

        None when nothing is pending on time (then only answers matter).
        """
        incomplete = self._incomplete
        if not incomplete:
            return None
        now = self._now
        if any(self._completed(h) for h in self._maybe_done):
            # An answer came while the round's probes were being started (the
            # loop reads some at connect() time): a round now takes the
            # target out, and ends the phase if it was the last.
            return now
        best = float("inf")
        group_time = self._group_send_time(now)
        # The answer is the earliest of every target's times (and no earlier
        # than now), whatever order they are visited in; timeout_of(),
        # _front() and, for a target without retries waiting or on the
        # bench, _host_send_time() are written out below: this runs once a
        # round, over every target of the group that can set the deadline.
        group_rtt = self.group_rtt
        nports = len(self.ports)
        host_timeout = self.host_timeout if self.host_timeout > 0 and not self.ping_scan else 0.0
        min_rate_due = bool(self.min_rate) and self._no_later <= now
        for h in self._deadline_targets(group_time is None and not host_timeout):
            active = h.active
            while active and not active[0].live:
                active.popleft()
            if active:
                rtt = h.rtt
                us = rtt.timeout if rtt.srtt > 0 or group_rtt.srtt <= 0 else group_rtt.timeout
                t = active[0].sent + us / 1e6 + _EPSILON
                if t < best:
                    best = t
            if h.waiting or h.bench:
                to = self.timeout_of(h)
                maxtries, _, may_increase = self._allowed_tryno(h)
                if h.bench and (maxtries > h.bench_tryno or not may_increase):
                    return now
                for p in h.waiting:
                    if p.tryno >= maxtries:
                        if not may_increase:
                            return now
                        best = min(best, p.sent + to + _EPSILON)
                if group_time is None:
                    send: float | None = None
                else:
                    send = self._host_send_time(h, now, maxtries)
            elif (group_time is None or not (h.next_fresh < nports or h.retry)
                  or (host_timeout and h.clock_start is not None
                      and now - h.clock_start > host_timeout)):
                send = None
            elif min_rate_due:
                send = now
            elif h.rld_waiting:
                send = h.rld_until
            elif self._timing_cwnd(h) < h.n_active + 0.5:
                send = self._no_later if self.min_rate else None
            else:
                send = max(now, h.last_sent + h.delay) if h.delay else now
            if host_timeout and h.clock_start is not None:
                best = min(best, h.clock_start + host_timeout + _EPSILON)
            if send is not None:
                assert group_time is not None
                if send < group_time:
                    send = group_time
                if send <= now and self._round >= self.round_cap:
                    return now
                if send < best:
                    best = send
            if best <= now:
                return now  # no later target can make it sooner
            # Timing pings need no deadline of their own: like nmap, a target
            # pings only when it could send a probe anyway.
        if best == float("inf"):
            return None
        return max(best, now)

    def _deadline_targets(self, waiting_for_answers: bool) -> Iterable[HostState]:
        """The targets next_deadline() must visit.  While the group waits for
        answers (its window full or no sockets left) and no host timeout runs,
        a target sets the deadline only by a probe in flight timing out or a
        retry coming due: the others, most of a big group before its first
        probes go out, are passed over."""
        if not waiting_for_answers:
            return self._incomplete
        return [h for h in self._flying | self._parked if h.end is None]

    # ---------------------------------------------------------------- answers

    def on_outcome(self, probe: Probe, outcome: Outcome, now: float, *, late: bool = False) -> bool:
        """The probe's connect() finished with `outcome`, seen at `now`.

        `late`: the answer was only found when the probe was checked at its
        expiry (a loop that fell behind, or a probe expired() just returned).
        It counts in full, state and window alike, but gives no RTT sample:
        it arrived at some unknown time between the send and `now`, and
        `now - sent` is past the timeout by construction, so it would measure
        the loop's delay and inflate every later timeout.

        Returns False when the answer decides nothing (nmap's "strange" errors,
        a late EAGAIN): the probe then stays in flight until it times out, and
        the caller keeps its socket for the check at expiry.
        """
        if not probe.live:
            return True
        self._tick(now)
        h = self.hosts[probe.host]
        if self._moot(h, probe):
            return True
        if outcome.strange or outcome.fatal:
            return False
        if probe.ping:
            self._sample(h, probe, now, late)
            self._adjust_timing(h, probe, True, now)
            self._finish(h, probe)
            return True
        if self.ping_scan:
            self._host_answer(h, probe, outcome, now, late)
            return True
        if outcome.state is None:
            return False
        self._port_answer(h, probe, outcome, now, late)
        return True

    def on_timeout(self, probe: Probe, now: float) -> None:
        """No answer in time (or a self-connect, which nmap retries the same way)."""
        if not probe.live:
            return
        self._tick(now)
        h = self.hosts[probe.host]
        if self._moot(h, probe):
            return
        self._finish(h, probe)
        self._adjust_timing(h, probe, False, now)
        h.timeouts += 1
        if not probe.ping:
            h.waiting.append(probe)
            self._parked.add(h)

    def on_unsent(self, probe: Probe, now: float) -> None:
        """The loop could not start the probe (out of descriptors or ports): try later."""
        if not probe.live:
            return
        h = self.hosts[probe.host]
        self._finish(h, probe)
        self.probes_sent -= 1
        if not probe.ping:
            h.probes_sent -= 1
            h.retry.append((probe.port, probe.tryno))
            self._maybe_retry = True

    # ---------------------------------------------------------------- internals

    def _tick(self, now: float) -> None:
        self._now = now
        if self._started is None:
            self._started = now
            self._no_earlier = self._no_later = now
            # nmap dates each target's last probe at the phase's start, so a scan
            # delay (--scan-delay, -T0/-T1) comes before the first probe too
            for h in self.hosts:
                h.last_rcvd = h.last_ping_sent = h.last_sent = now

    def _moot(self, h: HostState, probe: Probe) -> bool:
        """A ping to a target discovery already found up: finish it, it counts for nothing.

        Only a probe that expired() handed out just before another one of its
        batch settled the target gets here; the rest were abandoned then.
        """
        if self.ping_scan and h.status == "up":
            self._finish(h, probe)
            return True
        return False

    def _fresh_left(self, h: HostState) -> bool:
        return h.next_fresh < len(self.ports)

    def _completed(self, h: HostState) -> bool:
        if h.n_active or h.waiting or h.bench or h.retry:
            return False
        if self.ping_scan and h.status is not None:
            return True
        return not self._fresh_left(h)

    def _host_timed_out(self, h: HostState, now: float) -> bool:
        return (
            not self.ping_scan
            and self.host_timeout > 0
            and h.clock_start is not None
            and now - h.clock_start > self.host_timeout
        )

    def _allowed_tryno(self, h: HostState) -> tuple[int, bool, bool]:
        """(highest try number allowed now, capped by --max-retries, may it still rise)."""
        maxval = max(1, h.max_ok_tryno + 1)
        if maxval > self.tryno_cap:
            return self.tryno_cap, True, False
        may_increase = True
        if h.n_active == 0 and not self._fresh_left(h):
            # Nothing left that could answer at a higher try.
            may_increase = any(p.tryno < maxval for p in h.waiting)
        return maxval, False, may_increase

    @staticmethod
    def _looks_rate_limited(h: HostState) -> bool:
        # A target that answers some probes but lets as many go unanswered
        # may be dropping answers over a rate limit: a pause lets it refill.
        # One that never answered, or lost only a few, is filtering or lossy,
        # and waiting would change nothing but the duration.
        return h.replies > 0 and h.timeouts >= h.replies

    def _timing_cwnd(self, h: HostState) -> float:
        """The window that decides whether `h` may send."""
        # A target with few probes sent (or a known ping port) judges by its
        # own answers; after that the group's experience is the better guide.
        if h.ping_port is not None or h.probes_sent < OWN_TIMING_BELOW:
            return h.window.cwnd
        if self.window.updates > 1:
            return self.window.cwnd
        return float(self.params.initial_cwnd)  # a fresh window's

    def _front(self, h: HostState) -> Probe | None:
        active = h.active
        while active and not active[0].live:
            active.popleft()
        return active[0] if active else None

    def _has_work(self, h: HostState) -> bool:
        return bool(self._fresh_left(h) or h.retry or h.waiting)

    def _group_may_send(self, now: float) -> bool:
        if self.n_active >= self.max_sockets:
            return False
        if self.max_rate and self._no_earlier > now:
            return False
        if self.min_rate and self._no_later <= now:
            return True
        if self._round >= self.round_cap:
            return False
        if len(self._incomplete) < 2:
            return True
        return self.window.cwnd >= self.n_active + 0.5

    def _host_may_send(self, h: HostState, now: float) -> bool:
        if self._completed(h) or self._host_timed_out(h, now):
            return False
        if self.min_rate and self._no_later <= now:
            return True
        if h.rld_waiting:
            return h.rld_until <= now
        if h.delay and now < h.last_sent + h.delay:
            return False
        return self._timing_cwnd(h) >= h.n_active + 0.5 and self._has_work(h)

    def _group_send_time(self, now: float) -> float | None:
        """Earliest time the group lets anything be sent; None if it waits for answers."""
        if self.n_active >= self.max_sockets:
            return None
        t = max(now, self._no_earlier) if self.max_rate else now
        if self.min_rate and self._no_later <= t:
            return t
        if len(self._incomplete) >= 2 and self.window.cwnd < self.n_active + 0.5:
            return self._no_later if self.min_rate else None
        return t

    def _host_send_time(self, h: HostState, now: float, maxtries: int) -> float | None:
        """Earliest time `h` itself may send; None if it has nothing or waits for answers."""
        if not (
            self._fresh_left(h) or h.retry or any(p.tryno < maxtries for p in h.waiting)
        ) or self._host_timed_out(h, now):
            return None
        if self.min_rate and self._no_later <= now:
            return now
        if h.rld_waiting:
            return h.rld_until
        if self._timing_cwnd(h) < h.n_active + 0.5:
            return self._no_later if self.min_rate else None
        return max(now, h.last_sent + h.delay) if h.delay else now

    def _next_host(self) -> HostState:
        hosts = self._incomplete
        if self._rr >= len(hosts):
            self._rr = 0
        h = hosts[self._rr]
        self._rr += 1
        return h

    def _send(
        self, h: HostState, port: int, tryno: int, now: float, out: list[Probe],
        ping: bool = False, lost_sent: float | None = None,
    ) -> None:
        p = Probe(h.index, port, tryno, now, ping,
                  lost_sent=now if lost_sent is None else lost_sent)
        h.active.append(p)
        self._sent_order.append(p)
        if not h.n_active:
            self._flying.add(h)
        h.n_active += 1
        self.n_active += 1
        h.last_sent = now
        if not ping:
            h.probes_sent += 1
        self.probes_sent += 1
        self._round += 1
        if self.max_rate:
            # Allowed to slip into the past, so a stall can be caught up.
            self._no_earlier += 1.0 / self.max_rate
        if self.min_rate:
            if self._no_later > now:
                self._no_later = now
            self._no_later += 1.0 / self.min_rate
        out.append(p)

    def _send_pings(self, now: float, out: list[Probe]) -> None:
        started = self._started if self._started is not None else now
        if now - started <= PING_INTERVAL:
            # Every target heard last at the phase's start or later: none
            # has been silent long enough for a ping yet.
            return
        for h in self._incomplete:
            if (
                h.ping_port is not None
                and not h.rld_waiting
                and h.probes_sent >= h.last_ping_probes + PING_EVERY
                and now - h.last_rcvd > PING_INTERVAL
                and now - h.last_ping_sent > PING_INTERVAL
                and self._group_may_send(now)
                and self._host_may_send(h, now)
            ):
                self._send(h, h.ping_port, 0, now, out, ping=True)
                h.last_ping_sent = now
                h.last_ping_probes = h.probes_sent

    def _send_retransmits(self, now: float, out: list[Probe]) -> None:
        sent_any = True
        while sent_any:
            sent_any = False
            for h in self._incomplete:
                if not h.waiting:
                    continue
                if not self._group_may_send(now):
                    return
                if not self._host_may_send(h, now):
                    continue
                maxtries = self._allowed_tryno(h)[0]
                for i in range(len(h.waiting) - 1, -1, -1):
                    p = h.waiting[i]
                    if p.tryno >= maxtries:
                        continue
                    if p.tryno + 1 > h.rld_max_tryno and len(self.ports) > 1:
                        # First probe at a new try number: pause, in case the
                        # target is rate limiting (nmap's RLD).
                        h.rld_max_tryno = p.tryno + 1
                        if self.always_pause or self._looks_rate_limited(h):
                            h.rld_waiting = True
                            h.rld_until = now + RLD_WAIT
                            break
                    h.rld_waiting = False
                    del h.waiting[i]
                    self._send(h, p.port, p.tryno + 1, now, out, lost_sent=p.sent)
                    sent_any = True
                    break  # one per target per pass spreads the load

    def _send_retry_stack(self, now: float, out: list[Probe]) -> None:
        if self._maybe_retry and not any(h.retry for h in self._incomplete):
            self._maybe_retry = False
        if not self._maybe_retry:
            # A fruitless pass of the loop below visits every target once and
            # ends one step on: so does this, without the visits.
            if self._incomplete and self._group_may_send(now):
                self._next_host()
            return
        unable: HostState | None = None
        while self._incomplete and self._group_may_send(now):
            h = self._next_host()
            if h is unable:
                return
            if h.retry and self._host_may_send(h, now):
                port, tryno = h.retry.pop()
                self._send(h, port, tryno, now, out)
                unable = None
            elif unable is None:
                unable = h

    def _send_fresh(self, now: float, out: list[Probe]) -> None:
        # Most probes of a scan start here, so _group_may_send(), _next_host(),
        # _host_may_send() and _send() are written out (the same tests, in
        # the same order).
        incomplete = self._incomplete
        n = len(incomplete)
        if not n:
            return
        ports = self.ports
        nports = len(ports)
        ping_scan = self.ping_scan
        host_timeout = self.host_timeout if self.host_timeout > 0 and not ping_scan else 0.0
        max_sockets = self.max_sockets
        max_rate = self.max_rate
        min_rate = self.min_rate
        round_cap = self.round_cap
        group = self.window
        several = n >= 2
        sent_order = self._sent_order
        flying = self._flying
        unable: HostState | None = None
        while True:
            # _group_may_send(now)
            in_flight = self.n_active
            if in_flight >= max_sockets or (max_rate and self._no_earlier > now):
                return
            if not (min_rate and self._no_later <= now) and (
                    self._round >= round_cap or (several and group.cwnd < in_flight + 0.5)):
                return
            # _next_host()
            rr = self._rr
            if rr >= n:
                rr = 0
            self._rr = rr + 1
            if not self._fresh_hosts:
                # A walk round the group would find no target to send to, and
                # leave the round robin one place on, as here (nmap's walk
                # does the same): the walk itself is spared, for each round
                # of a group's end, over targets that are only waiting.
                return
            h = incomplete[rr]
            if h is unable:
                return
            # _fresh_left(h) and _host_may_send(h, now); with fresh ports left
            # the target is not done (in a port scan) and has work
            if (h.next_fresh >= nports
                    or (ping_scan and h.status is not None
                        and not (h.n_active or h.waiting or h.bench or h.retry))
                    or (host_timeout and h.clock_start is not None
                        and now - h.clock_start > host_timeout)):
                may = False
            elif min_rate and self._no_later <= now:
                may = True
            elif h.rld_waiting:
                may = h.rld_until <= now
            elif h.delay and now < h.last_sent + h.delay:
                may = False
            else:
                may = self._timing_cwnd(h) >= h.n_active + 0.5
            if not may:
                if unable is None:
                    unable = h
                continue
            if not ping_scan and h.clock_start is None:
                h.clock_start = now
            port = ports[h.next_fresh]
            h.next_fresh += 1
            if h.next_fresh == nports:
                self._fresh_hosts -= 1
            # _send(h, port, 0, now, out)
            p = Probe(h.index, port, 0, now, False, True, -1, now)
            h.active.append(p)
            sent_order.append(p)
            if not h.n_active:
                flying.add(h)
            h.n_active += 1
            self.n_active = in_flight + 1
            h.last_sent = now
            h.probes_sent += 1
            self.probes_sent += 1
            self._round += 1
            if max_rate:
                # Allowed to slip into the past, so a stall can be caught up.
                self._no_earlier += 1.0 / max_rate
            if min_rate:
                if self._no_later > now:
                    self._no_later = now
                self._no_later += 1.0 / min_rate
            out.append(p)
            unable = None

    def _finish(self, h: HostState, probe: Probe) -> None:
        probe.live = False
        h.n_active -= 1
        self.n_active -= 1
        if not h.n_active:
            self._maybe_done.append(h)
            self._flying.discard(h)

    def _abandon_all(self, h: HostState) -> None:
        for p in h.active:
            if p.live:
                self._finish(h, p)
                self._abandoned.append(p)
        h.active.clear()
        h.waiting = []

    def _sample(self, h: HostState, probe: Probe, now: float, late: bool = False) -> None:
        h.replies += 1
        if not late:
            delta = round((now - probe.sent) * 1e6)
            for est in (h.rtt, self.group_rtt):
                if est.update(delta, self.limits):
                    self.emit(RttVarCapped())
        h.last_rcvd = now

    def _adjust_timing(self, h: HostState, probe: Probe, answered: bool, now: float) -> None:
        group = self.window
        mine = h.window
        # Window.expect() of both, written out (this runs for every answer)
        group.expected += 1
        group.updates += 1
        mine.expected += 1
        mine.updates += 1
        # An answer to a retransmission means the first try was lost; a
        # silent timing ping means something was.
        ping = probe.ping
        if (answered and not ping and probe.tryno > 0) or (ping and not answered):
            # nmap dates a loss by the retransmission that revealed it; pynmap
            # pacing by the try that was lost, as TCP does, so that losses from
            # before the last cut (or delay increase) do not cut again.
            lost = probe.lost_sent if self.date_loss_by_lost_try and not ping else probe.sent
            if lost > mine.last_drop:
                mine.drop(h.n_active, self.params, now)
            if lost > group.last_drop:
                group.drop_group(self.n_active, self.params, now)
            if answered:
                scale = PING_WEIGHT if ping else 1
                group.ack(self.params, scale)
                mine.ack(self.params, scale)
            if lost > h.last_boost:
                h.bad += 1
            elif answered:
                h.good += 1
        elif answered:
            scale = PING_WEIGHT if ping else 1
            group.ack(self.params, scale)
            mine.ack(self.params, scale)
            h.good += 1
        if h.bad > 10:
            threshold = 0.40 if self.timing.level >= 4 else 0.30
            if h.bad / (h.bad + h.good) > threshold:
                bad, total = h.bad, h.bad + h.good
                old = h.delay
                self._boost_delay(h, now)
                if h.delay != old:
                    self.emit(DelayRaised(h.index, h.address, round(old * 1000),
                                          round(h.delay * 1000), bad=bad, total=total))

    def _boost_delay(self, h: HostState, now: float) -> None:
        ms = round(h.delay * 1000)
        ms = 5 if ms == 0 else min(ms * 2, max(ms, 1000))
        ms = min(ms, round(self.max_scan_delay * 1000))
        h.delay = ms / 1000
        h.last_boost = now
        h.bad = h.good = 0

    def _host_answer(
        self, h: HostState, probe: Probe, outcome: Outcome, now: float, late: bool
    ) -> None:
        """Host discovery: the answer decides up or down."""
        if outcome.host_up is None:
            return
        up = outcome.host_up
        self.emit(HostAnswer(h.index, h.address, h.status, up, probe.tryno, now - probe.sent))
        if h.status != "up":
            h.status = "up" if up else "down"
            h.hint_reason = h.reason or "unknown-response"
            h.reason = outcome.reason
            h.reason_ttl = outcome.ttl
            if up:
                self.emit(HostUp(h.index, h.address, h.reason, h.hint_reason, h.reason_ttl))
        self._sample(h, probe, now, late)
        # A "down" answer is an ICMP error: rate limited and unreliable, so it
        # may speed the scan up but never counts as a drop.
        if up or probe.tryno == 0:
            if probe.tryno:
                self.emit(Dropped(h.index, h.address))
            self._adjust_timing(h, probe, True, now)
        else:
            self.emit(Untimed(h.index, h.address, "down"))
        if up and h.ping_port is None:
            h.ping_port = probe.port
            if PingProbe not in self.quiet:
                self.emit(PingProbe(h.index, h.address, probe.port))
        self._finish(h, probe)
        if up:
            # The first sign of life settles it: the other pings are moot.
            self._abandon_all(h)
            h.bench = []
            h.retry = []

    def _port_answer(
        self, h: HostState, probe: Probe, outcome: Outcome, now: float, late: bool
    ) -> None:
        state = outcome.state
        assert state is not None
        old = h.answers.get(probe.port)
        if old is None:
            h.finished += 1
            h.answers[probe.port] = (state, outcome.reason)
            if PortState not in self.quiet:
                self.emit(PortState(h.index, h.address, probe.port, state, outcome.reason))
        elif old[0] == "filtered" or (old[0] == "closed" and state == "open"):
            # Connect scan precedence: open beats everything, filtered nothing.
            h.answers[probe.port] = (state, outcome.reason)
            if state != old[0] and PortState not in self.quiet:
                self.emit(PortState(h.index, h.address, probe.port, state, outcome.reason))
        self._sample(h, probe, now, late)
        adjust = True
        if state == "filtered":
            # ICMP errors: see _host_answer.
            adjust = probe.tryno == 0
            if not adjust:
                self.emit(Untimed(h.index, h.address, state))
        if adjust:
            if probe.tryno:
                self.emit(Dropped(h.index, h.address))
            self._adjust_timing(h, probe, True, now)
            if probe.tryno > h.max_ok_tryno:
                h.max_ok_tryno = probe.tryno
                self.emit(MaxTryno(h.index, h.address, probe.tryno))
                if h.max_ok_tryno > (4 if self.timing.level >= 4 else 3):
                    old_delay = h.delay
                    self._boost_delay(h, now)
                    if h.delay != old_delay:
                        self.emit(DelayRaised(h.index, h.address, round(old_delay * 1000),
                                              round(h.delay * 1000), tryno=h.max_ok_tryno))
        if state != "filtered" and h.ping_port is None:
            h.ping_port = probe.port
            if PingProbe not in self.quiet:
                self.emit(PingProbe(h.index, h.address, probe.port))
        self._finish(h, probe)

    def _give_up(self, h: HostState, probe: Probe, capped: bool) -> None:
        """The probe ran out of tries; the port keeps its default state (filtered)."""
        if capped and not h.capped_warned:
            self.emit(RetransmissionCap(h.index, h.address, probe.tryno))
            h.capped_warned = True
        if self.ping_scan:
            self._mark_down(h)

    def _mark_down(self, h: HostState) -> None:
        if h.status != "up":
            h.status = "down"
            if not h.reason:
                h.reason = "no-response"

    def _dismiss_bench(self, h: HostState) -> None:
        if self.ping_scan:
            self._mark_down(h)
        h.bench = []
        h.bench_tryno = 0

    def _remove_completed(self, now: float) -> None:
        # Runs several times a round: only the targets that may have finished
        # since the last call are looked at (every target when a host timeout
        # can end any of them), and the test of _completed() is spelt out.
        nports = len(self.ports)
        ping = self.ping_scan
        timeouts = self.host_timeout > 0 and not ping
        incomplete = self._incomplete
        if timeouts:
            candidates: list[HostState] = incomplete
        elif not self._maybe_done:
            return
        else:
            candidates = self._maybe_done
        self._maybe_done = []
        leaving = [
            h for h in candidates
            if (not (h.n_active or h.waiting or h.bench or h.retry)
                and ((ping and h.status is not None) or h.next_fresh >= nports))
            or (timeouts and self._host_timed_out(h, now))
        ]
        if not leaving:
            return
        if candidates is not incomplete:
            # in the group's order, each once, as a walk over it would find them
            leaving = sorted(set(leaving), key=_by_index)
        remain = len(incomplete)
        for h in leaving:
            remain -= 1
            timed_out = not self._completed(h)
            h.end = now
            if timed_out:
                h.timed_out = True
                self._abandon_all(h)
                h.retry = []
                h.bench = []
            self._note_removal(h, timed_out, now, remain)
            self._host_done(h)
        # Keep the round robin pointing at the same next target.
        pos = self._rr % len(incomplete)
        self._rr = sum(1 for x in incomplete[:pos] if x.end is None)
        self._incomplete = [h for h in incomplete if h.end is None]

    def _note_removal(self, h: HostState, timed_out: bool, now: float, remain: int) -> None:
        if len(self.ports) <= 50:
            return
        if timed_out or remain:
            elapsed = now - (self._started if self._started is not None else now)
            self.emit(HostCompleted(h.index, h.address, self._name, elapsed, remain, timed_out))

    def _host_done(self, h: HostState) -> None:
        """The target left the phase; it may become the global ping host."""
        if HostDone not in self.quiet:
            self.emit(HostDone(h.index, h.address, h.n_active + len(h.waiting)))
        # nmap keeps the finished host with the best timing ping for global
        # pings; every connect ping scores the same, so the newest one wins
        # unless the current one still has a ping in flight
        pinghost = self._pinghost
        if h.ping_port is not None and (pinghost is None or pinghost.n_active == 0):
            self._pinghost = h
            if GlobalPingHost not in self.quiet:
                self.emit(GlobalPingHost(h.index, h.address))
