"""SCRAM-SHA-1 (RFC 5802) and SCRAM-SHA-256 (RFC 7677): RFC vectors and failure modes."""

from __future__ import annotations

import base64

import pytest

from netsmtp._core.sasl import ChannelBinding, Mechanism, SASLError, ScramMechanism

# RFC 5802 §5
SHA1_NONCE = "fyko+d2lbbFgONRv9qkxdawL"
SHA1_SERVER_FIRST = b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"
SHA1_CLIENT_FINAL = b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
SHA1_SERVER_FINAL = b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ="

# RFC 7677 §3
SHA256_NONCE = "rOprNGfwEbeRWgbNEkqO"
SHA256_SERVER_FIRST = (
    b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
)
SHA256_CLIENT_FINAL = (
    b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
)
SHA256_SERVER_FINAL = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="


def sha1() -> ScramMechanism:
    return ScramMechanism("SCRAM-SHA-1", "user", "pencil", nonce=SHA1_NONCE)


def sha256() -> ScramMechanism:
    return ScramMechanism("SCRAM-SHA-256", "user", "pencil", nonce=SHA256_NONCE)


def test_rfc5802_scram_sha1_example() -> None:
    mech = sha1()
    assert mech.initial_response() == b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"
    assert mech.respond(SHA1_SERVER_FIRST) == SHA1_CLIENT_FINAL
    assert mech.respond(SHA1_SERVER_FINAL) == b""
    mech.finish()


def test_rfc7677_scram_sha256_example() -> None:
    mech = sha256()
    assert mech.initial_response() == b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
    assert mech.respond(SHA256_SERVER_FIRST) == SHA256_CLIENT_FINAL
    assert mech.respond(SHA256_SERVER_FINAL) == b""
    mech.finish()


def test_flags_and_protocol() -> None:
    mech = sha256()
    assert isinstance(mech, Mechanism)
    assert mech.name == "SCRAM-SHA-256"
    assert not mech.exposes_secret
    assert not mech.needs_channel_binding
    plus = ScramMechanism("scram-sha-1-plus", "u", "p", channel_binding=ChannelBinding("tls-exporter", b"x"))
    assert plus.name == "SCRAM-SHA-1-PLUS"
    assert plus.needs_channel_binding


def test_wrong_server_signature_fails_even_after_success() -> None:
    mech = sha256()
    mech.initial_response()
    mech.respond(SHA256_SERVER_FIRST)
    with pytest.raises(SASLError, match="server signature"):
        mech.respond(b"v=" + base64.b64encode(b"\x00" * 32))
    with pytest.raises(SASLError):
        mech.finish()


def test_missing_server_signature_makes_finish_fail() -> None:
    # The server answers the client-final with 235 directly: it never proved itself.
    mech = sha1()
    mech.initial_response()
    mech.respond(SHA1_SERVER_FIRST)
    with pytest.raises(SASLError, match="server signature"):
        mech.finish()


def test_finish_before_anything_fails() -> None:
    with pytest.raises(SASLError):
        sha1().finish()


def test_server_error_e_invalid_proof() -> None:
    mech = sha1()
    mech.initial_response()
    mech.respond(SHA1_SERVER_FIRST)
    with pytest.raises(SASLError, match="invalid-proof"):
        mech.respond(b"e=invalid-proof")
    with pytest.raises(SASLError):
        mech.finish()


def test_server_error_in_first_message() -> None:
    mech = sha1()
    mech.initial_response()
    with pytest.raises(SASLError, match="unknown-user"):
        mech.respond(b"e=unknown-user")


@pytest.mark.parametrize(
    "server_first",
    [
        # nonce does not start with ours
        b"r=XXXX+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
        # nonce is exactly ours: nothing added by the server
        b"r=fyko+d2lbbFgONRv9qkxdawL,s=QSXCR+Q6sek8bf92,i=4096",
        # a prefix of ours
        b"r=fyko+d2lbb,s=QSXCR+Q6sek8bf92,i=4096",
    ],
)
def test_server_nonce_must_extend_ours(server_first: bytes) -> None:
    mech = sha1()
    mech.initial_response()
    with pytest.raises(SASLError, match="nonce"):
        mech.respond(server_first)


@pytest.mark.parametrize(
    "server_first",
    [
        b"",
        b"garbage",
        b"m=ext,r=fyko+d2lbbFgONRv9qkxdawLabc,s=QSXCR+Q6sek8bf92,i=4096",
        b"s=QSXCR+Q6sek8bf92,r=fyko+d2lbbFgONRv9qkxdawLabc,i=4096",  # wrong order
        b"r=fyko+d2lbbFgONRv9qkxdawLabc,s=QSXCR+Q6sek8bf92",  # no i=
        b"r=fyko+d2lbbFgONRv9qkxdawLabc,s=!!!,i=4096",  # bad base64 salt
        b"r=fyko+d2lbbFgONRv9qkxdawLabc,s=,i=4096",  # empty salt
        b"r=fyko+d2lbbFgONRv9qkxdawLabc,s=QSXCR+Q6sek8bf92,i=0",
        b"r=fyko+d2lbbFgONRv9qkxdawLabc,s=QSXCR+Q6sek8bf92,i=-1",
        b"r=fyko+d2lbbFgONRv9qkxdawLabc,s=QSXCR+Q6sek8bf92,i=abc",
        b"r=fyko+d2lbbFgONRv9qkxdawLabc,s=QSXCR+Q6sek8bf92,i=\xd9\xa1",  # Arabic-Indic digit
        b"r=fyko+d2lbbFgONRv9qkxdawLabc,s=QSXCR+Q6sek8bf92,i=99999999999999999999",
        b"r=fyko+d2lbbFgONRv9qkxdawLabc,s=QSXCR+Q6sek8bf92,i=10000001",  # over the DoS cap
        b"r=fyko+d2lbbFgONRv9qkxdawL\x01x,s=QSXCR+Q6sek8bf92,i=4096",  # unprintable nonce
        b"\xff\xfe",  # not UTF-8
    ],
)
def test_malformed_server_first(server_first: bytes) -> None:
    mech = sha1()
    mech.initial_response()
    with pytest.raises(SASLError):
        mech.respond(server_first)


def test_extensions_after_iteration_count_are_ignored() -> None:
    mech = sha1()
    mech.initial_response()
    # Same vector plus an extension: the auth message includes it, so only the client
    # proof's format can be checked here, not its value.
    final = mech.respond(SHA1_SERVER_FIRST + b",x=future")
    assert final.startswith(b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=")


def test_min_iterations_can_be_raised() -> None:
    mech = ScramMechanism("SCRAM-SHA-1", "user", "pencil", nonce=SHA1_NONCE, min_iterations=10000)
    mech.initial_response()
    with pytest.raises(SASLError, match="iteration"):
        mech.respond(SHA1_SERVER_FIRST)


@pytest.mark.parametrize("server_final", [b"", b"x=1", b"v=***", b"\xff"])
def test_malformed_server_final(server_final: bytes) -> None:
    mech = sha1()
    mech.initial_response()
    mech.respond(SHA1_SERVER_FIRST)
    with pytest.raises(SASLError):
        mech.respond(server_final)


def test_extra_challenge_after_server_final() -> None:
    mech = sha1()
    mech.initial_response()
    mech.respond(SHA1_SERVER_FIRST)
    mech.respond(SHA1_SERVER_FINAL)
    with pytest.raises(SASLError):
        mech.respond(b"")


def test_username_escaping_and_authzid() -> None:
    mech = ScramMechanism("SCRAM-SHA-256", "a,b=c", "pw", authzid="ad=m,in", nonce="abc")
    assert mech.initial_response() == b"n,a=ad=3Dm=2Cin,n=a=2Cb=3Dc,r=abc"


def test_username_is_saslprepped_as_a_query() -> None:
    mech = ScramMechanism("SCRAM-SHA-256", "I\u00adX\u0221", "pw", nonce="abc")
    assert mech.initial_response() == "n,,n=IX\u0221,r=abc".encode()


@pytest.mark.parametrize(("user", "password"), [("user", "a\x07b"), ("user", "\u0627\u0031"), ("a\nb", "pw")])
def test_saslprep_failure_raises_value_error_up_front(user: str, password: str) -> None:
    with pytest.raises(ValueError):
        ScramMechanism("SCRAM-SHA-256", user, password)


def test_password_is_saslprepped() -> None:
    # "pen\u00adcil" maps to "pencil": same proof as the RFC vector.
    mech = ScramMechanism("SCRAM-SHA-256", "user", "pen\u00adcil", nonce=SHA256_NONCE)
    mech.initial_response()
    assert mech.respond(SHA256_SERVER_FIRST) == SHA256_CLIENT_FINAL


def test_gs2_flags() -> None:
    cb = ChannelBinding("tls-server-end-point", b"\x01\x02\x03")
    plain = ScramMechanism("SCRAM-SHA-1", "u", "p", nonce="n1")
    assert plain.initial_response().startswith(b"n,,")
    could_bind = ScramMechanism("SCRAM-SHA-1", "u", "p", nonce="n1", channel_binding=cb)
    assert could_bind.initial_response().startswith(b"y,,")
    assert could_bind.respond(b"r=n1x,s=QSXCR+Q6sek8bf92,i=1").startswith(b"c=eSws,")  # base64("y,,")
    plus = ScramMechanism("SCRAM-SHA-1-PLUS", "u", "p", nonce="n1", channel_binding=cb)
    assert plus.initial_response() == b"p=tls-server-end-point,,n=u,r=n1"
    final = plus.respond(b"r=n1x,s=QSXCR+Q6sek8bf92,i=1")
    expected_c = base64.b64encode(b"p=tls-server-end-point,," + b"\x01\x02\x03")
    assert final.startswith(b"c=" + expected_c + b",r=n1x,p=")


def test_plus_requires_channel_binding() -> None:
    with pytest.raises(ValueError):
        ScramMechanism("SCRAM-SHA-256-PLUS", "u", "p")


@pytest.mark.parametrize("name", ["SCRAM-MD5", "PLAIN", "SCRAM-SHA-256-PLUS-PLUS"])
def test_unknown_scram_name(name: str) -> None:
    with pytest.raises(ValueError):
        ScramMechanism(name, "u", "p", channel_binding=ChannelBinding("tls-exporter", b"x"))


@pytest.mark.parametrize("nonce", ["", "a,b", "a b", "é"])
def test_bad_injected_nonce(nonce: str) -> None:
    with pytest.raises(ValueError):
        ScramMechanism("SCRAM-SHA-1", "u", "p", nonce=nonce)


def test_random_nonce_is_fresh_and_printable() -> None:
    first = ScramMechanism("SCRAM-SHA-256", "u", "p").initial_response()
    second = ScramMechanism("SCRAM-SHA-256", "u", "p").initial_response()
    assert first != second
    nonce = first.split(b",r=")[1]
    assert len(nonce) >= 24
    assert b"," not in nonce
    assert all(0x21 <= c <= 0x7E for c in nonce)


def test_initial_response_only_once() -> None:
    mech = sha1()
    mech.initial_response()
    with pytest.raises(SASLError):
        mech.initial_response()


def test_repr_hides_the_password() -> None:
    assert "pencil" not in repr(sha1())
