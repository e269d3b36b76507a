"""The protocol transcript (SPEC A14): stderr with debug on, the netsmtp.transcript logger always."""

from __future__ import annotations

import logging
import ssl
from typing import Any

import pytest

from tests.client.support import HELLO, Connect, greet, serve_quit
from tests.helpers.scripted import Peer, ScriptedServer


def session_script(p: Peer) -> None:
    greet(p, "SIZE 100", "CHUNKING")
    p.expect("MAIL FROM:<a@b.example>")
    p.reply("250 2.1.0 ok")
    p.expect("DATA")
    p.reply("354 go ahead")
    p.read_data()
    p.reply("250 2.0.0 queued")
    serve_quit(p)


def run_session(smtp: Any, server: ScriptedServer) -> None:
    assert smtp.mail("a@b.example") is True
    assert smtp.data(b"Line1\n.dot\r\nline3\n") is True
    assert smtp.quit() is True
    server.join()


def as_class(lines: list[str], client_class: type[Any]) -> list[str]:
    """The expected lines with the prefix of the class under test (``SMTP>>>`` -> ``AsyncSMTP>>>``)."""
    return [client_class.__name__ + line[4:] if line.startswith("SMTP") else line for line in lines]


EXPECTED = [
    "SMTP<<< 220 test.example ESMTP ready",
    f"SMTP>>> EHLO {HELLO}",
    "SMTP<<< 250-test.example",
    "SMTP<<< 250-SIZE 100",
    "SMTP<<< 250 CHUNKING",
    "SMTP>>> MAIL FROM:<a@b.example>",
    "SMTP<<< 250 2.1.0 ok",
    "SMTP>>> DATA",
    "SMTP<<< 354 go ahead",
    "SMTP>>> Line1",
    "SMTP>>> .dot",  # before dot-stuffing: "..dot" went on the wire
    "SMTP>>> line3",
    "SMTP>>> .",
    "SMTP<<< 250 2.0.0 queued",
    "SMTP>>> QUIT",
    "SMTP<<< 221 2.0.0 bye",
]


def test_debug_writes_transcript_to_stderr(
    scripted: type[ScriptedServer],
    connect: Connect,
    capsys: pytest.CaptureFixture[str],
    client_class: type[Any],
) -> None:
    server = scripted(session_script)
    smtp = connect(server, debug=1)
    run_session(smtp, server)
    captured = capsys.readouterr()
    assert captured.err.splitlines() == as_class(EXPECTED, client_class)
    assert captured.out == ""
    assert b"\r\n..dot\r\n" in server.received


def test_no_debug_no_stderr(
    scripted: type[ScriptedServer], connect: Connect, capsys: pytest.CaptureFixture[str]
) -> None:
    server = scripted(session_script)
    smtp = connect(server)
    run_session(smtp, server)
    assert capsys.readouterr().err == ""


def test_logger_gets_every_line_at_debug(
    scripted: type[ScriptedServer],
    connect: Connect,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    client_class: type[Any],
) -> None:
    caplog.set_level(logging.DEBUG, logger="netsmtp.transcript")
    server = scripted(session_script)
    smtp = connect(server)  # debug off: the logger still gets the lines, stderr does not
    run_session(smtp, server)
    records = [r for r in caplog.records if r.name == "netsmtp.transcript"]
    assert [r.getMessage() for r in records] == as_class(EXPECTED, client_class)
    assert {r.levelno for r in records} == {logging.DEBUG}
    assert capsys.readouterr().err == ""


def test_logger_above_debug_gets_nothing(
    scripted: type[ScriptedServer], connect: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="netsmtp.transcript")
    server = scripted(session_script)
    smtp = connect(server)
    run_session(smtp, server)
    assert [r for r in caplog.records if r.name == "netsmtp.transcript"] == []


def test_debug_level_switch(
    scripted: type[ScriptedServer],
    connect: Connect,
    capsys: pytest.CaptureFixture[str],
    client_class: type[Any],
) -> None:
    def script(p: Peer) -> None:
        greet(p)
        for _ in range(3):
            p.expect("NOOP")
            p.reply("250 ok")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.debug() == 0
    assert smtp.noop() is True
    assert smtp.debug(1) == 0
    assert smtp.debug() == 1
    assert smtp.noop() is True
    assert smtp.debug(0) == 1
    assert smtp.noop() is True
    assert smtp.debug(None) == 0
    assert smtp.quit() is True
    server.join()
    assert capsys.readouterr().err.splitlines() == as_class(["SMTP>>> NOOP", "SMTP<<< 250 ok"], client_class)


def test_datasend_and_bdat_lines(
    scripted: type[ScriptedServer],
    connect: Connect,
    capsys: pytest.CaptureFixture[str],
    client_class: type[Any],
) -> None:
    def script(p: Peer) -> None:
        greet(p, "CHUNKING")
        p.expect("DATA")
        p.reply("354 go")
        p.read_data()
        p.reply("250 ok")
        p.expect("BDAT 8 LAST")
        assert p.read(8) == b"one\ntwo\n"
        p.reply("250 done")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.data() is True
    smtp.debug(1)
    assert smtp.datasend(b"first\n") is True
    assert smtp.datasend(".second\r\n") is True
    assert smtp.dataend() is True
    assert smtp.bdatlast(b"one\ntwo\n") is True
    assert smtp.quit() is True
    server.join()
    assert capsys.readouterr().err.splitlines() == as_class(
        [
            "SMTP>>> first",
            "SMTP>>> .second",
            "SMTP>>> .",
            "SMTP<<< 250 ok",
            "SMTP>>> BDAT 8 LAST",
            "SMTP>>> one",
            "SMTP>>> two",
            "SMTP<<< 250 done",
            "SMTP>>> QUIT",
            "SMTP<<< 221 2.0.0 bye",
        ],
        client_class,
    )


def test_subclass_name_in_prefix(
    scripted: type[ScriptedServer], make: Connect, client_class: type[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    mailer = type("Mailer", (client_class,), {})  # class Mailer(SMTP) / class Mailer(AsyncSMTP)

    server = scripted(lambda p: (greet(p), serve_quit(p)))
    with make(server, cls=mailer, hello=HELLO, timeout=2, debug=1):
        pass
    server.join()
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "Mailer<<< 220 test.example ESMTP ready"
    assert lines[-2:] == ["Mailer>>> QUIT", "Mailer<<< 221 2.0.0 bye"]


def test_transcript_continues_inside_tls(
    scripted: type[ScriptedServer],
    connect: Connect,
    capsys: pytest.CaptureFixture[str],
    client_context: ssl.SSLContext,
    client_class: type[Any],
) -> None:
    def script(p: Peer) -> None:
        greet(p, "STARTTLS")
        p.expect("STARTTLS")
        p.reply("220 go")
        p.starttls()
        p.expect(f"EHLO {HELLO}")
        p.reply("250 secure.example")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server, debug=1)
    assert smtp.starttls(client_context) is True
    assert smtp.quit() is True
    server.join()
    lines = capsys.readouterr().err.splitlines()
    assert lines[-6:] == as_class(
        [
            "SMTP>>> STARTTLS",
            "SMTP<<< 220 go",
            f"SMTP>>> EHLO {HELLO}",
            "SMTP<<< 250 secure.example",
            "SMTP>>> QUIT",
            "SMTP<<< 221 2.0.0 bye",
        ],
        client_class,
    )
