"""OAuth 2.0 bearer-token mechanisms: XOAUTH2 (Google, Microsoft) and OAUTHBEARER (RFC 7628).

Both send the bearer token itself, which anyone reading the connection could replay
until it expires, so both have ``exposes_secret``. The token may be a str or a callable
returning a fresh one; a callable is called once, when the initial response is built
(just before ``AUTH`` is sent), so an expiring token is fetched as late as possible.

Failure: the server sends a ``334`` whose challenge is a JSON error document and waits
for one more client response before its ``5xx``.

* XOAUTH2 (Google's "XOAUTH2 protocol" page): the client answers with an empty line.
* OAUTHBEARER, RFC 7628 §3.2.3: the client "MUST then send either an additional client
  response consisting of a single %x01 (control A) character ... or a SASL abort
  message". We send the %x01 (``AQ==``, as in the RFC's §4.3 SMTP example) so the
  server ends with its own reply code instead of our ``501`` cancel.

The JSON is kept in ``error`` (decoded leniently, never parsed as trusted input).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .base import SASLError, check_credential, describe
from .scram import escape_saslname

Token = str | Callable[[], str]

# RFC 6750 §2.1 b64token; checked loosely: printable ASCII without space. This keeps the
# %x01 separators and line breaks out of the token, which is what matters.
_TOKEN = re.compile(r"[\x21-\x7e]+")
# RFC 7628 §3.1: host is free text, but it goes between %x01 separators.
_HOST = re.compile(r"[\x21-\x7e]+")


def _resolve(token: Token) -> str:
    value = token() if callable(token) else token
    if not isinstance(value, str):
        raise TypeError(f"an OAuth token must be a str, not {type(value).__name__}")
    if not _TOKEN.fullmatch(value):
        raise ValueError("the OAuth token must be printable ASCII without spaces")
    return value


class _BearerMechanism:
    exposes_secret = True
    needs_channel_binding = False
    name = ""
    error_response = b""

    def __init__(self, username: str, token: Token) -> None:
        self.username = check_credential(username, "username", "\r\n\x00\x01")
        if not (callable(token) or isinstance(token, str)):
            raise TypeError("an OAuth token must be a str or a callable returning one")
        self._token = token
        self._sent = False
        self.error: str | None = None

    def _message(self, token: str) -> bytes:
        raise NotImplementedError

    def initial_response(self) -> bytes:
        if self._sent:
            raise SASLError(f"{self.name}: the exchange has already started")
        self._sent = True
        return self._message(_resolve(self._token))

    def respond(self, challenge: bytes) -> bytes:
        if self.error is not None:
            raise SASLError(f"{self.name}: unexpected challenge after the error {describe(challenge)}")
        self.error = challenge.decode("utf-8", "replace")
        return self.error_response

    def finish(self) -> None:
        return None  # a bearer token proves nothing about the server: nothing to check

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} user={self.username!r}>"


class XOAuth2Mechanism(_BearerMechanism):
    """XOAUTH2: ``user=<user>^Aauth=Bearer <token>^A^A`` as the initial response."""

    name = "XOAUTH2"
    error_response = b""

    def _message(self, token: str) -> bytes:
        return f"user={self.username}\x01auth=Bearer {token}\x01\x01".encode()


class OAuthBearerMechanism(_BearerMechanism):
    """OAUTHBEARER, RFC 7628 §3.1: ``n,a=<user>,^Ahost=..^Aport=..^Aauth=Bearer <token>^A^A``.

    ``host`` and ``port`` are the server the client connected to (optional key-value
    pairs some providers check). The user name goes into the gs2 header's authorization
    identity, escaped as a saslname (RFC 5802 §5.1); an empty one is left out.
    """

    name = "OAUTHBEARER"
    error_response = b"\x01"

    def __init__(
        self, username: str, token: Token, *, host: str | None = None, port: int | None = None
    ) -> None:
        super().__init__(username, token)
        if host is not None and not _HOST.fullmatch(host):
            raise ValueError(f"invalid OAUTHBEARER host: {host!r}")
        if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536):
            raise ValueError(f"invalid OAUTHBEARER port: {port!r}")
        self.host = host
        self.port = port

    def _message(self, token: str) -> bytes:
        authz = f"a={escape_saslname(self.username)}" if self.username else ""
        pairs = []
        if self.host is not None:
            pairs.append(f"host={self.host}")
        if self.port is not None:
            pairs.append(f"port={self.port}")
        pairs.append(f"auth=Bearer {token}")
        return (f"n,{authz},\x01" + "".join(p + "\x01" for p in pairs) + "\x01").encode()
