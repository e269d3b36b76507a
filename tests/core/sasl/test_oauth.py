"""XOAUTH2 and OAUTHBEARER (RFC 7628)."""

from __future__ import annotations

import base64

import pytest

from netsmtp._core.sasl import Mechanism, OAuthBearerMechanism, SASLError, XOAuth2Mechanism

ERROR_JSON = b'{"status":"invalid_token","scope":"example_scope"}'


def test_xoauth2_google_example() -> None:
    # Google's XOAUTH2 protocol page: the SMTP example for someuser@example.com.
    mech = XOAuth2Mechanism("someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg")
    response = mech.initial_response()
    assert response == (
        b"user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01"
    )
    assert base64.b64encode(response) == (
        b"dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNr"
        b"QmhkSFJoZG1semRHRXVZMjl0Q2cBAQ=="
    )
    mech.finish()


def test_xoauth2_error_challenge_gets_an_empty_response() -> None:
    mech = XOAuth2Mechanism("u@example.com", "tok")
    mech.initial_response()
    assert mech.respond(ERROR_JSON) == b""
    assert mech.error == ERROR_JSON.decode()
    with pytest.raises(SASLError):
        mech.respond(ERROR_JSON)


def test_oauthbearer_rfc7628_example() -> None:
    # RFC 7628 §4.1 (IMAP example; the SASL message is the same in SMTP).
    mech = OAuthBearerMechanism(
        "user@example.com", "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==", host="server.example.com", port=143
    )
    response = mech.initial_response()
    assert response == (
        b"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01"
        b"auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01"
    )
    assert base64.b64encode(response) == (
        b"bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9QmVhcmVy"
        b"IHZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB"
    )


def test_oauthbearer_without_host_port_or_user() -> None:
    assert OAuthBearerMechanism("", "tok").initial_response() == b"n,,\x01auth=Bearer tok\x01\x01"
    assert (
        OAuthBearerMechanism("a,b=c", "tok").initial_response()
        == b"n,a=a=2Cb=3Dc,\x01auth=Bearer tok\x01\x01"
    )


def test_oauthbearer_error_challenge_gets_a_single_control_a() -> None:
    # RFC 7628 §3.2.3 and the §4.3 example: the client answers "AQ==" (%x01).
    mech = OAuthBearerMechanism("user@example.com", "tok")
    mech.initial_response()
    response = mech.respond(ERROR_JSON)
    assert response == b"\x01"
    assert base64.b64encode(response) == b"AQ=="
    assert mech.error is not None
    assert "invalid_token" in mech.error


def test_token_callable_is_called_once_at_initial_response() -> None:
    calls: list[int] = []

    def fresh() -> str:
        calls.append(1)
        return f"token{len(calls)}"

    mech = XOAuth2Mechanism("u", fresh)
    assert calls == []
    assert b"Bearer token1" in mech.initial_response()
    assert calls == [1]
    with pytest.raises(SASLError):
        mech.initial_response()


@pytest.mark.parametrize("token", ["", "a b", "a\x01b", "a\r\nb", "tök"])
def test_bad_tokens(token: str) -> None:
    with pytest.raises(ValueError) as info:
        XOAuth2Mechanism("u", token).initial_response()
    if len(token) > 1:
        assert token not in str(info.value)
    with pytest.raises(ValueError):
        OAuthBearerMechanism("u", lambda: token).initial_response()


def test_token_type_checked() -> None:
    with pytest.raises(TypeError):
        XOAuth2Mechanism("u", 42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        XOAuth2Mechanism("u", lambda: 42).initial_response()  # type: ignore[arg-type,return-value]


@pytest.mark.parametrize("user", ["a\x01b", "a\nb", "a\x00b"])
def test_bad_usernames(user: str) -> None:
    with pytest.raises(ValueError):
        XOAuth2Mechanism(user, "tok")
    with pytest.raises(ValueError):
        OAuthBearerMechanism(user, "tok")


@pytest.mark.parametrize(
    ("host", "port"), [("a b", None), ("a\x01b", None), (None, 0), (None, 65536), (None, True)]
)
def test_bad_host_port(host: str | None, port: int | None) -> None:
    with pytest.raises(ValueError):
        OAuthBearerMechanism("u", "tok", host=host, port=port)


def test_flags_and_repr() -> None:
    for mech in (XOAuth2Mechanism("u", "sekrit-token"), OAuthBearerMechanism("u", "sekrit-token")):
        assert isinstance(mech, Mechanism)
        assert mech.exposes_secret
        assert not mech.needs_channel_binding
        assert "sekrit" not in repr(mech)
