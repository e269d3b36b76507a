"""The session state machine (SPEC A4, A10; SECURITY MS-12..MS-15, SM-13). STARTTLS: test_session_starttls."""

from __future__ import annotations

import pytest

from netsmtp._core.capabilities import Capabilities
from netsmtp._core.commands import encode_line
from netsmtp._core.reply import Reply
from netsmtp._core.session import END_OF_DATA, GREETING, Session, State
from netsmtp._exceptions import ConnectionLost, ProtocolError, UsageError


def replies(session: Session, data: bytes) -> list[tuple[str, Reply]]:
    session.receive_data(data)
    out = []
    while (item := session.next_reply()) is not None:
        out.append(item)
    return out


def ready(ehlo: bytes = b"250-mx\r\n250-PIPELINING\r\n250 STARTTLS\r\n") -> Session:
    session = Session()
    assert replies(session, b"220 mx ESMTP\r\n") == [(GREETING, Reply(220, ("mx ESMTP",)))]
    session.command(encode_line("EHLO", "me"))
    [(verb, _)] = replies(session, ehlo)
    assert verb == "EHLO"
    return session


def send(session: Session, *parts: str) -> bytes:
    return session.command(encode_line(*parts))


# ---- greeting --------------------------------------------------------------------------------
def test_new_session_awaits_the_greeting() -> None:
    session = Session()
    assert session.state is State.GREETING
    assert list(session.awaiting) == [GREETING]
    assert session.capabilities is None
    assert not session.tls_active
    assert not session.closed
    assert session.next_reply() is None


def test_greeting_pairs_and_moves_to_ready() -> None:
    session = Session()
    session.receive_data(b"220-first.example.org ESMTP\r\n220 ")
    assert session.next_reply() is None
    session.receive_data(b"third\r\n")
    assert session.next_reply() == (GREETING, Reply(220, ("first.example.org ESMTP", "third")))
    assert session.state is State.READY
    assert session.greeting == Reply(220, ("first.example.org ESMTP", "third"))
    assert not session.awaiting


@pytest.mark.parametrize("code", [554, 450, 500])
def test_refused_greeting_stays_open_for_quit(code: int) -> None:
    session = Session()
    [(verb, reply)] = replies(session, b"%d no service\r\n" % code)
    assert (verb, reply.code) == (GREETING, code)
    assert session.state is State.GREETING
    assert send(session, "QUIT") == b"QUIT\r\n"  # RFC 5321 §3.1: QUIT is allowed
    replies(session, b"221 bye\r\n")
    assert session.closed


def test_421_greeting_closes() -> None:
    session = Session()
    replies(session, b"421 4.3.2 shutting down\r\n")
    assert session.closed
    with pytest.raises(ConnectionLost, match="421"):
        send(session, "EHLO", "me")


# ---- unsolicited replies (MS-14b, MS-15) -----------------------------------------------------------
def test_unsolicited_reply_after_greeting() -> None:
    session = Session()
    session.receive_data(b"220 hi\r\n250 OK\r\n")
    assert session.next_reply() is not None
    with pytest.raises(ProtocolError, match="unsolicited"):
        session.next_reply()
    assert session.state is State.CLOSED
    assert not session.awaiting
    with pytest.raises(ConnectionLost, match="unsolicited"):
        send(session, "NOOP")


def test_one_reply_too_many_in_a_pipeline() -> None:
    session = ready()
    for parts in (("MAIL", "FROM:<a@b>"), ("RCPT", "TO:<c@d>"), ("DATA",)):
        send(session, *parts)
    session.receive_data(b"250 ok\r\n250 ok\r\n354 go\r\n250 extra\r\n")
    assert [session.next_reply()[0] for _ in range(3)] == ["MAIL", "RCPT", "DATA"]  # type: ignore[index]
    with pytest.raises(ProtocolError):
        session.next_reply()
    assert session.closed


def test_malformed_reply_closes_the_session() -> None:
    session = ready()
    send(session, "NOOP")
    session.receive_data(b"250-a\r\n550 b\r\n")
    with pytest.raises(ProtocolError):
        session.next_reply()
    assert session.closed
    assert "protocol error" in session.closed_reason
    with pytest.raises(ConnectionLost):
        send(session, "NOOP")


# ---- EHLO / HELO -----------------------------------------------------------------------------------
def test_ehlo_builds_capabilities() -> None:
    session = ready(b"250-mx.example.org welcomes STARTTLS users\r\n250-SIZE 10\r\n250 AUTH PLAIN\r\n")
    assert session.capabilities == Capabilities({"SIZE": "10", "AUTH": "PLAIN"})


def test_failed_ehlo_keeps_the_old_table_and_helo_empties_it() -> None:
    session = ready()
    send(session, "EHLO", "me")
    replies(session, b"451 later\r\n")
    assert session.capabilities is not None
    assert "STARTTLS" in session.capabilities
    send(session, "HELO", "me")
    replies(session, b"250 mx\r\n")
    assert session.capabilities is None


def test_lhlo_builds_capabilities() -> None:
    session = Session()
    replies(session, b"220 lmtp\r\n")
    send(session, "LHLO", "me")
    replies(session, b"250-lmtp\r\n250 PIPELINING\r\n")
    assert session.capabilities == Capabilities({"PIPELINING": ""})


# ---- DATA (A10; SM-13) -------------------------------------------------------------------------------
def in_data() -> Session:
    session = ready()
    send(session, "MAIL", "FROM:<a@b>")
    send(session, "RCPT", "TO:<c@d>")
    send(session, "DATA")
    got = replies(session, b"250 ok\r\n250 ok\r\n354 go ahead\r\n")
    assert [verb for verb, _ in got] == ["MAIL", "RCPT", "DATA"]
    assert session.state is State.DATA
    return session


def test_data_phase() -> None:
    session = in_data()
    assert session.data(b".hidden\n") == b"..hidden\r\n"
    assert session.data(b"a\r") == b"a"
    assert session.raw_data(b"") == b"\r\n"
    assert session.raw_data(b"raw\r\n") == b"raw\r\n"
    assert session.end_data() == b".\r\n"
    assert session.state is State.READY
    assert list(session.awaiting) == [END_OF_DATA]
    [(verb, reply)] = replies(session, b"250 2.0.0 queued\r\n")
    assert (verb, reply.enhanced_status) == (END_OF_DATA, "2.0.0")


def test_end_data_closes_an_open_line() -> None:
    session = in_data()
    session.data(b"no newline")
    assert session.end_data() == b"\r\n.\r\n"


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.command(b"RSET\r\n"),
        lambda s: s.command(b"QUIT\r\n"),
        lambda s: s.bdat(b"x", True),
    ],
)
def test_commands_during_data_are_usage_errors(call: object) -> None:
    # A10: a command now would become part of the message (Net::SMTP commits it).
    session = in_data()
    with pytest.raises(UsageError, match="message is being sent"):
        call(session)  # type: ignore[operator]
    assert session.state is State.DATA
    assert not session.awaiting


@pytest.mark.parametrize("method", ["data", "raw_data"])
def test_data_outside_the_data_phase(method: str) -> None:
    session = ready()
    with pytest.raises(UsageError):
        getattr(session, method)(b"x")
    with pytest.raises(UsageError):
        session.end_data()


@pytest.mark.parametrize("answer", [b"250 ok\r\n", b"334 huh\r\n", b"220 what\r\n"])
def test_data_answered_other_than_354(answer: bytes) -> None:
    # SM-13: no body may follow a DATA reply that is positive but not 354.
    session = ready()
    send(session, "DATA")
    with pytest.raises(ProtocolError, match="DATA answered"):
        replies(session, answer)
    assert session.closed
    with pytest.raises(UsageError):
        session.data(b"body")


@pytest.mark.parametrize("answer", [b"451 later\r\n", b"554 no valid recipients\r\n"])
def test_data_refused_stays_ready(answer: bytes) -> None:
    session = ready()
    send(session, "DATA")
    replies(session, answer)
    assert session.state is State.READY
    with pytest.raises(UsageError):
        session.data(b"body")


def test_lmtp_end_data_queues_one_reply_per_recipient() -> None:
    session = in_data()
    session.end_data(replies=3)
    assert list(session.awaiting) == [END_OF_DATA] * 3
    got = replies(session, b"250 2.1.5 ok\r\n452 4.2.2 full\r\n250 2.1.5 ok\r\n")
    assert [(verb, reply.code) for verb, reply in got] == [
        (END_OF_DATA, 250),
        (END_OF_DATA, 452),
        (END_OF_DATA, 250),
    ]
    with pytest.raises(ProtocolError):
        replies(session, b"250 one too many\r\n")


# ---- BDAT -------------------------------------------------------------------------------------------
def test_bdat_pairs_replies() -> None:
    session = ready()
    send(session, "MAIL", "FROM:<a@b>")
    assert session.bdat(b"hello\n.", False) == b"BDAT 7\r\nhello\n."
    assert session.bdat(b"end\r\n", True) == b"BDAT 5 LAST\r\nend\r\n"
    got = replies(session, b"250 ok\r\n250 7 octets\r\n250 queued\r\n")
    assert [verb for verb, _ in got] == ["MAIL", "BDAT", "BDAT LAST"]


# ---- closing (MS-12, MS-17) ------------------------------------------------------------------------------
@pytest.mark.parametrize("verb", ["EHLO", "MAIL", "RCPT", "DATA", "STARTTLS", "AUTH", "NOOP"])
def test_421_to_anything_closes(verb: str) -> None:
    session = ready()
    send(session, verb, "x") if verb != "DATA" else send(session, verb)
    [(got, reply)] = replies(session, b"421 4.3.2 shutting down\r\n")
    assert (got, reply.code) == (verb, 421)
    assert session.closed
    assert "421" in session.closed_reason
    with pytest.raises(ConnectionLost):
        send(session, "QUIT")


def test_421_to_the_end_of_data_closes() -> None:
    session = in_data()
    session.end_data()
    replies(session, b"421 bye\r\n")
    assert session.closed


def test_421_in_a_pipeline_drops_the_rest() -> None:
    session = ready()
    send(session, "MAIL", "FROM:<a@b>")
    send(session, "RCPT", "TO:<c@d>")
    [(verb, _)] = replies(session, b"421 closing\r\n")
    assert verb == "MAIL"
    assert not session.awaiting


@pytest.mark.parametrize("answer", [b"221 bye\r\n", b"554 whatever\r\n", b"250 ok\r\n"])
def test_quit_closes_whatever_the_reply(answer: bytes) -> None:
    session = ready()
    send(session, "QUIT")
    [(verb, _)] = replies(session, answer)
    assert verb == "QUIT"
    assert session.closed
    assert session.closed_reason == " (after QUIT)"


def test_after_close_nothing_is_sent() -> None:
    session = ready()
    session.close(" (test)")
    assert session.state is State.CLOSED
    for call in (
        lambda: send(session, "NOOP"),
        lambda: session.bdat(b"x", True),
        session.expect_reply,
    ):
        with pytest.raises(ConnectionLost, match=r"closed \(test\)"):
            call()
    with pytest.raises(UsageError):
        session.data(b"x")


def test_close_is_idempotent_and_keeps_the_first_reason() -> None:
    session = in_data()
    session.close(" (first)")
    session.close(" (second)")
    assert session.closed_reason == " (first)"
    assert session.encoder is None


# ---- pipelining (RFC 2920; MS-14) ---------------------------------------------------------------------
def test_pipelined_envelope_replies_are_paired_in_order() -> None:
    session = ready()
    wire = b"".join(
        send(session, *parts)
        for parts in (("MAIL", "FROM:<a@b>"), ("RCPT", "TO:<c@d>"), ("RCPT", "TO:<e@f>"), ("DATA",))
    )
    assert wire == b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nRCPT TO:<e@f>\r\nDATA\r\n"
    assert list(session.awaiting) == ["MAIL", "RCPT", "RCPT", "DATA"]
    data = b"250 2.1.0 ok\r\n550 5.1.1 unknown\r\n250 2.1.5 ok\r\n354 go\r\n"
    got = []
    for byte in data:  # however the bytes arrive
        got += replies(session, bytes([byte]))
    assert [(verb, reply.code) for verb, reply in got] == [
        ("MAIL", 250),
        ("RCPT", 550),
        ("RCPT", 250),
        ("DATA", 354),
    ]
    assert session.state is State.DATA


def test_missing_reply_leaves_the_command_waiting() -> None:
    # MS-14a: fewer replies than commands: the session waits, it does not guess.
    session = ready()
    send(session, "MAIL", "FROM:<a@b>")
    send(session, "RCPT", "TO:<c@d>")
    replies(session, b"250 ok\r\n")
    assert list(session.awaiting) == ["RCPT"]
    assert session.next_reply() is None


def test_expect_reply_pairs_a_bare_response() -> None:
    session = ready()
    session.expect_reply("response")
    assert replies(session, b"250 late\r\n") == [("response", Reply(250, ("late",)))]


@pytest.mark.parametrize(
    ("line", "guessed"),
    [(b"QUIt\r\n", "QUIT"), (b"STArTTlS\r\n", "STARTTLS"), (b"eHlO\r\n", "EHLO"), (b"DATA\r\n", "DATA")],
)
def test_auth_continuation_lines_carry_their_own_label(line: bytes, guessed: str) -> None:
    # Base64 of a LOGIN password ("AB-" -> "QUIt", "I0+M9R" -> "STArTTlS") can spell a
    # verb; paired by its text, the 235 would close the session or fail as a bad STARTTLS.
    session = ready()
    send(session, "AUTH", "LOGIN")
    replies(session, b"334 VXNlcm5hbWU6\r\n")
    session.command(line, label="AUTH")
    [(verb, reply)] = replies(session, b"235 2.7.0 ok\r\n")
    assert (verb, reply.code) == ("AUTH", 235)
    assert session.state is State.READY
    assert session.capabilities is not None
    assert "STARTTLS" in session.capabilities
    # without the label the line is taken for the verb it spells
    assert session.command(line) == line
    assert session.awaiting[-1] == guessed
