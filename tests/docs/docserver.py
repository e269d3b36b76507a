"""The mail servers the documentation's examples run against: aiosmtpd with what real ones offer.

aiosmtpd alone has no PIPELINING, CHUNKING/BDAT, DSN, ETRN, EXPN or OAuth; the examples use
all of them, so this module adds them (never in netsmtp's code: the server is independent):

* EHLO also advertises PIPELINING (aiosmtpd reads one command line at a time, so a pipelined
  batch is safe), DSN, CHUNKING, BINARYMIME, ETRN, ENHANCEDSTATUSCODES, XVERP, CHECKPOINT, and
  inside TLS REQUIRETLS;
* MAIL accepts RET, ENVID, AUTH, XVERP, TRANSID, REQUIRETLS and BODY=BINARYMIME; RCPT accepts
  NOTIFY and ORCPT;
* BDAT (RFC 3030), ETRN, EXPN (``staff@example.org`` is a list of two), and SEND/SOML/SAML
  answered ``502`` as every modern server does;
* AUTH after STARTTLS (at once on the implicit-TLS port and on the "internal relay" listener,
  which has no TLS at all): PLAIN and LOGIN (aiosmtpd's own),
  CRAM-MD5, SCRAM-SHA-1/-256 and their ``-PLUS`` forms (the ``scramp`` server of the AUTH tests)
  for :data:`USER` / :data:`PASSWORD`; XOAUTH2 and OAUTHBEARER for any user whose token looks
  like Google's (``ya29.``) or Microsoft's (``eyJ``); EXTERNAL for a TLS client certificate;
* recipients: a local part ``nobody`` or ``reject*`` gets ``550 5.1.1``, ``busy`` or
  ``tempfail*`` gets ``450 4.2.1``; everything else is accepted and every message is kept in
  :attr:`DocsHandler.messages`;
* LMTP (aiosmtpd's LMTP class with the same additions) on TCP and on a Unix socket, answering
  once per recipient after the data.

The certificate (from a trustme CA) names every host the examples use.
"""

from __future__ import annotations

import base64
import contextlib
import secrets
import socket
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trustme
from aiosmtpd.controller import Controller, UnixSocketController
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import MISSING, AuthResult, LoginPassword
from aiosmtpd.smtp import SMTP as ServerSMTP

from tests.auth.aiosmtpd_auth import AuthHandler, tls_server_end_point

USER = "me@example.org"
PASSWORD = "app password"
# Names on the server's certificate: every host an example connects to.
CERT_NAMES = (
    "mail.example.org",
    "smtp.example.org",
    "mx1.example.org",
    "mx2.example.org",
    "backup.example.org",
    "lmtp.example.org",
    "*.example.org",
    "*.example.net",
    "mailhost",
    "smtp.gmail.com",
    "smtp.office365.com",
    "localhost",
    "127.0.0.1",
)
EXTRA_EHLO = (
    "PIPELINING",
    "DSN",
    "CHUNKING",
    "BINARYMIME",
    "ETRN",
    "ENHANCEDSTATUSCODES",
    "XVERP",
    "CHECKPOINT",
)
# MAIL and RCPT parameters aiosmtpd would refuse with 555; this server takes them.
EXTENSION_PARAMS = frozenset({"RET", "ENVID", "AUTH", "XVERP", "NOTIFY", "ORCPT", "TRANSID", "REQUIRETLS"})
LISTS = {"staff@example.org": ("Alice <alice@example.org>", "Bob <bob@example.org>")}


@dataclass
class Message:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    mail_options: list[str]
    rcpt_options: list[str]
    auth: Any = None


@dataclass
class DocsHandler(AuthHandler):
    """aiosmtpd handler: the AUTH tests' mechanisms for one user, plus the docs' rules."""

    user: str = USER
    password: str = PASSWORD
    lmtp: bool = False
    messages: list[Any] = field(default_factory=list)

    # ---- EHLO -------------------------------------------------------------------------------
    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname  # aiosmtpd leaves this to a handle_EHLO that edits responses
        last = responses.pop()  # "250 HELP"
        responses.extend(f"250-{keyword}" for keyword in EXTRA_EHLO)
        if server.transport.get_extra_info("ssl_object") is not None:
            responses.append("250-REQUIRETLS")  # RFC 8689: only offered inside TLS
        responses.append(last)
        return responses

    # ---- AUTH -------------------------------------------------------------------------------
    def authenticator(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        good = (
            isinstance(data, LoginPassword)
            and data.login.decode("utf-8", "replace") == self.user
            and data.password.decode("utf-8", "replace") == self.password
        )
        self.attempts.append((mechanism, good))
        return AuthResult(success=good, handled=False, auth_data=self.user if good else None)

    async def _bearer(self, server: Any, args: list[str], name: str) -> AuthResult:
        message = base64.b64decode(args[1], validate=True) if len(args) > 1 else b""
        fields = dict(
            f.split(b"=", 1) for f in message.split(b"\x01") if b"=" in f and not f.startswith(b"n,")
        )
        if name == "XOAUTH2":
            user = fields.get(b"user", b"").decode()
        else:  # gs2 header "n,a=user,"
            user = message.split(b",")[1].removeprefix(b"a=").decode() if message.startswith(b"n,") else ""
        bearer = fields.get(b"auth", b"")
        good = bool(user) and bearer.startswith((b"Bearer ya29.", b"Bearer eyJ"))
        self.attempts.append((name, good))
        if good:
            return AuthResult(success=True, auth_data=user)
        error = b'{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}'
        answer = await server.challenge_auth(error)
        if answer is MISSING:
            return AuthResult(success=False, handled=True)
        self.oauth_error_answers.append(answer)
        return AuthResult(success=False, handled=False)

    async def auth_EXTERNAL(self, server: Any, args: list[str]) -> AuthResult:
        """SASL EXTERNAL (RFC 4422 appendix A): the TLS client certificate is the credential."""
        ssl_object = server.transport.get_extra_info("ssl_object")
        cert = ssl_object.getpeercert() if ssl_object is not None else None
        if not cert:
            self.attempts.append(("EXTERNAL", False))
            return AuthResult(success=False, handled=False)
        subject = dict(item for rdn in cert["subject"] for item in rdn)
        who = subject.get("commonName") or "certificate"
        self.attempts.append(("EXTERNAL", True))
        return AuthResult(success=True, auth_data=who)

    # ---- the envelope and the message ---------------------------------------------------------
    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        local = address.split("@", 1)[0].lower()
        if local == "nobody" or local.startswith("reject"):
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        if local == "busy" or local.startswith("tempfail"):
            return f"450 4.2.1 <{address}>: Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            Message(
                str(envelope.mail_from),
                list(envelope.rcpt_tos),
                envelope.original_content or b"",
                list(envelope.mail_options),
                list(envelope.rcpt_options),
                session.auth_data,
            )
        )
        queue_id = secrets.token_hex(5).upper()
        if self.lmtp:
            return "\r\n".join(f"250 2.0.0 <{rcpt}> {queue_id} Saved" for rcpt in envelope.rcpt_tos)
        return f"250 2.0.0 Ok: queued as {queue_id}"


class Extensions:
    """BDAT, ETRN, EXPN, SEND/SOML/SAML and the extra MAIL/RCPT parameters, for aiosmtpd."""

    envelope: Any
    session: Any
    _reader: Any
    push: Any
    _call_handler_hook: Any
    _set_post_data_state: Any

    def _getparams(self, params: Any) -> Any:
        kept = []
        for param in params:
            name, _, value = param.partition("=")
            if name in EXTENSION_PARAMS:
                continue
            kept.append("BODY=8BITMIME" if (name, value) == ("BODY", "BINARYMIME") else param)
        return super()._getparams(kept)

    async def smtp_BDAT(self, arg: str) -> None:
        words = (arg or "").split()
        if not words or not words[0].isdigit() or len(words) > 2 or words[1:] not in ([], ["LAST"]):
            await self.push("501 5.5.4 Syntax: BDAT size [LAST]")
            return
        chunk = await self._reader.readexactly(int(words[0]))
        last = len(words) == 2
        if not self.envelope.rcpt_tos:
            self.envelope.bdat_refused = True
        if getattr(self.envelope, "bdat_refused", False):
            if last:
                self._set_post_data_state()
            await self.push("503 5.5.1 Error: need RCPT command")
            return
        buffer = self.envelope.__dict__.setdefault("bdat", bytearray())
        buffer += chunk
        if not last:
            await self.push(f"250 2.0.0 {len(chunk)} octets received")
            return
        self.envelope.content = self.envelope.original_content = bytes(buffer)
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push(status)

    async def smtp_ETRN(self, arg: str) -> None:
        if not arg:
            await self.push("501 5.5.4 Syntax: ETRN domain")
            return
        await self.push(f"250 2.0.0 Queuing for node {arg} started")

    async def smtp_EXPN(self, arg: str) -> None:
        members = LISTS.get((arg or "").strip("<>").lower())
        if members is None:
            await self.push("550 5.1.1 Not a mailing list")
            return
        for member in members[:-1]:
            await self.push(f"250-{member}")
        await self.push(f"250 {members[-1]}")

    async def smtp_SEND(self, arg: str) -> None:
        await self.push("502 5.5.1 Command not implemented")

    smtp_SOML = smtp_SAML = smtp_SEND


class DocsSMTP(Extensions, ServerSMTP):
    pass


class DocsLMTP(Extensions, LMTP):
    pass


class _SMTPController(Controller):
    def factory(self) -> Any:
        return DocsSMTP(self.handler, **self.SMTP_kwargs)


class _LMTPController(Controller):
    def factory(self) -> Any:
        return DocsLMTP(self.handler, **self.SMTP_kwargs)


class _LMTPUnixController(UnixSocketController):
    def factory(self) -> Any:
        return DocsLMTP(self.handler, **self.SMTP_kwargs)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class DocsServers:
    """The running listeners, and what an example needs to reach them."""

    handler: DocsHandler
    lmtp_handler: DocsHandler
    starttls_port: int
    smtps_port: int
    plain_auth_port: int
    lmtp_port: int
    lmtp_socket: str
    ca_file: str
    client_cert_file: str
    controllers: list[Any]
    directory: str

    @property
    def messages(self) -> list[Message]:
        return self.handler.messages

    def reset(self) -> None:
        """Forget what earlier examples did."""
        for handler in (self.handler, self.lmtp_handler):
            handler.messages.clear()
            handler.attempts.clear()

    def stop(self) -> None:
        for controller in reversed(self.controllers):
            with contextlib.suppress(Exception):
                controller.stop()
        with contextlib.suppress(OSError):
            Path(self.lmtp_socket).unlink()
        with contextlib.suppress(OSError):
            Path(self.lmtp_socket).parent.rmdir()


def start(ca: trustme.CA, directory: str) -> DocsServers:
    """Start SMTP (STARTTLS), SMTPS (implicit TLS), a relay without TLS, and LMTP (TCP and
    Unix socket) listeners."""
    leaf = ca.issue_cert(*CERT_NAMES)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(context)
    context.verify_mode = ssl.CERT_OPTIONAL  # a client certificate is welcome (AUTH EXTERNAL)
    ca.configure_trust(context)
    der = ssl.PEM_cert_to_DER_cert(leaf.cert_chain_pems[0].bytes().decode())
    handler = DocsHandler(tls_server_end_point(der))
    lmtp_handler = DocsHandler(tls_server_end_point(der), lmtp=True)

    ca_file = str(Path(directory, "ca.pem"))
    ca.cert_pem.write_to_path(ca_file)
    client = ca.issue_cert("me@example.org", common_name="me@example.org")
    client_cert_file = str(Path(directory, "client.pem"))
    client.private_key_and_cert_chain_pem.write_to_path(client_cert_file)

    # A short path: a Unix socket path is limited to about 100 bytes.
    socket_dir = tempfile.mkdtemp(prefix="netsmtp-docs-", dir="/tmp")
    lmtp_socket = str(Path(socket_dir, "lmtp"))

    common: dict[str, Any] = {
        "server_hostname": "mail.example.org",
        "decode_data": False,
        "authenticator": handler.authenticator,
    }
    starttls = _SMTPController(
        handler, hostname="127.0.0.1", port=_free_port(), tls_context=context, auth_require_tls=True, **common
    )
    # aiosmtpd counts only STARTTLS as TLS: on the implicit-TLS port AUTH is offered "without".
    smtps = _SMTPController(
        handler,
        hostname="127.0.0.1",
        port=_free_port(),
        ssl_context=context,
        auth_require_tls=False,
        **common,
    )
    # An internal relay: AUTH offered without TLS (and no STARTTLS).
    plain_auth = _SMTPController(
        handler, hostname="127.0.0.1", port=_free_port(), auth_require_tls=False, **common
    )
    lmtp_common = {"server_hostname": "lmtp.example.org", "decode_data": False}
    lmtp_tcp = _LMTPController(lmtp_handler, hostname="127.0.0.1", port=_free_port(), **lmtp_common)
    lmtp_unix = _LMTPUnixController(lmtp_handler, unix_socket=lmtp_socket, **lmtp_common)
    started: list[Any] = []
    try:
        for controller in (starttls, smtps, plain_auth, lmtp_tcp, lmtp_unix):
            controller.start()
            started.append(controller)
    except BaseException:
        for controller in started:
            controller.stop()
        raise
    return DocsServers(
        handler,
        lmtp_handler,
        starttls.port,
        smtps.port,
        plain_auth.port,
        lmtp_tcp.port,
        lmtp_socket,
        ca_file,
        client_cert_file,
        started,
        directory,
    )
