"""``netsmtp.SMTP`` with its I/O replaced by a server in memory that says yes to everything.

The client's operations are generators of requests (:mod:`netsmtp._client.requests`);
:meth:`MemorySMTP._execute` carries them out without a socket: every write is recorded in
``wire`` and every reply is made up from the command it answers. So the properties run
the real public methods, argument checks, encoders and session rules at memory speed.
"""

from __future__ import annotations

import base64
import socket
from typing import Any

import netsmtp
from netsmtp._client.requests import Close, Open, ReadReply, Request, Resolve, StartTLS, Write
from netsmtp._core.session import END_OF_DATA, GREETING

ALL_EXTENSIONS = (
    "PIPELINING",
    "SIZE 10000000",
    "DSN",
    "8BITMIME",
    "BINARYMIME",
    "CHUNKING",
    "SMTPUTF8",
    "REQUIRETLS",
    "ETRN",
    "XVERP",
    "CHECKPOINT",
    "AUTH PLAIN LOGIN",
    "STARTTLS",
)


class MemorySMTP(netsmtp.SMTP):
    """An SMTP client connected to an agreeable server in memory."""

    def __init__(self, extensions: tuple[str, ...] = ALL_EXTENSIONS, **options: Any) -> None:
        self.wire: list[bytes] = []
        self._extensions = extensions
        self._auth_step = 0
        options.setdefault("hello", "client.test")
        options.setdefault("raise_errors", True)
        options.setdefault("allow_insecure_auth", True)
        super().__init__("memory.test", **options)

    def take(self) -> bytes:
        """Everything written since the last call."""
        data, self.wire = b"".join(self.wire), []
        return data

    def _answer(self, verb: str) -> bytes:
        if verb == GREETING:
            return b"220 memory.test ESMTP\r\n"
        if verb in ("EHLO", "HELO", "LHLO"):
            lines = ["memory.test", *self._extensions] if verb != "HELO" else ["memory.test"]
            return b"".join(
                f"250{'-' if i < len(lines) - 1 else ' '}{line}\r\n".encode() for i, line in enumerate(lines)
            )
        if verb == "DATA":
            return b"354 go ahead\r\n"
        if verb == "STARTTLS":
            return b"220 go ahead\r\n"
        if verb == "AUTH":
            last = self.wire[-1] if self.wire else b""
            # AUTH LOGIN (no initial response) and its first answer each get a challenge.
            if last.startswith(b"AUTH LOGIN") or (self._auth_step == 1 and not last.startswith(b"AUTH")):
                self._auth_step += 1
                return (
                    b"334 "
                    + base64.b64encode(b"Password:" if self._auth_step > 1 else b"Username:")
                    + b"\r\n"
                )
            return b"235 2.7.0 ok\r\n"
        if verb == "QUIT":
            return b"221 bye\r\n"
        if verb == "HELP":
            return b"214 help\r\n"
        if verb == END_OF_DATA:
            return b"250 2.0.0 queued\r\n"
        return b"250 ok\r\n"

    def _execute(self, request: Request) -> Any:
        if isinstance(request, Resolve):
            return [(socket.AF_INET, ("192.0.2.25", request.port))]
        if isinstance(request, Open | Close | StartTLS):
            return None
        if isinstance(request, Write):
            self.wire.append(request.data)
            return None
        if isinstance(request, ReadReply):
            if request.write:
                self.wire.append(request.write)
            session = self._session
            session.receive_data(self._answer(session.awaiting[0]))
            result = session.next_reply()
            assert result is not None
            return result
        raise AssertionError(f"unknown request {request!r}")


def command_lines(wire: bytes) -> list[bytes]:
    """Split written bytes into CRLF-terminated lines; fail on a CR or LF outside a CRLF, a
    NUL, or an unterminated line."""
    assert wire.endswith(b"\r\n"), f"unterminated: {wire!r}"
    lines = wire[:-2].split(b"\r\n")
    for line in lines:
        assert b"\r" not in line, f"bare CR in {line!r}"
        assert b"\n" not in line, f"bare LF in {line!r}"
        assert b"\x00" not in line, f"NUL in {line!r}"
    return [line + b"\r\n" for line in lines]
