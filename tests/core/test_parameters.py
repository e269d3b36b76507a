"""ESMTP parameters of MAIL and RCPT (SPEC A8, Part B §7-8; SECURITY CI-04, CI-05, CI-06, CI-11)."""

from __future__ import annotations

from typing import Any

import pytest

from netsmtp._core.capabilities import Capabilities
from netsmtp._core.parameters import (
    MAIL_OPTIONS,
    RCPT_OPTIONS,
    Parameters,
    mail_parameters,
    normalise_options,
    rcpt_parameters,
)

# The server of Part B §7.2
CAPS_7_2 = Capabilities.from_ehlo(
    ("mx", "SIZE", "AUTH PLAIN", "8BITMIME", "DSN", "XVERP", "ETRN", "CHECKPOINT", "BINARYMIME", "CHUNKING")
)
EVERYTHING = Capabilities.from_ehlo(
    (
        "mx",
        "SIZE 100",
        "AUTH PLAIN",
        "8BITMIME",
        "DSN",
        "XVERP",
        "CHECKPOINT",
        "BINARYMIME",
        "CHUNKING",
        "SMTPUTF8",
        "REQUIRETLS",
    )
)
NOTHING = Capabilities.from_ehlo(("mx", "PIPELINING"))


def mail(caps: Capabilities | None = EVERYTHING, path: str = "<a@b>", **options: Any) -> Parameters:
    return mail_parameters(options, caps, path)


def test_part_b_7_2_first_example() -> None:
    # Net::SMTP: Size=>"123abc", XVERP=>0, which A8 refuses (see the type tests); with
    # well-typed values the wire is Net::SMTP's, byte for byte.
    result = mail(
        CAPS_7_2,
        size=123,
        ret="full",
        bits="8",
        transaction="tx@id",
        envelope="id=+ x\x7f",
        xverp=True,
        auth="",
    )
    assert "MAIL FROM:<a@b>" + result.text == (
        "MAIL FROM:<a@b> SIZE=123 RET=FULL BODY=8BITMIME TRANSID=<tx@id> ENVID=id+3D+2B+20x+7F AUTH=<> XVERP"
    )
    assert result.dropped == []
    assert result.missing is None


def test_part_b_7_2_second_example() -> None:
    # Net::SMTP: Return=>"whatever" gives RET=HDRS; A8 raises instead (test below).
    result = mail(CAPS_7_2, ret="hdrs", bits=7, envid="PRE+2Bencoded", auth="sub+40x")
    assert "MAIL FROM:<a@b>" + result.text == (
        "MAIL FROM:<a@b> RET=HDRS BODY=7BIT ENVID=PRE+2Bencoded AUTH=sub+40x"
    )


def test_fixed_order_whatever_the_order_given() -> None:
    options = {
        "requiretls": True,
        "smtputf8": True,
        "xverp": True,
        "auth": "<>",
        "envid": "E",
        "transaction": "t@x",
        "bits": "8",
        "ret": "HDRS",
        "size": 5,
    }
    result = mail_parameters(options, EVERYTHING, "<a@b>")
    assert result.params == [
        "SIZE=5",
        "RET=HDRS",
        "BODY=8BITMIME",
        "TRANSID=<t@x>",
        "ENVID=E",
        "AUTH=<>",
        "XVERP",
        "SMTPUTF8",
        "REQUIRETLS",
    ]
    assert result.text == " " + " ".join(result.params)


def test_no_options() -> None:
    result = mail()
    assert (result.params, result.text, result.dropped, result.missing) == ([], "", [], None)


def test_none_values_are_skipped() -> None:
    assert mail(NOTHING, size=None, ret=None, envid=None).dropped == []


@pytest.mark.parametrize(
    ("bits", "caps", "param"),
    [
        ("8", EVERYTHING, "BODY=8BITMIME"),
        (8, EVERYTHING, "BODY=8BITMIME"),
        ("7", EVERYTHING, "BODY=7BIT"),
        ("7", Capabilities.from_ehlo(("mx", "BINARYMIME")), "BODY=7BIT"),
        ("binary", EVERYTHING, "BODY=BINARYMIME"),
        ("BINARY", EVERYTHING, "BODY=BINARYMIME"),
        ("binary", Capabilities.from_ehlo(("mx", "BINARYMIME", "8BITMIME")), None),  # needs CHUNKING
        ("binary", Capabilities.from_ehlo(("mx", "CHUNKING")), None),
        ("8", Capabilities.from_ehlo(("mx", "BINARYMIME")), None),
        ("7", NOTHING, None),
    ],
)
def test_bits(bits: object, caps: Capabilities, param: str | None) -> None:
    result = mail(caps, bits=bits)
    assert result.params == ([param] if param else [])
    assert len(result.dropped) == (0 if param else 1)


@pytest.mark.parametrize(
    ("options", "keyword"),
    [
        ({"size": 1}, "SIZE"),
        ({"ret": "FULL"}, "DSN"),
        ({"bits": "8"}, "8BITMIME"),
        ({"transaction": "t@x"}, "CHECKPOINT"),
        ({"envelope": "e"}, "DSN"),
        ({"envid": "e"}, "DSN"),
        ({"auth": "<>"}, "AUTH"),
        ({"xverp": True}, "XVERP"),
    ],
)
@pytest.mark.parametrize("caps", [NOTHING, None], ids=["ehlo", "helo"])
def test_unadvertised_option_is_dropped(
    options: dict[str, Any], keyword: str, caps: Capabilities | None
) -> None:
    # A8 / CI-05: dropped with a reason (the client warns), never sent anyway.
    result = mail_parameters(options, caps, "<a@b>")
    assert result.params == []
    assert result.missing is None
    [reason] = result.dropped
    assert reason.endswith(f"does not advertise {keyword}")
    assert reason.startswith(f"{next(iter(options))} option dropped")


def test_several_dropped_options_keep_the_others() -> None:
    caps = Capabilities.from_ehlo(("mx", "SIZE", "DSN"))
    result = mail(caps, size=10, bits="8", ret="FULL", xverp=True)
    assert result.params == ["SIZE=10", "RET=FULL"]
    assert len(result.dropped) == 2


def test_xverp_false_is_not_sent() -> None:
    # Net::SMTP sends XVERP for any defined value, 0 included (Part B §7.1); A8: a bool.
    assert mail(xverp=False).params == []
    assert mail(xverp=False).dropped == []
    assert mail(smtputf8=False, requiretls=False).params == []


def test_envelope_and_envid_together_are_refused() -> None:
    # Net::SMTP sends two ENVID parameters (Part B §7.2); A8: "never twice".
    with pytest.raises(ValueError, match="not both"):
        mail(envelope="raw", envid="encoded")


def test_envelope_is_xtext_encoded_over_utf8() -> None:
    assert mail(envelope="a+b=c d\xe9").params == ["ENVID=a+2Bb+3Dc+20d+C3+A9"]  # CI-06
    assert mail(envelope=b"\xe9").params == ["ENVID=+E9"]


def test_valid_envid_goes_out_unchanged() -> None:
    assert mail(envid="a+2Bb").params == ["ENVID=a+2Bb"]


@pytest.mark.parametrize("envid", ["+2", "+2b", "a b", "a=b", "x\r\nRSET", "é", "x NOTIFY=NEVER"])
def test_invalid_envid_is_a_value_error(envid: str) -> None:
    with pytest.raises(ValueError, match="xtext"):
        mail(envid=envid)


@pytest.mark.parametrize("auth", ["a b", "+2b", "x\r\nRSET", "a=b"])
def test_invalid_auth_is_a_value_error(auth: str) -> None:
    with pytest.raises(ValueError, match="auth must be valid xtext"):
        mail(auth=auth)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"size": "123abc"}, "size"),
        ({"size": "10 RET=FULL"}, "size"),  # CI-04
        ({"size": "100"}, "size"),
        ({"size": 1.5}, "size"),
        ({"size": True}, "size"),
        ({"size": -5}, "size"),
        ({"xverp": 0}, "xverp"),
        ({"xverp": 1}, "xverp"),
        ({"xverp": "yes"}, "xverp"),
        ({"smtputf8": 1}, "smtputf8"),
        ({"requiretls": "true"}, "requiretls"),
        ({"envelope": 5}, "envelope"),
        ({"envid": 5}, "envid"),
        ({"envid": b"E"}, "envid"),
        ({"ret": 1}, "ret"),
        ({"auth": 5}, "auth"),
    ],
)
def test_type_errors(options: dict[str, Any], match: str) -> None:
    with pytest.raises(TypeError, match=match):
        mail_parameters(options, EVERYTHING, "<a@b>")


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"ret": "whatever"}, "ret"),  # Net::SMTP: RET=HDRS
        ({"ret": "FULL HDRS"}, "ret"),
        ({"bits": "8bit"}, "bits"),  # Net::SMTP: BODY=7BIT
        ({"bits": True}, "bits"),
        ({"transaction": "a b"}, "space"),
        ({"transaction": "t@x\r\n"}, "control"),
    ],
)
def test_value_errors(options: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        mail_parameters(options, EVERYTHING, "<a@b>")


def test_ret_and_size_spellings() -> None:
    assert mail(ret="Full", size=0).params == ["SIZE=0", "RET=FULL"]


def test_transaction_follows_exact_mode() -> None:
    assert mail_parameters({"transaction": "Joe <t@x>"}, EVERYTHING, "<a@b>").params == ["TRANSID=<t@x>"]
    with pytest.raises(ValueError):
        mail_parameters({"transaction": "Joe <t@x>"}, EVERYTHING, "<a@b>", exact=True)


# ---- SMTPUTF8 and REQUIRETLS: never dropped, reported as missing ---------------------------------
@pytest.mark.parametrize(
    ("options", "path", "caps", "params", "missing"),
    [
        ({"smtputf8": True}, "<a@b>", EVERYTHING, ["SMTPUTF8"], None),
        ({"smtputf8": True}, "<a@b>", NOTHING, ["SMTPUTF8"], "SMTPUTF8"),
        ({"smtputf8": True}, "<a@b>", None, ["SMTPUTF8"], "SMTPUTF8"),
        ({}, "<Avsändaren@example.org>", EVERYTHING, ["SMTPUTF8"], None),  # CI-11: chosen for you
        ({}, "<Avsändaren@example.org>", NOTHING, ["SMTPUTF8"], "SMTPUTF8"),
        ({"smtputf8": False}, "<Avsändaren@example.org>", EVERYTHING, ["SMTPUTF8"], None),
        ({"requiretls": True}, "<a@b>", EVERYTHING, ["REQUIRETLS"], None),
        ({"requiretls": True}, "<a@b>", NOTHING, ["REQUIRETLS"], "REQUIRETLS"),
        ({"requiretls": True, "smtputf8": True}, "<a@b>", NOTHING, ["SMTPUTF8", "REQUIRETLS"], "SMTPUTF8"),
        (
            {"requiretls": True, "smtputf8": True},
            "<a@b>",
            Capabilities.from_ehlo(("mx", "SMTPUTF8")),
            ["SMTPUTF8", "REQUIRETLS"],
            "REQUIRETLS",
        ),
    ],
)
def test_missing(
    options: dict[str, Any], path: str, caps: Capabilities | None, params: list[str], missing: str | None
) -> None:
    result = mail_parameters(options, caps, path)
    assert result.params == params
    assert result.missing == missing
    assert result.dropped == []


# ---- RCPT ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("notify", "param"),
    [
        (["SUCCESS", "FAILURE"], "NOTIFY=SUCCESS,FAILURE"),
        (["success"], "NOTIFY=SUCCESS"),
        (("DELAY", "FAILURE", "SUCCESS"), "NOTIFY=DELAY,FAILURE,SUCCESS"),
        (["NEVER"], "NOTIFY=NEVER"),
        (["never"], "NOTIFY=NEVER"),
    ],
)
def test_notify(notify: Any, param: str) -> None:
    assert rcpt_parameters({"notify": notify}, EVERYTHING).params == [param]


@pytest.mark.parametrize("notify", ["SUCCESS", "NEVER", b"NEVER", bytearray(b"NEVER"), 5, {"SUCCESS"}])
def test_notify_must_be_a_list(notify: Any) -> None:
    # Net::SMTP dies on a string (Part B §8); A8: TypeError.
    with pytest.raises(TypeError, match="notify must be a list"):
        rcpt_parameters({"notify": notify}, EVERYTHING)


@pytest.mark.parametrize(
    "notify",
    [
        ["NEVER", "SUCCESS"],  # Net::SMTP sends this as given
        ["SUCCESS", "NEVER"],
        [],
        ["SUCCESS", "SUCCESS"],
        ["sometimes"],
        ["SUCCESS\r\nRSET"],
        ["SUCCESS,FAILURE"],
    ],
)
def test_notify_values(notify: list[str]) -> None:
    with pytest.raises(ValueError, match="notify"):
        rcpt_parameters({"notify": notify}, EVERYTHING)


@pytest.mark.parametrize(
    ("orcpt", "param"),
    [
        ("rfc822;u+40x", "ORCPT=rfc822;u+40x"),  # Part B §8 observed
        ("rfc822;user@example.org", "ORCPT=rfc822;user@example.org"),
        ("utf-8;x", "ORCPT=utf-8;x"),
    ],
)
def test_orcpt(orcpt: str, param: str) -> None:
    assert rcpt_parameters({"orcpt": orcpt}, EVERYTHING).params == [param]


@pytest.mark.parametrize(
    "orcpt",
    [
        "rfc822;x@y NOTIFY=NEVER",  # CI-04: the Net::SMTP injection case
        "rfc822;x@y\r\nRSET",
        "rfc822",
        "rfc822;",
        ";x@y",
        "-bad;x@y",
        "rfc 822;x@y",
        "rfc822;+2b",
        "rfc822;x=y",
    ],
)
def test_orcpt_invalid(orcpt: str) -> None:
    with pytest.raises(ValueError, match="orcpt"):
        rcpt_parameters({"orcpt": orcpt}, EVERYTHING)


def test_orcpt_type() -> None:
    with pytest.raises(TypeError, match="orcpt must be a str"):
        rcpt_parameters({"orcpt": b"rfc822;x"}, EVERYTHING)


def test_rcpt_order_and_drop() -> None:
    both = {"orcpt": "rfc822;u+40x", "notify": ["SUCCESS", "FAILURE"]}
    assert rcpt_parameters(both, EVERYTHING).text == " NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;u+40x"
    for caps in (NOTHING, None):
        result = rcpt_parameters(both, caps)
        assert result.params == []
        assert [r.split(" ")[0] for r in result.dropped] == ["notify", "orcpt"]
        assert all(r.endswith("does not advertise DSN") for r in result.dropped)


def test_rcpt_validates_even_when_dropping() -> None:
    with pytest.raises(ValueError):
        rcpt_parameters({"orcpt": "rfc822;x y"}, NOTHING)
    with pytest.raises(TypeError):
        rcpt_parameters({"notify": "NEVER"}, None)


# ---- option names ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("given", "known", "result"),
    [
        ({"size": 1, "Return": "FULL"}, MAIL_OPTIONS, {"size": 1, "ret": "FULL"}),
        ({"Size": 1, "ENVID": "x", "XVERP": True}, MAIL_OPTIONS, {"size": 1, "envid": "x", "xverp": True}),
        (
            {"Transaction": "t", "Envelope": "e", "Bits": "8"},
            MAIL_OPTIONS,
            {"transaction": "t", "envelope": "e", "bits": "8"},
        ),
        ({"AUTH": "<>", "smtputf8": True}, MAIL_OPTIONS, {"auth": "<>", "smtputf8": True}),
        (
            {"Notify": ["NEVER"], "ORcpt": "x;y", "SkipBad": True},
            RCPT_OPTIONS,
            {"notify": ["NEVER"], "orcpt": "x;y", "skip_bad": True},
        ),
        ({}, RCPT_OPTIONS, {}),
    ],
)
def test_normalise_options(given: dict[str, Any], known: dict[str, str], result: dict[str, Any]) -> None:
    assert normalise_options(given, known, "mail") == result


@pytest.mark.parametrize("name", ["SIZE", "Ret", "Returns", "notify", "xVerp", "bogus"])
def test_unknown_option_is_a_type_error(name: str) -> None:
    with pytest.raises(TypeError, match=rf"mail\(\) got an unexpected option '{name}'"):
        normalise_options({name: 1}, MAIL_OPTIONS, "mail")


@pytest.mark.parametrize(("python", "perl"), [*MAIL_OPTIONS.items()])
def test_both_spellings_is_a_type_error(python: str, perl: str) -> None:
    with pytest.raises(TypeError, match="twice"):
        normalise_options({python: 1, perl: 2}, MAIL_OPTIONS, "mail")
    with pytest.raises(TypeError, match="twice"):
        normalise_options({perl: 1, python: 2}, MAIL_OPTIONS, "mail")


def test_rcpt_spellings_do_not_mix_with_mail() -> None:
    with pytest.raises(TypeError):
        normalise_options({"Notify": ["NEVER"]}, MAIL_OPTIONS, "mail")
    with pytest.raises(TypeError):
        normalise_options({"size": 1}, RCPT_OPTIONS, "recipient")
