"""Every built-in mechanism against a byte-exact scripted server: the exact AUTH lines sent.

The vectors are the RFCs' own (RFC 4954 §4 / RFC 4616 for PLAIN, RFC 2195 for CRAM-MD5,
RFC 5802 §5 and RFC 7677 §3 for SCRAM with their fixed client nonces, Google's XOAUTH2
page, RFC 7628 for OAUTHBEARER), so the bytes are checked against independent sources.
The server is on loopback, so the clear-text mechanisms are allowed without TLS.
"""

from __future__ import annotations

import types

import pytest

from netsmtp._core.sasl import ScramMechanism, scram
from tests.auth.conftest import Connect
from tests.auth.support import b64, greet, serve_quit
from tests.helpers.scripted import Peer, ScriptedServer

# RFC 4954 §4 (and RFC 2195): user "tim", password "tanstaaftanstaaf".
TIM, TANSTAAF = "tim", "tanstaaftanstaaf"
CRAM_CHALLENGE = "<1896.697170952@postoffice.reston.mci.net>"
CRAM_RESPONSE = "tim b913a602c7eda7a495b4e6e7334d3890"

# RFC 7677 §3 and RFC 5802 §5: user "user", password "pencil", fixed client nonces.
SHA256 = {
    "nonce": "rOprNGfwEbeRWgbNEkqO",
    "server_first": "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
    "client_final": "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
    "server_final": "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
}
SHA1 = {
    "nonce": "fyko+d2lbbFgONRv9qkxdawL",
    "server_first": "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
    "client_final": "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
    "server_final": "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
}

# Google's XOAUTH2 protocol page.
GOOGLE_USER = "someuser@example.com"
GOOGLE_TOKEN = "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"
GOOGLE_IR = (
    "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNr"
    "QmhkSFJoZG1semRHRXVZMjl0Q2cBAQ=="
)
# RFC 7628 §3.2.2's error document, as base64 in the 334 (the RFC's own §4.3 example).
OAUTH_ERROR = (
    "eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NvcGUiOiJleGFtcGxlX3Njb3BlIiwib3BlbmlkLWNvbmZpZ3Vy"
    "YXRpb24iOiJodHRwczovL2V4YW1wbGUuY29tLy53ZWxsLWtub3duL29wZW5pZC1jb25maWd1cmF0aW9uIn0="
)


def test_plain_rfc4954_example(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p, "AUTH PLAIN")
        p.expect("AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm")  # empty authzid (SPEC A7)
        p.reply("235 2.7.0 Authentication successful")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.auth(TIM, TANSTAAF) is True
    assert smtp.code() == 235
    assert smtp.quit() is True
    server.join()


def test_plain_long_initial_response_waits_for_334(scripted: type[ScriptedServer], connect: Connect) -> None:
    # SECURITY CI-08: an AUTH line over 512 octets drops the initial response.
    password = "p" * 600

    def script(p: Peer) -> None:
        greet(p, "AUTH PLAIN")
        p.expect("AUTH PLAIN")
        p.reply("334 ")
        p.expect(b64("\0tim\0" + password))
        p.reply("235 2.7.0 ok")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.auth(TIM, password, "PLAIN") is True
    smtp.quit()
    server.join()


def test_login(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p, "AUTH LOGIN")
        p.expect("AUTH LOGIN")
        p.reply("334 VXNlcm5hbWU6")  # "Username:"
        p.expect("dGlt")
        p.reply("334 UGFzc3dvcmQ6")  # "Password:"
        p.expect(b64(TANSTAAF))
        p.reply("235 2.7.0 Authentication successful")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.auth(TIM, TANSTAAF) is True
    smtp.quit()
    server.join()


def test_login_password_that_spells_a_verb(scripted: type[ScriptedServer], connect: Connect) -> None:
    # b64("AB-") == "QUIt": the continuation line must be paired as AUTH, not as QUIT,
    # or the session would think the 235 ended the connection.
    def script(p: Peer) -> None:
        greet(p, "AUTH LOGIN")
        p.expect("AUTH LOGIN")
        p.reply("334 VXNlcm5hbWU6")
        p.expect("dGlt")
        p.reply("334 UGFzc3dvcmQ6")
        p.expect("QUIt")
        p.reply("235 2.7.0 ok")
        p.expect("NOOP")
        p.reply("250 ok")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.auth(TIM, "AB-") is True
    assert smtp.noop() is True
    smtp.quit()
    server.join()


def test_cram_md5_rfc2195(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p, "AUTH CRAM-MD5")
        p.expect("AUTH CRAM-MD5")
        p.reply("334 " + b64(CRAM_CHALLENGE))
        p.expect(b64(CRAM_RESPONSE))
        p.reply("235 2.7.0 Authentication successful")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.auth(TIM, TANSTAAF) is True
    smtp.quit()
    server.join()


def scram_script(mech: str, vector: dict[str, str]) -> object:
    def script(p: Peer) -> None:
        greet(p, f"AUTH {mech} PLAIN")
        # No TLS, so the gs2 header is "n,," (no channel binding possible).
        p.expect(f"AUTH {mech} " + b64(f"n,,n=user,r={vector['nonce']}"))
        p.reply("334 " + b64(vector["server_first"]))
        p.expect(b64(vector["client_final"]))
        p.reply("334 " + b64(vector["server_final"]))
        p.expect("")  # RFC 4954: the server-final goes in a 334, answered by an empty line
        p.reply("235 2.7.0 Authentication successful")
        serve_quit(p)

    return script


@pytest.mark.parametrize(("mech", "vector"), [("SCRAM-SHA-256", SHA256), ("SCRAM-SHA-1", SHA1)])
def test_scram_rfc_vectors_chosen_by_default(
    scripted: type[ScriptedServer],
    connect: Connect,
    monkeypatch: pytest.MonkeyPatch,
    mech: str,
    vector: dict[str, str],
) -> None:
    # The client nonce comes from secrets.token_urlsafe: fixed here to the RFC's.
    monkeypatch.setattr(scram, "secrets", types.SimpleNamespace(token_urlsafe=lambda n: vector["nonce"]))
    server = scripted(scram_script(mech, vector))  # type: ignore[arg-type]
    smtp = connect(server)
    assert smtp.auth("user", "pencil") is True  # SCRAM preferred over PLAIN
    smtp.quit()
    server.join()


def test_scram_as_a_mechanism_object(scripted: type[ScriptedServer], connect: Connect) -> None:
    server = scripted(scram_script("SCRAM-SHA-256", SHA256))  # type: ignore[arg-type]
    smtp = connect(server)
    mech = ScramMechanism("SCRAM-SHA-256", "user", "pencil", nonce=SHA256["nonce"])
    assert smtp.auth(mech) is True
    smtp.quit()
    server.join()


def test_xoauth2_google_example(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p, "AUTH LOGIN PLAIN XOAUTH2 OAUTHBEARER")
        p.expect("AUTH XOAUTH2 " + GOOGLE_IR)
        p.reply("235 2.7.0 Accepted")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.auth(GOOGLE_USER, GOOGLE_TOKEN, mechanism="XOAUTH2") is True
    smtp.quit()
    server.join()


def test_xoauth2_error_challenge(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p, "AUTH XOAUTH2")
        p.expect("AUTH XOAUTH2 " + GOOGLE_IR)
        p.reply("334 " + OAUTH_ERROR)
        p.expect("")  # Google: an empty response, then the final error
        p.reply("535 5.7.8 Username and Password not accepted")
        p.expect("NOOP")
        p.reply("250 ok")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.auth(GOOGLE_USER, GOOGLE_TOKEN, mechanism="xoauth2") is False
    assert smtp.code() == 535
    assert smtp.noop() is True  # still in step
    smtp.quit()
    server.join()


def test_oauthbearer_with_host_port_and_error_challenge(
    scripted: type[ScriptedServer], connect: Connect
) -> None:
    token = "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="
    port_box: list[int] = []

    def script(p: Peer) -> None:
        greet(p, "AUTH OAUTHBEARER")
        port = p.sock.getsockname()[1]
        port_box.append(port)
        p.expect(
            "AUTH OAUTHBEARER "
            + b64(f"n,a=user@example.com,\x01host=127.0.0.1\x01port={port}\x01auth=Bearer {token}\x01\x01")
        )
        p.reply("334 " + OAUTH_ERROR)
        p.expect("AQ==")  # RFC 7628 §3.2.3: a single %x01
        p.reply("535 5.7.8 Authentication credentials invalid")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.auth("user@example.com", token, mechanism="OAUTHBEARER") is False
    assert smtp.code() == 535
    smtp.quit()
    server.join()


def test_oauth_token_callable_is_called_once_per_attempt(
    scripted: type[ScriptedServer], connect: Connect
) -> None:
    calls: list[int] = []

    def fresh_token() -> str:
        calls.append(1)
        return GOOGLE_TOKEN

    def script(p: Peer) -> None:
        greet(p, "AUTH XOAUTH2")
        p.expect("AUTH XOAUTH2 " + GOOGLE_IR)
        p.reply("235 2.7.0 Accepted")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert calls == []  # not fetched before auth()
    assert smtp.auth(GOOGLE_USER, fresh_token, mechanism="XOAUTH2") is True
    assert calls == [1]
    smtp.quit()
    server.join()


def test_caller_order_for_several_names(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p, "AUTH CRAM-MD5 LOGIN PLAIN")
        p.expect("AUTH LOGIN")  # the caller's first choice that the server offers
        p.reply("504 5.5.4 not today")
        p.expect("AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm")
        p.reply("235 2.7.0 ok")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.auth(TIM, TANSTAAF, mechanism="LOGIN PLAIN") is True
    smtp.quit()
    server.join()


def test_long_oauth_token_waits_for_334(scripted: type[ScriptedServer], connect: Connect) -> None:
    # Microsoft 365 access tokens run to a couple of kilobytes: "AUTH XOAUTH2 <blob>" would
    # pass 512 octets, so the blob goes after the server's empty 334 (RFC 4954 §4, CI-08).
    token = "eyJ0eXAiOiJKV1QiLCJub25jZSI6" + "A" * 2000
    blob = b64(f"user=me@contoso.com\x01auth=Bearer {token}\x01\x01")

    def script(p: Peer) -> None:
        greet(p, "AUTH LOGIN XOAUTH2")
        p.expect("AUTH XOAUTH2")
        p.reply("334 ")
        p.expect(blob)
        p.reply("235 2.7.0 Authentication successful")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.auth("me@contoso.com", token, mechanism="XOAUTH2") is True
    smtp.quit()
    server.join()
