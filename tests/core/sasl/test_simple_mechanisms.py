"""PLAIN (RFC 4616), LOGIN and CRAM-MD5 (RFC 2195) as bare mechanism objects."""

from __future__ import annotations

import base64

import pytest

from netsmtp._core.sasl import (
    CramMD5Mechanism,
    LoginMechanism,
    Mechanism,
    PlainMechanism,
    SASLError,
)


def test_plain_rfc4616_example() -> None:
    # RFC 4616 §4, first example: <NUL>tim<NUL>tanstaaftanstaaf (21 octets).
    mech = PlainMechanism("tim", "tanstaaftanstaaf")
    response = mech.initial_response()
    assert response == b"\x00tim\x00tanstaaftanstaaf"
    assert len(response) == 21


def test_plain_empty_authzid_by_default_and_net_smtp_form_on_request() -> None:
    # SPEC A7: empty authorization identity. SPEC B6: Net::SMTP sends user\0user\0pass,
    # observed as "AUTH PLAIN am9lAGpvZQBzZWNyZXQ=" for joe/secret.
    assert base64.b64encode(PlainMechanism("joe", "secret").initial_response()) == b"AGpvZQBzZWNyZXQ="
    net_smtp = PlainMechanism("joe", "secret", authzid="joe").initial_response()
    assert base64.b64encode(net_smtp) == b"am9lAGpvZQBzZWNyZXQ="


def test_plain_utf8() -> None:
    assert PlainMechanism("jöe", "pässword").initial_response() == "\x00jöe\x00pässword".encode()


@pytest.mark.parametrize(
    ("username", "password", "authzid"),
    [
        ("jo\x00e", "secret", None),
        ("joe", "sec\x00ret", None),
        ("joe", "secret", "ad\x00min"),
        ("joe", "sec\r\nret", None),
        ("jo\ne", "secret", None),
    ],
)
def test_plain_rejects_nul_cr_lf(username: str, password: str, authzid: str | None) -> None:
    with pytest.raises(ValueError) as info:
        PlainMechanism(username, password, authzid=authzid)
    assert "sec" not in str(info.value)  # the message never echoes the secret


def test_plain_rejects_a_challenge() -> None:
    mech = PlainMechanism("joe", "secret")
    mech.initial_response()
    with pytest.raises(SASLError):
        mech.respond(b"")


def test_plain_rejects_non_str() -> None:
    with pytest.raises(TypeError):
        PlainMechanism("joe", b"secret")  # type: ignore[arg-type]


def test_login_answers_by_order_not_by_text() -> None:
    mech = LoginMechanism("joe", "secret")
    assert mech.initial_response() is None
    assert mech.respond(b"Password:") == b"joe"  # text is ignored on purpose
    assert mech.respond(b"Benutzername:") == b"secret"
    with pytest.raises(SASLError):
        mech.respond(b"Username:")
    mech.finish()


def test_login_rejects_nul() -> None:
    with pytest.raises(ValueError):
        LoginMechanism("joe", "a\x00b")


def test_cram_md5_rfc2195_example() -> None:
    mech = CramMD5Mechanism("tim", "tanstaaftanstaaf")
    assert mech.initial_response() is None
    response = mech.respond(b"<1896.697170952@postoffice.reston.mci.net>")
    assert response == b"tim b913a602c7eda7a495b4e6e7334d3890"
    # RFC 2195 §2 also gives the base64 form of the exchange.
    assert base64.b64encode(response) == b"dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"
    mech.finish()


def test_cram_md5_rejects_empty_and_second_challenge() -> None:
    with pytest.raises(SASLError):
        CramMD5Mechanism("tim", "pw").respond(b"")
    mech = CramMD5Mechanism("tim", "pw")
    mech.respond(b"<1@x>")
    with pytest.raises(SASLError):
        mech.respond(b"<2@x>")


def test_flags() -> None:
    assert PlainMechanism("a", "b").exposes_secret
    assert LoginMechanism("a", "b").exposes_secret
    assert not CramMD5Mechanism("a", "b").exposes_secret
    for mech in (PlainMechanism("a", "b"), LoginMechanism("a", "b"), CramMD5Mechanism("a", "b")):
        assert not mech.needs_channel_binding
        assert isinstance(mech, Mechanism)


@pytest.mark.parametrize("cls", [PlainMechanism, LoginMechanism, CramMD5Mechanism])
def test_repr_hides_the_password(cls: type[PlainMechanism]) -> None:
    text = repr(cls("joe", "hunter2-secret"))
    assert "joe" in text
    assert "hunter2" not in text
