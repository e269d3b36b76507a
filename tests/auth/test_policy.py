"""Which mechanism may run: the plaintext policy, our preference order, post-TLS capabilities.

SPEC A7; SECURITY AU-01 (no secret over plaintext), AU-02 (nor over unverified TLS),
AU-03 (post-TLS list only), AU-04 (our order), AU-08 (one AUTH), CI-13 (server tokens
never echoed). A loopback test server cannot be a remote host, so the ``remote`` fixture
replaces the policy's one hook, :func:`netsmtp._client.auth_flows.is_loopback`; that
function itself is tested directly below.
"""

from __future__ import annotations

import itertools
import ssl

import pytest

import netsmtp
from netsmtp import AuthPolicyError, NotSupportedError, UsageError
from netsmtp._client.auth_flows import is_loopback
from netsmtp._tls import verifies
from tests.auth.conftest import Connect
from tests.auth.support import b64, greet, serve_quit, starttls
from tests.helpers.scripted import Peer, ScriptedServer

PLAIN_TIM = "AUTH PLAIN " + b64("\0tim\0secret")


# ---- the loopback test ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("peer", "expected"),
    [
        (("127.0.0.1", 25), True),
        (("127.45.6.7", 25), True),
        (("::1", 25, 0, 0), True),
        (("::ffff:127.0.0.1", 25, 0, 0), True),
        (("::ffff:10.0.0.1", 25, 0, 0), False),
        (("10.0.0.1", 25), False),
        (("192.168.1.1", 25), False),
        (("128.0.0.1", 25), False),
        (("::2", 25, 0, 0), False),
        (("fe80::1%eth0", 25, 0, 2), False),
        (("localhost", 25), False),  # a name is never trusted: only the connected address
        (("0.0.0.0", 25), False),
        (("/run/lmtp.sock",), True),  # a Unix-domain socket (LMTP) never leaves the host
        (("relative.sock",), False),
        ("/run/lmtp.sock", False),  # not a socket address at all
        ((), False),
        (None, False),
    ],
)
def test_is_loopback(peer: object, expected: bool) -> None:
    assert is_loopback(peer) is expected  # type: ignore[arg-type]


def test_verifies() -> None:
    assert verifies(ssl.create_default_context()) is True
    unverified = ssl.create_default_context()
    unverified.check_hostname = False
    assert verifies(unverified) is False
    unverified.verify_mode = ssl.CERT_NONE
    assert verifies(unverified) is False
    assert verifies(ssl._create_unverified_context()) is False


# ---- AU-01: no secret over plaintext to a remote host ------------------------------------------
def nothing_but_quit(*capabilities: str) -> object:
    def script(p: Peer) -> None:
        greet(p, *capabilities)
        serve_quit(p)

    return script


@pytest.mark.usefixtures("remote")
@pytest.mark.parametrize("mechanism", [None, "PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER"])
def test_plaintext_remote_refuses_secret_mechanisms(
    scripted: type[ScriptedServer], connect: Connect, mechanism: str | None
) -> None:
    server = scripted(nothing_but_quit("AUTH PLAIN LOGIN XOAUTH2 OAUTHBEARER"))  # type: ignore[arg-type]
    smtp = connect(server)
    assert smtp.auth("tim", "secret", mechanism) is False
    assert smtp.code() == 530
    message = smtp.message()
    assert "not encrypted" in message
    assert "allow_insecure_auth=True" in message
    assert "starttls()" in message
    assert "secret" not in message.replace("expose the password", "")  # no credential in it
    assert smtp.quit() is True  # the session is untouched
    server.join()
    assert b"AUTH" not in server.received


@pytest.mark.usefixtures("remote")
def test_plaintext_remote_raises_auth_policy_error(scripted: type[ScriptedServer], connect: Connect) -> None:
    server = scripted(nothing_but_quit("AUTH PLAIN LOGIN"))  # type: ignore[arg-type]
    smtp = connect(server, raise_errors=True)
    with pytest.raises(AuthPolicyError) as info:
        smtp.auth("tim", "secret")
    assert isinstance(info.value, NotSupportedError)
    assert info.value.reply.code == 530
    assert info.value.command == "AUTH"
    smtp.quit()
    server.join()
    assert b"AUTH" not in server.received


@pytest.mark.usefixtures("remote")
def test_plaintext_remote_uses_a_mechanism_that_keeps_the_secret(
    scripted: type[ScriptedServer], connect: Connect
) -> None:
    def script(p: Peer) -> None:
        greet(p, "AUTH PLAIN LOGIN CRAM-MD5")
        p.expect("AUTH CRAM-MD5")
        p.reply("504 5.5.4 disabled")
        serve_quit(p)  # no fallback to PLAIN or LOGIN over plaintext (AU-05)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.auth("tim", "secret") is False
    assert smtp.code() == 504
    smtp.quit()
    server.join()


@pytest.mark.usefixtures("remote")
def test_allow_insecure_auth_opts_in(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p, "AUTH PLAIN LOGIN")
        p.expect(PLAIN_TIM)
        p.reply("235 2.7.0 ok")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server, allow_insecure_auth=True)
    assert smtp.auth("tim", "secret") is True
    smtp.quit()
    server.join()


def test_loopback_allows_plain_without_tls(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p, "AUTH PLAIN")
        p.expect(PLAIN_TIM)
        p.reply("235 2.7.0 ok")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.auth("tim", "secret") is True
    smtp.quit()
    server.join()


class Custom:
    """A custom mechanism: one initial response, no challenge."""

    needs_channel_binding = False

    def __init__(self, name: str, exposes_secret: bool) -> None:
        self.name = name
        self.exposes_secret = exposes_secret

    def initial_response(self) -> bytes | None:
        return b"token"

    def respond(self, challenge: bytes) -> bytes:
        raise netsmtp.SASLError("no challenge expected")

    def finish(self) -> None:
        return None


@pytest.mark.usefixtures("remote")
def test_custom_mechanism_policy(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p, "AUTH X-SECRET X-SAFE")
        p.expect("AUTH X-SAFE " + b64("token"))
        p.reply("235 2.7.0 ok")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert isinstance(Custom("X-SECRET", True), netsmtp.Mechanism)
    assert smtp.auth(Custom("X-SECRET", True)) is False
    assert smtp.code() == 530
    assert smtp.auth(Custom("X-SAFE", False)) is True
    smtp.quit()
    server.join()


# ---- AU-02: a TLS connection that does not verify is no better than plaintext ----------------------
@pytest.mark.usefixtures("remote")
def test_unverified_tls_refuses_secret_mechanisms(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        starttls(p, ["AUTH PLAIN"], ["AUTH PLAIN LOGIN"])
        serve_quit(p)

    server = scripted(script)
    unverified = ssl.create_default_context()
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE
    smtp = connect(server)
    assert smtp.starttls(ssl_context=unverified) is True
    assert smtp.auth("tim", "secret") is False
    assert smtp.code() == 530
    assert "not verified" in smtp.message()
    smtp.quit()
    server.join()


@pytest.mark.usefixtures("remote")
def test_verified_tls_allows_plain(
    scripted: type[ScriptedServer], connect: Connect, client_context: ssl.SSLContext
) -> None:
    def script(p: Peer) -> None:
        starttls(p, [], ["AUTH PLAIN LOGIN"])
        p.expect(PLAIN_TIM)
        p.reply("235 2.7.0 ok")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server, ssl_context=client_context)
    assert smtp.starttls() is True
    assert smtp.auth("tim", "secret") is True
    smtp.quit()
    server.join()


@pytest.mark.usefixtures("remote")
def test_implicit_tls_allows_plain(
    scripted: type[ScriptedServer], connect: Connect, client_context: ssl.SSLContext
) -> None:
    def script(p: Peer) -> None:
        greet(p, "AUTH PLAIN")
        p.expect(PLAIN_TIM)
        p.reply("235 2.7.0 ok")
        serve_quit(p)

    server = scripted(script, implicit_tls=True)
    smtp = connect(server, ssl=True, ssl_context=client_context)
    assert smtp.auth("tim", "secret") is True
    smtp.quit()
    server.join()


# ---- AU-03: only what the server said after STARTTLS counts ---------------------------------------
def test_mechanism_from_post_tls_list(
    scripted: type[ScriptedServer], connect: Connect, client_context: ssl.SSLContext
) -> None:
    def script(p: Peer) -> None:
        starttls(p, ["AUTH PLAIN LOGIN"], ["AUTH SCRAM-SHA-256 PLAIN"])
        line = p.readline()
        assert line.startswith(b"AUTH SCRAM-SHA-256 "), line
        p.reply("535 5.7.8 no")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server, ssl_context=client_context)
    assert smtp.supports("AUTH") == "PLAIN LOGIN"
    assert smtp.starttls() is True
    assert smtp.auth("tim", "secret") is False
    assert smtp.code() == 535
    smtp.quit()
    server.join()


def test_no_password_mechanism_after_tls(
    scripted: type[ScriptedServer], connect: Connect, client_context: ssl.SSLContext
) -> None:
    def script(p: Peer) -> None:
        starttls(p, ["AUTH PLAIN LOGIN"], ["AUTH XOAUTH2"])
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server, ssl_context=client_context)
    assert smtp.starttls() is True
    assert smtp.auth("tim", "secret") is False
    assert smtp.code() == 504
    assert "No usable SASL mechanism" in smtp.message()
    assert "XOAUTH2" in smtp.message()
    assert "used only when named" in smtp.message()
    smtp.quit()
    server.join()
    assert b"AUTH" not in server.received


def test_auth_hidden_until_tls(
    scripted: type[ScriptedServer], connect: Connect, client_context: ssl.SSLContext
) -> None:
    def script(p: Peer) -> None:
        starttls(p, [], ["AUTH PLAIN"])
        p.expect(PLAIN_TIM)
        p.reply("235 2.7.0 ok")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server, ssl_context=client_context)
    assert smtp.auth("tim", "secret") is False  # not advertised yet: nothing sent
    assert smtp.code() == 500
    assert smtp.starttls() is True
    assert smtp.auth("tim", "secret") is True
    smtp.quit()
    server.join()


# ---- AU-04: our order, whatever the server's --------------------------------------------------------
ALL = ["LOGIN", "PLAIN", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256"]


@pytest.mark.parametrize(
    ("offered", "expected"),
    [
        (ALL, "SCRAM-SHA-256"),
        (["LOGIN", "PLAIN", "CRAM-MD5", "SCRAM-SHA-1"], "SCRAM-SHA-1"),
        (["PLAIN", "LOGIN", "CRAM-MD5"], "CRAM-MD5"),
        (["LOGIN", "PLAIN"], "PLAIN"),
        (["LOGIN"], "LOGIN"),
        (["XOAUTH2", "LOGIN"], "LOGIN"),
        (["SCRAM-SHA-256-PLUS", "LOGIN"], "LOGIN"),  # no TLS: no channel binding
    ],
)
def test_preference_order(
    scripted: type[ScriptedServer], connect: Connect, offered: list[str], expected: str
) -> None:
    def script_for(order: tuple[str, ...]) -> object:
        def script(p: Peer) -> None:
            greet(p, "AUTH " + " ".join(order))
            line = p.readline()
            assert line.split(b" ")[1].strip() == expected.encode(), line
            p.reply("535 5.7.8 no")
            serve_quit(p)

        return script

    for order in itertools.islice(itertools.permutations(offered), 6):
        server = scripted(script_for(order))  # type: ignore[arg-type]
        smtp = connect(server)
        assert smtp.auth("tim", "secret") is False
        smtp.quit()
        server.join()


# ---- CI-13: odd tokens from the server are never echoed ------------------------------------------------
def test_garbage_mechanism_names_are_ignored(scripted: type[ScriptedServer], connect: Connect) -> None:
    long_name = "X" * 5000

    def script(p: Peer) -> None:
        greet(p, f"AUTH {long_name} X-FOO!BAR PLAIN plain\u00e9 AUTH=1", "AUTH=LOGIN")
        line = p.readline()
        assert line == (PLAIN_TIM + "\r\n").encode(), line[:80]
        p.reply("535 5.7.8 no")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.auth("tim", "secret") is False
    smtp.quit()
    server.join()


def test_control_characters_in_the_auth_line(scripted: type[ScriptedServer], connect: Connect) -> None:
    # The EHLO parser drops a capability line with a control character: no AUTH at all.
    def script(p: Peer) -> None:
        greet(p, "AUTH PLAIN X-FOO\x01BAR")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.auth("tim", "secret") is False
    assert smtp.code() == 500
    smtp.quit()
    server.join()


def test_only_garbage_offered(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p, "AUTH " + "Y" * 300 + " NTLM GSSAPI")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.auth("tim", "secret") is False
    assert smtp.code() == 504
    assert "Y" * 21 not in smtp.message()  # an over-long name is not a mechanism name
    assert "GSSAPI NTLM" in smtp.message()
    smtp.quit()
    server.join()
    assert b"AUTH" not in server.received


# ---- early exits: nothing sent -------------------------------------------------------------------------
def test_auth_not_advertised(scripted: type[ScriptedServer], connect: Connect) -> None:
    server = scripted(nothing_but_quit("SIZE 1000"))  # type: ignore[arg-type]
    smtp = connect(server)
    assert smtp.auth("tim", "secret") is False
    assert smtp.code() == 500
    assert smtp.message() == "Command unknown: 'AUTH'"
    smtp.quit()
    server.join()
    assert b"AUTH" not in server.received


def test_auth_not_advertised_raises(scripted: type[ScriptedServer], connect: Connect) -> None:
    server = scripted(nothing_but_quit())  # type: ignore[arg-type]
    smtp = connect(server, raise_errors=True)
    with pytest.raises(NotSupportedError) as info:
        smtp.auth("tim", "secret")
    assert info.value.reply.code == 500
    smtp.quit()
    server.join()


@pytest.mark.parametrize(
    ("offered", "mechanism", "why"),
    [
        ("PLAIN LOGIN", "CRAM-MD5", "CRAM-MD5 is not offered by the server"),
        ("PLAIN SCRAM-SHA-256-PLUS", "SCRAM-SHA-256-PLUS", "needs TLS channel binding"),
        ("PLAIN", "XOAUTH2", "XOAUTH2 is not offered"),
    ],
)
def test_named_mechanism_unusable(
    scripted: type[ScriptedServer], connect: Connect, offered: str, mechanism: str, why: str
) -> None:
    server = scripted(nothing_but_quit("AUTH " + offered))  # type: ignore[arg-type]
    smtp = connect(server)
    assert smtp.auth("tim", "secret", mechanism) is False
    assert smtp.code() == 504
    assert why in smtp.message()
    smtp.quit()
    server.join()
    assert b"AUTH" not in server.received


def test_custom_mechanism_must_be_offered(scripted: type[ScriptedServer], connect: Connect) -> None:
    server = scripted(nothing_but_quit("AUTH PLAIN"))  # type: ignore[arg-type]
    smtp = connect(server)
    assert smtp.auth(Custom("X-OTHER", False)) is False
    assert smtp.code() == 504
    smtp.quit()
    server.join()
    assert b"AUTH" not in server.received


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("tim", "se\r\ncret"), ValueError),
        (("tim", "se\x00cret", "PLAIN"), ValueError),
        (("ti\nm", "secret"), ValueError),
        (("tim", "\x07bell"), ValueError),  # SASLprep prohibits it: SCRAM cannot take it
        (("", "secret"), ValueError),
        (("tim", None), TypeError),
        (("tim", b"secret"), TypeError),
        (("tim", lambda: "token"), TypeError),  # a callable token needs an OAuth name
        (("tim", lambda: "token", "PLAIN"), TypeError),
        (("tim", "secret", "DIGEST-MD5"), ValueError),
        (("tim", "secret", "PLAİN"), ValueError),
        (("tim", "secret", ""), ValueError),
        ((Custom("X-SAFE", False), "secret"), TypeError),
        ((object(),), TypeError),
        (("tim", "secret", Custom("X-SAFE", False)), TypeError),
        (("tim", "secret", 42), TypeError),
        (("tim", "secret", ["PLAIN", 1]), TypeError),
        ((Custom("BAD NAME", False),), ValueError),
    ],
)
def test_bad_arguments_raise_before_sending(
    scripted: type[ScriptedServer], connect: Connect, args: tuple[object, ...], error: type[Exception]
) -> None:
    server = scripted(nothing_but_quit("AUTH PLAIN LOGIN SCRAM-SHA-256 X-SAFE"))  # type: ignore[arg-type]
    smtp = connect(server)
    with pytest.raises(error):
        smtp.auth(*args)
    smtp.quit()
    server.join()
    assert b"AUTH" not in server.received


def test_secret_not_in_argument_errors(scripted: type[ScriptedServer], connect: Connect) -> None:
    server = scripted(nothing_but_quit("AUTH PLAIN LOGIN"))  # type: ignore[arg-type]
    smtp = connect(server)
    with pytest.raises(ValueError) as info:
        smtp.auth("tim", "hunter2\r\n")
    assert "hunter2" not in str(info.value)
    smtp.quit()
    server.join()


# ---- AU-08: one successful AUTH per session ---------------------------------------------------------
def test_second_auth_raises(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p, "AUTH PLAIN")
        p.expect(PLAIN_TIM)
        p.reply("235 2.7.0 ok")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.auth("tim", "secret") is True
    with pytest.raises(UsageError, match="already authenticated"):
        smtp.auth("tim", "secret")
    smtp.quit()
    server.join()


def test_auth_again_after_a_failure(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p, "AUTH PLAIN")
        p.expect(PLAIN_TIM)
        p.reply("535 5.7.8 no")
        p.expect("AUTH PLAIN " + b64("\0tim\0right"))
        p.reply("235 2.7.0 ok")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.auth("tim", "secret") is False
    assert smtp.auth("tim", "right") is True
    smtp.quit()
    server.join()


def test_auth_on_a_closed_connection(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p, "AUTH PLAIN")
        assert p.at_eof()

    server = scripted(script)
    smtp = connect(server)
    smtp.close()
    assert smtp.auth("tim", "secret") is False
    assert smtp.code() == 421
    server.join()
