"""What every SASL mechanism shares: the protocol, the error type, credential checks.

The :class:`Mechanism` protocol is the one interface built-in and custom mechanisms
implement (see the package docstring). It is sans-IO: base64, line framing, the 334/235
dance and every limit belong to :class:`~netsmtp._core.sasl.exchange.AuthExchange`, so a
mechanism only ever sees decoded challenges and returns raw responses.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ..._exceptions import SMTPError

if TYPE_CHECKING:
    from ..reply import Reply

# RFC 4422 §3.1: sasl-mech = 1*20mech-char; mech-char = UPPER-ALPHA / DIGIT / "-" / "_".
# Lower case is accepted from callers (names are compared case-insensitively) but only
# ASCII: str.upper() would turn "ſ" into "S" and let a look-alike through.
_MECH_NAME = re.compile(r"[A-Za-z0-9_-]{1,20}")


class SASLError(SMTPError):
    """A SASL exchange failed on our side of the protocol.

    Raised for a challenge the mechanism cannot accept (bad base64, wrong nonce, a server
    ``e=`` error, too many rounds, an over-long challenge) and for a server that claims
    success without proving itself (SCRAM's missing or wrong ``v=``). ``reply`` is the
    server's final reply when there was one. If ``reply`` is positive (2xx), the server
    believes the session is authenticated while we do not trust it: the caller must not
    use the connection for mail (close it).
    """

    def __init__(self, message: str, reply: Reply | None = None) -> None:
        super().__init__(message)
        self.reply = reply


@runtime_checkable
class Mechanism(Protocol):
    """The small protocol a SASL mechanism implements (one object per exchange).

    ``name``
        The registered mechanism name sent after ``AUTH`` (RFC 4422 §3.1 syntax:
        1 to 20 of ``A-Z 0-9 - _``), e.g. ``"SCRAM-SHA-256-PLUS"``.
    ``exposes_secret``
        True when the exchange reveals a reusable secret (password or bearer token) to
        whoever reads the connection: PLAIN, LOGIN, XOAUTH2, OAUTHBEARER. The client
        refuses these on an unencrypted connection to a non-loopback host (SPEC A7).
    ``needs_channel_binding``
        True for the ``-PLUS`` forms: usable only inside TLS with binding data.
    ``initial_response()``
        Called exactly once, before anything is sent. ``None`` means "no initial
        response" (``AUTH NAME``); ``b""`` is an empty one (sent as ``=``, RFC 4954 §4).
    ``respond(challenge)``
        Called for each ``334`` challenge, already base64-decoded; returns the raw
        (not yet encoded) response. Raises :class:`SASLError` for a challenge it cannot
        accept: the exchange then cancels with ``*``.
    ``finish()``
        Called after the server's 2xx. Raises :class:`SASLError` when the mechanism has
        not seen what it needs to trust the outcome (SCRAM: a verified server signature).
    """

    @property
    def name(self) -> str: ...

    @property
    def exposes_secret(self) -> bool: ...

    @property
    def needs_channel_binding(self) -> bool: ...

    def initial_response(self) -> bytes | None: ...

    def respond(self, challenge: bytes) -> bytes: ...

    def finish(self) -> None: ...


def is_mechanism_name(name: str) -> bool:
    """True if ``name`` has the syntax of a SASL mechanism name (RFC 4422 §3.1)."""
    return isinstance(name, str) and _MECH_NAME.fullmatch(name) is not None


def check_credential(value: str, what: str, forbidden: str = "\r\n\x00") -> str:
    """Return ``value`` if it is a str free of ``forbidden`` characters, else raise.

    SPEC A2: a CR, LF or NUL in an AUTH credential is refused before anything is sent.
    The message names the field but never shows the value: it may be a secret.
    """
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    if any(ch in value for ch in forbidden):
        raise ValueError(f"{what} contains a forbidden character (CR, LF, NUL or similar)")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate: refused now, not when a later step (LOGIN's password, CRAM-MD5's
        # digest) would have to encode it after the first lines went out.
        raise ValueError(f"{what} cannot be encoded as UTF-8 (a lone surrogate)") from None
    return value


def strict_b64decode(text: str | bytes) -> bytes:
    """Decode canonical base64 (RFC 4648 §4) or raise ``ValueError``.

    Stricter than :func:`base64.b64decode`: no characters outside the alphabet, no
    missing or surplus padding, no stray bits (RFC 4648 §3.5 lets decoders refuse
    these). Whatever the server sends is either exactly base64 or refused.
    """
    try:
        raw = text.encode("ascii") if isinstance(text, str) else bytes(text)
        decoded = base64.b64decode(raw, validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise ValueError("not valid base64") from None
    if base64.b64encode(decoded) != raw:
        raise ValueError("not canonical base64")
    return decoded


def describe(data: bytes, limit: int = 60) -> str:
    """A short, printable rendering of server-supplied bytes for error messages."""
    text = repr(data[:limit])
    return text + ("..." if len(data) > limit else "")
