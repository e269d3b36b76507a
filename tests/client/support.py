"""Small helpers shared by the client tests (run against SMTP and AsyncSMTP alike)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any, Protocol

from tests.helpers import clients
from tests.helpers.scripted import Peer, ScriptedServer, ehlo_lines

HELLO = "client.test"
EHLO = f"EHLO {HELLO}\r\n".encode()


class Connect(Protocol):
    """Makes a connected client with SMTP's blocking API: a real ``SMTP``, or an ``AsyncSMTP``
    behind :class:`tests.helpers.clients.AsyncProxy` (hence ``Any``)."""

    def __call__(self, server: ScriptedServer | str | list[str] | None = ..., **options: Any) -> Any: ...


def caller_file(smtp: Any, test_file: str) -> str:
    """Where a warning must point: the test's line for ``SMTP``; for ``AsyncSMTP`` the line that
    awaited the method, which is the proxy's (``tests/helpers/clients.py``)."""
    return clients.__file__ if isinstance(smtp, clients.AsyncProxy) else test_file


def refused_port() -> int:
    """A loopback port with nobody listening (connecting to it is refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def have_ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


def greet(p: Peer, *capabilities: str) -> None:
    """Greet and answer the client's EHLO (which must use the test hello name)."""
    p.send("220 test.example ESMTP ready\r\n")
    p.expect(EHLO)
    p.reply(*ehlo_lines(*capabilities))


def serve_quit(p: Peer) -> None:
    """Expect QUIT, answer 221 and expect the client to close."""
    p.expect("QUIT")
    p.reply("221 2.0.0 bye")
    assert p.at_eof(), "the client did not close after QUIT"


def sink(
    messages: list[bytes], *capabilities: str, data_reply: str = "250 2.0.0 queued"
) -> Callable[[Peer], None]:
    """A script that accepts every command; each DATA payload (end marker included) and each
    BDAT chunk (as ``b"BDAT n[ LAST]\\r\\n" + bytes``) is appended to ``messages``."""

    def script(p: Peer) -> None:
        greet(p, *capabilities)
        while True:
            line = p.readline()
            if not line:
                return
            if line == b"DATA\r\n":
                p.reply("354 go ahead")
                messages.append(p.read_data())
                p.reply(data_reply)
            elif line.startswith(b"BDAT "):
                size = int(line.split()[1])
                messages.append(line + p.read(size))
                p.reply("250 2.0.0 chunk ok")
            elif line == b"QUIT\r\n":
                p.reply("221 bye")
                assert p.at_eof()
                return
            else:
                p.reply("250 ok")

    return script
