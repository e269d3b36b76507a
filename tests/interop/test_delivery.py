"""Sending to real servers, both clients, every message read back from the Maildir.

Against Postfix, Exim, OpenSMTPD and aiosmtpd: STARTTLS verified against the server's own
certificate (and refused with an unknown one), implicit TLS, a recipient refused and one
deferred (per-recipient results), DSN parameters end to end (the servers' delivery reports),
an SMTPUTF8 address, an 8-bit body, PIPELINING and CHUNKING where offered and never where not
(seen on the wire through :class:`~tests.interop.wiretap.WireTap`), explicit ``bdat``, and a
20 MB message. Every delivered copy is compared byte for byte with what was sent, after the
server's trace headers and with CRLF read as LF (:mod:`tests.interop.maildir`).
"""

from __future__ import annotations

import hashlib
import re
import ssl
from typing import Any

import pytest

import netsmtp
from tests.interop.conftest import OpenClient
from tests.interop.maildir import Delivered, marker, message_id, normalise, reports_for, wait_for
from tests.interop.servers import Server
from tests.interop.wiretap import WireTap, exchanges

# What each server advertises (EHLO on the plain port), as far as these tests care.
OFFERS = {
    "postfix": {"PIPELINING", "CHUNKING", "DSN", "SMTPUTF8", "8BITMIME", "STARTTLS"},
    "exim": {"PIPELINING", "CHUNKING", "DSN", "SMTPUTF8", "8BITMIME", "STARTTLS"},
    "opensmtpd": {"DSN", "8BITMIME", "STARTTLS"},
    "aiosmtpd": {"SMTPUTF8", "8BITMIME", "STARTTLS"},
}
FEATURES = {"PIPELINING", "CHUNKING", "DSN", "SMTPUTF8", "8BITMIME", "STARTTLS", "BINARYMIME"}
# A body with what dot-stuffing and line-ending handling must survive.
BODY = b"hello from netsmtp\r\n.a line that starts with a dot\r\n.\r\n..\r\nlast line\r\n"


def message(mark: str, sender: str, rcpts: list[str], body: bytes = BODY, extra: bytes = b"") -> bytes:
    head = (
        message_id(mark) + b"\r\n"
        b"Date: Sat, 28 Nov 2026 12:00:00 +0000\r\n"
        b"From: " + sender.encode() + b"\r\n"
        b"To: " + ", ".join(rcpts).encode() + b"\r\n"
        b"Subject: netsmtp interop " + mark.encode() + b"\r\n" + extra
    )
    return head + b"\r\n" + body


def check_copies(server: Server, mark: str, sent: bytes, rcpts: list[str], timeout: float = 30) -> None:
    """Exactly one copy per recipient, each identical to what was sent."""
    copies = wait_for(server.maildir, message_id(mark), len(rcpts), timeout)
    assert sorted(c.recipient or "" for c in copies) == sorted(rcpts)
    for copy in copies:
        assert_same(copy, sent)


def assert_same(copy: Delivered, sent: bytes) -> None:
    want = normalise(sent)
    if len(want) < 100_000:
        assert copy.message == want
    else:  # a readable failure for the big ones
        got = (len(copy.message), hashlib.sha256(copy.message).hexdigest())
        assert got == (len(want), hashlib.sha256(want).hexdigest()), f"{copy.path} differs from what was sent"


def test_features_as_expected(server: Server, open_client: OpenClient) -> None:
    """The matrix below assumes these offers; a server that changes them is noticed here."""
    smtp = open_client(server.starttls)
    assert {k for k in FEATURES if smtp.supports(k) is not None} == OFFERS[server.name]
    smtp.quit()


# ---- TLS ----------------------------------------------------------------------------------------
def test_starttls_verified(server: Server, context: ssl.SSLContext, open_client: OpenClient) -> None:
    smtp = open_client(server.starttls, ssl_context=context)
    assert smtp.tls_active is False
    assert smtp.starttls() is True
    assert smtp.tls_active is True
    assert smtp.supports("STARTTLS") is None  # the post-TLS EHLO replaced the table
    mark, rcpt = marker(), "starttls@example.net"
    sent = message(mark, "sender@example.org", [rcpt])
    assert smtp.mail("sender@example.org") is True
    assert smtp.to(rcpt) is True
    assert smtp.data(sent) is True
    assert smtp.quit() is True
    check_copies(server, mark, sent, [rcpt])


def test_starttls_refuses_an_unknown_certificate(server: Server, open_client: OpenClient) -> None:
    """The server's self-signed certificate is not in the system store: no session."""
    smtp = open_client(server.starttls, ssl_context=ssl.create_default_context())
    assert smtp.starttls() is False
    assert "certificate" in smtp.message().lower()
    assert smtp.noop() is False  # a failed handshake closes the connection (A6)


def test_implicit_tls(server: Server, context: ssl.SSLContext, open_client: OpenClient) -> None:
    smtp = open_client(server.smtps, ssl=True, ssl_context=context)
    assert smtp.tls_active is True
    mark, rcpt = marker(), "smtps@example.net"
    sent = message(mark, "sender@example.org", [rcpt])
    result = smtp.send_message(sent, "sender@example.org", [rcpt])
    assert list(result.accepted) == [rcpt]
    assert result.reply is not None and result.reply.code == 250
    smtp.quit()
    check_copies(server, mark, sent, [rcpt])


# ---- per-recipient results ------------------------------------------------------------------------
def test_one_recipient_refused_one_deferred(
    server: Server, context: ssl.SSLContext, open_client: OpenClient
) -> None:
    smtp = open_client(server.starttls, ssl_context=context)
    assert smtp.starttls() is True
    mark = marker()
    ok, refused, deferred = f"ok-{mark[:8]}@example.net", "reject-me@example.net", "tempfail-me@example.net"
    sent = message(mark, "sender@example.org", [ok, refused, deferred])
    result = smtp.send_message(sent, "sender@example.org", [ok, refused, deferred])
    assert list(result.accepted) == [ok]
    assert result.accepted[ok].code == 250
    assert set(result.refused) == {refused, deferred}
    assert result.refused[refused].code == 550
    assert result.refused[refused].is_permanent
    assert result.refused[deferred].code == 450
    assert result.refused[deferred].is_transient
    assert result.reply is not None and result.reply.code == 250
    assert result.delivered
    smtp.quit()
    check_copies(server, mark, sent, [ok])


def test_every_recipient_refused(server: Server, open_client: OpenClient) -> None:
    """Nothing is delivered, and the body (sent with the envelope where PIPELINING and CHUNKING
    allow, SPEC A15) is never read as commands: the session stays in step for the next message."""
    mark, injected = marker(), marker()
    smuggled = (
        b"RSET\r\nMAIL FROM:<evil@example.org>\r\nRCPT TO:<victim@example.net>\r\nDATA\r\n"
        + message_id(injected)
        + b"\r\nSubject: injected\r\n\r\nevil\r\n.\r\n"
    )
    sent = message(mark, "sender@example.org", ["reject-a@example.net"], body=smuggled)
    smtp = open_client(server.starttls)
    with pytest.raises(netsmtp.SendError) as caught:
        smtp.send_message(sent, "sender@example.org", ["reject-a@example.net", "reject-b@example.net"])
    result = caught.value.result
    assert not result.accepted
    assert {r.code for r in result.refused.values()} == {550}
    assert smtp.noop() is True
    follow_up, rcpt = marker(), "after-refusal@example.net"
    again = message(follow_up, "sender@example.org", [rcpt])
    assert list(smtp.send_message(again, "sender@example.org", [rcpt]).accepted) == [rcpt]
    smtp.quit()
    check_copies(server, follow_up, again, [rcpt])
    wait_for(server.maildir, message_id(mark), 0, timeout=0)
    wait_for(server.maildir, message_id(injected), 0, timeout=0)


def test_skip_bad(server: Server, context: ssl.SSLContext, open_client: OpenClient) -> None:
    """The Net::SMTP way: to(..., skip_bad=True) returns the accepted addresses as given."""
    smtp = open_client(server.starttls, ssl_context=context)
    assert smtp.starttls() is True
    mark = marker()
    ok = f"ok-{mark[:8]}@example.net"
    assert smtp.mail("sender@example.org") is True
    assert smtp.to("reject-1@example.net", ok, "tempfail-1@example.net", skip_bad=True) == [ok]
    assert smtp.code() == 450  # the last reply
    sent = message(mark, "sender@example.org", [ok])
    assert smtp.data(sent) is True
    # without skip_bad the first refusal stops the list
    assert smtp.mail("sender@example.org") is True
    assert smtp.to(ok, "reject-2@example.net", "another@example.net") is False
    assert smtp.code() == 550
    assert smtp.reset() is True
    smtp.quit()
    check_copies(server, mark, sent, [ok])


# ---- DSN ------------------------------------------------------------------------------------------
def test_dsn(server: Server, context: ssl.SSLContext, open_client: OpenClient) -> None:
    mark = marker()
    sender, rcpt, envid = f"dsn-{mark[:8]}@example.org", f"dsn-rcpt-{mark[:8]}@example.net", f"env-{mark}"
    body = b"body-" + mark.encode() + b"\r\n"
    sent = message(mark, sender, [rcpt], body=body)
    smtp = open_client(server.starttls, ssl_context=context)
    assert smtp.starttls() is True
    offered = smtp.supports("DSN") is not None
    assert offered == ("DSN" in OFFERS[server.name])
    if not offered:  # dropped with a warning, never sent (A8), and the message still goes
        with pytest.warns(netsmtp.ExtensionWarning, match="DSN"):
            assert smtp.mail(sender, ret="HDRS", envid=envid) is True
        with pytest.warns(netsmtp.ExtensionWarning, match="DSN"):
            assert smtp.to(rcpt, notify=["SUCCESS", "FAILURE"], orcpt="rfc822;orig+40example.com") is True
        assert smtp.data(sent) is True
        smtp.quit()
        [copy] = wait_for(server.maildir, message_id(mark), 1)
        assert_same(copy, sent)
        if server.name == "aiosmtpd":  # it records the parameters it was given
            assert "RET=" not in (copy.header("X-Test-Mail-Options") or "")
            assert copy.header("X-Test-Rcpt-Options") == ""
        return
    assert smtp.mail(sender, ret="HDRS", envid=envid) is True
    assert smtp.to(rcpt, notify=["SUCCESS", "FAILURE"], orcpt="rfc822;orig+40example.com") is True
    assert smtp.data(sent) is True
    smtp.quit()
    check_copies(server, mark, sent, [rcpt])
    # NOTIFY=SUCCESS: a delivery report comes back to the sender (same Maildir)
    reports = reports_for(server.maildir, sender, mark)
    assert reports, f"no delivery report for {sender}"
    report = reports[0].lower()
    assert b"action: delivered" in report
    assert b"final-recipient: rfc822;" in report
    if server.name != "opensmtpd":  # OpenSMTPD 7.4's reports do not echo ENVID and ORCPT
        assert b"original-envelope-id: " + envid.lower().encode() in report
        # Exim quotes the xtext as sent, Postfix decodes it
        assert re.search(rb"original-recipient: rfc822; ?orig(\+40|@)example\.com", report)
    assert body.strip().lower() not in report  # RET=HDRS: the headers only


# ---- SMTPUTF8 and 8-bit ---------------------------------------------------------------------------
def test_smtputf8(server: Server, context: ssl.SSLContext, open_client: OpenClient) -> None:
    mark = marker()
    sender, rcpt = f"jöran-{mark[:8]}@exämple.org", f"δοκιμή-{mark[:8]}@παράδειγμα.δοκιμή"
    sent = message(
        mark, sender, [rcpt], body="Grüße, Jöran ✓\r\n".encode(), extra="X-Greeting: γειά\r\n".encode()
    )
    if "SMTPUTF8" not in OFFERS[server.name]:
        # refused locally before MAIL is written (A8): look at the wire
        with WireTap(server.starttls) as tap:
            smtp = open_client(tap.address)
            assert smtp.mail(sender) is False
            assert smtp.code() == 555
            assert smtp.noop() is True
            smtp.quit()
        assert exchanges(tap.sessions[0]).verbs == ["EHLO", "NOOP", "QUIT"]
        return
    smtp = open_client(server.starttls, ssl_context=context)
    assert smtp.starttls() is True
    assert smtp.mail(sender, bits="8") is True  # SMTPUTF8 added for the non-ASCII address
    assert smtp.to(rcpt) is True
    assert smtp.data(sent) is True
    smtp.quit()
    check_copies(server, mark, sent, [rcpt])


def test_8bit_body(server: Server, context: ssl.SSLContext, open_client: OpenClient) -> None:
    mark, rcpt = marker(), "eightbit@example.net"
    body = "Grüße aus Köln: ½ € ✓ — ünïcödé\r\n".encode() + b"latin-1 bytes: caf\xe9 \xff\r\n"
    extra = (
        b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
    )
    sent = message(mark, "sender@example.org", [rcpt], body=body, extra=extra)
    smtp = open_client(server.starttls, ssl_context=context)
    assert smtp.starttls() is True
    assert smtp.mail("sender@example.org", bits="8") is True
    assert smtp.to(rcpt) is True
    assert smtp.data(sent) is True
    smtp.quit()
    check_copies(server, mark, sent, [rcpt])


# ---- PIPELINING and CHUNKING, on the wire ---------------------------------------------------------
@pytest.mark.parametrize("size", ["small", "3MiB"])
def test_pipelining_and_chunking(server: Server, open_client: OpenClient, size: str) -> None:
    mark = marker()
    rcpts = [f"pipe-a-{mark[:8]}@example.net", f"pipe-b-{mark[:8]}@example.net"]
    body = BODY if size == "small" else b"".join(b"%07d " % i + b"y" * 70 + b"\r\n" for i in range(40000))
    sent = message(mark, "sender@example.org", rcpts, body=body)
    with WireTap(server.starttls) as tap:
        smtp = open_client(tap.address)
        result = smtp.send_message(sent, "sender@example.org", rcpts)
        assert sorted(result.accepted) == sorted(rcpts)
        smtp.quit()
    seen = exchanges(tap.sessions[0])
    offers = OFFERS[server.name]
    if "PIPELINING" in offers and "CHUNKING" in offers:
        bdats = [c for c in seen.commands if c.startswith("BDAT ")]
        assert "DATA" not in seen.verbs
        assert bdats[-1].endswith(" LAST")
        envelope = next(f for f in seen.flights if f[0].startswith("MAIL FROM:"))
        if size == "small":  # one round trip: envelope and the whole message in one flight (A15)
            assert [c.split(":")[0].split(" ")[0] for c in envelope] == ["MAIL", "RCPT", "RCPT", "BDAT"]
            assert len(bdats) == 1
        else:  # envelope first, then the body in 1 MiB chunks
            assert [c.split(":")[0] for c in envelope] == ["MAIL FROM", "RCPT TO", "RCPT TO"]
            assert len(bdats) == 4
        assert seen.largest_flight >= 3
    else:  # never pipelined, never chunked: one command, then its reply
        assert seen.largest_flight == 1, seen.flights
        assert "BDAT" not in seen.verbs
        assert seen.verbs.count("DATA") == 1
    check_copies(server, mark, sent, rcpts)


def test_bdat(server: Server, open_client: OpenClient) -> None:
    """Net::SMTP's bdat/bdatlast: the bytes unchanged; refused locally without CHUNKING (A11)."""
    mark, rcpt = marker(), "bdat@example.net"
    sent = message(mark, "sender@example.org", [rcpt])
    with WireTap(server.starttls) as tap:
        smtp = open_client(tap.address)
        assert smtp.mail("sender@example.org") is True
        assert smtp.to(rcpt) is True
        if "CHUNKING" not in OFFERS[server.name]:
            assert smtp.bdat(sent) is False
            assert smtp.code() == 500
            assert smtp.reset() is True
            smtp.quit()
            assert "BDAT" not in exchanges(tap.sessions[0]).verbs
            return
        half = len(sent) // 2
        assert smtp.bdat(sent[:half]) is True
        assert smtp.bdatlast(sent[half:]) is True
        smtp.quit()
    bdats = [c for c in exchanges(tap.sessions[0]).commands if c.startswith("BDAT")]
    assert bdats == [f"BDAT {half}", f"BDAT {len(sent) - half} LAST"]
    check_copies(server, mark, sent, [rcpt])


# ---- size -----------------------------------------------------------------------------------------
def big_body(megabytes: int) -> bytes:
    line = b"x" * 66 + b"\r\n"
    lines = [
        (b"." if i % 1000 == 0 else b"") + b"%08d " % i + line for i in range(megabytes * 1_000_000 // 77)
    ]
    return b"".join(lines)


@pytest.mark.timeout(180)
def test_20_mb_message(server: Server, context: ssl.SSLContext, open_client: OpenClient) -> None:
    mark, rcpt = marker(), "big@example.net"
    sent = message(mark, "sender@example.org", [rcpt], body=big_body(20))
    assert len(sent) >= 20_000_000
    smtp: Any = open_client(server.starttls, ssl_context=context)
    assert smtp.starttls() is True
    result = smtp.send_message(sent, "sender@example.org", [rcpt])
    assert list(result.accepted) == [rcpt]
    smtp.quit()
    check_copies(server, mark, sent, [rcpt], timeout=120)
