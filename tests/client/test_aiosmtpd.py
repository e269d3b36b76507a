"""Against a real server (aiosmtpd in-process): messages read back from its store, byte for byte."""

from __future__ import annotations

import ssl

import pytest

from tests.client.support import Connect
from tests.helpers.aiosmtpd_server import RunningServer

MESSAGE = (
    b"From: Sender <sender@example.org>\r\n"
    b"To: Rcpt <rcpt@example.net>\r\n"
    b"Subject: netsmtp test\r\n"
    b"\r\n"
    b".a line that starts with a dot\r\n"
    b".\r\n"
    b"..two dots\r\n"
    b"caf\xc3\xa9 8-bit\r\n"
    b"last line\r\n"
)


def test_message_through_starttls(
    aiosmtpd_server: RunningServer, connect: Connect, client_context: ssl.SSLContext
) -> None:
    smtp = connect(aiosmtpd_server.address)
    assert smtp.domain() == "aiosmtpd.test"
    assert smtp.starttls(client_context) is True
    assert smtp.tls_active is True
    assert smtp.mail("Sender <sender@example.org>", bits="8", size=len(MESSAGE)) is True
    assert smtp.to("rcpt@example.net") is True
    assert smtp.data(MESSAGE) is True
    assert smtp.code() == 250
    assert smtp.message() == "2.0.0 queued"
    assert smtp.quit() is True
    [received] = aiosmtpd_server.messages
    assert received.mail_from == "sender@example.org"
    assert received.rcpt_tos == ["rcpt@example.net"]
    assert received.content == MESSAGE
    assert sorted(received.mail_options) == sorted([f"SIZE={len(MESSAGE)}", "BODY=8BITMIME"])


def test_streamed_message_with_bare_line_endings(
    aiosmtpd_server: RunningServer, connect: Connect, client_context: ssl.SSLContext
) -> None:
    smtp = connect(aiosmtpd_server.address)
    assert smtp.starttls(client_context) is True
    assert smtp.mail("sender@example.org") is True
    assert smtp.to("rcpt@example.net") is True
    assert smtp.data() is True
    for chunk in (b"Subject: streamed\n", b"\n.dot", b" line\r", b"\nbare cr\rend"):
        assert smtp.datasend(chunk) is True
    assert smtp.dataend() is True
    assert smtp.quit() is True
    [received] = aiosmtpd_server.messages
    assert received.content == b"Subject: streamed\r\n\r\n.dot line\r\nbare cr\r\nend\r\n"


def test_implicit_tls_send(
    aiosmtpd_server: RunningServer, connect: Connect, client_context: ssl.SSLContext
) -> None:
    with connect(aiosmtpd_server.smtps_address, ssl=True, ssl_context=client_context) as smtp:
        assert smtp.tls_active is True
        assert smtp.mail("sender@example.org") is True
        assert smtp.to("a@example.net", "b@example.net") is True
        fh = smtp.datafile()
        assert fh is not None
        with fh:
            fh.write(b"Subject: via datafile\n\nbody\n")
        assert fh.accepted is True
    [received] = aiosmtpd_server.messages
    assert received.rcpt_tos == ["a@example.net", "b@example.net"]
    assert received.content == b"Subject: via datafile\r\n\r\nbody\r\n"


def test_skip_bad_with_refused_recipients(aiosmtpd_server: RunningServer, connect: Connect) -> None:
    smtp = connect(aiosmtpd_server.address)
    assert smtp.mail("sender@example.org") is True
    accepted = smtp.to(
        "Good One <good1@example.net>",
        "reject-me@example.net",
        "tempfail-me@example.net",
        "good2@example.net",
        skip_bad=True,
    )
    assert accepted == ["Good One <good1@example.net>", "good2@example.net"]
    assert smtp.data(b"Subject: partial\r\n\r\nhi\r\n") is True
    assert smtp.quit() is True
    [received] = aiosmtpd_server.messages
    assert received.rcpt_tos == ["good1@example.net", "good2@example.net"]


def test_refused_recipient_without_skip_bad(aiosmtpd_server: RunningServer, connect: Connect) -> None:
    smtp = connect(aiosmtpd_server.address)
    assert smtp.mail("sender@example.org") is True
    assert smtp.to("good@example.net", "reject-me@example.net", "never-sent@example.net") is False
    assert smtp.code() == 550
    assert smtp.message() == "5.1.1 no such user"
    assert smtp.last_reply is not None and smtp.last_reply.enhanced_status == "5.1.1"
    assert smtp.reset() is True
    assert smtp.quit() is True
    assert aiosmtpd_server.messages == []


def test_tempfail_recipient(aiosmtpd_server: RunningServer, connect: Connect) -> None:
    smtp = connect(aiosmtpd_server.address)
    assert smtp.mail("sender@example.org") is True
    assert smtp.to("tempfail@example.net") is False
    assert smtp.code() == 450
    assert smtp.last_reply is not None and smtp.last_reply.is_transient
    assert smtp.quit() is True


def test_smtputf8_address(aiosmtpd_server: RunningServer, connect: Connect) -> None:
    smtp = connect(aiosmtpd_server.address)
    assert smtp.supports("SMTPUTF8") == ""
    assert smtp.mail("Avsändaren@exämple.org") is True
    assert smtp.to("grüße@example.net") is True
    assert smtp.data("Subject: =?utf-8?q?gr=C3=BC=C3=9Fe?=\r\n\r\ngrüße\r\n") is True
    assert smtp.quit() is True
    [received] = aiosmtpd_server.messages
    assert received.mail_from == "Avsändaren@exämple.org"
    assert received.rcpt_tos == ["grüße@example.net"]
    assert "SMTPUTF8" in received.mail_options
    assert received.content == "Subject: =?utf-8?q?gr=C3=BC=C3=9Fe?=\r\n\r\ngrüße\r\n".encode()


def test_two_messages_in_one_session(aiosmtpd_server: RunningServer, connect: Connect) -> None:
    with connect(aiosmtpd_server.address) as smtp:
        for n in range(2):
            assert smtp.mail(f"s{n}@example.org") is True
            assert smtp.to(f"r{n}@example.net") is True
            assert smtp.data([b"Subject: ", str(n), b"\n\nbody\n"]) is True
    assert [(m.mail_from, m.rcpt_tos, m.content) for m in aiosmtpd_server.messages] == [
        ("s0@example.org", ["r0@example.net"], b"Subject: 0\r\n\r\nbody\r\n"),
        ("s1@example.org", ["r1@example.net"], b"Subject: 1\r\n\r\nbody\r\n"),
    ]


def test_other_commands(aiosmtpd_server: RunningServer, connect: Connect) -> None:
    smtp = connect(aiosmtpd_server.address)
    assert smtp.noop() is True
    assert smtp.verify("someone@example.net") is True  # 252: cannot verify, but will try
    assert smtp.code() == 252
    text = smtp.help()
    assert text is not None and "EHLO" in text
    assert smtp.expand("list") == []
    assert smtp.code() == 502
    assert smtp.etrn("example.net") is False  # not advertised: nothing sent
    assert smtp.code() == 500
    assert smtp.command("NOOP").response() == 2
    assert smtp.hello("again.test") == "aiosmtpd.test"
    assert smtp.quit() is True


@pytest.mark.parametrize("size", [10, 300_000])
def test_data_sizes_round_trip(aiosmtpd_server: RunningServer, connect: Connect, size: int) -> None:
    body = b"".join(b".%d\r\n" % n for n in range(size // 6 + 1))
    with connect(aiosmtpd_server.address) as smtp:
        assert smtp.mail("sender@example.org") is True
        assert smtp.to("rcpt@example.net") is True
        assert smtp.data(body) is True
    [received] = aiosmtpd_server.messages
    assert received.content == body
