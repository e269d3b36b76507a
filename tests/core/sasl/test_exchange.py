"""AuthExchange: AUTH lines, 334 loops, limits and transcript redaction (RFC 4954 §4)."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netsmtp._core.reply import Reply
from netsmtp._core.sasl import (
    REDACTED,
    AuthExchange,
    AuthLine,
    CramMD5Mechanism,
    LoginMechanism,
    OAuthBearerMechanism,
    PlainMechanism,
    SASLError,
    ScramMechanism,
    XOAuth2Mechanism,
)
from netsmtp._exceptions import ProtocolError, UsageError


def r(code: int, *lines: str) -> Reply:
    return Reply.from_lines(code, lines or ("",))


def challenge(raw: bytes) -> Reply:
    return r(334, base64.b64encode(raw).decode())


def b64line(raw: bytes) -> bytes:
    return base64.b64encode(raw) + b"\r\n"


class Echo:
    """A custom mechanism: answers every challenge with b"ok" (for loop tests)."""

    name = "X-ECHO"
    exposes_secret = False
    needs_channel_binding = False

    def __init__(self, initial: bytes | None = None) -> None:
        self.initial = initial
        self.seen: list[bytes] = []

    def initial_response(self) -> bytes | None:
        return self.initial

    def respond(self, challenge: bytes) -> bytes:
        self.seen.append(challenge)
        return b"ok"

    def finish(self) -> None:
        return None


# ---- happy paths ---------------------------------------------------------------------
def test_plain_with_initial_response() -> None:
    exchange = AuthExchange(PlainMechanism("joe", "secret"))
    line = exchange.start()
    assert line == AuthLine(b"AUTH PLAIN AGpvZQBzZWNyZXQ=\r\n", "AUTH PLAIN <redacted>", True)
    assert exchange.receive(r(235, "2.7.0 Authentication successful")) is None
    assert exchange.done
    assert exchange.succeeded
    assert exchange.reply is not None
    assert exchange.reply.code == 235


def test_login() -> None:
    exchange = AuthExchange(LoginMechanism("joe", "secret"))
    assert exchange.start().data == b"AUTH LOGIN\r\n"
    first = exchange.receive(r(334, "VXNlcm5hbWU6"))
    assert first == AuthLine(b"am9l\r\n", REDACTED)
    second = exchange.receive(r(334, "UGFzc3dvcmQ6"))
    assert second == AuthLine(b"c2VjcmV0\r\n", REDACTED)
    assert exchange.receive(r(235)) is None
    assert exchange.succeeded


def test_cram_md5_rfc2195_through_the_exchange() -> None:
    exchange = AuthExchange(CramMD5Mechanism("tim", "tanstaaftanstaaf"))
    assert exchange.start().data == b"AUTH CRAM-MD5\r\n"
    line = exchange.receive(r(334, "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+"))
    assert line is not None
    assert line.data == b"dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n"
    assert exchange.receive(r(235)) is None


def scram_exchange() -> AuthExchange:
    return AuthExchange(ScramMechanism("SCRAM-SHA-256", "user", "pencil", nonce="rOprNGfwEbeRWgbNEkqO"))


SERVER_FIRST = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
SERVER_FINAL = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="


def test_scram_sha256_rfc7677_through_the_exchange() -> None:
    exchange = scram_exchange()
    assert exchange.start().data == b"AUTH SCRAM-SHA-256 " + b64line(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO")
    final = exchange.receive(challenge(SERVER_FIRST))
    assert final is not None
    assert base64.b64decode(final.data).endswith(b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
    assert exchange.receive(challenge(SERVER_FINAL)) == AuthLine(b"\r\n", "")
    assert exchange.receive(r(235)) is None
    assert exchange.succeeded


def test_scram_235_without_server_signature_is_a_failure() -> None:
    exchange = scram_exchange()
    exchange.start()
    exchange.receive(challenge(SERVER_FIRST))
    with pytest.raises(SASLError, match="server signature") as info:
        exchange.receive(r(235))
    assert info.value.reply is not None
    assert info.value.reply.code == 235  # the server thinks we are in: close the connection
    assert not exchange.succeeded


def test_scram_wrong_server_signature_cancels() -> None:
    exchange = scram_exchange()
    exchange.start()
    exchange.receive(challenge(SERVER_FIRST))
    assert exchange.receive(challenge(b"v=" + base64.b64encode(b"x" * 32))) == AuthLine(b"*\r\n", "*")
    assert exchange.cancelled
    with pytest.raises(SASLError, match="wrong server signature") as info:
        exchange.receive(r(501, "5.7.0 Authentication cancelled"))
    assert info.value.reply is not None
    assert info.value.reply.code == 501


def test_scram_server_error_cancels() -> None:
    exchange = scram_exchange()
    exchange.start()
    exchange.receive(challenge(SERVER_FIRST))
    assert exchange.receive(challenge(b"e=invalid-proof")) == AuthLine(b"*\r\n", "*")
    with pytest.raises(SASLError, match="invalid-proof"):
        exchange.receive(r(501))


@pytest.mark.parametrize("code", [535, 504, 534, 454, 538])
def test_server_refusal_is_a_clean_result(code: int) -> None:
    exchange = AuthExchange(PlainMechanism("joe", "secret"))
    exchange.start()
    assert exchange.receive(r(code, "no")) is None
    assert exchange.done
    assert not exchange.succeeded
    assert exchange.reply is not None
    assert exchange.reply.code == code


def test_empty_initial_response_is_an_equals_sign() -> None:
    assert AuthExchange(Echo(b"")).start() == AuthLine(b"AUTH X-ECHO =\r\n", "AUTH X-ECHO =", True)


# ---- CI-08: initial response too long ---------------------------------------------------
def test_ci08_long_plain_password_is_sent_after_the_334() -> None:
    password = "p" * 600
    exchange = AuthExchange(PlainMechanism("joe", password))
    line = exchange.start()
    assert line == AuthLine(b"AUTH PLAIN\r\n", "AUTH PLAIN", True)
    assert exchange.initial_response_deferred
    response = exchange.receive(r(334))
    assert response == AuthLine(b64line(b"\x00joe\x00" + password.encode()), REDACTED)
    assert exchange.receive(r(235)) is None
    assert exchange.succeeded


def test_ci08_boundary() -> None:
    # "AUTH X-ECHO-X " is 14 octets and CRLF 2: 496 octets of base64 (372 raw) make
    # exactly 512 and still go on the AUTH line; 373 raw (500 base64) do not.
    fits = Echo(b"a" * 372)
    fits.name = "X-ECHO-X"
    line = AuthExchange(fits).start()
    assert len(line.data) == 512
    assert line.data == b"AUTH X-ECHO-X " + b64line(b"a" * 372)
    over = Echo(b"a" * 373)
    over.name = "X-ECHO-X"
    exchange = AuthExchange(over)
    assert exchange.start().data == b"AUTH X-ECHO-X\r\n"
    assert exchange.receive(r(334)) == AuthLine(b64line(b"a" * 373), REDACTED)


# ---- MS-16: loops and bad challenges ---------------------------------------------------
def test_ms16_endless_334_loop_is_cancelled_after_ten_rounds() -> None:
    mech = Echo()
    exchange = AuthExchange(mech)
    exchange.start()
    for _ in range(10):
        line = exchange.receive(r(334, "eHl6"))
        assert line == AuthLine(b"b2s=\r\n", REDACTED)
    assert exchange.receive(r(334, "eHl6")) == AuthLine(b"*\r\n", "*")
    assert len(mech.seen) == 10
    with pytest.raises(SASLError, match="more than 10"):
        exchange.receive(r(501, "cancelled"))


def test_ms16_server_ignoring_the_cancel_is_a_protocol_error() -> None:
    exchange = AuthExchange(Echo(), max_rounds=2)
    exchange.start()
    exchange.receive(r(334, "eHl6"))
    exchange.receive(r(334, "eHl6"))
    assert exchange.receive(r(334, "eHl6")) == AuthLine(b"*\r\n", "*")
    with pytest.raises(ProtocolError):
        exchange.receive(r(334, "eHl6"))


def test_success_after_cancel_is_a_protocol_error() -> None:
    exchange = AuthExchange(Echo())
    exchange.start()
    exchange.receive(r(334, "!!!notbase64"))
    with pytest.raises(ProtocolError):
        exchange.receive(r(235))


@pytest.mark.parametrize("text", ["!!!notbase64", "eHl", "eHl6=", "eH l6", "é", "eHl6\x00"])
def test_ms16_bad_base64_is_cancelled(text: str) -> None:
    mech = Echo()
    exchange = AuthExchange(mech)
    exchange.start()
    assert exchange.receive(r(334, text)) == AuthLine(b"*\r\n", "*")
    assert mech.seen == []
    with pytest.raises(SASLError, match="base64"):
        exchange.receive(r(501, "5.5.2 Syntax error"))


def test_surrounding_blanks_are_tolerated() -> None:
    mech = Echo()
    exchange = AuthExchange(mech)
    exchange.start()
    exchange.receive(r(334, "eHl6 "))
    assert mech.seen == [b"xyz"]


def test_over_long_challenge_is_cancelled() -> None:
    exchange = AuthExchange(Echo())
    exchange.start()
    big = "A" * 12292  # valid base64, longer than 12288 octets
    assert exchange.receive(r(334, big)) == AuthLine(b"*\r\n", "*")
    with pytest.raises(SASLError, match="longer"):
        exchange.receive(r(501))


def test_multi_line_challenge_is_cancelled() -> None:
    exchange = AuthExchange(Echo())
    exchange.start()
    assert exchange.receive(r(334, "eHl6", "eHl6")) == AuthLine(b"*\r\n", "*")


def test_other_3xx_is_a_protocol_error() -> None:
    exchange = AuthExchange(Echo())
    exchange.start()
    with pytest.raises(ProtocolError):
        exchange.receive(r(354, "go ahead"))


# ---- custom mechanisms that misbehave ---------------------------------------------------
class Broken(Echo):
    def respond(self, challenge: bytes) -> bytes:
        raise KeyError("bug")


def test_custom_mechanism_bug_cancels_and_chains() -> None:
    exchange = AuthExchange(Broken())
    exchange.start()
    assert exchange.receive(r(334, "eHl6")) == AuthLine(b"*\r\n", "*")
    with pytest.raises(SASLError, match="KeyError") as info:
        exchange.receive(r(501))
    assert isinstance(info.value.__cause__, SASLError)
    assert isinstance(info.value.__cause__.__cause__, KeyError)


class ReturnsStr(Echo):
    def respond(self, challenge: bytes) -> bytes:
        return "text"  # type: ignore[return-value]


def test_custom_mechanism_returning_str_cancels() -> None:
    exchange = AuthExchange(ReturnsStr())
    exchange.start()
    assert exchange.receive(r(334, "eHl6")) == AuthLine(b"*\r\n", "*")


@pytest.mark.parametrize("name", ["", "BAD NAME", "X" * 21, "PLAIN\r\nRSET", "PLAİN"])
def test_invalid_mechanism_name(name: str) -> None:
    mech = Echo()
    mech.name = name
    with pytest.raises(ValueError):
        AuthExchange(mech).start()


def test_initial_response_must_be_bytes() -> None:
    with pytest.raises(TypeError):
        AuthExchange(Echo("text")).start()  # type: ignore[arg-type]


def test_lower_case_name_is_sent_upper_case() -> None:
    mech = Echo()
    mech.name = "x-echo"
    assert AuthExchange(mech).start().data == b"AUTH X-ECHO\r\n"


def test_usage_errors() -> None:
    exchange = AuthExchange(Echo())
    with pytest.raises(UsageError):
        exchange.receive(r(334))
    exchange.start()
    with pytest.raises(UsageError):
        exchange.start()
    exchange.receive(r(235))
    with pytest.raises(UsageError):
        exchange.receive(r(235))


# ---- OAuth failure flows ---------------------------------------------------------------
ERROR_JSON = b'{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}'


def test_xoauth2_failure_flow() -> None:
    exchange = AuthExchange(XOAuth2Mechanism("u@example.com", "tok"))
    assert exchange.start().text == "AUTH XOAUTH2 <redacted>"
    assert exchange.receive(challenge(ERROR_JSON)) == AuthLine(b"\r\n", "")
    assert exchange.receive(r(535, "5.7.8 Username and Password not accepted")) is None
    assert not exchange.succeeded


def test_oauthbearer_failure_flow() -> None:
    exchange = AuthExchange(OAuthBearerMechanism("u@example.com", "tok", host="smtp.example.com", port=587))
    exchange.start()
    assert exchange.receive(challenge(ERROR_JSON)) == AuthLine(b"AQ==\r\n", REDACTED)
    assert exchange.receive(r(535)) is None
    assert not exchange.succeeded


# ---- AU-07: redaction ------------------------------------------------------------------
def transcript(exchange: AuthExchange, challenges: list[Reply]) -> tuple[list[str], bytes]:
    lines = [exchange.start()]
    if exchange.initial_response_deferred:
        challenges = [r(334), *challenges]
    for reply in challenges:
        line = exchange.receive(reply)
        if line is None:
            break
        lines.append(line)
    return [line.text for line in lines], b"".join(line.data for line in lines)


def allowed_texts(name: str) -> set[str]:
    return {f"AUTH {name}", f"AUTH {name} {REDACTED}", f"AUTH {name} =", REDACTED, "", "*"}


passwords = st.text(min_size=1, max_size=700).filter(lambda s: not any(c in s for c in "\r\n\x00"))
tokens = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=300)
LOGIN_CHALLENGES = [r(334, "VXNlcm5hbWU6"), r(334, "UGFzc3dvcmQ6"), r(235)]


def assert_hidden(texts: list[str], secret: str, name: str, *wrapped: bytes) -> None:
    """Every transcript line is a fixed text that does not depend on the secret; and no
    form of the secret occurs, except by coincidence inside that fixed text (a password
    "PLAI" is in "AUTH PLAIN" whatever we do)."""
    allowed = allowed_texts(name)
    assert set(texts) <= allowed
    joined = "\n".join(texts)
    vocabulary = "\n".join(sorted(allowed))
    forms = [secret, base64.b64encode(secret.encode()).decode()]
    forms += [base64.b64encode(w).decode() for w in wrapped]
    for form in forms:
        if form not in vocabulary:
            assert form not in joined


@given(passwords)
def test_redaction_plain(password: str) -> None:
    texts, wire = transcript(AuthExchange(PlainMechanism("joe", password)), [r(235)])
    message = b"\x00joe\x00" + password.encode()
    assert base64.b64encode(message) in wire  # it really was sent ...
    assert_hidden(texts, password, "PLAIN", message)  # ... and never shown


@given(passwords)
def test_redaction_login(password: str) -> None:
    texts, wire = transcript(AuthExchange(LoginMechanism("joe", password)), LOGIN_CHALLENGES)
    assert base64.b64encode(password.encode()) in wire
    assert_hidden(texts, password, "LOGIN")


@given(passwords)
def test_redaction_cram_md5(password: str) -> None:
    texts, _ = transcript(AuthExchange(CramMD5Mechanism("joe", password)), [challenge(b"<1@x>"), r(235)])
    assert_hidden(texts, password, "CRAM-MD5")


@given(passwords)
def test_redaction_scram(password: str) -> None:
    try:
        mech = ScramMechanism("SCRAM-SHA-1", "user", password, nonce="abc")
    except ValueError as exc:  # SASLprep refused it: the message must not show it either
        if len(password) >= 3:
            assert password not in str(exc)
        return
    server_first = challenge(b"r=abcdef,s=QSXCR+Q6sek8bf92,i=1")
    texts, _ = transcript(AuthExchange(mech), [server_first])
    assert_hidden(texts, password, "SCRAM-SHA-1")


@given(tokens)
def test_redaction_oauth(token: str) -> None:
    for mech in (XOAuth2Mechanism("u@example.com", token), OAuthBearerMechanism("u@example.com", token)):
        texts, wire = transcript(AuthExchange(mech), [challenge(b"{}"), r(535)])
        assert b"Bearer " + token.encode() in base64.b64decode(wire.split(b"\r\n")[0].split(b" ")[2])
        assert_hidden(texts, token, mech.name)
