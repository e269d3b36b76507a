"""CRAM-MD5 (RFC 2195): a keyed MD5 digest of the server's challenge.

The password never crosses the wire, but the server must store it in a recoverable form
and HMAC-MD5 over a captured exchange is cheap to brute-force offline, so it ranks below
SCRAM and above the clear-text mechanisms (``exposes_secret`` is False).
"""

from __future__ import annotations

import hashlib
import hmac

from .base import SASLError, check_credential, describe


class CramMD5Mechanism:
    """CRAM-MD5, RFC 2195 §2: answer ``user SP hex(HMAC-MD5(password, challenge))``.

    Exactly one non-empty challenge is expected; an empty or second one is an error.
    """

    name = "CRAM-MD5"
    exposes_secret = False
    needs_channel_binding = False

    def __init__(self, username: str, password: str) -> None:
        self.username = check_credential(username, "username")
        self._password = check_credential(password, "password")
        self._answered = False

    def initial_response(self) -> bytes | None:
        return None

    def respond(self, challenge: bytes) -> bytes:
        if self._answered:
            raise SASLError(f"CRAM-MD5 expects one challenge, got another: {describe(challenge)}")
        if not challenge:
            raise SASLError("CRAM-MD5 got an empty challenge")
        self._answered = True
        digest = hmac.new(self._password.encode("utf-8"), challenge, hashlib.md5).hexdigest()
        return self.username.encode("utf-8") + b" " + digest.encode("ascii")

    def finish(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} user={self.username!r}>"
