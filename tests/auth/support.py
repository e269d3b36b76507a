"""Server-side helpers for the scripted AUTH tests, and the secret-leak check."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable

from tests.auth.conftest import HELLO
from tests.helpers.scripted import Peer, ehlo_lines

EHLO = f"EHLO {HELLO}\r\n".encode()


def b64(data: bytes | str) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def greet(p: Peer, *capabilities: str) -> None:
    p.send("220 test.example ESMTP ready\r\n")
    p.expect(EHLO)
    p.reply(*ehlo_lines(*capabilities))


def starttls(p: Peer, before: Iterable[str], after: Iterable[str]) -> None:
    """Greet with ``before`` (+ STARTTLS), do the handshake, answer the new EHLO with ``after``."""
    greet(p, *before, "STARTTLS")
    p.expect("STARTTLS")
    p.reply("220 2.0.0 Ready to start TLS")
    p.starttls()
    p.expect(EHLO)
    p.reply(*ehlo_lines(*after))


def serve_quit(p: Peer) -> None:
    """The client sends nothing but QUIT (and closes)."""
    p.expect("QUIT")
    p.reply("221 2.0.0 bye")
    assert p.at_eof(), "the client did not close after QUIT"


def closed_now(p: Peer) -> None:
    """The client closes without sending anything more."""
    assert p.read_to_eof() == b"", "the client sent more bytes before closing"


def script(*steps: Callable[[Peer], None]) -> Callable[[Peer], None]:
    def run(p: Peer) -> None:
        for step in steps:
            step(p)

    return run


def secret_forms(*secrets: str | bytes) -> list[str]:
    """Each secret as text and as base64 (whole), for the leak checks."""
    forms: list[str] = []
    for secret in secrets:
        raw = secret.encode() if isinstance(secret, str) else secret
        forms.append(raw.decode("latin-1"))
        forms.append(base64.b64encode(raw).decode())
    return forms


def assert_no_secret(text: str, *secrets: str | bytes) -> None:
    for form in secret_forms(*secrets):
        assert form not in text, f"a secret ({len(form)} characters) leaked"


def assert_quiet(p: Peer, wait: float = 0.3) -> None:
    """Nothing more arrives from the client for ``wait`` seconds (it waits for our reply)."""
    assert not p.buffer, f"the client sent {p.buffer!r} without waiting for the reply"
    p.sock.settimeout(wait)
    try:
        data = p.sock.recv(1024)
    except TimeoutError:
        return
    finally:
        p.sock.settimeout(p.server.io_timeout)
    raise AssertionError(f"the client sent {data!r} without waiting for the reply")
