"""SASL mechanisms for SMTP AUTH (RFC 4954), as pure objects (SPEC A7).

The small protocol custom mechanisms implement
------------------------------------------------

A mechanism is any object with these members (see :class:`Mechanism`)::

    name: str                   # "SCRAM-SHA-256-PLUS": RFC 4422 §3.1 syntax, sent after AUTH
    exposes_secret: bool        # password/token readable on the wire (PLAIN, LOGIN, OAuth)
    needs_channel_binding: bool # the -PLUS forms
    def initial_response(self) -> bytes | None   # None: none; b"": empty (sent as "=")
    def respond(self, challenge: bytes) -> bytes # decoded challenge in, raw response out
    def finish(self) -> None                     # after 2xx; raise SASLError to distrust it

Mechanisms never see base64, lines or reply codes; :class:`AuthExchange` does that,
with the limits of SECURITY MS-16 and CI-08 and transcript redaction. An object serves
one exchange. ``respond`` raises :class:`SASLError` for a challenge it cannot accept;
the exchange then cancels with ``*``.

Built in (:func:`create`): PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-1, SCRAM-SHA-256, their
``-PLUS`` forms, XOAUTH2 and OAUTHBEARER. :func:`choose` orders the server's offer by
*our* preference (:data:`PREFERENCE`), never by the server's (SECURITY AU-04), and only
ever returns our own names (CI-13). The OAuth mechanisms are used only when asked for:
their "password" is a bearer token.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from .base import Mechanism, SASLError, is_mechanism_name
from .channel_binding import ChannelBinding, tls_server_end_point
from .cram import CramMD5Mechanism
from .exchange import REDACTED, AuthExchange, AuthLine
from .oauth import OAuthBearerMechanism, Token, XOAuth2Mechanism
from .plain import LoginMechanism, PlainMechanism
from .saslprep import saslprep
from .scram import ScramMechanism

__all__ = [
    "OAUTH_MECHANISMS",
    "PREFERENCE",
    "REDACTED",
    "AuthExchange",
    "AuthLine",
    "ChannelBinding",
    "CramMD5Mechanism",
    "LoginMechanism",
    "Mechanism",
    "OAuthBearerMechanism",
    "PlainMechanism",
    "SASLError",
    "ScramMechanism",
    "Token",
    "XOAuth2Mechanism",
    "choose",
    "create",
    "exposes_secret",
    "names",
    "saslprep",
    "server_mechanisms",
    "tls_server_end_point",
]

# Strongest first. Password mechanisms only: a password is not an OAuth token.
PREFERENCE: tuple[str, ...] = (
    "SCRAM-SHA-256-PLUS",
    "SCRAM-SHA-256",
    "SCRAM-SHA-1-PLUS",
    "SCRAM-SHA-1",
    "CRAM-MD5",
    "PLAIN",
    "LOGIN",
)
# Token mechanisms, strongest first; chosen only when the caller asks for them.
OAUTH_MECHANISMS: tuple[str, ...] = ("OAUTHBEARER", "XOAUTH2")

_SCRAM = frozenset({"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-1"})
_SECRET_EXPOSING = frozenset({"PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER"})
_SEPARATORS = re.compile(r"[ \t]+")


def names() -> tuple[str, ...]:
    """Every mechanism :func:`create` knows, password ones in preference order first."""
    return PREFERENCE + OAUTH_MECHANISMS


def exposes_secret(name: str) -> bool:
    """True for the built-in mechanisms that put the password or token on the wire."""
    return name.upper() in _SECRET_EXPOSING


def create(
    name: str,
    username: str,
    password: str | Callable[[], str],
    *,
    authzid: str | None = None,
    channel_binding: ChannelBinding | None = None,
    host: str | None = None,
    port: int | None = None,
) -> Mechanism:
    """A fresh built-in mechanism object for one exchange.

    For XOAUTH2 and OAUTHBEARER ``password`` is the bearer token (a str, or a callable
    returning one). ``channel_binding`` is required by the ``-PLUS`` forms; given to a
    plain SCRAM name it selects the ``y`` flag ("I can bind, you did not offer -PLUS",
    RFC 5802 §6), so pass it only when the server did not advertise the -PLUS form.
    ``host``/``port`` are sent by OAUTHBEARER. ``authzid`` is supported by PLAIN and
    SCRAM. Raises ``ValueError`` for an unknown name or unusable credentials, before
    anything is sent.
    """
    # ASCII-only check first: "plaın".upper() == "PLAIN" must not select PLAIN.
    upper = name.upper() if is_mechanism_name(name) else ""
    if upper in OAUTH_MECHANISMS:
        if authzid:
            raise ValueError(f"{upper} does not take a separate authorization identity")
        if upper == "XOAUTH2":
            return XOAuth2Mechanism(username, password)
        return OAuthBearerMechanism(username, password, host=host, port=port)
    if not isinstance(password, str):
        raise TypeError(f"{upper or name!r} needs the password as a str")
    if upper in _SCRAM:
        return ScramMechanism(upper, username, password, authzid=authzid, channel_binding=channel_binding)
    if upper == "PLAIN":
        return PlainMechanism(username, password, authzid=authzid)
    if authzid:
        raise ValueError(f"{upper or name!r} does not take a separate authorization identity")
    if upper == "CRAM-MD5":
        return CramMD5Mechanism(username, password)
    if upper == "LOGIN":
        return LoginMechanism(username, password)
    raise ValueError(f"unknown SASL mechanism: {name!r}")


def server_mechanisms(advertised: str | Iterable[str]) -> frozenset[str]:
    """The well-formed mechanism names of an EHLO ``AUTH`` parameter, upper-cased.

    Split on ASCII space and tab only (never ``str.split()``'s Unicode whitespace, CI-12);
    tokens that are not RFC 4422 names (control characters, 5000 characters) are dropped
    silently (SECURITY CI-13).
    """
    tokens = _SEPARATORS.split(advertised) if isinstance(advertised, str) else advertised
    return frozenset(t.upper() for t in tokens if isinstance(t, str) and is_mechanism_name(t))


def choose(advertised: str | Iterable[str], available: Iterable[str] = PREFERENCE) -> list[str]:
    """The mechanisms to try, best first: ``available`` (our preference order) filtered by
    what the server advertised.

    The server's order is ignored (SECURITY AU-04) and the names returned are those of
    ``available``, upper-cased, never the server's text (CI-13). Duplicates are dropped.
    The caller decides ``available`` from policy: it leaves out ``-PLUS`` without channel
    binding, and the secret-exposing ones on an insecure connection.
    """
    offered = server_mechanisms(advertised)
    chosen: list[str] = []
    for name in available:
        upper = name.upper()
        if is_mechanism_name(name) and upper in offered and upper not in chosen:
            chosen.append(upper)
    return chosen
