"""Secrets never leave the wire (SPEC A14, SECURITY AU-07).

With ``debug=1`` (stderr) and the ``netsmtp.transcript`` logger at DEBUG, every built-in
mechanism runs to success and to failure; neither output, nor ``message()``, nor any
exception or ``repr`` contains the password, the token, or their base64 (alone or as the
whole SASL message).
"""

from __future__ import annotations

import base64
import contextlib
import logging
import types
from collections.abc import Callable

import pytest

from netsmtp import ConnectionLost, SASLError
from netsmtp._core.sasl import scram
from tests.auth.conftest import Connect
from tests.auth.support import assert_no_secret, b64, greet, serve_quit
from tests.helpers.scripted import Peer, ScriptedServer

USER = "tim"
PASSWORD = "Tr0ub4dor&3-secret"
TOKEN = "ya29.A0ARrdaM-very-secret-token"
XOAUTH2_BLOB = f"user={USER}\x01auth=Bearer {TOKEN}\x01\x01"
PLAIN_BLOB = f"\0{USER}\0{PASSWORD}"
SECRETS = (PASSWORD, TOKEN, XOAUTH2_BLOB, PLAIN_BLOB, f"Bearer {TOKEN}")


def plain_ok(p: Peer) -> None:
    greet(p, "AUTH PLAIN")
    p.expect("AUTH PLAIN " + b64(PLAIN_BLOB))
    p.reply("235 2.7.0 ok")


def plain_bad(p: Peer) -> None:
    greet(p, "AUTH PLAIN")
    p.readline()
    p.reply("535 5.7.8 Authentication credentials invalid")


def login_ok(p: Peer) -> None:
    greet(p, "AUTH LOGIN")
    p.expect("AUTH LOGIN")
    p.reply("334 VXNlcm5hbWU6")
    p.expect(b64(USER))
    p.reply("334 UGFzc3dvcmQ6")
    p.expect(b64(PASSWORD))
    p.reply("235 2.7.0 ok")


def login_bad(p: Peer) -> None:
    greet(p, "AUTH LOGIN")
    p.expect("AUTH LOGIN")
    p.reply("334 VXNlcm5hbWU6")
    p.readline()
    p.reply("334 UGFzc3dvcmQ6")
    p.readline()
    p.reply("535 5.7.8 no")


def login_cancelled(p: Peer) -> None:
    greet(p, "AUTH LOGIN")
    p.expect("AUTH LOGIN")
    p.reply("334 VXNlcm5hbWU6")
    p.readline()
    p.reply("334 UGFzc3dvcmQ6")
    p.readline()
    p.reply("334 !!")
    p.expect("*")
    p.reply("501 5.7.0 cancelled")


def cram_ok(p: Peer) -> None:
    greet(p, "AUTH CRAM-MD5")
    p.expect("AUTH CRAM-MD5")
    p.reply("334 " + b64("<1.2@x>"))
    p.readline()
    p.reply("235 2.7.0 ok")


def scram_unproven(p: Peer) -> None:
    greet(p, "AUTH SCRAM-SHA-256")
    line = p.readline()
    nonce = base64.b64decode(line.split()[2]).decode().split("r=", 1)[1]
    p.reply("334 " + b64(f"r={nonce}srv,s={b64('salt')},i=4096"))
    p.readline()
    p.reply("235 2.7.0 ok")


def xoauth2_ok(p: Peer) -> None:
    greet(p, "AUTH XOAUTH2")
    p.expect("AUTH XOAUTH2 " + b64(XOAUTH2_BLOB))
    p.reply("235 2.7.0 ok")


def xoauth2_bad(p: Peer) -> None:
    greet(p, "AUTH XOAUTH2")
    p.readline()
    p.reply("334 " + b64('{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}'))
    p.expect("")
    p.reply("535 5.7.8 Username and Password not accepted")


def oauthbearer_bad(p: Peer) -> None:
    greet(p, "AUTH OAUTHBEARER")
    p.readline()
    p.reply("334 " + b64('{"status":"invalid_token"}'))
    p.expect("AQ==")
    p.reply("535 5.7.8 no")


CASES: list[tuple[Callable[[Peer], None], str | None, str, bool]] = [
    (plain_ok, None, PASSWORD, True),
    (plain_bad, None, PASSWORD, False),
    (login_ok, None, PASSWORD, True),
    (login_bad, None, PASSWORD, False),
    (login_cancelled, None, PASSWORD, False),
    (cram_ok, None, PASSWORD, True),
    (scram_unproven, None, PASSWORD, False),
    (xoauth2_ok, "XOAUTH2", TOKEN, True),
    (xoauth2_bad, "XOAUTH2", TOKEN, False),
    (oauthbearer_bad, "OAUTHBEARER", TOKEN, False),
]


@pytest.mark.parametrize("case", CASES, ids=[case[0].__name__ for case in CASES])
@pytest.mark.parametrize("raise_errors", [False, True])
def test_no_secret_in_transcript_logs_or_errors(
    scripted: type[ScriptedServer],
    connect: Connect,
    request: pytest.FixtureRequest,
    case: tuple[Callable[[Peer], None], str | None, str, bool],
    raise_errors: bool,
) -> None:
    server_side, mechanism, secret, expected = case
    capsys: pytest.CaptureFixture[str] = request.getfixturevalue("capsys")
    caplog: pytest.LogCaptureFixture = request.getfixturevalue("caplog")
    caplog.set_level(logging.DEBUG)

    def script(p: Peer) -> None:
        server_side(p)
        line = p.readline()
        if line == b"QUIT\r\n":
            p.reply("221 2.0.0 bye")

    server = scripted(script)
    smtp = connect(server, debug=1, raise_errors=raise_errors)
    outputs: list[str] = []
    try:
        result = smtp.auth(USER, secret, mechanism)
    except Exception as exc:  # raise_errors: the exception must be clean too
        assert not expected
        outputs += [str(exc), repr(exc), repr(exc.args), str(getattr(exc, "reply", ""))]
        if isinstance(exc, SASLError) and exc.__cause__ is not None:
            outputs.append(str(exc.__cause__))
    else:
        assert result is expected
    outputs += [smtp.message(), repr(smtp.last_reply), repr(smtp)]
    with contextlib.suppress(ConnectionLost):  # closed after an unproven success
        smtp.quit()
    server.join()
    err = capsys.readouterr().err
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert ">>> AUTH " in err and ">>> AUTH " in logged  # the transcript was on
    for text in (err, logged, *outputs):
        assert_no_secret(text, *SECRETS)
    # The secret did reach the server (so the check above is not vacuous) when it is sent.
    if server_side not in (cram_ok, scram_unproven):
        assert secret.encode() in base64.b64decode(_auth_payloads(server.received))


def _auth_payloads(received: bytes) -> bytes:
    """Every base64 token the client sent after EHLO, decoded and joined."""
    out = b""
    for line in received.split(b"\r\n"):
        for word in line.split(b" "):
            try:
                out += base64.b64decode(word, validate=True)
            except ValueError:
                continue
    return base64.b64encode(out)


def test_transcript_of_a_login_exchange(
    scripted: type[ScriptedServer],
    connect: Connect,
    capsys: pytest.CaptureFixture[str],
    kind: str,
) -> None:
    def script(p: Peer) -> None:
        login_ok(p)
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server, debug=1)
    assert smtp.auth(USER, PASSWORD) is True
    smtp.quit()
    server.join()
    name = "SMTP" if kind == "sync" else "AsyncSMTP"
    err = capsys.readouterr().err.splitlines()
    start = err.index(f"{name}>>> AUTH LOGIN")
    assert err[start:] == [
        f"{name}>>> AUTH LOGIN",
        f"{name}<<< 334 VXNlcm5hbWU6",
        f"{name}>>> <redacted>",  # even the user name: it is half the credential
        f"{name}<<< 334 UGFzc3dvcmQ6",
        f"{name}>>> <redacted>",
        f"{name}<<< 235 2.7.0 ok",
        f"{name}>>> QUIT",
        f"{name}<<< 221 2.0.0 bye",
    ]


def test_transcript_of_a_scram_exchange(
    scripted: type[ScriptedServer],
    connect: Connect,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
) -> None:
    nonce = "rOprNGfwEbeRWgbNEkqO"
    monkeypatch.setattr(scram, "secrets", types.SimpleNamespace(token_urlsafe=lambda n: nonce))
    server_first = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"

    def script(p: Peer) -> None:
        greet(p, "AUTH SCRAM-SHA-256")
        p.readline()
        p.reply("334 " + b64(server_first))
        p.readline()
        p.reply("334 " + b64("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="))
        p.expect("")
        p.reply("235 2.7.0 Authentication successful")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server, debug=1)
    assert smtp.auth("user", "pencil") is True
    smtp.quit()
    server.join()
    name = "SMTP" if kind == "sync" else "AsyncSMTP"
    err = capsys.readouterr().err.splitlines()
    start = err.index(f"{name}>>> AUTH SCRAM-SHA-256 <redacted>")
    assert err[start : start + 7] == [
        f"{name}>>> AUTH SCRAM-SHA-256 <redacted>",
        f"{name}<<< 334 " + b64(server_first),
        f"{name}>>> <redacted>",
        f"{name}<<< 334 dj02cnJpVFJCaTIzV3BSUi93dHVwK21NaFVaVW4vZEI1bkxUSlJzamw5NUc0PQ==",
        f"{name}>>> ",
        f"{name}<<< 235 2.7.0 Authentication successful",
        f"{name}>>> QUIT",
    ]
