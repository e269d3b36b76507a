"""Helpers shared by the send_message / pipelining / chunking / LMTP tests."""

from __future__ import annotations

import select
from typing import Any, Protocol

from netsmtp import Reply
from tests.helpers.scripted import Peer, ehlo_lines

HELLO = "client.test"
EHLO = f"EHLO {HELLO}\r\n".encode()
LHLO = f"LHLO {HELLO}\r\n".encode()
QUIT = b"QUIT\r\n"


class Connect(Protocol):
    """Makes a connected client with SMTP's blocking API (a real SMTP/LMTP, or the async one
    behind :class:`tests.helpers.clients.AsyncProxy`)."""

    def __call__(self, server: Any = ..., **options: Any) -> Any: ...


def greet(p: Peer, *capabilities: str, verb: str = "EHLO") -> None:
    """Greet and answer the client's EHLO (or LHLO) with ``capabilities``."""
    p.send("220 test.example ESMTP ready\r\n")
    p.expect(f"{verb} {HELLO}")
    p.reply(*ehlo_lines(*capabilities))


def serve_quit(p: Peer) -> None:
    p.expect("QUIT")
    p.reply("221 2.0.0 bye")


def quiet(p: Peer, wait: float = 0.05) -> bool:
    """True when the client has sent nothing more (nothing buffered, nothing arriving within
    ``wait`` seconds): it is waiting for our reply, not pipelining."""
    if p.buffer:
        return False
    readable, _, _ = select.select([p.sock], [], [], wait)
    return not readable


def reply(line: str) -> Reply:
    """The Reply a one-line server answer parses to: ``reply("250 2.1.5 ok")``."""
    return Reply.from_lines(int(line[:3]), (line[4:],))


def bdat(data: bytes, last: bool = False) -> bytes:
    return f"BDAT {len(data)}{' LAST' if last else ''}\r\n".encode() + data


def after_hello(received: bytes) -> bytes:
    """What the client sent after its EHLO/LHLO line."""
    for hello in (EHLO, LHLO):
        if received.startswith(hello):
            return received[len(hello) :]
    raise AssertionError(f"no EHLO/LHLO at the start of {received[:60]!r}")


class Sink:
    """A script that accepts everything: each command line goes to ``commands``; each DATA
    payload (as sent: dot-stuffed, end marker included) and each BDAT message (the chunks'
    bytes joined) to ``messages``. ``rcpt(line)`` chooses the answer to a RCPT."""

    def __init__(self, *capabilities: str, verb: str = "EHLO", rcpt: Any = None) -> None:
        self.capabilities = capabilities
        self.verb = verb
        self.rcpt = rcpt or (lambda line: "250 2.1.5 ok")
        self.commands: list[bytes] = []
        self.messages: list[bytes] = []
        self.chunks: list[int] = []  # BDAT sizes, in order

    def __call__(self, p: Peer) -> None:
        greet(p, *self.capabilities, verb=self.verb)
        pending = b""
        while line := p.readline():
            self.commands.append(line)
            if line == QUIT:
                p.reply("221 2.0.0 bye")
                return
            if line == b"DATA\r\n":
                p.reply("354 go ahead")
                self.messages.append(p.read_data())
                p.reply("250 2.0.0 queued")
            elif line.startswith(b"BDAT "):
                size = int(line.split()[1])
                self.chunks.append(size)
                pending += p.read(size)
                if line.endswith(b" LAST\r\n"):
                    self.messages.append(pending)
                    pending = b""
                    p.reply("250 2.0.0 queued")
                else:
                    p.reply(f"250 2.0.0 {size} octets")
            elif line.startswith(b"RCPT "):
                p.reply(self.rcpt(line))
            else:
                p.reply("250 2.0.0 ok")

    def envelope(self, index: int = 0) -> list[bytes]:
        """The MAIL and RCPT lines of the ``index``-th transaction."""
        txns: list[list[bytes]] = []
        for line in self.commands:
            if line.startswith(b"MAIL "):
                txns.append([line])
            elif line.startswith(b"RCPT ") and txns:
                txns[-1].append(line)
        return txns[index]
