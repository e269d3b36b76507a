"""Helpers for the SECURITY.md catalogue tests of §3 (SM-), §4 (CI-) and §5 (MS-).

The clients come from the shared ``sec_`` fixtures of ``conftest.py`` (one test body for
``SMTP`` and ``AsyncSMTP``); this module holds the server side: a recording sink, the
common opening, and the views the catalogue's "required" outcomes are stated in (what the
client wrote after EHLO, where a lenient receiver would see the end of the data).
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from tests.helpers.scripted import Peer, ehlo_lines

HELLO = "client.test"
EHLO = f"EHLO {HELLO}\r\n".encode()
QUIT = b"QUIT\r\n"
SENDER = "a@example.org"
RECIPIENT = "b@example.org"
MAIL = f"MAIL FROM:<{SENDER}>\r\n".encode()
RCPT = f"RCPT TO:<{RECIPIENT}>\r\n".encode()

# Tests that wait out timeouts run for the blocking client and the default asyncio loop only
# (uvloop adds nothing to a timer test and would add seconds): ``@TIMED`` on such a test.
TIMED = pytest.mark.parametrize("sec_kind", ["sync", "asyncio"], indirect=True)


def greet(p: Peer, *capabilities: str, banner: str = "220 test.example ESMTP ready") -> None:
    """Greet, expect the client's EHLO, answer it with ``capabilities``."""
    p.send(banner + "\r\n")
    p.expect(EHLO)
    p.reply(*ehlo_lines(*capabilities))


def serve_quit(p: Peer) -> None:
    """QUIT, 221, and the client closes."""
    p.expect("QUIT")
    p.reply("221 2.0.0 bye")
    assert p.at_eof(), "the client did not close after QUIT"


def drain(p: Peer, wait: float = 3.0) -> bytes:
    """Everything the client still sends until it closes (errors on our side ignored)."""
    with contextlib.suppress(OSError):
        return p.read_to_eof(wait)
    return b""


def _line_or_eof(p: Peer, wait: float) -> bytes:
    """The client's next line, or b"" once it closed; AssertionError if it does neither
    within ``wait`` seconds (``Peer.readline`` cannot tell a timeout from a close)."""
    p.sock.settimeout(wait)
    try:
        while b"\n" not in p.buffer:
            try:
                data = p.sock.recv(65536)
            except TimeoutError:
                raise AssertionError(f"the client neither closed nor sent a line within {wait} s") from None
            except OSError:
                data = b""
            if not data:
                rest, p.buffer = p.buffer, b""
                return rest
            p.server._record(data, p.tls)
            p.buffer += data
    finally:
        with contextlib.suppress(OSError):
            p.sock.settimeout(p.server.io_timeout)
    line, _, p.buffer = p.buffer.partition(b"\n")
    return line + b"\n"


def quit_or_nothing(p: Peer, wait: float = 3.0) -> None:
    """The client closes within ``wait`` seconds, having sent nothing but an optional
    ``QUIT`` (which is answered)."""
    line = _line_or_eof(p, wait)
    if line:
        assert line == QUIT, f"the client sent {line!r} where only QUIT (or nothing) was allowed"
        with contextlib.suppress(OSError):
            p.reply("221 2.0.0 bye")
        rest = p.read_to_eof(wait)
        assert rest == b"", f"the client sent {rest!r} after QUIT"


def after_ehlo(received: bytes) -> bytes:
    """What the client wrote after its (first) EHLO line."""
    assert received.startswith(EHLO), received[:80]
    return received[len(EHLO) :]


class Sink:
    """Accepts everything; records each command line and each DATA payload as received.

    ``messages`` holds every DATA payload exactly as it came (dot-stuffed, end marker
    included), read the way a strict receiver does: up to the first ``CRLF.CRLF``. Whatever
    follows is read as commands again, so a smuggled end of data shows up as an extra
    message or command in ``commands``. BDAT frames are recorded whole in ``frames``.
    """

    def __init__(self, *capabilities: str, data_reply: str = "250 2.0.0 queued") -> None:
        self.capabilities = capabilities
        self.data_reply = data_reply
        self.commands: list[bytes] = []
        self.messages: list[bytes] = []
        self.frames: list[bytes] = []

    def __call__(self, p: Peer) -> None:
        greet(p, *self.capabilities)
        while line := p.readline():
            self.commands.append(line)
            if line == QUIT:
                p.reply("221 2.0.0 bye")
                return
            if line == b"DATA\r\n":
                p.reply("354 go ahead")
                payload = p.read_data()
                self.messages.append(payload)
                if not payload.endswith(b".\r\n"):
                    return  # the client closed without ending the message
                p.reply(self.data_reply)
            elif line.startswith(b"BDAT "):
                size = int(line.split()[1])
                chunk = p.read(size)
                self.frames.append(line + chunk)
                if len(chunk) < size:
                    return  # the client closed in the middle of the chunk
                p.reply("250 2.0.0 chunk ok")
            else:
                p.reply("250 2.0.0 ok")


def transmit(smtp: Any, bodies: Iterable[list[bytes]]) -> None:
    """One transaction per body: MAIL, RCPT, then the body in one ``data()`` call when it is
    one piece, else ``data()`` + one ``datasend()`` per piece + ``dataend()``."""
    for pieces in bodies:
        assert smtp.mail(SENDER) is True
        assert smtp.to(RECIPIENT) is True
        if len(pieces) == 1:
            assert smtp.data(pieces[0]) is True, smtp.message()
        else:
            assert smtp.data() is True
            for piece in pieces:
                assert smtp.datasend(piece) is True
            assert smtp.dataend() is True, smtp.message()


def every_split(body: bytes) -> list[list[bytes]]:
    """``body`` in one piece, then cut in two at every offset (empty pieces included)."""
    return [[body]] + [[body[:i], body[i:]] for i in range(len(body) + 1)]


def transactions(count: int) -> list[bytes]:
    """The command lines of ``count`` MAIL/RCPT/DATA transactions (what the sink must see)."""
    return [MAIL, RCPT, b"DATA\r\n"] * count


_LENIENT_EOL = re.compile(rb"\r\n|\n|\r")


def lenient_ends(wire: bytes, strip_nul: bool = True) -> list[int]:
    """Where a *lenient* receiver (LF, CR or CRLF ends a line; NULs stripped unless told
    otherwise) finds a line holding only ``.``: the offsets just after each such line
    (offsets in the stripped text; equal to the wire's when there is no NUL)."""
    text = wire.replace(b"\x00", b"") if strip_nul else wire
    ends = []
    start = 0
    for m in _LENIENT_EOL.finditer(text):
        if text[start : m.start()] == b".":
            ends.append(m.end())
        start = m.end()
    return ends


def bare_cr_or_lf(wire: bytes) -> bool:
    """True if ``wire`` holds a CR or LF that is not part of a CRLF."""
    rest = wire.replace(b"\r\n", b"")
    return b"\r" in rest or b"\n" in rest


class Signal:
    """A one-shot flag the server script raises for the test (e.g. "the early reply is out")."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def wait(self, timeout: float = 5.0) -> None:
        assert self._event.wait(timeout), "the server script never got there"


def script(*steps: Callable[[Peer], Any]) -> Callable[[Peer], None]:
    """Run ``steps`` in order as one server script."""

    def run(p: Peer) -> None:
        for step in steps:
            step(p)

    return run
