"""aiosmtpd in-process: a real SMTP server with STARTTLS and implicit TLS, storing messages."""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as ServerSMTP
from aiosmtpd.smtp import Envelope, Session


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    mail_options: list[str]
    rcpt_options: list[str]


@dataclass
class Store:
    messages: list[Received] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        local = address.split("@", 1)[0]
        if local.startswith("reject"):
            return "550 5.1.1 no such user"
        if local.startswith("tempfail"):
            return "450 4.2.0 try later"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.messages.append(
            Received(
                str(envelope.mail_from),
                list(envelope.rcpt_tos),
                content,
                list(envelope.mail_options),
                list(envelope.rcpt_options),
            )
        )
        return "250 2.0.0 queued"


@dataclass
class RunningServer:
    host: str
    port: int
    smtps_port: int
    store: Store
    controllers: list[Controller]

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def smtps_address(self) -> str:
        return f"{self.host}:{self.smtps_port}"

    @property
    def messages(self) -> list[Received]:
        return self.store.messages

    def stop(self) -> None:
        for controller in self.controllers:
            controller.stop()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_aiosmtpd(context: ssl.SSLContext, maildir: str, host: str = "127.0.0.1") -> RunningServer:
    """Start STARTTLS (plain port) and implicit-TLS listeners sharing one store."""
    os.makedirs(maildir, exist_ok=True)
    store = Store()
    plain = Controller(
        store,
        hostname=host,
        port=_free_port(),
        tls_context=context,
        require_starttls=False,
        server_hostname="aiosmtpd.test",
        decode_data=False,
        enable_SMTPUTF8=True,
    )
    implicit = Controller(
        store,
        hostname=host,
        port=_free_port(),
        ssl_context=context,
        server_hostname="aiosmtpd.test",
        decode_data=False,
        enable_SMTPUTF8=True,
    )
    plain.start()
    try:
        implicit.start()
    except BaseException:
        plain.stop()
        raise
    return RunningServer(host, plain.port, implicit.port, store, [plain, implicit])


__all__ = ["Received", "RunningServer", "ServerSMTP", "Store", "start_aiosmtpd"]
