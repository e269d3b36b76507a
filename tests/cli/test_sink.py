"""``netsmtp sink``: a capture server, driven by netsmtp.SMTP as any client would."""

from __future__ import annotations

import json
import mailbox
import re
import ssl
from pathlib import Path

import pytest

import netsmtp
from tests.cli.conftest import PASSWORD, Run


def _context(ca_path: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_path)
    return context


def test_maildir_tls_auth_and_one_line_per_message(sink, tmp_path: Path) -> None:
    maildir = tmp_path / "Maildir"
    server = sink("--maildir", str(maildir), "--tls", "--auth", f"bob:{PASSWORD}", "--count", "2")
    assert "STARTTLS, AUTH PLAIN LOGIN required (user bob), Maildir" in server.banner
    assert server.ca_path is not None and Path(server.ca_path).is_file()
    with netsmtp.SMTP(server.address, timeout=10, raise_errors=True) as smtp:
        assert "PIPELINING" in smtp.extensions and "STARTTLS" in smtp.extensions
        assert "AUTH" not in smtp.extensions  # only after TLS
        smtp.starttls(_context(server.ca_path))
        assert smtp.extensions["AUTH"] == "LOGIN PLAIN"
        assert smtp.auth("bob", PASSWORD)
        for n in (1, 2):
            smtp.send_message(
                f"From: a@example.org\r\nTo: b@example.net\r\nSubject: n{n} é\r\n\r\nhi\r\n".encode(),
                "a@example.org",
                ["b@example.net", "c@example.net"],
            )
    assert server.wait() == 0  # --count 2: exits by itself
    lines = server.out.splitlines()
    assert len(lines) == 2
    assert re.fullmatch(
        r"\d\d:\d\d:\d\d from=<a@example\.org> to=<b@example\.net>,<c@example\.net> size=\d+ "
        r'subject="n1 é" tls=TLSv1\.[23] auth=bob saved=\S+/new/\S+',
        lines[0],
    ), lines[0]
    assert "stopped after 2 message(s)" in server.err
    files = sorted((maildir / "new").iterdir())
    assert len(files) == 2
    stored = files[0].read_bytes()
    assert stored.startswith(b"Return-Path: <a@example.org>\nX-Envelope-To: b@example.net, c@example.net\n")
    assert b"\r\n" not in stored  # LF line endings, as local delivery agents write


def test_auth_is_required_when_configured(sink) -> None:
    server = sink("--tls", "--auth", f"bob:{PASSWORD}")
    with netsmtp.SMTP(server.address, timeout=10) as smtp:
        assert smtp.starttls(_context(server.ca_path))
        assert not smtp.mail("a@example.org")
        assert smtp.code() == 530
        assert not smtp.auth("bob", "wrong-password")
        assert smtp.code() == 535
    server.stop()
    assert server.out == ""


def test_mbox_and_json_lines(sink, tmp_path: Path) -> None:
    box = tmp_path / "out.mbox"
    server = sink("--mbox", str(box), "--json", "--count", "1")
    with netsmtp.SMTP(server.address, timeout=10) as smtp:
        smtp.send_message(b"Subject: one\r\n\r\nFrom the start\r\n", "x@example.org", ["y@example.net"])
    assert server.wait() == 0
    record = json.loads(server.out)
    assert record["from"] == "x@example.org" and record["to"] == ["y@example.net"]
    assert record["subject"] == "one" and record["tls"] is None and record["saved"] == str(box)
    mbox = mailbox.mbox(str(box))
    try:
        (message,) = list(mbox)
    finally:
        mbox.close()
    assert message.get_from().startswith("x@example.org ")
    assert message["Subject"] == "one"
    assert ">From the start" in message.get_payload()  # mbox From_ quoting


def test_auth_without_tls_is_refused_unless_allowed(netsmtp_here: Run) -> None:
    r = netsmtp_here("sink", "--listen", "127.0.0.1:0", "--auth", "u:p")
    assert r.code == 2, r
    assert "--auth needs --tls (or --allow-insecure-auth)" in r.err


@pytest.mark.parametrize("listen", ["127.0.0.1:99999", "not a host:1"])
def test_bad_listen_address(netsmtp_here: Run, listen: str) -> None:
    r = netsmtp_here("sink", "--listen", listen)
    assert r.code == 2, r


def test_port_in_use(netsmtp: Run, sink) -> None:
    server = sink()
    r = netsmtp("sink", "--listen", server.address)
    assert r.code == 1, r
    assert "cannot listen on" in r.err


def test_sigterm_stops_cleanly(sink) -> None:
    server = sink()
    assert server.stop() == 0
    assert "stopped after 0 message(s)" in server.err
    assert "Traceback" not in server.err
