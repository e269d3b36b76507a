"""AUTH against a real server: aiosmtpd in-process, SCRAM from the independent scramp package.

Every mechanism with the good and a bad password, after STARTTLS verified against the
test CA and on implicit TLS; the default choice (SCRAM-SHA-256-PLUS, channel-bound to the
server's certificate); a stripped ``-PLUS`` detected through the "y" flag; then a message
sent on the authenticated session. Both clients (see conftest).
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import pytest
import trustme

from tests.auth.aiosmtpd_auth import PASSWORD, TOKEN, USER, AuthServer, start
from tests.auth.conftest import Connect

pytest.importorskip("scramp")

MECHANISMS = [
    "PLAIN",
    "LOGIN",
    "CRAM-MD5",
    "SCRAM-SHA-1",
    "SCRAM-SHA-256",
    "SCRAM-SHA-1-PLUS",
    "SCRAM-SHA-256-PLUS",
]
MESSAGE = b"Subject: authenticated\r\n\r\nhello\r\n"


@pytest.fixture
def server(ca: trustme.CA) -> Iterator[AuthServer]:
    running = start(ca)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def stripped(ca: trustme.CA) -> Iterator[AuthServer]:
    """A server that supports channel binding but whose -PLUS names were removed on the way."""
    running = start(ca, exclude=["SCRAM-SHA-1-PLUS", "SCRAM-SHA-256-PLUS"])
    try:
        yield running
    finally:
        running.stop()


def send_one(smtp: object) -> None:
    assert smtp.mail("me@example.org") is True  # type: ignore[attr-defined]
    assert smtp.to("you@example.net") is True  # type: ignore[attr-defined]
    assert smtp.data(MESSAGE) is True  # type: ignore[attr-defined]


def test_auth_only_after_starttls(
    server: AuthServer, connect: Connect, client_context: ssl.SSLContext
) -> None:
    smtp = connect(server.address("starttls"), ssl_context=client_context)
    assert smtp.supports("AUTH") is None
    assert smtp.auth(USER, PASSWORD) is False
    assert smtp.code() == 500
    assert smtp.starttls() is True
    assert "SCRAM-SHA-256-PLUS" in smtp.supports("AUTH")
    assert smtp.auth(USER, PASSWORD) is True
    assert server.handler.attempts == [("SCRAM-SHA-256-PLUS", True)]
    assert server.handler.gs2_flags == ["p=tls-server-end-point"]
    send_one(smtp)
    assert smtp.quit() is True
    assert server.handler.messages[0].auth == USER
    assert server.handler.messages[0].content == MESSAGE


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_every_mechanism_after_starttls(
    server: AuthServer, connect: Connect, client_context: ssl.SSLContext, mechanism: str
) -> None:
    smtp = connect(server.address("starttls"), ssl_context=client_context)
    assert smtp.starttls() is True
    assert smtp.auth(USER, "wrong " + PASSWORD, mechanism) is False
    assert smtp.code() == 535
    assert smtp.auth(USER, PASSWORD, mechanism) is True
    assert smtp.code() == 235
    assert server.handler.attempts == [(mechanism, False), (mechanism, True)]
    send_one(smtp)
    assert smtp.quit() is True
    assert server.handler.messages[0].auth == USER


@pytest.mark.parametrize("mechanism", [None, *MECHANISMS])
def test_implicit_tls(
    server: AuthServer, connect: Connect, client_context: ssl.SSLContext, mechanism: str | None
) -> None:
    smtp = connect(server.address("smtps"), ssl=True, ssl_context=client_context)
    assert smtp.auth(USER, "bad", mechanism) is False
    assert smtp.code() == 535
    assert smtp.auth(USER, PASSWORD, mechanism) is True
    assert server.handler.attempts[-1] == (mechanism or "SCRAM-SHA-256-PLUS", True)
    smtp.quit()


def test_plaintext_loopback_uses_scram_without_binding(server: AuthServer, connect: Connect) -> None:
    smtp = connect(server.address("plain"))
    assert smtp.auth(USER, PASSWORD) is True
    assert server.handler.attempts == [("SCRAM-SHA-256", True)]  # -PLUS needs TLS
    assert server.handler.gs2_flags == ["n"]
    smtp.quit()


@pytest.mark.usefixtures("remote")
def test_plaintext_remote_never_sends_plain(server: AuthServer, connect: Connect) -> None:
    smtp = connect(server.address("plain"))
    assert smtp.auth(USER, PASSWORD, "PLAIN") is False
    assert smtp.code() == 530
    assert smtp.auth(USER, PASSWORD) is True  # SCRAM keeps the password
    assert server.handler.attempts == [("SCRAM-SHA-256", True)]
    smtp.quit()


def test_stripped_plus_is_detected(
    stripped: AuthServer, connect: Connect, client_context: ssl.SSLContext
) -> None:
    # The server can bind but does not advertise -PLUS: we say "y" and it refuses.
    smtp = connect(stripped.address("starttls"), ssl_context=client_context)
    assert smtp.starttls() is True
    assert "PLUS" not in smtp.supports("AUTH")
    assert smtp.auth(USER, PASSWORD, "SCRAM-SHA-256") is False
    assert smtp.code() == 535
    assert stripped.handler.gs2_flags == ["y"]
    smtp.quit()


def test_plain_scram_named_while_plus_offered(
    server: AuthServer, connect: Connect, client_context: ssl.SSLContext
) -> None:
    # -PLUS is offered but the caller asked for plain SCRAM: "n", which a server accepts.
    smtp = connect(server.address("starttls"), ssl_context=client_context)
    assert smtp.starttls() is True
    assert smtp.auth(USER, PASSWORD, "SCRAM-SHA-1") is True
    assert server.handler.gs2_flags == ["n"]
    smtp.quit()


def test_saslprep_agrees_with_scramp(
    ca: trustme.CA, connect: Connect, client_context: ssl.SSLContext
) -> None:
    running = start(ca)
    running.handler.password = "p\u00e4ss\u00a0word \u2168"  # NBSP -> space, Roman IX -> "IX"
    try:
        smtp = connect(running.address("starttls"), ssl_context=client_context)
        assert smtp.starttls() is True
        assert smtp.auth(USER, "p\u00e4ss word IX") is True
        assert running.handler.attempts == [("SCRAM-SHA-256-PLUS", True)]
        smtp.quit()
    finally:
        running.stop()


def test_channel_binding_is_the_server_certificate(
    server: AuthServer, connect: Connect, client_context: ssl.SSLContext
) -> None:
    smtp = connect(server.address("starttls"), ssl_context=client_context)
    assert smtp.channel_binding() is None  # no TLS yet
    assert smtp.starttls() is True
    binding = smtp.channel_binding()
    assert binding is not None
    assert binding.kind == "tls-server-end-point"
    assert binding.data == server.handler.binding  # computed independently (cryptography)
    smtp.quit()


@pytest.mark.parametrize(("mechanism", "error_answer"), [("XOAUTH2", b""), ("OAUTHBEARER", b"\x01")])
def test_oauth(
    server: AuthServer, connect: Connect, client_context: ssl.SSLContext, mechanism: str, error_answer: bytes
) -> None:
    calls: list[int] = []

    def fresh() -> str:
        calls.append(1)
        return TOKEN

    smtp = connect(server.address("starttls"), ssl_context=client_context)
    assert smtp.starttls() is True
    assert smtp.auth(USER, "expired-token", mechanism) is False
    assert smtp.code() == 535
    assert server.handler.oauth_error_answers == [error_answer]  # the RFC 7628 / Google answer
    assert smtp.auth(USER, fresh, mechanism) is True
    assert calls == [1]
    assert server.handler.attempts == [(mechanism, False), (mechanism, True)]
    send_one(smtp)
    smtp.quit()
    assert server.handler.messages[0].auth == USER


def test_oauth_never_chosen_unless_named(
    server: AuthServer, connect: Connect, client_context: ssl.SSLContext
) -> None:
    smtp = connect(server.address("starttls"), ssl_context=client_context)
    assert smtp.starttls() is True
    assert "XOAUTH2" in smtp.supports("AUTH")
    assert smtp.auth(USER, PASSWORD) is True
    assert server.handler.attempts == [("SCRAM-SHA-256-PLUS", True)]
    smtp.quit()
