"""netsmtp's exceptions.

The tree::

    SMTPError                      everything the network or the server did to us
    ├── ConnectError               (also ConnectionError) no session could be set up
    │   ├── GreetingError          the greeting or EHLO/HELO was refused (.reply)
    │   └── ConnectTimeout         (also SMTPTimeout) setting up the session timed out
    ├── ConnectionLost             (also ConnectionError) the connection broke mid-session
    │   └── DeliveryUnknown        it broke after the final dot: the message may or may not be queued
    ├── SMTPTimeout                (also TimeoutError) the server did not answer in time
    ├── TLSError                   the TLS handshake failed
    ├── ProtocolError              the server broke the protocol (malformed or unsolicited reply)
    ├── SASLError                  an AUTH exchange failed on our side (bad challenge, server unproven)
    ├── ReplyError                 the server said no (.reply, .command)
    │   └── NotSupportedError      refused locally: the server does not offer what is needed
    │       └── AuthPolicyError    AUTH refused locally: it would expose the secret (no TLS)
    └── SendError                  send_message delivered to nobody (.result)

    UsageError                     a method called at the wrong moment (a programming error)
    ValueError                     an argument that can never be sent safely (CR, LF, NUL, too long)
    ExtensionWarning               an ESMTP option was dropped: the server does not advertise it

Transport errors (timeouts, lost connections, protocol and TLS errors) always leave the
connection closed; a ReplyError leaves it healthy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._core.reply import Reply


class SMTPError(Exception):
    """Root of every error the network or the server can cause."""


class ConnectError(SMTPError, ConnectionError):
    """No host of the list gave a usable session.

    ``attempts`` lists each try as ``(where, why)``: the host (and address) tried, and the
    reason in words. ``causes`` pairs the same tries with the exception each one ended in,
    to tell a TLS failure from a refused connection without reading the text.
    """

    def __init__(self, message: str, attempts: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.attempts: list[tuple[str, str]] = list(attempts or [])
        # The same attempts with the exception each one ended in, for callers that need to
        # tell a TLS failure from a refused connection without reading the text.
        self.causes: list[tuple[str, BaseException]] = []


class GreetingError(ConnectError):
    """The server refused the session: a non-2xx greeting, or EHLO and HELO refused."""

    def __init__(
        self, message: str, reply: Reply | None = None, attempts: list[tuple[str, str]] | None = None
    ) -> None:
        super().__init__(message, attempts)
        self.reply = reply


class SMTPTimeout(SMTPError, TimeoutError):
    """The server did not answer within ``timeout`` seconds; the connection was closed."""


class ConnectTimeout(ConnectError, SMTPTimeout):
    """Setting up the session timed out (connect, TLS handshake, greeting or EHLO).

    Both a ``ConnectError`` (``attempts`` says why for each address) and an
    ``SMTPTimeout`` (also ``TimeoutError``): callers may catch either.
    """


class ConnectionLost(SMTPError, ConnectionError):
    """The connection was closed or broke, by the server or the network."""


class DeliveryUnknown(ConnectionLost):
    """The connection broke after the whole message was sent but before the server answered.

    The server may or may not have queued the message (RFC 1047): retrying may duplicate it.
    """


class TLSError(SMTPError):
    """The TLS handshake failed (certificate, host name, protocol); the connection was closed."""


class ProtocolError(SMTPError):
    """The server broke the SMTP protocol; the connection was closed and is never reused."""


class ReplyError(SMTPError):
    """The server refused a command. ``reply`` is the server's answer, ``command`` the verb."""

    def __init__(self, reply: Reply, command: str | None = None) -> None:
        where = f"{command}: " if command else ""
        super().__init__(f"{where}{reply.code} {reply.text}")
        self.reply = reply
        self.command = command


class NotSupportedError(ReplyError):
    """Refused without sending: the server does not advertise what the command needs."""


class AuthPolicyError(NotSupportedError):
    """AUTH refused without sending: the usable mechanisms would expose the password or
    token on a connection that is not encrypted and verified (``allow_insecure_auth``)."""


class SendError(SMTPError):
    """``send_message`` delivered to no recipient. ``result`` holds every reply."""

    def __init__(self, message: str, result: Any) -> None:
        super().__init__(message)
        self.result = result


class UsageError(Exception):
    """A method was called at a moment it cannot be used (a programming error, not the server's)."""


class ExtensionWarning(UserWarning):
    """An ESMTP option was dropped because the server does not advertise its extension."""
