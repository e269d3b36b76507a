"""AUTH failures: retry rules, hostile challenges, servers that do not prove themselves.

SPEC A7; SECURITY AU-05 (504/534 move on, 535 does not), MS-16 (endless 334, bad base64),
AU-08 (235 after a cancel). A cancelled exchange leaves the session usable; a success we
cannot trust closes the connection.
"""

from __future__ import annotations

import pytest

from netsmtp import ProtocolError, SASLError
from tests.auth.conftest import Connect
from tests.auth.support import assert_quiet, b64, closed_now, greet, serve_quit
from tests.helpers.scripted import Peer, ScriptedServer

CRAM_CHALLENGE = b64("<1.2@test.example>")


def noop_then_quit(p: Peer) -> None:
    p.expect("NOOP")
    p.reply("250 2.0.0 ok")
    serve_quit(p)


# ---- AU-05 ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("code", [504, 534])
def test_504_and_534_try_the_next_mechanism(
    scripted: type[ScriptedServer], connect: Connect, code: int
) -> None:
    def script(p: Peer) -> None:
        greet(p, "AUTH PLAIN CRAM-MD5 LOGIN")
        p.expect("AUTH CRAM-MD5")
        p.reply(f"{code} 5.7.9 not this one")
        p.expect("AUTH PLAIN " + b64("\0tim\0secret"))
        p.reply(f"{code} 5.7.9 nor this one")
        p.expect("AUTH LOGIN")
        p.reply("334 VXNlcm5hbWU6")
        p.expect(b64("tim"))
        p.reply("334 UGFzc3dvcmQ6")
        p.expect(b64("secret"))
        p.reply("235 2.7.0 ok")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.auth("tim", "secret") is True
    smtp.quit()
    server.join()


def test_the_last_504_is_the_answer(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p, "AUTH PLAIN CRAM-MD5")
        p.expect("AUTH CRAM-MD5")
        p.reply("504 5.5.4 no cram")
        p.expect("AUTH PLAIN " + b64("\0tim\0secret"))
        p.reply("504 5.5.4 no plain either")
        noop_then_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.auth("tim", "secret") is False
    assert smtp.code() == 504
    assert smtp.message() == "5.5.4 no plain either"
    assert smtp.noop() is True
    smtp.quit()
    server.join()


@pytest.mark.parametrize("code", [535, 454, 530, 538])
def test_other_refusals_are_final(scripted: type[ScriptedServer], connect: Connect, code: int) -> None:
    def script(p: Peer) -> None:
        greet(p, "AUTH PLAIN CRAM-MD5 LOGIN")
        p.expect("AUTH CRAM-MD5")
        p.reply("334 " + CRAM_CHALLENGE)
        p.readline()
        p.reply(f"{code} 5.7.8 Authentication credentials invalid")
        noop_then_quit(p)  # no second mechanism: a wrong password is not retried

    server = scripted(script)
    smtp = connect(server)
    assert smtp.auth("tim", "secret") is False
    assert smtp.code() == code
    assert smtp.noop() is True
    smtp.quit()
    server.join()


def test_535_raises_reply_error(scripted: type[ScriptedServer], connect: Connect) -> None:
    from netsmtp import ReplyError

    def script(p: Peer) -> None:
        greet(p, "AUTH PLAIN")
        p.readline()
        p.reply("535 5.7.8 Authentication credentials invalid")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server, raise_errors=True)
    with pytest.raises(ReplyError) as info:
        smtp.auth("tim", "secret")
    assert info.value.reply.code == 535
    assert info.value.command == "AUTH"
    smtp.quit()
    server.join()


def test_auth_is_a_synchronisation_point(scripted: type[ScriptedServer], connect: Connect) -> None:
    # SECURITY AU-06: even with PIPELINING, nothing follows an AUTH line before its reply,
    # and nothing follows a response before the next challenge or the final reply.
    def script(p: Peer) -> None:
        greet(p, "PIPELINING", "AUTH CRAM-MD5 PLAIN")
        p.expect("AUTH CRAM-MD5")
        assert_quiet(p)
        p.reply("504 5.5.4 no")
        p.expect("AUTH PLAIN " + b64("\0tim\0secret"))
        assert_quiet(p)
        p.reply("334 ")
        p.expect("*")  # PLAIN expects no challenge
        assert_quiet(p)
        p.reply("501 5.7.0 cancelled")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.auth("tim", "secret") is False
    assert smtp.code() == 501
    smtp.quit()
    server.join()


# ---- MS-16: hostile challenges are cancelled with "*" -------------------------------------------------
class Forever:
    """A custom mechanism that answers every challenge (so only the round limit stops it)."""

    name = "X-LOOP"
    exposes_secret = False
    needs_channel_binding = False

    def initial_response(self) -> bytes | None:
        return None

    def respond(self, challenge: bytes) -> bytes:
        return b"more"

    def finish(self) -> None:
        return None


def test_endless_334_is_cancelled(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p, "AUTH X-LOOP")
        p.expect("AUTH X-LOOP")
        rounds = 0
        while True:
            p.reply("334 eHl6")
            line = p.readline()
            if line == b"*\r\n":
                break
            assert line == b"bW9yZQ==\r\n", line
            rounds += 1
            assert rounds <= 10, "the client never gave up"
        assert rounds == 10
        p.reply("501 5.7.0 Authentication cancelled")
        noop_then_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.auth(Forever()) is False
    assert smtp.code() == 501
    assert "AUTH cancelled" in smtp.message()
    assert "more than 10 AUTH challenges" in smtp.message()
    assert smtp.noop() is True  # still in step
    smtp.quit()
    server.join()


def test_login_third_challenge_is_cancelled(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p, "AUTH LOGIN")
        p.expect("AUTH LOGIN")
        for _ in range(2):
            p.reply("334 eHl6")
            p.readline()
        p.reply("334 eHl6")
        p.expect("*")
        p.reply("501 5.7.0 cancelled")
        noop_then_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.auth("tim", "secret") is False
    assert smtp.code() == 501
    assert smtp.noop() is True
    smtp.quit()
    server.join()


@pytest.mark.parametrize("challenge", ["!!!notbase64", "eHl6=", "eH l6", "e", "eHl6\u00e9"])
def test_bad_base64_is_cancelled(scripted: type[ScriptedServer], connect: Connect, challenge: str) -> None:
    def script(p: Peer) -> None:
        greet(p, "AUTH CRAM-MD5")
        p.expect("AUTH CRAM-MD5")
        p.reply("334 " + challenge)
        p.expect("*")
        p.reply("501 5.5.2 Cannot decode response")
        noop_then_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.auth("tim", "secret") is False
    assert smtp.code() == 501
    assert "not valid base64" in smtp.message()
    assert smtp.noop() is True
    smtp.quit()
    server.join()


def test_bad_base64_raises_sasl_error(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p, "AUTH CRAM-MD5")
        p.expect("AUTH CRAM-MD5")
        p.reply("334 !!!")
        p.expect("*")
        p.reply("501 5.5.2 Cannot decode response")
        noop_then_quit(p)

    server = scripted(script)
    smtp = connect(server, raise_errors=True)
    with pytest.raises(SASLError) as info:
        smtp.auth("tim", "secret")
    assert info.value.reply is not None
    assert info.value.reply.code == 501
    assert smtp.noop() is True
    smtp.quit()
    server.join()


def test_multi_line_challenge_is_cancelled(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p, "AUTH CRAM-MD5")
        p.expect("AUTH CRAM-MD5")
        p.reply("334-eHl6", "334 eHl6")
        p.expect("*")
        p.reply("501 5.7.0 cancelled")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.auth("tim", "secret") is False
    smtp.quit()
    server.join()


def test_over_long_challenge_closes(scripted: type[ScriptedServer], connect: Connect) -> None:
    # A challenge longer than the reply parser's 8 KiB line cap never reaches the mechanism:
    # the reply itself is refused and the connection closed (SPEC A4), before the 12288-octet
    # AUTH limit could apply. Either way: a clean failure, nothing more sent.
    def script(p: Peer) -> None:
        greet(p, "AUTH CRAM-MD5")
        p.expect("AUTH CRAM-MD5")
        p.reply("334 " + "QUFB" * 2500)
        closed_now(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.auth("tim", "secret") is False
    assert smtp.code() == 421
    assert "Protocol error" in smtp.message()
    server.join()


def test_server_accepting_the_cancel_is_a_protocol_error(
    scripted: type[ScriptedServer], connect: Connect
) -> None:
    # AU-08: "235" in answer to "*" means the server ignores cancels: never trust it.
    def script(p: Peer) -> None:
        greet(p, "AUTH CRAM-MD5")
        p.expect("AUTH CRAM-MD5")
        p.reply("334 %%%")
        p.expect("*")
        p.reply("235 2.7.0 whatever you say")
        closed_now(p)

    server = scripted(script)
    smtp = connect(server, raise_errors=True)
    with pytest.raises(ProtocolError, match="not 501"):
        smtp.auth("tim", "secret")
    assert smtp.code() == 421
    server.join()


def test_3xx_other_than_334_is_a_protocol_error(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p, "AUTH CRAM-MD5")
        p.expect("AUTH CRAM-MD5")
        p.reply("354 go ahead")
        closed_now(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.auth("tim", "secret") is False
    assert smtp.code() == 421
    server.join()


# ---- SCRAM: the server must prove it knows the password --------------------------------------------------
def scram_exchange_start(p: Peer) -> str:
    """Greet, read the client-first, answer a valid server-first; return the client-final."""
    greet(p, "AUTH SCRAM-SHA-256")
    line = p.readline().decode()
    assert line.startswith("AUTH SCRAM-SHA-256 "), line
    import base64

    client_first = base64.b64decode(line.split()[2]).decode()
    assert client_first.startswith("n,,n=user,r=")
    nonce = client_first.split("r=", 1)[1]
    p.reply("334 " + b64(f"r={nonce}server,s={b64('salt')},i=4096"))
    return p.readline().decode()


def test_scram_235_without_server_signature_closes(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        scram_exchange_start(p)
        p.reply("235 2.7.0 Authentication successful")  # no v=: the server proved nothing
        closed_now(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.auth("user", "pencil") is False
    assert smtp.code() == 421
    assert "without proving" in smtp.message()
    assert "connection closed" in smtp.message()
    server.join()
    assert smtp.noop() is False  # closed: nothing is sent any more


def test_scram_235_without_server_signature_raises(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        scram_exchange_start(p)
        p.reply("235 2.7.0 Authentication successful")
        closed_now(p)

    server = scripted(script)
    smtp = connect(server, raise_errors=True)
    with pytest.raises(SASLError) as info:
        smtp.auth("user", "pencil")
    assert info.value.reply is not None and info.value.reply.code == 235
    server.join()


def test_scram_wrong_server_signature_is_cancelled(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        scram_exchange_start(p)
        p.reply("334 " + b64("v=" + b64(b"\0" * 32)))
        p.expect("*")
        p.reply("501 5.7.0 cancelled")
        noop_then_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.auth("user", "pencil") is False
    assert smtp.code() == 501
    assert "wrong server signature" in smtp.message()
    assert smtp.noop() is True
    smtp.quit()
    server.join()


def test_scram_wrong_signature_then_235_closes(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        scram_exchange_start(p)
        p.reply("334 " + b64("v=" + b64(b"\0" * 32)))
        p.expect("*")
        p.reply("235 2.7.0 Authentication successful")  # and it ignores our cancel
        closed_now(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.auth("user", "pencil") is False
    assert smtp.code() == 421
    server.join()


def test_scram_server_error_attribute(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        scram_exchange_start(p)
        p.reply("334 " + b64("e=invalid-proof"))
        p.expect("*")
        p.reply("535 5.7.8 Authentication credentials invalid")
        noop_then_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.auth("user", "pencil") is False
    assert smtp.code() == 535
    assert "invalid-proof" in smtp.message()
    assert smtp.noop() is True
    smtp.quit()
    server.join()


# ---- custom mechanisms that misbehave ------------------------------------------------------------------
class Broken:
    name = "X-BROKEN"
    exposes_secret = False
    needs_channel_binding = False

    def __init__(self, where: str) -> None:
        self.where = where

    def initial_response(self) -> bytes | None:
        if self.where == "initial":
            raise RuntimeError("token service down")
        return None

    def respond(self, challenge: bytes) -> bytes:
        if self.where == "respond":
            raise KeyError("bug")
        return b"ok"

    def finish(self) -> None:
        if self.where == "finish":
            raise SASLError("server not trusted")


def test_custom_initial_response_error_sends_nothing(
    scripted: type[ScriptedServer], connect: Connect
) -> None:
    def script(p: Peer) -> None:
        greet(p, "AUTH X-BROKEN")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    with pytest.raises(RuntimeError, match="token service down"):
        smtp.auth(Broken("initial"))
    smtp.quit()
    server.join()


def test_custom_respond_bug_cancels(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p, "AUTH X-BROKEN")
        p.expect("AUTH X-BROKEN")
        p.reply("334 ")
        p.expect("*")
        p.reply("501 5.7.0 cancelled")
        noop_then_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.auth(Broken("respond")) is False
    assert "KeyError" in smtp.message()
    assert smtp.noop() is True
    smtp.quit()
    server.join()


def test_custom_finish_distrust_closes(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p, "AUTH X-BROKEN")
        p.expect("AUTH X-BROKEN")
        p.reply("235 2.7.0 ok")
        closed_now(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.auth(Broken("finish")) is False
    assert smtp.code() == 421
    assert "server not trusted" in smtp.message()
    server.join()


def test_oauth_token_callable_failure_sends_nothing(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p, "AUTH XOAUTH2")
        serve_quit(p)

    def token() -> str:
        raise LookupError("refresh token revoked")

    server = scripted(script)
    smtp = connect(server)
    with pytest.raises(LookupError):
        smtp.auth("u@example.com", token, "XOAUTH2")
    smtp.quit()
    server.join()
    assert b"AUTH" not in server.received


# ---- the connection failing mid-exchange -----------------------------------------------------------------
def test_server_closes_mid_exchange(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p, "AUTH LOGIN")
        p.expect("AUTH LOGIN")
        p.reply("334 VXNlcm5hbWU6")
        p.readline()
        p.close()

    server = scripted(script)
    smtp = connect(server)
    assert smtp.auth("tim", "secret") is False
    assert smtp.code() == 421
    server.join()


def test_421_mid_exchange(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p, "AUTH LOGIN")
        p.expect("AUTH LOGIN")
        p.reply("421 4.3.2 shutting down")
        closed_now(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.auth("tim", "secret") is False
    assert smtp.code() == 421
    server.join()


def test_timeout_mid_exchange(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p, "AUTH LOGIN")
        p.expect("AUTH LOGIN")
        closed_now(p)  # never answers; the client gives up and closes

    server = scripted(script)
    smtp = connect(server, timeout=0.5)
    assert smtp.auth("tim", "secret") is False
    assert smtp.code() == 421
    assert "Timeout" in smtp.message()
    server.join()
