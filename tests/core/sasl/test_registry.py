"""create(), choose() and the preference order (SPEC A7, SECURITY AU-04, CI-13)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netsmtp._core import sasl
from netsmtp._core.sasl import (
    OAUTH_MECHANISMS,
    PREFERENCE,
    ChannelBinding,
    CramMD5Mechanism,
    LoginMechanism,
    Mechanism,
    OAuthBearerMechanism,
    PlainMechanism,
    ScramMechanism,
    XOAuth2Mechanism,
    choose,
    create,
    server_mechanisms,
)
from netsmtp._exceptions import SMTPError

CB = ChannelBinding("tls-server-end-point", b"\x01" * 32)


def test_preference_order() -> None:
    assert PREFERENCE == (
        "SCRAM-SHA-256-PLUS",
        "SCRAM-SHA-256",
        "SCRAM-SHA-1-PLUS",
        "SCRAM-SHA-1",
        "CRAM-MD5",
        "PLAIN",
        "LOGIN",
    )
    assert OAUTH_MECHANISMS == ("OAUTHBEARER", "XOAUTH2")
    assert sasl.names() == PREFERENCE + OAUTH_MECHANISMS


@pytest.mark.parametrize(
    ("name", "cls", "exposes"),
    [
        ("SCRAM-SHA-256-PLUS", ScramMechanism, False),
        ("SCRAM-SHA-256", ScramMechanism, False),
        ("SCRAM-SHA-1-PLUS", ScramMechanism, False),
        ("scram-sha-1", ScramMechanism, False),
        ("CRAM-MD5", CramMD5Mechanism, False),
        ("PLAIN", PlainMechanism, True),
        ("login", LoginMechanism, True),
        ("XOAUTH2", XOAuth2Mechanism, True),
        ("OAUTHBEARER", OAuthBearerMechanism, True),
    ],
)
def test_create(name: str, cls: type, exposes: bool) -> None:
    mech = create(name, "joe", "secret", channel_binding=CB if name.endswith("PLUS") else None)
    assert isinstance(mech, cls)
    assert isinstance(mech, Mechanism)
    assert mech.name == name.upper()
    assert mech.exposes_secret is exposes
    assert sasl.exposes_secret(name) is exposes
    assert mech.needs_channel_binding is name.endswith("PLUS")


def test_create_passes_options() -> None:
    plain = create("PLAIN", "joe", "secret", authzid="admin")
    assert plain.initial_response() == b"admin\x00joe\x00secret"
    bearer = create("OAUTHBEARER", "joe", lambda: "tok", host="smtp.example.com", port=587)
    assert (
        bearer.initial_response()
        == b"n,a=joe,\x01host=smtp.example.com\x01port=587\x01auth=Bearer tok\x01\x01"
    )
    scram = create("SCRAM-SHA-256", "joe", "pw", authzid="admin", channel_binding=CB)
    first = scram.initial_response()
    assert first is not None
    assert first.startswith(b"y,a=admin,n=joe,r=")


@pytest.mark.parametrize("name", ["NTLM", "GSSAPI", "", "DIGEST-MD5", "X-FOO\x01BAR", "plaın", "ſcram-sha-1"])
def test_create_unknown(name: str) -> None:
    with pytest.raises(ValueError, match="unknown"):
        create(name, "joe", "secret")


def test_create_refusals() -> None:
    with pytest.raises(ValueError):
        create("SCRAM-SHA-256-PLUS", "joe", "pw")  # no channel binding
    with pytest.raises(ValueError):
        create("LOGIN", "joe", "pw", authzid="admin")
    with pytest.raises(ValueError):
        create("XOAUTH2", "joe", "tok", authzid="admin")
    with pytest.raises(TypeError):
        create("PLAIN", "joe", lambda: "pw")


def test_sasl_error_is_an_smtp_error() -> None:
    assert issubclass(sasl.SASLError, SMTPError)


# ---- choose ------------------------------------------------------------------------
def test_au04_strongest_whatever_the_server_order() -> None:
    offer = ["LOGIN", "PLAIN", "CRAM-MD5", "SCRAM-SHA-256"]
    for order in itertools.permutations(offer):
        assert choose(" ".join(order)) == ["SCRAM-SHA-256", "CRAM-MD5", "PLAIN", "LOGIN"]


def test_perl_observed_orders_give_our_choice() -> None:
    # SPEC B6: Net::SMTP/Authen::SASL kept the server's order on ties; we do not.
    assert choose("LOGIN PLAIN")[0] == "PLAIN"
    assert choose("PLAIN LOGIN")[0] == "PLAIN"
    assert choose("PLAIN LOGIN CRAM-MD5")[0] == "CRAM-MD5"


def test_ci13_garbage_tokens_are_ignored() -> None:
    offer = "PLAIN X-FOO\x01BAR " + "A" * 5000 + " LOGIN\x00 SCRAM-SHA-256\r"
    assert choose(offer) == ["PLAIN"]
    assert server_mechanisms(offer) == frozenset({"PLAIN"})


def test_only_ascii_space_and_tab_separate() -> None:
    # str.split() would split on these and find PLAIN and LOGIN (SECURITY CI-12).
    for sep in ("\x1c", "\x0b", "\x85", "\u2028", "\u3000"):
        assert choose(f"PLAIN{sep}LOGIN") == []
    assert choose("PLAIN\tLOGIN") == ["PLAIN", "LOGIN"]
    assert choose("  PLAIN   LOGIN  ") == ["PLAIN", "LOGIN"]


def test_unicode_case_folding_tricks_do_not_match() -> None:
    # "ı".upper() == "I" and "ſ".upper() == "S" in Python: never let those through.
    assert choose("PLAıN") == []
    assert choose("ſCRAM-SHA-256 LOGIN") == ["LOGIN"]


def test_lower_case_server_tokens_match() -> None:
    assert choose("scram-sha-1 plain") == ["SCRAM-SHA-1", "PLAIN"]


def test_server_list_as_iterable() -> None:
    assert choose(["PLAIN", "CRAM-MD5", 42]) == ["CRAM-MD5", "PLAIN"]  # type: ignore[list-item]


def test_oauth_only_when_asked() -> None:
    offer = "XOAUTH2 OAUTHBEARER PLAIN"
    assert choose(offer) == ["PLAIN"]
    assert choose(offer, OAUTH_MECHANISMS) == ["OAUTHBEARER", "XOAUTH2"]
    assert choose("XOAUTH2") == []


def test_available_order_is_the_preference() -> None:
    assert choose("PLAIN LOGIN SCRAM-SHA-1", ["LOGIN", "plain", "PLAIN"]) == ["LOGIN", "PLAIN"]
    policy = [n for n in PREFERENCE if not n.endswith("-PLUS")]
    assert choose("SCRAM-SHA-256-PLUS SCRAM-SHA-256", policy) == ["SCRAM-SHA-256"]


def test_custom_name_must_be_valid() -> None:
    assert choose("X-CUSTOM", ["X-CUSTOM"]) == ["X-CUSTOM"]
    assert choose("X CUSTOM", ["X CUSTOM"]) == []


@given(st.lists(st.sampled_from([*PREFERENCE, *OAUTH_MECHANISMS, "NTLM", "X-\x01", "a" * 30]), max_size=12))
def test_choose_is_a_subsequence_of_available(offer: list[str]) -> None:
    chosen = choose(" ".join(offer))
    assert chosen == [name for name in PREFERENCE if name in offer]


@given(st.text(max_size=300))
def test_choose_never_crashes_and_only_returns_our_names(offer: str) -> None:
    assert set(choose(offer)) <= set(PREFERENCE)
