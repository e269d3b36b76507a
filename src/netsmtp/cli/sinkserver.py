"""The capture server behind ``netsmtp sink`` and ``netsmtp demo``, on aiosmtpd.

It accepts every message (for the one ``--auth`` user when set), stores it in a Maildir
or an mbox, and reports each one through a callback. STARTTLS uses a certificate from a
throwaway trustme CA, written to a file so clients can trust it. PIPELINING is
advertised (aiosmtpd reads commands line by line, so a pipelined batch is safe).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import mailbox
import os
import ssl
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

MISSING_EXTRA = "netsmtp sink and demo need aiosmtpd and trustme: pip install 'netsmtp[sink]'"
SHUTDOWN_GRACE = 5.0


class SinkUnavailable(RuntimeError):
    """aiosmtpd or trustme is not installed."""


def _optional_modules() -> tuple[Any, Any]:
    """aiosmtpd.smtp and trustme: imported only here, they are the ``sink`` extra."""
    try:
        import trustme  # noqa: PLC0415
        from aiosmtpd import smtp  # noqa: PLC0415
    except ImportError as exc:
        raise SinkUnavailable(MISSING_EXTRA) from exc
    return smtp, trustme


@dataclass
class SinkConfig:
    host: str = "127.0.0.1"
    port: int = 2525
    maildir: str | None = None
    mbox: str | None = None
    tls: bool = False
    auth: tuple[str, str] | None = None
    allow_insecure_auth: bool = False
    count: int | None = None
    ca_out: str | None = None
    hostname: str = "localhost"
    verbose: bool = False  # show aiosmtpd's own log (session errors, tracebacks)


@dataclass
class Stored:
    """One message received."""

    received: float
    sender: str
    recipients: list[str]
    size: int
    subject: str | None
    content: bytes
    tls: str | None = None
    user: str | None = None
    location: str | None = None
    peer: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(self.received)),
            "from": self.sender,
            "to": self.recipients,
            "size": self.size,
            "subject": self.subject,
            "tls": self.tls,
            "user": self.user,
            "saved": self.location,
        }


def _subject(content: bytes) -> str | None:
    head = content.split(b"\r\n\r\n", 1)[0]
    value = BytesHeaderParser(policy=default_policy).parsebytes(head + b"\r\n\r\n").get("Subject")
    return str(value) if value is not None else None


class Storage:
    """Maildir, mbox, or nowhere; files use LF line endings, as local delivery agents write."""

    def __init__(self, maildir: str | None, mbox: str | None) -> None:
        self.maildir: mailbox.Maildir | None = mailbox.Maildir(maildir, create=True) if maildir else None
        self.mbox_path = mbox
        self.maildir_path = maildir

    def save(self, stored: Stored) -> str | None:
        text = stored.content.replace(b"\r\n", b"\n")
        envelope = f"Return-Path: <{stored.sender}>\nX-Envelope-To: {', '.join(stored.recipients)}\n".encode()
        if self.maildir is not None and self.maildir_path is not None:
            key = self.maildir.add(envelope + text)
            return str(Path(self.maildir_path, "new", key))
        if self.mbox_path is not None:
            box = mailbox.mbox(self.mbox_path, create=True)
            box.lock()
            try:
                sender = stored.sender or "MAILER-DAEMON"
                from_line = f"From {sender} {time.asctime(time.gmtime(stored.received))}\n".encode()
                box.add(from_line + envelope + text)
                box.flush()
            finally:
                box.unlock()
                box.close()
            return self.mbox_path
        return None


@dataclass
class TLSFiles:
    """The server's TLS context and the CA certificate clients must trust."""

    context: ssl.SSLContext
    ca_path: str
    tempdir: tempfile.TemporaryDirectory[str] | None = field(default=None)

    def cleanup(self) -> None:
        if self.tempdir is not None:
            self.tempdir.cleanup()


def make_tls(host: str, ca_out: str | None) -> TLSFiles:
    _, trustme = _optional_modules()
    ca = trustme.CA(organization_name="netsmtp sink (throwaway CA)")
    names = list(dict.fromkeys(["localhost", "127.0.0.1", "::1", host.strip("[]")]))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    tempdir = None
    if ca_out is None:
        tempdir = tempfile.TemporaryDirectory(prefix="netsmtp-sink-")
        ca_out = os.path.join(tempdir.name, "ca.pem")
    ca.cert_pem.write_to_path(ca_out)
    return TLSFiles(context, ca_out, tempdir)


class SinkServer:
    """Start with :meth:`start` inside a loop (or :meth:`start_thread`); stop with :meth:`stop`."""

    def __init__(self, config: SinkConfig, on_message: Callable[[Stored], None]) -> None:
        self._aiosmtpd, _ = _optional_modules()
        if config.auth is not None and not config.tls and not config.allow_insecure_auth:
            raise ValueError(
                "--auth needs --tls (or --allow-insecure-auth): passwords must not cross in the clear"
            )
        self.config = config
        self.on_message = on_message
        self.storage = Storage(config.maildir, config.mbox)
        self.tls: TLSFiles | None = make_tls(config.host, config.ca_out) if config.tls else None
        self.address: tuple[str, int] | None = None
        self.received: list[Stored] = []
        self._server: asyncio.AbstractServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._live: set[Any] = set()
        self._thread: threading.Thread | None = None
        self._protocol_cls = self._protocol_class()

    # ---- aiosmtpd hooks -------------------------------------------------------------------
    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname  # aiosmtpd leaves this to a handle_EHLO hook
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content: bytes = envelope.original_content or b""
        ssl_object = server.transport.get_extra_info("ssl_object") if server.transport else None
        user = session.auth_data.login.decode("utf-8", "replace") if session.authenticated else None
        stored = Stored(
            time.time(),
            str(envelope.mail_from or ""),
            [str(r) for r in envelope.rcpt_tos],
            len(content),
            _subject(content),
            content,
            ssl_object.version() if ssl_object is not None else None,
            user,
            peer=str(session.peer[0]) if session.peer else None,
        )
        try:
            stored.location = self.storage.save(stored)
        except OSError as exc:
            logging.getLogger("netsmtp.sink").error("cannot store the message: %s", exc)
            return "451 4.3.0 cannot store the message"
        self.received.append(stored)
        self.on_message(stored)
        if self.config.count is not None and len(self.received) >= self.config.count:
            self.stop()
        return "250 2.0.0 stored" + (f" as {Path(stored.location).name}" if stored.location else "")

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        auth_result, login_password = self._aiosmtpd.AuthResult, self._aiosmtpd.LoginPassword
        assert self.config.auth is not None
        user, password = self.config.auth
        ok = (
            isinstance(data, login_password)
            and hmac.compare_digest(data.login, user.encode())
            and hmac.compare_digest(data.password, password.encode())
        )
        return auth_result(success=bool(ok), handled=False, auth_data=data if ok else None)

    # ---- running ------------------------------------------------------------------------------
    def _protocol_class(self) -> Any:
        live = self._live

        class Protocol(self._aiosmtpd.SMTP):  # type: ignore[misc,name-defined]
            """aiosmtpd's protocol, counting live sessions (a clean stop waits for them)."""

            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                live.add(self)
                super().connection_made(transport)

            def connection_lost(self, error: Exception | None) -> None:
                live.discard(self)
                super().connection_lost(error)

        return Protocol

    def _protocol(self) -> Any:
        config = self.config
        with warnings.catch_warnings():  # aiosmtpd warns about --allow-insecure-auth; we said it
            warnings.simplefilter("ignore")
            return self._protocol_cls(
                self,
                hostname=config.hostname,
                ident="netsmtp sink",
                tls_context=self.tls.context if self.tls else None,
                decode_data=False,
                enable_SMTPUTF8=True,
                auth_required=config.auth is not None,
                auth_require_tls=not config.allow_insecure_auth,
                authenticator=self._authenticate if config.auth is not None else None,
                timeout=300,
            )

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        if not self.config.verbose:  # aiosmtpd logs a traceback for each failed client handshake
            logging.getLogger("mail.log").setLevel(logging.CRITICAL)
        self._server = await self._loop.create_server(self._protocol, self.config.host, self.config.port)
        sockname = self._server.sockets[0].getsockname()
        self.address = (str(sockname[0]), int(sockname[1]))

    async def wait(self) -> None:
        """Serve until :meth:`stop`; then stop listening and let sessions end (a few seconds)."""
        assert self._stopping is not None and self._server is not None
        await self._stopping.wait()
        self._server.close()
        await self._server.wait_closed()
        deadline = time.monotonic() + SHUTDOWN_GRACE
        while self._live and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        for protocol in list(self._live):
            if protocol.transport is not None:
                protocol.transport.close()
        await asyncio.sleep(0)

    def stop(self) -> None:
        """Stop serving (from any thread, or a signal handler)."""
        loop, stopping = self._loop, self._stopping
        if loop is None or stopping is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is already closed
            loop.call_soon_threadsafe(stopping.set)

    def cleanup(self) -> None:
        if self.tls is not None:
            self.tls.cleanup()

    # ---- in a thread (netsmtp demo) ------------------------------------------------------------
    def start_thread(self) -> None:
        ready = threading.Event()
        failure: list[BaseException] = []

        async def main() -> None:
            try:
                await self.start()
            except BaseException as exc:
                failure.append(exc)
                raise
            finally:
                ready.set()
            await self.wait()

        def target() -> None:
            with contextlib.suppress(BaseException):
                asyncio.run(main())

        self._thread = threading.Thread(target=target, name="netsmtp-sink", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            raise failure[0]

    def stop_thread(self) -> None:
        self.stop()
        if self._thread is not None:
            self._thread.join(SHUTDOWN_GRACE + 5)
        self.cleanup()
