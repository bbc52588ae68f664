"""A userspace Ethernet link between two interfaces: fixed one-way delay, seeded loss.

The kernel here has no netem, so the lab joins its scanner and router
namespaces through a third namespace where this program copies every frame
from one veth to the other with AF_PACKET sockets, holding each in a timer
heap for the delay and dropping a seeded random share of them, whatever
they carry (the lab pins the neighbour entries of the two ends, so only IP
crosses it there).  Frames this program sends come back to its own
sockets as outgoing ones and are ignored.

    python -m tests.support.lab.delaylink IF_A IF_B --delay-ms 25 --loss 0.02 --seed 1
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import random
import select
import signal
import socket
import time

ETH_P_ALL = 0x0003
SO_RCVBUFFORCE = 33
_MAX_FRAME = 65536
# A scanner's burst of SYNs must not overflow the socket while this process waits
# for a core: loss is the scenario's to decide, never the host's load
_RCVBUF = 8 << 20


def _open(interface: str) -> socket.socket:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    with contextlib.suppress(OSError):  # needs CAP_NET_ADMIN; the default still works
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, _RCVBUF)
    sock.bind((interface, 0))
    sock.setblocking(False)
    return sock


def forward(a: str, b: str, *, delay: float, loss: float, seed: int) -> None:
    """Run until SIGTERM or SIGINT: frames from `a` go out on `b` and the other way round."""
    rng = random.Random(seed)
    socks = {a: _open(a), b: _open(b)}
    other = {socks[a]: socks[b], socks[b]: socks[a]}
    queue: list[tuple[float, int, socket.socket, bytes]] = []
    serial = 0

    def stop(_signo: int, _frame: object) -> None:
        # raised, not flagged: select() would otherwise resume its wait after the handler
        raise _Stop

    try:
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        print("ready", flush=True)
        while True:
            now = time.monotonic()
            while queue and queue[0][0] <= now:
                _, _, out, frame = heapq.heappop(queue)
                # a full backlog on the veth loses the frame, as a real link would
                with contextlib.suppress(OSError):
                    out.send(frame)
            timeout = max(0.0, queue[0][0] - now) if queue else None
            for sock in select.select(list(other), [], [], timeout)[0]:
                while True:
                    try:
                        frame, address = sock.recvfrom(_MAX_FRAME)
                    except BlockingIOError:
                        break
                    if address[2] == socket.PACKET_OUTGOING:
                        continue
                    if loss and rng.random() < loss:
                        continue
                    if not delay:
                        with contextlib.suppress(OSError):
                            other[sock].send(frame)
                        continue
                    serial += 1  # keeps frames due at the same instant in arrival order
                    heapq.heappush(queue, (time.monotonic() + delay, serial, other[sock], frame))
    except _Stop:
        pass
    finally:
        for sock in socks.values():
            sock.close()


class _Stop(Exception):
    """SIGTERM or SIGINT arrived."""


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="one-way delay")
    parser.add_argument("--loss", type=float, default=0.0, help="share of frames lost")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    forward(args.a, args.b, delay=args.delay_ms / 1000, loss=args.loss, seed=args.seed)


if __name__ == "__main__":
    main()
