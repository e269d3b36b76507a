"""SECURITY.md §2: STARTTLS stripping, downgrade, and the capability reset (SD-01..SD-11).

netsmtp's "TLS required" mode is the caller calling ``starttls()`` with ``raise_errors=True``:
``NotSupportedError`` (code 500, nothing sent) when STARTTLS is not advertised, ``ReplyError``
carrying the server's code when it is refused. Without ``raise_errors`` the same failures are
a false return with ``code()``/``message()``; the caller who goes on anyway has opted in to
plaintext ("opportunistic"), and netsmtp logs a warning on the ``netsmtp`` logger.

Every test runs against SMTP and AsyncSMTP (asyncio and uvloop).
"""

from __future__ import annotations

import contextlib
import logging
import ssl
from typing import Any

import pytest

from netsmtp import (
    AuthPolicyError,
    ConnectionLost,
    ExtensionWarning,
    NotSupportedError,
    ProtocolError,
    ReplyError,
    TLSError,
    UsageError,
)
from tests.helpers.scripted import Peer, ScriptedServer, ehlo_lines
from tests.security._support import (
    EHLO,
    HELO,
    QUIT,
    STARTTLS,
    TLS_HANDSHAKE,
    Issuer,
    accept_starttls,
    assert_quiet,
    closed_silently,
    greet,
    peek,
    plain_part,
    quit_or_eof,
    serve_quit,
    server_context,
    steps,
    tls_part,
    tls_records,
)
from tests.security.conftest import SecConnect

STRIPPED = ("AUTH PLAIN LOGIN",)  # EAST O_1 / 250-empty: no STARTTLS


def warnings_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("netsmtp") and r.levelno >= logging.WARNING
    ]


# ---- SD-01 ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["required", "opportunistic"])
def test_SD_01_starttls_not_advertised(
    scripted: type[ScriptedServer], sec_connect: SecConnect, mode: str, sec_remote: None
) -> None:
    """Required: NotSupportedError, nothing after EHLO but QUIT. Opportunistic: false, code 500,
    nothing sent; and AUTH is then refused locally (plaintext to a "remote" host, AU-01)."""
    server = scripted(steps(lambda p: greet(p, *STRIPPED, name="fake"), quit_or_eof))
    if mode == "required":
        with sec_connect(server, raise_errors=True) as smtp:
            with pytest.raises(NotSupportedError) as info:
                smtp.starttls()
            assert info.value.reply.code == 500
    else:
        smtp = sec_connect(server)
        assert smtp.starttls() is False
        assert smtp.code() == 500
        assert smtp.auth("tim", "tanstaaftanstaaf") is False
        assert smtp.code() == 530
        assert smtp.quit() is True
    assert smtp.tls_active is False
    server.join()
    assert server.received == EHLO + QUIT


# ---- SD-02 ----------------------------------------------------------------------------------------
REFUSALS = [
    "502 5.5.1 Command not implemented",
    "454 4.7.0 TLS not available due to temporary reason",
    "354 do something else",
    "500",
    "501 5.5.4 syntax error",
    "530 5.7.0 must issue a STARTTLS command first",
]


@pytest.mark.parametrize("answer", REFUSALS, ids=lambda a: a[:3])
def test_SD_02_starttls_refused(
    scripted: type[ScriptedServer], sec_connect: SecConnect, answer: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Every refusal (EAST O_2, O_3, O_4, others/starttls/*) raises ReplyError carrying the code
    in required mode; nothing follows but QUIT; no TLS."""

    def script(p: Peer) -> None:
        greet(p, "STARTTLS", "AUTH PLAIN")
        p.expect("STARTTLS")
        p.reply(answer)
        serve_quit(p)

    server = scripted(script)
    with sec_connect(server, raise_errors=True) as smtp:
        with pytest.raises(ReplyError) as info:
            smtp.starttls()
        assert not isinstance(info.value, NotSupportedError)
        assert info.value.reply.code == int(answer[:3])
        assert info.value.command == "STARTTLS"
        assert smtp.tls_active is False
    server.join()
    assert server.received == EHLO + STARTTLS + QUIT
    assert any("STARTTLS" in m for m in warnings_logged(caplog))


# ---- SD-03 ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("answer", ["421 4.3.2 shutting down", "221 2.0.0 bye"], ids=["421", "221"])
@pytest.mark.parametrize("raise_errors", [True, False], ids=["raise", "return"])
def test_SD_03_starttls_answered_421_or_221(
    scripted: type[ScriptedServer], sec_connect: SecConnect, answer: str, raise_errors: bool
) -> None:
    """The server is closing: the client raises, closes its socket at once, and never sends
    QUIT afterwards (not even from the context manager). A 421 is a ReplyError carrying 421; a
    221 is a 2xx that is not 220, hence the ProtocolError of SD-04 (the same closing)."""
    closing_421 = answer.startswith("421")

    def script(p: Peer) -> None:
        greet(p, "STARTTLS")
        p.expect("STARTTLS")
        p.reply(answer)
        closed_silently(p, wait=1.0)  # closed within 1 s, no QUIT

    server = scripted(script)
    with sec_connect(server, raise_errors=raise_errors) as smtp:
        if raise_errors:
            with pytest.raises(ReplyError if closing_421 else ProtocolError) as info:
                smtp.starttls()
            if isinstance(info.value, ReplyError):
                assert info.value.reply.code == 421
            with pytest.raises(ConnectionLost):
                smtp.noop()
        else:
            assert smtp.starttls() is False
            assert smtp.code() == 421
            assert ("4.3.2 shutting down" if closing_421 else "Protocol error") in smtp.message()
            assert smtp.noop() is False
        assert smtp.tls_active is False
        server.join()  # the server saw EOF while the client object is still in use
    assert server.received == EHLO + STARTTLS


# ---- SD-04 ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("answer", ["250 ok", "251 fine", "200 go on"])
def test_SD_04_starttls_2xx_other_than_220(
    scripted: type[ScriptedServer], sec_connect: SecConnect, answer: str
) -> None:
    """Only 220 starts TLS: any other 2xx is a ProtocolError and no handshake (Net::SMTP 3.14
    accepts any 2xx as "go ahead": a documented divergence, SPEC A6)."""

    def script(p: Peer) -> None:
        greet(p, "STARTTLS")
        p.expect("STARTTLS")
        p.reply(answer)
        closed_silently(p)

    server = scripted(script)
    smtp = sec_connect(server, raise_errors=True)
    with pytest.raises(ProtocolError, match="not 220"):
        smtp.starttls()
    assert smtp.tls_active is False
    with pytest.raises(ConnectionLost):
        smtp.mail("a@b.example")
    server.join()
    assert server.received == EHLO + STARTTLS


# ---- SD-05 ----------------------------------------------------------------------------------------
def test_SD_05_non_esmtp_server(scripted: type[ScriptedServer], sec_connect: SecConnect) -> None:
    """EAST D_1: EHLO 500, HELO 250. TLS is impossible after HELO: NotSupportedError in
    required mode, no MAIL, no STARTTLS on the wire."""

    def script(p: Peer) -> None:
        p.send("220 old.example SMTP\r\n")
        p.expect(EHLO)
        p.reply("500 unrecognized")
        p.expect(HELO)
        p.reply("250 ok")
        quit_or_eof(p)

    server = scripted(script)
    with sec_connect(server, raise_errors=True) as smtp:
        assert dict(smtp.extensions) == {}
        with pytest.raises(NotSupportedError):
            smtp.starttls()
        assert smtp.tls_active is False
    server.join()
    assert server.received == EHLO + HELO + QUIT


# ---- SD-06 ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["required", "opportunistic"])
def test_SD_06_mangled_starttls_keyword(
    scripted: type[ScriptedServer], sec_connect: SecConnect, mode: str, sec_remote: None
) -> None:
    """The same-length overwrite ``XXXXXXXA``: as SD-01. Opportunistic: tls_active is False and
    AUTH PLAIN is refused locally (AuthPolicyError, nothing sent)."""
    server = scripted(steps(lambda p: greet(p, "XXXXXXXA", "AUTH PLAIN", name="fake"), quit_or_eof))
    with sec_connect(server, raise_errors=True) as smtp:
        assert smtp.supports("XXXXXXXA") == ""
        assert smtp.supports("STARTTLS") is None
        if mode == "required":
            with pytest.raises(NotSupportedError):
                smtp.starttls()
        else:
            with contextlib.suppress(NotSupportedError):
                smtp.starttls()  # the caller ignores the failure and goes on
            assert smtp.tls_active is False
            with pytest.raises(AuthPolicyError) as info:
                smtp.auth("tim", "tanstaaftanstaaf")
            assert info.value.reply.code == 530
    server.join()
    assert server.received == EHLO + QUIT


# ---- SD-07 ----------------------------------------------------------------------------------------
def _garbage(p: Peer) -> None:
    assert peek(p, 1) == bytes([TLS_HANDSHAKE])
    p.send(b"hello\r\n")
    p.read_to_eof()


def _close(p: Peer) -> None:
    p.close()


@pytest.mark.parametrize("failure", ["garbage", "close", "untrusted"])
def test_SD_07_handshake_failure_is_fatal(
    scripted: type[ScriptedServer], sec_connect: SecConnect, client_context: ssl.SSLContext, failure: str
) -> None:
    """After ``220 Ready``: bytes that are not TLS, a close, or a certificate that does not
    verify. An exception, the socket closed, and every later call (auth, mail, send,
    send_message) raises ConnectionLost and writes nothing, in clear or otherwise."""
    context: ssl.SSLContext | None = None
    if failure == "untrusted":
        context = server_context(*Issuer().issue(ips=["127.0.0.1"]))

    def script(p: Peer) -> None:
        greet(p, "STARTTLS", "AUTH PLAIN")
        p.expect("STARTTLS")
        p.reply("220 Ready")
        if failure == "garbage":
            _garbage(p)
        elif failure == "close":
            _close(p)
        else:
            with contextlib.suppress(ssl.SSLError, OSError):
                p.starttls()
                p.read_to_eof()

    server = scripted(script, tls_context=context) if context else scripted(script)
    smtp = sec_connect(server, raise_errors=True)
    with pytest.raises((TLSError, ConnectionLost)):
        smtp.starttls(client_context)
    assert smtp.tls_active is False
    with pytest.raises(ConnectionLost):
        smtp.auth("tim", "tanstaaftanstaaf")
    with pytest.raises(ConnectionLost):
        smtp.mail("a@b.example")
    with pytest.raises(ConnectionLost):
        smtp.send("a@b.example")
    with pytest.raises(ConnectionLost):
        smtp.send_message(b"Subject: x\r\n\r\nbody\r\n", "a@b.example", ["c@d.example"])
    with pytest.raises(ConnectionLost):
        smtp.quit()
    server.join()
    assert plain_part(server).startswith(EHLO + STARTTLS)
    rest = plain_part(server)[len(EHLO + STARTTLS) :]
    assert {kind for kind, _ in tls_records(rest)} <= {0x16, 0x15}  # a ClientHello (an alert)
    assert tls_part(server) == b""


def test_SD_07_handshake_failure_returns_false_and_closes(
    scripted: type[ScriptedServer], sec_connect: SecConnect
) -> None:
    """The same without raise_errors: false, code 421 "TLS error", and nothing after."""

    def script(p: Peer) -> None:
        greet(p, "STARTTLS", "AUTH PLAIN")
        p.expect("STARTTLS")
        p.reply("220 Ready")
        _garbage(p)

    server = scripted(script)
    smtp = sec_connect(server)
    assert smtp.starttls() is False  # default context: would not verify the test CA anyway
    assert smtp.code() == 421
    assert "TLS error" in smtp.message()
    assert smtp.auth("tim", "tanstaaftanstaaf") is False
    assert smtp.mail("a@b.example") is False
    server.join()
    assert b"AUTH" not in server.received and b"MAIL" not in server.received


# ---- SD-08 ----------------------------------------------------------------------------------------
def test_SD_08_capabilities_reset_and_re_ehlo(
    scripted: type[ScriptedServer], sec_connect: SecConnect, client_context: ssl.SSLContext
) -> None:
    """Only the post-TLS EHLO counts: the first encrypted command is EHLO, the capabilities are
    exactly the new set, a 20-byte message is not refused for the stale SIZE 10, no
    BODY=8BITMIME and no pipelining, and PLAIN is never offered from the stale list."""
    body = b"Subject: hi\r\n\r\nabc\r\n"  # 20 bytes: over the stale SIZE 10
    received: list[bytes] = []

    def after(p: Peer) -> None:
        p.expect(EHLO)
        p.reply("250-real", "250 AUTH SCRAM-SHA-256")
        line = p.readline()
        assert line.startswith(b"AUTH SCRAM-SHA-256 "), line
        p.reply("535 5.7.8 no")
        p.expect("MAIL FROM:<a@b.example>")  # mail(size=20, bits="8"): both dropped
        p.reply("250 ok")
        p.expect("RSET")
        p.reply("250 ok")
        p.expect("MAIL FROM:<a@b.example>")  # send_message: no SIZE=, no BODY=
        assert_quiet(p)  # no pipelining
        p.reply("250 ok")
        p.expect("RCPT TO:<c@d.example>")
        assert_quiet(p)
        p.reply("250 ok")
        p.expect("DATA")
        p.reply("354 go")
        received.append(p.read_data())
        p.reply("250 queued")
        serve_quit(p)

    server = scripted(
        steps(lambda p: accept_starttls(p, "SIZE 10", "8BITMIME", "PIPELINING", "AUTH PLAIN"), after)
    )
    smtp = sec_connect(server)
    assert smtp.supports("SIZE") == "10"
    assert smtp.starttls(client_context) is True
    assert dict(smtp.extensions) == {"AUTH": "SCRAM-SHA-256"}
    for stale in ("SIZE", "8BITMIME", "PIPELINING", "STARTTLS"):
        assert smtp.supports(stale) is None
    assert smtp.auth("tim", "tanstaaftanstaaf", mechanism="PLAIN") is False  # named: not offered now
    assert smtp.code() == 504
    assert smtp.auth("tim", "tanstaaftanstaaf") is False  # SCRAM-SHA-256 tried, refused
    assert smtp.code() == 535
    with pytest.warns(ExtensionWarning) as dropped:  # the stale SIZE and 8BITMIME are not used
        assert smtp.mail("a@b.example", size=len(body), bits="8") is True
    assert sorted(str(w.message).split()[0] for w in dropped) == ["8BITMIME", "SIZE"] or len(dropped) == 2
    assert smtp.reset() is True
    assert len(body) == 20
    result = smtp.send_message(body, "a@b.example", ["c@d.example"])
    assert list(result.accepted) == ["c@d.example"]
    assert smtp.quit() is True
    server.join()
    assert tls_part(server).startswith(EHLO)
    assert b"PLAIN" not in tls_part(server)
    assert b"BODY=" not in server.received and b"SIZE=" not in server.received
    assert received == [body + b".\r\n"]


# ---- SD-09 ----------------------------------------------------------------------------------------
def test_SD_09_post_tls_ehlo_refused_no_stale_capabilities(
    scripted: type[ScriptedServer], sec_connect: SecConnect, client_context: ssl.SSLContext
) -> None:
    """Post-TLS EHLO 502 (HELO would say 250): the pre-TLS ``AUTH PLAIN`` is not kept (Net::SMTP
    3.14 kept it). netsmtp is stricter than the catalogue (SPEC A6): no HELO fallback at all,
    the connection is closed, the capabilities are empty and ``auth()`` sends nothing."""

    def after(p: Peer) -> None:
        p.expect(EHLO)
        p.reply("502 5.5.1 no EHLO here")
        line = p.readline()
        if line == HELO:  # a client that falls back gets its 250
            p.reply("250 ok")
            line = p.readline()
        assert line == b"", f"the client sent {line!r}"

    server = scripted(steps(lambda p: accept_starttls(p, "AUTH PLAIN"), after))
    smtp = sec_connect(server)
    assert smtp.supports("AUTH") == "PLAIN"
    assert smtp.starttls(client_context) is False
    assert smtp.code() == 502
    assert dict(smtp.extensions) == {}
    assert smtp.supports("AUTH") is None
    assert smtp.auth("tim", "tanstaaftanstaaf") is False
    server.join()
    assert tls_part(server) == EHLO
    assert b"AUTH" not in tls_part(server)


# ---- SD-10 ----------------------------------------------------------------------------------------
def test_SD_10_starttls_advertised_again_inside_tls(
    scripted: type[ScriptedServer], sec_connect: SecConnect, client_context: ssl.SSLContext
) -> None:
    """RFC 3207 §4.2: a second starttls() raises "already using TLS" without sending STARTTLS,
    in both error modes, and nothing automatic (send_message) acts on the keyword."""

    def after(p: Peer) -> None:
        p.expect(EHLO)
        p.reply(*ehlo_lines("STARTTLS", "PIPELINING"))
        assert p.read_until(b"DATA\r\n").endswith(b"DATA\r\n")
        p.send(b"250 ok\r\n250 ok\r\n354 go\r\n")
        p.read_data()
        p.reply("250 queued")
        serve_quit(p)

    server = scripted(steps(accept_starttls, after))
    smtp = sec_connect(server)
    assert smtp.starttls(client_context) is True
    assert smtp.supports("STARTTLS") == ""  # reported as advertised, never acted on
    with pytest.raises(UsageError, match="already uses TLS"):
        smtp.starttls(client_context)
    smtp.send_message(b"Subject: x\r\n\r\nbody\r\n", "a@b.example", ["c@d.example"])
    with pytest.raises(UsageError):
        smtp.starttls()
    assert smtp.quit() is True
    server.join()
    assert tls_part(server).count(b"STARTTLS") == 0
    assert plain_part(server) == EHLO + STARTTLS


# ---- SD-11 ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["plaintext", "starttls", "implicit"])
def test_SD_11_tls_state_is_observable(
    scripted: type[ScriptedServer], sec_connect: SecConnect, client_context: ssl.SSLContext, mode: str
) -> None:
    """In every mode the client exposes tls_active, tls_version and cipher (and they all go
    back to False/None once the connection is closed)."""

    def script(p: Peer) -> None:
        if mode == "starttls":
            accept_starttls(p)
            p.expect(EHLO)
            p.reply(*ehlo_lines())
        else:
            greet(p)
        serve_quit(p)

    server = scripted(script, implicit_tls=mode == "implicit")
    options: dict[str, Any] = {"ssl": True, "ssl_context": client_context} if mode == "implicit" else {}
    smtp = sec_connect(server, **options)
    if mode == "starttls":
        assert (smtp.tls_active, smtp.tls_version, smtp.cipher) == (False, None, None)
        assert smtp.starttls(client_context) is True
    if mode == "plaintext":
        assert (smtp.tls_active, smtp.tls_version, smtp.cipher) == (False, None, None)
    else:
        assert smtp.tls_active is True
        assert smtp.tls_version in ("TLSv1.2", "TLSv1.3")
        name, protocol, bits = smtp.cipher
        assert isinstance(name, str) and name and bits >= 128
        assert protocol in ("TLSv1.2", "TLSv1.3")
    assert smtp.quit() is True
    assert (smtp.tls_active, smtp.tls_version, smtp.cipher) == (False, None, None)
    server.join()


def test_SD_11_stripped_opportunistic_warns(
    scripted: type[ScriptedServer], sec_connect: SecConnect, caplog: pytest.LogCaptureFixture
) -> None:
    """The SD-01 strip in opportunistic mode: starttls() is false, a warning is logged, and
    tls_active stays False; the message goes out only because the caller chose to go on."""
    messages: list[bytes] = []

    def script(p: Peer) -> None:
        greet(p, *STRIPPED, name="fake")
        p.expect("MAIL FROM:<a@b.example>")
        p.reply("250 ok")
        p.expect("RCPT TO:<c@d.example>")
        p.reply("250 ok")
        p.expect("DATA")
        p.reply("354 go")
        messages.append(p.read_data())
        p.reply("250 queued")
        serve_quit(p)

    server = scripted(script)
    caplog.set_level(logging.WARNING, logger="netsmtp")
    smtp = sec_connect(server)
    assert smtp.starttls() is False
    logged = warnings_logged(caplog)
    assert len(logged) == 1 and "STARTTLS" in logged[0] and "not encrypted" in logged[0], logged
    assert smtp.tls_active is False
    smtp.send_message(b"Subject: x\r\n\r\nbody\r\n", "a@b.example", ["c@d.example"])  # the caller's choice
    assert smtp.tls_active is False
    assert smtp.quit() is True
    server.join()
    assert messages == [b"Subject: x\r\n\r\nbody\r\n.\r\n"]
