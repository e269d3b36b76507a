"""aiosmtpd with real SASL server mechanisms, for the AUTH tests.

PLAIN and LOGIN are aiosmtpd's own (checked by :meth:`AuthHandler.authenticator`).
SCRAM-SHA-1, SCRAM-SHA-256 and their ``-PLUS`` forms are the independent server of the
``scramp`` package, plugged in as aiosmtpd ``auth_<NAME>`` methods (``__`` stands for
``-``); CRAM-MD5 is a few lines of hmac. The ``-PLUS`` binding data is computed here from
the server's own certificate with ``cryptography`` (the hash of its signature algorithm,
RFC 5929 §4.1), not with netsmtp's code. XOAUTH2 and OAUTHBEARER accept one token and
answer any other with the providers' JSON error challenge. While TLS is active the plain SCRAM names also
know the binding, so a client that says "y" (I could bind, you did not offer -PLUS) is
refused as RFC 5802 §6 requires: that is how a stripped ``-PLUS`` is detected.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import socket
import ssl
import uuid
from dataclasses import dataclass, field
from typing import Any

import scramp  # type: ignore[import-untyped]
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, AuthResult, LoginPassword
from cryptography import x509

USER = "testuser"
PASSWORD = "correct horse battery staple"
TOKEN = "ya29.a0-the-access-token"


def tls_server_end_point(der: bytes) -> bytes:
    """RFC 5929 §4.1, independently of netsmtp: hash of the signature algorithm (MD5 and
    SHA-1 become SHA-256)."""
    algorithm = x509.load_der_x509_certificate(der).signature_hash_algorithm
    assert algorithm is not None
    name = "sha256" if algorithm.name in ("md5", "sha1") else algorithm.name
    return hashlib.new(name, der).digest()


@dataclass
class Delivered:
    auth: Any
    mail_from: str
    content: bytes


@dataclass
class AuthHandler:
    """The server side of every mechanism; records what the clients did."""

    binding: bytes  # tls-server-end-point of the server's certificate
    user: str = USER
    password: str = PASSWORD
    attempts: list[tuple[str, bool]] = field(default_factory=list)  # (mechanism, success)
    gs2_flags: list[str] = field(default_factory=list)
    oauth_error_answers: list[bytes] = field(default_factory=list)
    messages: list[Delivered] = field(default_factory=list)

    # ---- PLAIN, LOGIN (aiosmtpd's own) -----------------------------------------------------
    def authenticator(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        good = (
            isinstance(data, LoginPassword)
            and data.login.decode("utf-8", "replace") == self.user
            and data.password.decode("utf-8", "replace") == self.password
        )
        self.attempts.append((mechanism, good))
        # handled=False on failure, or aiosmtpd sends no reply at all (the client would hang).
        return AuthResult(success=good, handled=False, auth_data=self.user if good else None)

    # ---- CRAM-MD5 ---------------------------------------------------------------------------
    async def auth_CRAM__MD5(self, server: Any, args: list[str]) -> AuthResult:
        challenge = f"<{uuid.uuid4().hex}@aiosmtpd.test>".encode()
        response = await server.challenge_auth(challenge)
        if response is MISSING:
            return AuthResult(success=False, handled=True)
        user, _, digest = response.decode("utf-8", "replace").rpartition(" ")
        want = hmac.new(self.password.encode(), challenge, "md5").hexdigest()
        good = user == self.user and hmac.compare_digest(digest, want)
        self.attempts.append(("CRAM-MD5", good))
        return AuthResult(success=good, handled=False, auth_data=user)

    # ---- SCRAM (scramp) ---------------------------------------------------------------------
    async def auth_SCRAM__SHA__1(self, server: Any, args: list[str]) -> AuthResult:
        return await self._scram(server, args, "SCRAM-SHA-1")

    async def auth_SCRAM__SHA__256(self, server: Any, args: list[str]) -> AuthResult:
        return await self._scram(server, args, "SCRAM-SHA-256")

    async def auth_SCRAM__SHA__1__PLUS(self, server: Any, args: list[str]) -> AuthResult:
        return await self._scram(server, args, "SCRAM-SHA-1-PLUS")

    async def auth_SCRAM__SHA__256__PLUS(self, server: Any, args: list[str]) -> AuthResult:
        return await self._scram(server, args, "SCRAM-SHA-256-PLUS")

    async def _scram(self, server: Any, args: list[str], name: str) -> AuthResult:
        if len(args) > 1:
            client_first = base64.b64decode(args[1], validate=True)
        else:
            client_first = await server.challenge_auth(b"")
            if client_first is MISSING:
                return AuthResult(success=False, handled=True)
        self.gs2_flags.append(client_first.split(b",", 1)[0].decode())
        in_tls = server.transport.get_extra_info("ssl_object") is not None
        binding = ("tls-server-end-point", self.binding) if in_tls else None
        mechanism = scramp.ScramMechanism(name)
        info = mechanism.make_auth_info(self.password, iteration_count=4096)

        def auth_fn(username: str) -> Any:
            if username != self.user:
                raise scramp.ScramException("unknown user")
            return info

        try:
            scram = mechanism.make_server(auth_fn, channel_binding=binding)
            scram.set_client_first(client_first.decode())
        except scramp.ScramException:
            self.attempts.append((name, False))
            return AuthResult(success=False, handled=False)  # 535
        client_final = await server.challenge_auth(scram.get_server_first())
        if client_final is MISSING:
            return AuthResult(success=False, handled=True)
        try:
            scram.set_client_final(client_final.decode())
        except scramp.ScramException:
            self.attempts.append((name, False))
            return AuthResult(success=False, handled=False)  # 535, as Postfix/Cyrus do
        empty = await server.challenge_auth(scram.get_server_final())  # v=...
        if empty is MISSING:  # the client did not accept our signature
            return AuthResult(success=False, handled=True)
        self.attempts.append((name, True))
        return AuthResult(success=True, auth_data=self.user)

    # ---- XOAUTH2 and OAUTHBEARER (RFC 7628) -------------------------------------------------------
    async def auth_XOAUTH2(self, server: Any, args: list[str]) -> AuthResult:
        return await self._bearer(server, args, "XOAUTH2")

    async def auth_OAUTHBEARER(self, server: Any, args: list[str]) -> AuthResult:
        return await self._bearer(server, args, "OAUTHBEARER")

    async def _bearer(self, server: Any, args: list[str], name: str) -> AuthResult:
        message = base64.b64decode(args[1], validate=True) if len(args) > 1 else b""
        fields = dict(
            f.split(b"=", 1) for f in message.split(b"\x01") if b"=" in f and not f.startswith(b"n,")
        )
        if name == "XOAUTH2":
            user = fields.get(b"user", b"").decode()
        else:  # gs2 header "n,a=user,"
            user = message.split(b",")[1].removeprefix(b"a=").decode() if message.startswith(b"n,") else ""
        good = user == self.user and fields.get(b"auth") == b"Bearer " + TOKEN.encode()
        self.attempts.append((name, good))
        if good:
            return AuthResult(success=True, auth_data=user)
        # The provider's way: a JSON error in a 334, one more client line, then the 535.
        error = b'{"status":"401","schemes":"bearer","scope":"https://mail.example/"}'
        answer = await server.challenge_auth(error)
        if answer is MISSING:
            return AuthResult(success=False, handled=True)
        self.oauth_error_answers.append(answer)
        return AuthResult(success=False, handled=False)

    # ---- delivery ---------------------------------------------------------------------------
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(Delivered(session.auth_data, envelope.mail_from, envelope.original_content))
        return "250 2.0.0 queued"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class AuthServer:
    handler: AuthHandler
    controllers: list[Controller]
    starttls_port: int
    smtps_port: int
    plain_port: int

    def address(self, which: str) -> str:
        return f"127.0.0.1:{getattr(self, which + '_port')}"

    def stop(self) -> None:
        for controller in self.controllers:
            controller.stop()


def server_tls(ca: trustme.CA) -> tuple[ssl.SSLContext, bytes]:
    """A server context for 127.0.0.1/localhost and its certificate's binding data."""
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(context)
    der = ssl.PEM_cert_to_DER_cert(leaf.cert_chain_pems[0].bytes().decode())
    return context, tls_server_end_point(der)


def start(ca: trustme.CA, exclude: list[str] | None = None) -> AuthServer:
    """Three listeners sharing one handler: STARTTLS (AUTH only after it), implicit TLS,
    and plaintext with AUTH offered (loopback, so the clear-text mechanisms may run)."""
    context, binding = server_tls(ca)
    handler = AuthHandler(binding)
    common: dict[str, Any] = {
        "hostname": "127.0.0.1",
        "server_hostname": "aiosmtpd.test",
        "authenticator": handler.authenticator,
        "auth_exclude_mechanism": exclude or [],
    }
    starttls = Controller(handler, port=_free_port(), tls_context=context, auth_require_tls=True, **common)
    # aiosmtpd only counts STARTTLS as TLS: on the implicit port AUTH must be allowed "without".
    smtps = Controller(handler, port=_free_port(), ssl_context=context, auth_require_tls=False, **common)
    plain = Controller(handler, port=_free_port(), auth_require_tls=False, **common)
    started: list[Controller] = []
    try:
        for controller in (starttls, smtps, plain):
            controller.start()
            started.append(controller)
    except BaseException:
        for controller in started:
            controller.stop()
        raise
    return AuthServer(handler, started, starttls.port, smtps.port, plain.port)
