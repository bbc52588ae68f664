"""A userspace Ethernet link between two interfaces: fixed one-way delay, seeded loss.

The kernel here has no netem, so the lab's scanner and target namespaces are
joined through a third namespace where this program copies every frame from
one veth to the other with AF_PACKET sockets, holding each in a timer heap
for the delay and dropping a seeded random share of them.  ARP and NDP go
through it too, so they see the same delay.  Frames the program sends
itself come back to its sockets as outgoing and are ignored.

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
_MAX_FRAME = 65536


def _open(interface: str) -> socket.socket:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.bind((interface, 0))
    sock.setblocking(False)
    return sock


def forward(a: str, b: str, *, delay: float, loss: float, seed: int) -> None:
    """Run until SIGTERM: frames from `a` go out on `b` and the other way round."""
    rng = random.Random(seed)
    socks = {a: _open(a), b: _open(b)}
    other = {socks[a]: socks[b], socks[b]: socks[a]}
    queue: list[tuple[float, int, socket.socket, bytes]] = []
    serial = 0
    running = True

    def stop(_signo: int, _frame: object) -> None:
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("ready", flush=True)
    while running:
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, out, frame = heapq.heappop(queue)
            # a full queue on the veth loses the frame, as on a real link
            with contextlib.suppress(OSError):
                out.send(frame)
        timeout = max(0.0, queue[0][0] - now) if queue else 0.5
        try:
            ready, _, _ = select.select(list(other), [], [], timeout)
        except InterruptedError:
            continue
        for sock in ready:
            while True:
                try:
                    frame, address = sock.recvfrom(_MAX_FRAME)
                except (BlockingIOError, InterruptedError):
                    break
                if address[2] == socket.PACKET_OUTGOING:
                    continue
                if loss and rng.random() < loss:
                    continue
                serial += 1
                heapq.heappush(queue, (time.monotonic() + delay, serial, other[sock], frame))
    for sock in socks.values():
        sock.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--loss", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    forward(args.a, args.b, delay=args.delay_ms / 1000, loss=args.loss, seed=args.seed)


if __name__ == "__main__":
    main()
