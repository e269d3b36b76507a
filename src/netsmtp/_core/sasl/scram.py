"""SCRAM-SHA-1 and SCRAM-SHA-256, with and without ``-PLUS`` (RFC 5802, RFC 7677).

SCRAM proves knowledge of the password without sending it, and makes the server prove
knowledge of it too: the final ``v=`` server signature is checked, and an exchange that
ends in ``235`` without a correct one is a failure (:meth:`ScramMechanism.finish`).

The messages (RFC 5802 §7)::

    client-first  = gs2-header "n=" user ",r=" c-nonce
    server-first  = "r=" c-nonce s-nonce ",s=" salt ",i=" iterations
    client-final  = "c=" base64(gs2-header [cb-data]) ",r=" nonce ",p=" proof
    server-final  = "v=" signature  /  "e=" error

The gs2 header says what we know about channel binding (RFC 5802 §6): ``p=<type>`` for
the ``-PLUS`` forms; ``y`` when we could bind but the server did not offer ``-PLUS`` (a
server that does support it then fails the exchange: a stripped ``-PLUS`` is detected);
``n`` when we cannot bind at all.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

from .base import SASLError, describe, strict_b64decode
from .channel_binding import ChannelBinding
from .saslprep import saslprep

# Mechanism name (without -PLUS) -> hashlib name.
SCRAM_HASHES: dict[str, str] = {"SCRAM-SHA-1": "sha1", "SCRAM-SHA-256": "sha256"}

# RFC 7677 §4: servers SHOULD use at least 4096; we accept any positive count by default
# (old deployments) but refuse absurd ones: PBKDF2 runs on our CPU (denial of service).
MIN_ITERATIONS = 1
MAX_ITERATIONS = 10_000_000

# RFC 5802 §7: printable = %x21-2B / %x2D-7E (printable ASCII except ",").
_PRINTABLE = re.compile(r"[\x21-\x2b\x2d-\x7e]+")
_POSITIVE = re.compile(r"[1-9][0-9]{0,9}")


def _b64decode(value: str, what: str) -> bytes:
    try:
        return strict_b64decode(value)
    except ValueError:
        raise SASLError(f"SCRAM: {what} is not valid base64") from None


def escape_saslname(name: str) -> str:
    """RFC 5802 §5.1: ``=`` becomes ``=3D`` and ``,`` becomes ``=2C`` (in that order)."""
    return name.replace("=", "=3D").replace(",", "=2C")


class ScramMechanism:
    """One SCRAM client exchange; ``name`` picks the hash and whether to bind.

    ``nonce`` is for tests (RFC vectors): by default 24 random bytes from :mod:`secrets`.
    The password is SASLprep'd as a stored string and the user name as a query
    (RFC 5802 §5.1); a prohibited character raises ``ValueError`` at construction, before
    anything is sent.
    """

    exposes_secret = False

    def __init__(
        self,
        name: str,
        username: str,
        password: str,
        *,
        authzid: str | None = None,
        channel_binding: ChannelBinding | None = None,
        nonce: str | None = None,
        min_iterations: int = MIN_ITERATIONS,
        max_iterations: int = MAX_ITERATIONS,
    ) -> None:
        upper = name.upper()
        base = upper.removesuffix("-PLUS")
        if base not in SCRAM_HASHES:
            raise ValueError(f"not a supported SCRAM mechanism: {name!r}")
        self.name = upper
        self.needs_channel_binding = upper.endswith("-PLUS")
        self._hash = SCRAM_HASHES[base]
        if self.needs_channel_binding and channel_binding is None:
            raise ValueError(f"{upper} needs channel binding data from the TLS connection")
        self.channel_binding = channel_binding
        self.username = username
        self._user = escape_saslname(saslprep(username, allow_unassigned=True))
        self._password = saslprep(password).encode("utf-8")
        authz = "" if not authzid else "a=" + escape_saslname(saslprep(authzid, allow_unassigned=True))
        if channel_binding is None:
            flag = "n"
        elif self.needs_channel_binding:
            flag = "p=" + channel_binding.kind
        else:
            flag = "y"
        self._gs2_header = f"{flag},{authz},".encode()
        if nonce is None:
            nonce = secrets.token_urlsafe(24)
        if not _PRINTABLE.fullmatch(nonce):
            raise ValueError("a SCRAM nonce is printable ASCII without ','")
        self._nonce = nonce
        self.min_iterations = min_iterations
        self.max_iterations = max_iterations
        self._first_bare = f"n={self._user},r={nonce}".encode()
        self._auth_message = b""
        self._server_signature = b""
        self._stage = 0
        self._verified = False

    def initial_response(self) -> bytes:
        if self._stage != 0:
            raise SASLError("SCRAM: the exchange has already started")
        self._stage = 1
        return self._gs2_header + self._first_bare

    def respond(self, challenge: bytes) -> bytes:
        if self._stage == 1:
            self._stage = 2
            return self._client_final(challenge)
        if self._stage == 2:
            self._stage = 3
            self._check_server_final(challenge)
            return b""
        raise SASLError(f"SCRAM: unexpected challenge {describe(challenge)}")

    def finish(self) -> None:
        if not self._verified:
            raise SASLError(
                "SCRAM: the server reported success without proving that it knows the password "
                "(no valid server signature)"
            )

    # ---- steps ---------------------------------------------------------------------
    def _client_final(self, server_first: bytes) -> bytes:
        try:
            text = server_first.decode("utf-8")
        except UnicodeDecodeError:
            raise SASLError("SCRAM: server-first-message is not UTF-8") from None
        if text.startswith("e="):
            raise SASLError(f"SCRAM: server error {describe(server_first[2:])}")
        if text.startswith("m="):
            raise SASLError("SCRAM: the server requires an unsupported extension (m=)")
        parts = text.split(",")
        if len(parts) < 3 or not all(p[:2] == k for p, k in zip(parts, ("r=", "s=", "i="), strict=False)):
            raise SASLError(f"SCRAM: malformed server-first-message {describe(server_first)}")
        nonce, salt_b64, count = parts[0][2:], parts[1][2:], parts[2][2:]
        if not _PRINTABLE.fullmatch(nonce):
            raise SASLError("SCRAM: malformed server nonce")
        if not nonce.startswith(self._nonce) or len(nonce) == len(self._nonce):
            # RFC 5802 §5.1: the server's nonce extends ours. One that drops ours is a
            # replay or a confused server; one that adds nothing gives no freshness.
            raise SASLError("SCRAM: the server nonce does not extend the client nonce")
        salt = _b64decode(salt_b64, "the salt")
        if not salt:
            raise SASLError("SCRAM: empty salt")
        if not _POSITIVE.fullmatch(count):
            raise SASLError(f"SCRAM: invalid iteration count {describe(count.encode())}")
        iterations = int(count)
        if not self.min_iterations <= iterations <= self.max_iterations:
            raise SASLError(
                f"SCRAM: iteration count {iterations} outside the accepted range "
                f"{self.min_iterations}..{self.max_iterations}"
            )

        cbind_input = self._gs2_header
        if self.needs_channel_binding and self.channel_binding is not None:
            cbind_input += self.channel_binding.data
        without_proof = b"c=" + base64.b64encode(cbind_input) + b",r=" + nonce.encode("ascii")
        self._auth_message = self._first_bare + b"," + server_first + b"," + without_proof

        salted = hashlib.pbkdf2_hmac(self._hash, self._password, salt, iterations)
        client_key = self._hmac(salted, b"Client Key")
        stored_key = hashlib.new(self._hash, client_key).digest()
        signature = self._hmac(stored_key, self._auth_message)
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        self._server_signature = self._hmac(self._hmac(salted, b"Server Key"), self._auth_message)
        return without_proof + b",p=" + base64.b64encode(proof)

    def _check_server_final(self, server_final: bytes) -> None:
        try:
            text = server_final.decode("utf-8")
        except UnicodeDecodeError:
            raise SASLError("SCRAM: server-final-message is not UTF-8") from None
        first = text.split(",", 1)[0]
        if first.startswith("e="):
            raise SASLError(f"SCRAM: server error {describe(first[2:].encode())}")
        if not first.startswith("v="):
            raise SASLError(f"SCRAM: malformed server-final-message {describe(server_final)}")
        if not hmac.compare_digest(_b64decode(first[2:], "the server signature"), self._server_signature):
            raise SASLError("SCRAM: wrong server signature: the server does not know the password")
        self._verified = True

    def _hmac(self, key: bytes, message: bytes) -> bytes:
        return hmac.new(key, message, self._hash).digest()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} user={self.username!r}>"
