"""SECURITY.md §6, authentication (AU-01..AU-08).

The policy under test (SPEC A7, README "Never the password in clear"): PLAIN, LOGIN, XOAUTH2 and
OAUTHBEARER put the secret on the wire and are refused (AuthPolicyError, code 530, nothing
sent) unless the connection is TLS *with a verifying context*, or the peer is a loopback
address, or the caller passed ``allow_insecure_auth=True``. Challenge-response mechanisms
(SCRAM, CRAM-MD5) may run over any connection: where AU-01 says "no AUTH line at all", SPEC
A7 decides that a server offering CRAM-MD5 next to PLAIN gets CRAM-MD5, never PLAIN.

The scripted server listens on 127.0.0.1; ``sec_remote`` makes the client treat it as a
remote host, which is how the plaintext rules are exercised. Every test runs against SMTP
and AsyncSMTP (asyncio and uvloop).
"""

from __future__ import annotations

import base64
import itertools
import logging
import ssl
from typing import Any

import pytest

from netsmtp import AuthPolicyError, ReplyError, UsageError
from tests.helpers.scripted import Peer, ScriptedServer, ehlo_lines
from tests.security._support import (
    EHLO,
    QUIT,
    accept_starttls,
    assert_quiet,
    b64,
    greet,
    insecure_context,
    secret_forms,
    serve_quit,
    steps,
    tls_part,
)
from tests.security.conftest import SecConnect

USER = "tim"
PASSWORD = "tanstaaftanstaaf"
TOKEN = "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"
PLAIN_RESPONSE = "\0" + USER + "\0" + PASSWORD
PLAIN_LINE = "AUTH PLAIN " + b64(PLAIN_RESPONSE)
CHALLENGE = b64("<1896.697170952@postoffice.reston.mci.net>")


def auth_lines(server: ScriptedServer) -> list[bytes]:
    return [line for line in server.received.split(b"\r\n") if line.startswith(b"AUTH")]


def refuse_auth(p: Peer) -> None:
    """Whatever AUTH comes is refused (535, CRAM-MD5 after its challenge); QUIT is answered."""
    while line := p.readline():
        if line == QUIT:
            p.reply("221 bye")
            return
        if line.startswith(b"AUTH CRAM-MD5"):
            p.reply(f"334 {CHALLENGE}")
            p.readline()
        p.reply("535 5.7.8 no")


def refuse_any_auth(*capabilities: str) -> Any:
    """Greet with ``capabilities``, then :func:`refuse_auth`."""
    return steps(lambda p: greet(p, *capabilities), refuse_auth)


# ---- AU-01 ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("raise_errors", [True, False], ids=["raise", "return"])
def test_AU_01_no_password_over_plaintext(
    scripted: type[ScriptedServer], sec_connect: SecConnect, sec_remote: None, raise_errors: bool
) -> None:
    """``AUTH PLAIN LOGIN XOAUTH2`` over plaintext to a remote host: AuthPolicyError (530) for
    each, named or not, and no AUTH line."""
    server = scripted(refuse_any_auth("AUTH PLAIN LOGIN XOAUTH2"))
    smtp = sec_connect(server, raise_errors=raise_errors)
    for mechanism in (None, "PLAIN", "LOGIN", "XOAUTH2"):
        if raise_errors:
            with pytest.raises(AuthPolicyError) as info:
                smtp.auth(USER, PASSWORD, mechanism)
            assert info.value.reply.code == 530
        else:
            assert smtp.auth(USER, PASSWORD, mechanism) is False
            assert smtp.code() == 530
            assert "allow_insecure_auth=True" in smtp.message()
    assert smtp.quit() is True
    server.join()
    assert auth_lines(server) == []


def test_AU_01_cram_md5_but_never_plain_over_plaintext(
    scripted: type[ScriptedServer], sec_connect: SecConnect, sec_remote: None
) -> None:
    """``AUTH PLAIN LOGIN CRAM-MD5`` over plaintext: CRAM-MD5 (the password never crosses the
    wire, SPEC A7), and after its failure no PLAIN or LOGIN."""
    server = scripted(refuse_any_auth("AUTH PLAIN LOGIN CRAM-MD5"))
    smtp = sec_connect(server)
    assert smtp.auth(USER, PASSWORD) is False
    assert smtp.code() == 535
    assert smtp.quit() is True
    server.join()
    assert auth_lines(server) == [b"AUTH CRAM-MD5"]
    assert PASSWORD.encode() not in server.received
    assert b64(PASSWORD).encode() not in server.received


def test_AU_01_stripped_starttls_then_auth(
    scripted: type[ScriptedServer], sec_connect: SecConnect, sec_remote: None
) -> None:
    """The SD-01 strip in opportunistic mode: starttls() is false and AUTH is refused."""
    server = scripted(refuse_any_auth("AUTH PLAIN LOGIN"))
    smtp = sec_connect(server)
    assert smtp.starttls() is False
    assert smtp.auth(USER, PASSWORD) is False
    assert smtp.code() == 530
    assert smtp.quit() is True
    server.join()
    assert server.received == EHLO + QUIT


def test_AU_01_explicit_opt_in_and_loopback_rule(
    scripted: type[ScriptedServer], sec_connect: SecConnect, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The opt-ins: ``allow_insecure_auth=True``, and a loopback peer (127.0.0.1 really is one
    here: the rule uses the address connected to, as Go's PlainAuth does)."""

    def script(p: Peer) -> None:
        greet(p, "AUTH PLAIN LOGIN")
        p.expect(PLAIN_LINE)
        p.reply("235 2.7.0 ok")
        serve_quit(p)

    server = scripted(script)  # loopback, no opt-in
    smtp = sec_connect(server)
    assert smtp.auth(USER, PASSWORD) is True
    assert smtp.quit() is True
    server.join()

    from netsmtp._client import auth_flows

    monkeypatch.setattr(auth_flows, "is_loopback", lambda peer: False)
    server = scripted(script)  # "remote", opted in
    smtp = sec_connect(server, allow_insecure_auth=True)
    assert smtp.auth(USER, PASSWORD) is True
    assert smtp.quit() is True
    server.join()


# ---- AU-02 ----------------------------------------------------------------------------------------
def _hostname_unchecked(ca: Any) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    context.check_hostname = False  # the chain is verified, the name is not
    return context


@pytest.mark.parametrize(
    "case",
    [("implicit", "none"), ("implicit", "chain-only"), ("starttls", "none"), ("starttls", "chain-only")],
    ids="-".join,
)
@pytest.mark.usefixtures("sec_remote")
def test_AU_02_no_password_over_unverified_tls(
    scripted: type[ScriptedServer], sec_connect: SecConnect, ca: Any, case: tuple[str, str]
) -> None:
    """TLS whose certificate or host name is not checked is no better than plaintext for the
    password: refused (530, nothing sent) unless the caller also opted in."""
    mode, verification = case
    context = insecure_context() if verification == "none" else _hostname_unchecked(ca)

    def script(p: Peer) -> None:
        if mode == "starttls":
            accept_starttls(p)
            p.expect(EHLO)
            p.reply(*ehlo_lines("AUTH PLAIN LOGIN"))
        else:
            greet(p, "AUTH PLAIN LOGIN")
        serve_quit(p)

    def opted_in(p: Peer) -> None:
        greet(p, "AUTH PLAIN LOGIN")
        p.expect(PLAIN_LINE)
        p.reply("235 2.7.0 ok")
        serve_quit(p)

    server = scripted(script, implicit_tls=mode == "implicit")
    if mode == "implicit":
        smtp = sec_connect(server, ssl=True, ssl_context=context, raise_errors=True)
    else:
        smtp = sec_connect(server, raise_errors=True)
        assert smtp.starttls(context) is True
    assert smtp.tls_active is True
    with pytest.raises(AuthPolicyError, match="not verified"):
        smtp.auth(USER, PASSWORD)
    assert smtp.quit() is True
    server.join()
    assert b"AUTH" not in tls_part(server)

    server = scripted(opted_in, implicit_tls=True)
    smtp = sec_connect(server, ssl=True, ssl_context=context, allow_insecure_auth=True)
    assert smtp.auth(USER, PASSWORD) is True
    assert smtp.quit() is True
    server.join()


# ---- AU-03 ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("after", ["AUTH SCRAM-SHA-256 PLAIN", "AUTH XOAUTH2"])
def test_AU_03_mechanism_from_the_post_tls_list_only(
    scripted: type[ScriptedServer], sec_connect: SecConnect, client_context: ssl.SSLContext, after: str
) -> None:
    """Before TLS ``AUTH PLAIN LOGIN``; after TLS ``SCRAM-SHA-256 PLAIN`` gets SCRAM-SHA-256, and
    ``XOAUTH2`` alone with a password is "no suitable mechanism" (504), never the old PLAIN."""

    def post(p: Peer) -> None:
        p.expect(EHLO)
        p.reply(*ehlo_lines(after))
        refuse_auth(p)

    server = scripted(steps(lambda p: accept_starttls(p, "AUTH PLAIN LOGIN"), post))
    smtp = sec_connect(server)
    assert smtp.starttls(client_context) is True
    assert smtp.auth(USER, PASSWORD) is False
    if after == "AUTH XOAUTH2":
        assert smtp.code() == 504
        assert "No usable SASL mechanism" in smtp.message()
    else:
        assert smtp.code() == 535
    assert smtp.quit() is True
    server.join()
    lines = [line for line in tls_part(server).split(b"\r\n") if line.startswith(b"AUTH")]
    if after == "AUTH XOAUTH2":
        assert lines == []
    else:
        assert len(lines) == 1 and lines[0].startswith(b"AUTH SCRAM-SHA-256 ")


# ---- AU-04 ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "case",
    [
        (("LOGIN", "PLAIN", "CRAM-MD5", "SCRAM-SHA-256"), False, b"AUTH SCRAM-SHA-256 "),
        (("LOGIN", "PLAIN", "CRAM-MD5"), True, b"AUTH CRAM-MD5"),  # the policy drops PLAIN/LOGIN
        (("LOGIN", "PLAIN"), False, b"AUTH PLAIN "),
    ],
    ids=["scram", "cram-remote", "plain"],
)
def test_AU_04_our_preference_order_not_the_servers(
    scripted: type[ScriptedServer],
    sec_connect: SecConnect,
    monkeypatch: pytest.MonkeyPatch,
    case: tuple[tuple[str, ...], bool, bytes],
) -> None:
    """The strongest mechanism we support and the policy allows, whatever the server's order:
    every permutation of the list gets the same choice."""
    offered, remote, chosen = case
    from netsmtp._client import auth_flows

    if remote:
        monkeypatch.setattr(auth_flows, "is_loopback", lambda peer: False)
    for order in itertools.permutations(offered):
        server = scripted(refuse_any_auth("AUTH " + " ".join(order)))
        smtp = sec_connect(server)
        assert smtp.auth(USER, PASSWORD) is False  # refused (535): no second mechanism
        assert smtp.quit() is True
        server.join()
        lines = auth_lines(server)
        assert len(lines) == 1, (order, lines)
        assert (lines[0] + b" ").startswith(chosen), (order, lines)


# ---- AU-05 ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["plaintext-remote", "verified-tls"])
def test_AU_05_no_fallback_after_a_failed_mechanism(
    scripted: type[ScriptedServer],
    sec_connect: SecConnect,
    client_context: ssl.SSLContext,
    monkeypatch: pytest.MonkeyPatch,
    where: str,
) -> None:
    """curl test935: ``AUTH CRAM-MD5`` answered ``334 Rubbish``. The client cancels (``*``), reads
    the 501 and stops: netsmtp is strict, it never falls back to PLAIN or LOGIN, over plaintext
    or inside verified TLS. After a real 535 it does not try another mechanism either."""
    from netsmtp._client import auth_flows

    monkeypatch.setattr(auth_flows, "is_loopback", lambda peer: False)
    offered = ("AUTH CRAM-MD5 PLAIN LOGIN",)

    def script(p: Peer) -> None:
        if where == "verified-tls":
            accept_starttls(p)
            p.expect(EHLO)
            p.reply(*ehlo_lines(*offered))
        else:
            greet(p, *offered)
        p.expect("AUTH CRAM-MD5")
        p.reply("334 Rubbish")
        p.expect("*")
        p.reply("501 5.7.0 cancelled")
        # A second auth(): a genuine 535 ends it too.
        p.expect("AUTH CRAM-MD5")
        p.reply(f"334 {CHALLENGE}")
        assert p.readline().startswith(b64(USER).encode())  # base64("tim <digest>")
        p.reply("535 5.7.8 bad credentials")
        serve_quit(p)

    server = scripted(script)
    smtp = sec_connect(server)
    if where == "verified-tls":
        assert smtp.starttls(client_context) is True
    assert smtp.auth(USER, PASSWORD) is False
    assert smtp.code() == 501
    assert smtp.auth(USER, PASSWORD) is False
    assert smtp.code() == 535
    assert smtp.quit() is True
    server.join()
    sent = tls_part(server) if where == "verified-tls" else server.received
    assert b"AUTH PLAIN" not in sent and b"AUTH LOGIN" not in sent
    assert [line for line in sent.split(b"\r\n") if line.startswith(b"AUTH")] == [b"AUTH CRAM-MD5"] * 2


# ---- AU-06 ----------------------------------------------------------------------------------------
def test_AU_06_auth_is_a_synchronisation_point(
    scripted: type[ScriptedServer], sec_connect: SecConnect
) -> None:
    """With PIPELINING, nothing follows ``AUTH …`` (nor any of its continuation lines) until the
    final reply; only then does the pipelined transaction start."""

    def script(p: Peer) -> None:
        greet(p, "PIPELINING", "AUTH LOGIN")
        p.expect("AUTH LOGIN")
        assert_quiet(p)
        p.reply("334 VXNlcm5hbWU6")
        p.expect(b64(USER))
        assert_quiet(p)
        p.reply("334 UGFzc3dvcmQ6")
        p.expect(b64(PASSWORD))
        assert_quiet(p)
        p.reply("235 2.7.0 ok")
        batch = p.read_until(b"DATA\r\n")
        assert batch == b"MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n"
        p.send(b"250 ok\r\n250 ok\r\n354 go\r\n")
        p.read_data()
        p.reply("250 queued")
        serve_quit(p)

    server = scripted(script)
    smtp = sec_connect(server)
    assert smtp.auth(USER, PASSWORD) is True
    smtp.send_message(b"Subject: x\r\n\r\nbody\r\n", "a@b.example", ["c@d.example"])
    assert smtp.quit() is True
    server.join()


# ---- AU-07 ----------------------------------------------------------------------------------------
XOAUTH2 = f"user={USER}\x01auth=Bearer {TOKEN}\x01\x01"


@pytest.mark.parametrize(
    "case",
    list(itertools.product(["PLAIN", "LOGIN", "XOAUTH2"], [True, False])),
    ids=lambda c: f"{c[0]}-{c[1]}",
)
def test_AU_07_secrets_kept_out_of_logs(
    scripted: type[ScriptedServer],
    sec_connect: SecConnect,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    case: tuple[str, bool],
) -> None:
    """debug=1 (stderr) and the ``netsmtp.transcript`` logger at DEBUG: the password, the token
    and every base64 form of what carried them are absent; ``<redacted>`` stands in. The
    exchange ends in a 535 so that the error paths are checked too."""
    mechanism, raise_errors = case
    secret = TOKEN if mechanism == "XOAUTH2" else PASSWORD
    caplog.set_level(logging.DEBUG)

    def script(p: Peer) -> None:
        greet(p, "AUTH PLAIN LOGIN XOAUTH2")
        if mechanism == "PLAIN":
            p.expect(PLAIN_LINE)
        elif mechanism == "LOGIN":
            p.expect("AUTH LOGIN")
            p.reply("334 VXNlcm5hbWU6")
            p.expect(b64(USER))
            p.reply("334 UGFzc3dvcmQ6")
            p.expect(b64(PASSWORD))
        else:
            p.expect(f"AUTH XOAUTH2 {b64(XOAUTH2)}")
        p.reply(f"535 5.7.8 {b64('not the secret')}")
        serve_quit(p)

    server = scripted(script)
    smtp = sec_connect(server, debug=1, raise_errors=raise_errors)
    outputs: list[str] = []
    try:
        assert smtp.auth(USER, secret, mechanism) is False
    except ReplyError as exc:
        assert raise_errors
        outputs += [str(exc), repr(exc), repr(exc.args), str(exc.reply)]
    outputs += [smtp.message(), repr(smtp.last_reply)]
    assert smtp.quit() is True
    server.join()
    err = capsys.readouterr().err
    logged = "\n".join(r.getMessage() for r in caplog.records)
    expected = {
        "PLAIN": ">>> AUTH PLAIN <redacted>",
        "LOGIN": ">>> <redacted>",
        "XOAUTH2": ">>> AUTH XOAUTH2 <redacted>",
    }
    assert expected[mechanism] in err and expected[mechanism] in logged
    forms = secret_forms(secret, PLAIN_RESPONSE, XOAUTH2)
    for text in (err, logged, *outputs):
        for form in forms:
            assert form not in text, f"a secret form ({len(form)} characters) leaked"
    # Not vacuous: the secret did cross the wire, so a careless transcript would show it.
    assert secret.encode() in b"".join(base64.b64decode(w) for w in _b64_words(server.received))


def _b64_words(received: bytes) -> list[bytes]:
    words = []
    for line in received.split(b"\r\n"):
        for word in line.split(b" "):
            try:
                base64.b64decode(word, validate=True)
            except ValueError:
                continue
            words.append(word)
    return words


# ---- AU-08 ----------------------------------------------------------------------------------------
def test_AU_08_second_auth_raises_locally(scripted: type[ScriptedServer], sec_connect: SecConnect) -> None:
    """After a success reached through a 334 loop (LOGIN), a second auth() raises UsageError
    locally and writes nothing (MailKit: "already authenticated")."""

    def script(p: Peer) -> None:
        greet(p, "AUTH LOGIN PLAIN")
        p.expect("AUTH LOGIN")
        p.reply("334 VXNlcm5hbWU6")
        p.expect(b64(USER))
        p.reply("334 UGFzc3dvcmQ6")
        p.expect(b64(PASSWORD))
        p.reply("235 2.7.0 ok")
        serve_quit(p)

    server = scripted(script)
    smtp = sec_connect(server)
    assert smtp.auth(USER, PASSWORD, "LOGIN") is True
    for mechanism in (None, "PLAIN", "LOGIN"):
        with pytest.raises(UsageError, match="already authenticated"):
            smtp.auth(USER, PASSWORD, mechanism)
    assert smtp.quit() is True
    server.join()
    assert auth_lines(server) == [b"AUTH LOGIN"]


def test_AU_08_503_is_not_a_success(scripted: type[ScriptedServer], sec_connect: SecConnect) -> None:
    """smtplib takes ``503 already authenticated`` for a success; netsmtp does not: false, 503,
    and (not being authenticated) a later auth() is still allowed."""

    def script(p: Peer) -> None:
        greet(p, "AUTH PLAIN")
        p.expect(PLAIN_LINE)
        p.reply("503 5.5.1 already authenticated")
        p.expect(PLAIN_LINE)
        p.reply("235 2.7.0 ok")
        serve_quit(p)

    server = scripted(script)
    smtp = sec_connect(server)
    assert smtp.auth(USER, PASSWORD) is False
    assert smtp.code() == 503
    assert smtp.auth(USER, PASSWORD) is True
    assert smtp.quit() is True
    server.join()
