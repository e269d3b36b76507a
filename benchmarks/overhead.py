#!/usr/bin/env python3
"""The client's own cost per message, without the network: what is left when every reply
is already there.

    python benchmarks/overhead.py              # 20,000 messages per client, best of 5
    python benchmarks/overhead.py -n 5000 -r 3

Each client talks to a stand-in for the socket that discards what is written and hands
out canned replies (greeting, EHLO, then per message the replies its commands earn; the
same bytes for every client). What is timed is therefore the Python work per message:
argument checks, command encoding, dot-stuffing, the session's bookkeeping, the reply
parser, the drivers. ``throughput.py`` measures the same clients on a real socket, where
round trips and system calls come on top.

The stand-ins replace netsmtp's socket stream (``SocketStream.open``) and smtplib's
socket (``SMTP._get_socket``); nothing else is changed. Every client runs in its own
process, round robin.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import throughput  # noqa: E402  (the same messages and client loops as the throughput table)

GREETING = b"220 sink.example ESMTP\r\n"
EHLO = (
    b"250-sink.example\r\n250-PIPELINING\r\n250-CHUNKING\r\n250-8BITMIME\r\n"
    b"250-SIZE 100000000\r\n250 ENHANCEDSTATUSCODES\r\n"
)
OK = b"250 2.0.0 OK\r\n"
GO_AHEAD = b"354 go ahead\r\n"
BYE = b"221 2.0.0 bye\r\n"
LOCKSTEP = [OK, OK, OK, GO_AHEAD, OK]  # MAIL, RCPT, RCPT, DATA, the message
PIPELINED = [OK * 4]  # MAIL, RCPT, RCPT and BDAT LAST answered in one batch

CLIENTS = {
    "netsmtp mail/to/data": ("netsmtp_loop", LOCKSTEP),
    "netsmtp send_message": ("netsmtp_send", PIPELINED),
    "smtplib sendmail": ("smtplib_sendmail", LOCKSTEP),
}


class CannedStream:
    """netsmtp's SocketStream, minus the socket: writes vanish, reads pop canned replies."""

    local_address = "127.0.0.1"

    def __init__(self, replies: list[bytes]) -> None:
        self._replies = iter(replies)

    def read(self, deadline: float | None) -> bytes:
        return next(self._replies, b"")

    def read_nowait(self) -> bytes:
        return b""

    def write(self, data: bytes | memoryview, timeout: float | None) -> None:
        pass

    def close(self) -> None:
        pass


class CannedSocket:
    """smtplib's socket, minus the socket: ``makefile()`` reads the canned replies."""

    def __init__(self, replies: bytes) -> None:
        self._replies = replies

    def sendall(self, data: bytes) -> None:
        pass

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(io.BytesIO(self._replies))  # type: ignore[arg-type]

    def settimeout(self, timeout: float | None) -> None:
        pass

    def close(self) -> None:
        pass


def child(name: str, count: int) -> float:
    """Run one client over ``count`` messages; return seconds per message."""
    runner, per_message = CLIENTS[name]
    replies = [GREETING, EHLO, *(per_message * count), BYE]
    if runner.startswith("netsmtp"):
        import netsmtp._sync_driver as driver

        driver.resolve = lambda host, port, family: [(2, ("127.0.0.1", port))]  # type: ignore[assignment]
        driver.SocketStream.open = classmethod(lambda cls, *args: CannedStream(replies))  # type: ignore[assignment,method-assign]
    else:
        import smtplib

        canned = b"".join(replies)
        smtplib.SMTP._get_socket = lambda self, host, port, timeout: CannedSocket(canned)  # type: ignore[method-assign]
    run = getattr(throughput, runner)()
    messages = [throughput.message(n) for n in range(count)]
    started = time.perf_counter()
    run(25, messages)
    return (time.perf_counter() - started) / count


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", "--messages", type=int, default=20_000)
    parser.add_argument("-r", "--runs", type=int, default=5)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.messages)))
        return
    best: dict[str, float] = {}
    for _ in range(args.runs):
        for name in CLIENTS:
            out = subprocess.run(
                [sys.executable, __file__, "--child", name, "-n", str(args.messages)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            seconds = float(json.loads(out))
            best[name] = min(best.get(name, seconds), seconds)
    base = best["smtplib sendmail"]
    print(f"client's own cost per message, no network; {args.messages:,} messages, best of {args.runs}")
    print(f"{'client':<24} {'µs/message':>11} {'vs smtplib':>11}")
    for name, seconds in best.items():
        print(f"{name:<24} {seconds * 1e6:>11.1f} {seconds / base:>10.2f}x")


if __name__ == "__main__":
    main()
