"""What an operation asks its driver to do.

Each client operation is a generator that yields these requests and receives their
results; the blocking and asyncio drivers carry them out (as httpx does for auth flows
and psycopg 3 for its protocol), so every protocol rule is written once. Failures come
back into the generator as netsmtp exceptions, thrown at the ``yield``.
"""

from __future__ import annotations

import ssl
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar

from .._core.reply import Reply

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Resolve:
    """Look up ``host``; the result is a list of ``(family, sockaddr)``. ConnectError on failure."""

    host: str
    port: int
    family: int


@dataclass(frozen=True, slots=True)
class Open:
    """Open a TCP connection to one address. ConnectError or SMTPTimeout on failure."""

    family: int
    sockaddr: tuple[Any, ...]
    local: tuple[str, int] | None


# Write and ReadReply are made for nearly every command: not frozen, because a frozen
# dataclass pays an object.__setattr__ call per field on construction. Nothing mutates a
# request once it is yielded.
@dataclass(slots=True)
class Write:
    """Write all of ``data`` within the timeout."""

    data: bytes | memoryview  # (a memoryview: a chunk of a message in memory, not copied)


@dataclass(slots=True)
class ReadReply:
    """Write ``write`` (if any), then read until the session has the next reply.

    The result is ``(verb, Reply)``. Writing and reading in one request saves a round
    through the generators for the commonest step: one command, one reply.
    """

    timeout: float | None = None  # None: the client's timeout
    write: bytes = b""


@dataclass(frozen=True, slots=True)
class StartTLS:
    """Run the TLS handshake on the open connection. TLSError on failure."""

    context: ssl.SSLContext
    server_hostname: str | None


@dataclass(frozen=True, slots=True)
class Close:
    """Close the transport (no bytes are sent)."""


Request: TypeAlias = Resolve | Open | Write | ReadReply | StartTLS | Close
Flow: TypeAlias = Generator[Request, Any, T]
ReplyResult: TypeAlias = tuple[str, Reply]
