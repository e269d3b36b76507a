"""STARTTLS in the session state machine (SPEC A3, A6; SECURITY ST-01..ST-03, ST-05..ST-07, SD-04)."""

from __future__ import annotations

import pytest

from netsmtp._core.capabilities import Capabilities
from netsmtp._core.reply import Reply, ReplyParser
from netsmtp._core.session import Session, State
from netsmtp._exceptions import ConnectionLost, ProtocolError, UsageError
from tests.core.test_session import ready, replies, send


def test_starttls_220_then_handshake() -> None:
    session = ready()
    old_parser = session.parser
    assert send(session, "STARTTLS") == b"STARTTLS\r\n"
    [(verb, reply)] = replies(session, b"220 Ready\r\n")
    assert (verb, reply.code) == ("STARTTLS", 220)
    assert session.state is State.TLS_PENDING
    with pytest.raises(UsageError, match="handshake"):
        send(session, "EHLO", "me")
    session.tls_established()
    assert session.state is State.READY  # type: ignore[comparison-overlap]
    assert session.tls_active
    assert session.capabilities is None  # A3: emptied until the post-TLS EHLO
    assert session.parser is not old_parser  # ST-07: no plaintext reader survives
    assert session.parser.buffered == 0
    send(session, "EHLO", "me")
    replies(session, b"250-mx\r\n250 AUTH PLAIN\r\n")
    assert session.capabilities == Capabilities({"AUTH": "PLAIN"})


def test_tls_established_keeps_the_parser_limits() -> None:
    session = Session(ReplyParser(max_line_length=100, max_lines=5, max_reply_size=300))
    replies(session, b"220 hi\r\n")
    send(session, "EHLO", "me")
    replies(session, b"250 STARTTLS\r\n")
    send(session, "STARTTLS")
    replies(session, b"220 go\r\n")
    session.tls_established()
    parser = session.parser
    assert (parser.max_line_length, parser.max_lines, parser.max_reply_size) == (100, 5, 300)


@pytest.mark.parametrize(
    "injected",
    [
        b"250-evil\r\n250 AUTH LOGIN\r\n",  # ST-01: complete lines
        b"250-SMTPUTF8 X ",  # ST-02: a CRLF-free fragment
        b"2",
        b"\n",
    ],
)
def test_bytes_after_the_220_are_an_injection(injected: bytes) -> None:
    session = ready()
    send(session, "STARTTLS")
    session.receive_data(b"220 Ready\r\n" + injected)
    with pytest.raises(ProtocolError, match="after its 220 reply to STARTTLS"):
        session.next_reply()
    assert session.closed
    assert session.state is not State.TLS_PENDING
    with pytest.raises(UsageError):
        session.tls_established()  # no handshake may start
    with pytest.raises(ConnectionLost):
        send(session, "AUTH", "LOGIN")


@pytest.mark.parametrize("injected", [b"250 AUTH LOGIN\r\n", b"250-SMTPUTF8 X "])
def test_bytes_arriving_after_the_220_was_read_are_refused(injected: bytes) -> None:
    # The 220 came alone; more plaintext arrives before the handshake (ST-03 as the core
    # sees it): refused at once, never silently dropped by the new parser.
    session = ready()
    send(session, "STARTTLS")
    replies(session, b"220 Ready\r\n")
    assert session.state is State.TLS_PENDING
    with pytest.raises(ProtocolError, match="STARTTLS"):
        session.receive_data(injected)
    assert session.closed
    with pytest.raises(UsageError):
        session.tls_established()


def test_nothing_may_be_pipelined_after_starttls() -> None:
    # ST-06 mirror: a command queued behind STARTTLS would go out in plaintext.
    session = ready()
    send(session, "STARTTLS")
    send(session, "NOOP")
    with pytest.raises(ProtocolError):
        replies(session, b"220 Ready\r\n")
    assert session.closed


@pytest.mark.parametrize("code", [250, 200, 221])
def test_starttls_2xx_other_than_220(code: int) -> None:
    # SD-04: Net::SMTP accepts any 2xx (its own test server says 250); A6/RFC 3207 say 220.
    session = ready()
    send(session, "STARTTLS")
    with pytest.raises(ProtocolError, match=f"STARTTLS answered {code}"):
        replies(session, b"%d ok\r\n" % code)
    assert session.closed


@pytest.mark.parametrize("code", [454, 502, 530])
def test_starttls_refused_stays_plaintext(code: int) -> None:
    session = ready()
    send(session, "STARTTLS")
    [(_, reply)] = replies(session, b"%d no\r\n" % code)
    assert reply.code == code
    assert session.state is State.READY
    assert not session.tls_active


def test_starttls_refused_with_pipelined_fake_replies() -> None:
    # ST-05 (curl test980): the fake successes are unsolicited.
    session = ready()
    send(session, "STARTTLS")
    session.receive_data(b"454 currently unavailable\r\n235 Authenticated\r\n250 2.1.0 Sender ok\r\n")
    assert session.next_reply() == ("STARTTLS", Reply(454, ("currently unavailable",)))
    with pytest.raises(ProtocolError):
        session.next_reply()
    assert session.closed


def test_tls_established_without_starttls() -> None:
    with pytest.raises(UsageError):
        ready().tls_established()


def test_implicit_tls() -> None:
    session = Session()
    session.implicit_tls()
    assert session.tls_active
    assert session.state is State.GREETING
