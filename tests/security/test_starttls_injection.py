"""SECURITY.md §1: STARTTLS command/response injection and buffering (ST-01..ST-08).

netsmtp takes the strict ("required") line everywhere: any byte received after the ``220``
to STARTTLS and before the handshake closes the connection with ``ProtocolError``, nothing
more is written (no ClientHello, no QUIT), and the parser that read plaintext is replaced by
a new one once TLS is up. There is no "discard and go on" mode, so ST-04 and ST-08 check
that the strict behaviour pre-empts the attack, and then the honest paths.

Every test runs against SMTP and AsyncSMTP (asyncio and uvloop).
"""

from __future__ import annotations

import ssl
import time
from typing import Any

import pytest

from netsmtp import ConnectionLost, ProtocolError, ReplyError, SMTPTimeout, TLSError
from netsmtp._core.reply import ReplyParser
from netsmtp._core.session import Session, State
from tests.helpers.clients import AsyncProxy
from tests.helpers.scripted import Peer, ScriptedServer, ehlo_lines
from tests.security._support import (
    EHLO,
    QUIT,
    STARTTLS,
    TLS_HANDSHAKE,
    assert_quiet,
    b64,
    closed_silently,
    greet,
    peek,
    plain_part,
    quit_or_eof,
    tls_part,
    tls_records,
)
from tests.security.conftest import SecConnect

INJECTED_LINES = b"250-evil\r\n250 AUTH LOGIN\r\n"
INJECTED_FRAGMENT = b"250-SMTPUTF8 X "
PLAIN_RESPONSE = b64(b"\0tim\0tanstaaftanstaaf")


def real(smtp: Any) -> Any:
    """The client object itself (white-box tests): SMTP, or the AsyncSMTP behind the proxy."""
    return smtp.client if isinstance(smtp, AsyncProxy) else smtp


def honest_session(p: Peer, ehlo: tuple[str, ...]) -> None:
    """Inside TLS: answer EHLO with ``ehlo``, then every command honestly until EOF."""
    p.expect(EHLO)
    p.reply(*ehlo)
    while line := p.readline():
        if line == QUIT:
            p.reply("221 2.0.0 bye")
            return
        p.reply("250 2.0.0 ok")


def injecting_server(injected: bytes, post_tls_ehlo: tuple[str, ...]) -> Any:
    """ST-01's script: ``220 Ready`` with ``injected`` in the same write. A ClientHello, if
    one ever comes, gets a real handshake and an honest session (a vulnerable client goes
    on); otherwise the client must close without another byte."""

    def script(p: Peer) -> None:
        greet(p, "PIPELINING", "STARTTLS", name="fake")
        p.expect("STARTTLS")
        p.send(b"220 Ready\r\n" + injected)
        if peek(p, 1)[:1] == bytes([TLS_HANDSHAKE]):
            p.starttls()
            honest_session(p, post_tls_ehlo)
        else:
            closed_silently(p)

    return script


def assert_nothing_after_starttls(server: ScriptedServer) -> None:
    assert server.received == EHLO + STARTTLS, server.received
    assert tls_part(server) == b""


# ---- ST-01 ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("raise_errors", [True, False], ids=["raise", "return"])
def test_ST_01_injected_lines_after_220(
    scripted: type[ScriptedServer],
    sec_connect: SecConnect,
    client_context: ssl.SSLContext,
    raise_errors: bool,
) -> None:
    """Complete reply lines after the 220: ProtocolError, no TLS started, nothing sent."""
    server = scripted(injecting_server(INJECTED_LINES, tuple(ehlo_lines("AUTH PLAIN", name="real"))))
    smtp = sec_connect(server, raise_errors=raise_errors)
    if raise_errors:
        with pytest.raises(ProtocolError, match="injection"):
            smtp.starttls(client_context)
    else:
        assert smtp.starttls(client_context) is False
        assert smtp.code() == 421
        assert "Protocol error" in smtp.message()
    assert smtp.tls_active is False
    assert smtp.supports("AUTH") is None  # neither the injected LOGIN nor anything else
    # The connection is gone: later calls fail without writing (no AUTH LOGIN, in clear or not).
    if raise_errors:
        with pytest.raises(ConnectionLost):
            smtp.auth("tim", "tanstaaftanstaaf")
    else:
        assert smtp.auth("tim", "tanstaaftanstaaf") is False
    server.join()
    assert_nothing_after_starttls(server)


# ---- ST-02 ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("raise_errors", [True, False], ids=["raise", "return"])
def test_ST_02_crlf_free_fragment_after_220(
    scripted: type[ScriptedServer],
    sec_connect: SecConnect,
    client_context: ssl.SSLContext,
    raise_errors: bool,
) -> None:
    """A fragment without line end (Nodemailer PR #1835): the same strict refusal, so it can
    never be glued to the front of the genuine post-TLS EHLO reply."""
    server = scripted(injecting_server(INJECTED_FRAGMENT, ("250-real", "250 HELP")))
    smtp = sec_connect(server, raise_errors=raise_errors)
    if raise_errors:
        with pytest.raises(ProtocolError, match="injection"):
            smtp.starttls(client_context)
    else:
        assert smtp.starttls(client_context) is False
        assert "Protocol error" in smtp.message()
    assert smtp.tls_active is False
    assert smtp.supports("SMTPUTF8") is None
    server.join()
    assert_nothing_after_starttls(server)


# ---- ST-03 ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("when", ["30ms-later", "after-client-hello"])
def test_ST_03_late_injection_breaks_the_handshake(
    scripted: type[ScriptedServer], sec_connect: SecConnect, client_context: ssl.SSLContext, when: str
) -> None:
    """Plaintext arriving once the handshake has begun: the TLS layer sees non-TLS bytes, the
    handshake fails, the socket is closed, nothing falls back to plaintext.

    "after-client-hello" first waits for the ClientHello (the client did not sit reading
    plaintext after the 220) and only then injects: deterministic, whichever client.
    """

    def script(p: Peer) -> None:
        greet(p, "STARTTLS", "AUTH PLAIN LOGIN")
        p.expect("STARTTLS")
        p.send(b"220 Ready\r\n")
        if when == "30ms-later":
            p.sleep(0.03)
        else:
            assert peek(p, 1) == bytes([TLS_HANDSHAKE]), "no ClientHello after the 220"
        p.send(b"250 AUTH LOGIN\r\n")
        p.read_to_eof()  # the client must close (AssertionError otherwise)

    server = scripted(script)
    smtp = sec_connect(server, raise_errors=True)
    with pytest.raises((TLSError, ProtocolError)):
        smtp.starttls(client_context)
    assert smtp.tls_active is False
    with pytest.raises(ConnectionLost):
        smtp.auth("tim", "tanstaaftanstaaf")  # never falls back to AUTH in clear
    server.join()
    assert plain_part(server).startswith(EHLO + STARTTLS)
    rest = server.received[len(EHLO + STARTTLS) :]
    # Only TLS records follow STARTTLS: the ClientHello (and maybe an alert), never a command.
    assert {kind for kind, _ in tls_records(rest)} <= {0x16, 0x15}
    assert tls_part(server) == b""


# ---- ST-04 ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("injected", [True, False], ids=["with-injection", "ehlo-ignored-only"])
def test_ST_04_east_b1_no_progress_on_injected_replies(
    scripted: type[ScriptedServer], sec_connect: SecConnect, client_context: ssl.SSLContext, injected: bool
) -> None:
    """EAST Buffering/B_1: the 220 carries a fake post-TLS EHLO reply, and the server never
    answers the real encrypted EHLO. A client that goes on has consumed the injected bytes.

    With the injection netsmtp stops before the handshake (ProtocolError, ST-01), which
    pre-empts the second step. Without it (step 2 alone) the encrypted EHLO gets no answer:
    SMTPTimeout within the timeout, and nothing but that EHLO inside TLS.
    """

    def script(p: Peer) -> None:
        greet(p, "STARTTLS", name="example.org")
        p.expect("STARTTLS")
        p.send(
            b"220 Ready to start TLS\r\n" + (b"250-example.org\r\n250 AUTH LOGIN\r\n" if injected else b"")
        )
        if peek(p, 1)[:1] != bytes([TLS_HANDSHAKE]):
            closed_silently(p)
            return
        p.starttls()
        p.expect(EHLO)
        p.read_to_eof(wait=3)  # never answers; the client must give up and close

    server = scripted(script)
    smtp = sec_connect(server, raise_errors=True, timeout=0.4)
    started = time.monotonic()
    with pytest.raises(ProtocolError if injected else SMTPTimeout):
        smtp.starttls(client_context)
    assert time.monotonic() - started < 2.0
    with pytest.raises(ConnectionLost):
        smtp.auth("tim", "secret")
    with pytest.raises(ConnectionLost):
        smtp.mail("a@b.example")
    server.join()
    for verb in (b"AUTH", b"MAIL", b"RCPT"):
        assert verb not in tls_part(server)
    assert tls_part(server) == (b"" if injected else EHLO)


# ---- ST-05 ----------------------------------------------------------------------------------------
PIPELINED_FAKES = (
    b"454 currently unavailable\r\n235 Authenticated\r\n250 2.1.0 Sender ok\r\n"
    b"250 2.1.5 Recipient ok\r\n354 Enter mail\r\n250 2.0.0 Accepted\r\n"
)


@pytest.mark.parametrize("mode", ["required", "opportunistic"])
def test_ST_05_pipelined_fake_success_after_refused_starttls(
    scripted: type[ScriptedServer], sec_connect: SecConnect, client_context: ssl.SSLContext, mode: str
) -> None:
    """curl test980: STARTTLS refused with five fake success replies in the same write.

    Required mode (``raise_errors=True``): ReplyError carrying 454. Opportunistic mode: a
    false return (454), and the caller who goes on gets a ProtocolError before a single byte:
    the buffered replies answer no command, so none of them is ever paired with AUTH, MAIL,
    RCPT or DATA. The capture is exactly EHLO and STARTTLS.
    """

    def script(p: Peer) -> None:
        greet(p, "STARTTLS", "AUTH PLAIN")
        p.expect("STARTTLS")
        p.send(PIPELINED_FAKES)
        quit_or_eof(p)

    server = scripted(script)
    if mode == "required":
        smtp = sec_connect(server, raise_errors=True)
        with pytest.raises(ReplyError) as info:
            smtp.starttls(client_context)
        assert info.value.reply.code == 454
        with pytest.raises(ProtocolError, match="unsolicited"):
            smtp.quit()
    else:
        smtp = sec_connect(server)
        assert smtp.starttls(client_context) is False
        assert smtp.code() == 454
        # The caller carries on in plaintext: every step fails, nothing is written.
        assert smtp.auth("tim", "tanstaaftanstaaf") is False
        assert "unsolicited" in smtp.message()
        assert smtp.mail("a@b.example") is False
        assert smtp.to("c@d.example") is False
        assert smtp.data(b"Subject: x\r\n\r\nbody\r\n") is False
        assert smtp.quit() is False
    assert smtp.tls_active is False
    server.join()
    assert server.received == EHLO + STARTTLS


# ---- ST-06 ----------------------------------------------------------------------------------------
def test_ST_06_starttls_is_the_last_plaintext_byte(
    scripted: type[ScriptedServer], sec_connect: SecConnect, client_context: ssl.SSLContext
) -> None:
    """With PIPELINING advertised, nothing is batched with EHLO or STARTTLS: the byte after
    ``STARTTLS\\r\\n`` is a TLS handshake record, and pipelining starts only inside TLS."""
    messages: list[bytes] = []

    def script(p: Peer) -> None:
        p.send("220 test.example ESMTP\r\n")
        p.expect(EHLO)
        assert_quiet(p)  # EHLO is a synchronisation point (RFC 2920)
        p.reply(*ehlo_lines("PIPELINING", "8BITMIME", "STARTTLS"))
        p.expect("STARTTLS")
        assert_quiet(p)  # nothing after STARTTLS until its reply
        p.reply("220 2.0.0 go ahead")
        assert peek(p, 1) == bytes([TLS_HANDSHAKE])
        p.starttls()
        p.expect(EHLO)
        p.reply(*ehlo_lines("PIPELINING", "8BITMIME"))
        # Inside TLS, pipelining is fine: MAIL, RCPT and DATA in one batch.
        batch = p.read_until(b"DATA\r\n")
        assert batch == b"MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n"
        p.reply("250 ok")
        p.reply("250 ok")
        p.reply("354 go")
        messages.append(p.read_data())
        p.reply("250 queued")
        honest_tail(p)

    server = scripted(script)
    smtp = sec_connect(server)
    assert smtp.starttls(client_context) is True
    result = smtp.send_message(b"Subject: x\r\n\r\nbody\r\n", "a@b.example", ["c@d.example"])
    assert list(result.accepted) == ["c@d.example"]
    assert smtp.quit() is True
    server.join()
    plain_segments = [data for tls, data in server.segments if not tls]
    assert plain_segments == [EHLO, STARTTLS]
    assert plain_part(server) == EHLO + STARTTLS
    assert messages == [b"Subject: x\r\n\r\nbody\r\n.\r\n"]


def honest_tail(p: Peer) -> None:
    p.expect("QUIT")
    p.reply("221 bye")
    assert p.at_eof()


# ---- ST-07 ----------------------------------------------------------------------------------------
def test_ST_07_core_session_replaces_its_parser() -> None:
    """White-box, sans-IO core: the injected bytes sit in the plaintext parser when the 220 is
    read (the test exercises the path), which raises; an honest upgrade gets a new parser."""
    session = Session()
    session.receive_data(b"220 hi\r\n")
    assert session.next_reply() is not None
    session.command(b"STARTTLS\r\n")
    session.receive_data(b"220 Ready\r\n" + INJECTED_LINES)
    plaintext_parser = session.parser
    with pytest.raises(ProtocolError, match="injection"):
        session.next_reply()
    assert plaintext_parser.buffered == len(INJECTED_LINES)  # held at the moment of the upgrade
    assert session.closed

    session = Session()
    session.receive_data(b"220 hi\r\n")
    session.next_reply()
    session.command(b"STARTTLS\r\n")
    session.receive_data(b"220 Ready\r\n")
    assert session.next_reply() is not None
    assert session.state is State.TLS_PENDING
    with pytest.raises(ProtocolError):  # a byte now, before the handshake, is an injection too
        session.receive_data(b"2")
    assert session.closed

    session = Session()
    session.receive_data(b"220 hi\r\n")
    session.next_reply()
    session.command(b"STARTTLS\r\n")
    session.receive_data(b"220 Ready\r\n")
    session.next_reply()
    plaintext_parser = session.parser
    session.tls_established()
    assert session.parser is not plaintext_parser
    assert isinstance(session.parser, ReplyParser)
    assert session.parser.buffered == 0
    assert session.capabilities is None


def test_ST_07_no_read_ahead_reader_survives_the_upgrade(
    scripted: type[ScriptedServer], sec_connect: SecConnect, client_context: ssl.SSLContext, sec_kind: str
) -> None:
    """White-box, on the real clients: (1) with the ST-01 script the injected bytes were held
    by the plaintext reader when the 220 was read (so the refusal really comes from there);
    (2) after an honest upgrade the plaintext reader is gone: a new parser, a new stream on
    the TLS socket, and nothing buffered anywhere."""
    server = scripted(injecting_server(INJECTED_LINES, ("250 real",)))
    smtp = sec_connect(server)
    client = real(smtp)
    plaintext_parser = client._session.parser
    stream = client._stream
    assert smtp.starttls(client_context) is False
    held = plaintext_parser.buffered
    if sec_kind != "sync":
        held += len(stream.protocol.buffer)  # AsyncStream's own buffer, checked before start_tls
    assert held == len(INJECTED_LINES)
    assert client._stream is None  # closed, never upgraded
    server.join()

    def honest(p: Peer) -> None:
        greet(p, "STARTTLS")
        p.expect("STARTTLS")
        p.reply("220 Ready")
        p.starttls()
        honest_session(p, tuple(ehlo_lines("AUTH PLAIN", name="real")))

    server = scripted(honest)
    smtp = sec_connect(server)
    client = real(smtp)
    plaintext_parser = client._session.parser
    plaintext_stream = client._stream
    assert smtp.starttls(client_context) is True
    assert client._session.parser is not plaintext_parser
    assert client._session.parser.buffered == 0
    assert client._stream is not plaintext_stream
    if sec_kind == "sync":
        assert isinstance(client._stream.sock, ssl.SSLSocket)
        assert plaintext_stream.sock.fileno() == -1  # the plain socket object was detached
        assert not hasattr(client._stream, "buffer")  # the blocking stream has no read buffer
    else:
        assert client._stream.transport.get_extra_info("ssl_object") is not None
        assert client._stream.protocol.buffer == bytearray()
    assert smtp.quit() is True
    server.join()


# ---- ST-08 ----------------------------------------------------------------------------------------
def test_ST_08_injected_lines_never_pair_with_later_commands(
    scripted: type[ScriptedServer], sec_connect: SecConnect, client_context: ssl.SSLContext
) -> None:
    """netsmtp has no "discard and go on" option: with the ST-01 script the session ends, so no
    injected line can ever answer a later command. Then a whole transaction inside TLS with
    honest replies, each recognisable: every reply is paired with its own command, one by one
    and pipelined (MAIL must not get the EHLO reply, nor RCPT the MAIL reply)."""
    server = scripted(injecting_server(INJECTED_LINES, tuple(ehlo_lines("AUTH PLAIN", name="real"))))
    smtp = sec_connect(server)
    assert smtp.starttls(client_context) is False
    assert smtp.mail("a@b.example") is False and smtp.code() == 421
    server.join()
    assert_nothing_after_starttls(server)

    def honest(p: Peer) -> None:
        greet(p, "PIPELINING", "STARTTLS", name="fake")
        p.expect("STARTTLS")
        p.reply("220 Ready")
        p.starttls()
        p.expect(EHLO)
        p.reply(*ehlo_lines("PIPELINING", "AUTH PLAIN", name="real-ehlo"))
        p.expect(f"AUTH PLAIN {PLAIN_RESPONSE}")
        p.reply("235 2.7.0 auth-reply")
        p.expect("MAIL FROM:<a@b.example>")
        p.reply("250 2.1.0 mail-reply")
        for n in (1, 2):
            p.expect(f"RCPT TO:<r{n}@d.example>")
            p.reply(f"250 2.1.5 rcpt-reply-{n}")
        p.expect("DATA")
        p.reply("354 data-reply")
        p.read_data()
        p.reply("250 2.0.0 end-reply")
        # send_message, pipelined: three commands in one write, three replies in one write.
        assert p.read_until(b"DATA\r\n") == (b"MAIL FROM:<a@b.example>\r\nRCPT TO:<r3@d.example>\r\nDATA\r\n")
        p.send(b"250 2.1.0 mail-reply-2\r\n250 2.1.5 rcpt-reply-3\r\n354 data-reply-2\r\n")
        p.read_data()
        p.reply("250 2.0.0 end-reply-2")
        p.expect("NOOP")
        p.reply("250 2.0.0 noop-reply")
        honest_tail(p)

    server = scripted(honest)
    smtp = sec_connect(server)
    assert smtp.starttls(client_context) is True
    assert smtp.domain() == "fake"
    assert smtp.message() == "real-ehlo\nPIPELINING\nAUTH PLAIN"
    assert smtp.auth("tim", "tanstaaftanstaaf") is True
    assert smtp.message() == "2.7.0 auth-reply"
    assert smtp.mail("a@b.example") is True
    assert smtp.message() == "2.1.0 mail-reply"
    assert smtp.to("r1@d.example") is True
    assert smtp.message() == "2.1.5 rcpt-reply-1"
    assert smtp.to("r2@d.example") is True
    assert smtp.message() == "2.1.5 rcpt-reply-2"
    assert smtp.data(b"Subject: x\r\n\r\nbody\r\n") is True
    assert smtp.message() == "2.0.0 end-reply"
    result = smtp.send_message(b"Subject: y\r\n\r\nbody\r\n", "a@b.example", ["r3@d.example"])
    assert result.mail_reply is not None and result.mail_reply.text == "2.1.0 mail-reply-2"
    assert result.accepted["r3@d.example"].text == "2.1.5 rcpt-reply-3"
    assert result.reply is not None and result.reply.text == "2.0.0 end-reply-2"
    assert smtp.noop() is True
    assert smtp.message() == "2.0.0 noop-reply"
    assert smtp.quit() is True
    server.join()
