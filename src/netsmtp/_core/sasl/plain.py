"""PLAIN (RFC 4616) and LOGIN (draft-murchison-sasl-login): the password in clear.

Both send the password itself (only base64-wrapped), so both have ``exposes_secret``
and are refused on an unencrypted connection to a non-loopback host (SPEC A7).
"""

from __future__ import annotations

from .base import SASLError, check_credential, describe


class PlainMechanism:
    """PLAIN, RFC 4616 §2: ``authzid NUL authcid NUL passwd`` as the initial response.

    The authorization identity is empty unless given (SPEC A7), so the server derives it
    from the credentials; Net::SMTP sends ``user NUL user NUL pass`` instead (SPEC B6).
    A NUL (or CR/LF, SPEC A2) in any part raises ``ValueError``: NUL is the separator.
    """

    name = "PLAIN"
    exposes_secret = True
    needs_channel_binding = False

    def __init__(self, username: str, password: str, *, authzid: str | None = None) -> None:
        self.username = check_credential(username, "username")
        self._password = check_credential(password, "password")
        self.authzid = check_credential(authzid or "", "authzid")

    def initial_response(self) -> bytes:
        return b"\x00".join(
            (self.authzid.encode("utf-8"), self.username.encode("utf-8"), self._password.encode("utf-8"))
        )

    def respond(self, challenge: bytes) -> bytes:
        # The exchange sends the initial response itself, even when it had to be deferred
        # to the first 334 (RFC 4954 §4); any challenge that reaches us is unexpected.
        raise SASLError(f"PLAIN expects no challenge, got {describe(challenge)}")

    def finish(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} user={self.username!r}>"


class LoginMechanism:
    """LOGIN: the user name, then the password, each in answer to one challenge.

    Servers send ``Username:`` and ``Password:`` (some localise or garble them), so the
    answers go by order, not by text. A third challenge is an error. No initial response
    is sent: not every server accepts one (the draft allows it, many do not).
    """

    name = "LOGIN"
    exposes_secret = True
    needs_channel_binding = False

    def __init__(self, username: str, password: str) -> None:
        self.username = check_credential(username, "username")
        self._password = check_credential(password, "password")
        self._step = 0

    def initial_response(self) -> bytes | None:
        return None

    def respond(self, challenge: bytes) -> bytes:
        self._step += 1
        if self._step == 1:
            return self.username.encode("utf-8")
        if self._step == 2:
            return self._password.encode("utf-8")
        raise SASLError(f"LOGIN expects two challenges, got a third: {describe(challenge)}")

    def finish(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} user={self.username!r}>"
