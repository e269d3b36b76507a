"""The EHLO capability table (SPEC A3; SECURITY MS-07, MS-18, MS-19, CI-13)."""

from __future__ import annotations

import pytest

from netsmtp._core.capabilities import Capabilities
from netsmtp._core.reply import ReplyParser


def caps(*lines: str) -> Capabilities:
    """Capabilities of an EHLO reply whose first line is a greeting."""
    return Capabilities.from_ehlo(("mx.example.org greets you", *lines))


def test_typical_table() -> None:
    table = caps("PIPELINING", "SIZE 10240000", "8BITMIME", "AUTH PLAIN LOGIN", "DSN", "HELP")
    assert dict(table) == {
        "PIPELINING": "",
        "SIZE": "10240000",
        "8BITMIME": "",
        "AUTH": "PLAIN LOGIN",
        "DSN": "",
        "HELP": "",
    }
    assert list(table) == ["PIPELINING", "SIZE", "8BITMIME", "AUTH", "DSN", "HELP"]
    assert len(table) == 6


@pytest.mark.parametrize(
    "greeting",
    [
        "mail.example.org welcomes STARTTLS and AUTH PLAIN users",  # MS-19
        "STARTTLS",
        "AUTH PLAIN",
        "size.does.matter.af.MIL offers FIFTEEN extensions",  # Part B §4.2
        "smtp.gmail.com at your service",
    ],
)
def test_first_line_is_never_a_capability(greeting: str) -> None:
    table = Capabilities.from_ehlo((greeting, "SIZE 100"))
    assert dict(table) == {"SIZE": "100"}
    assert "STARTTLS" not in table
    assert "AUTH" not in table
    assert table.auth_mechanisms == ()


def test_ms19_through_the_parser() -> None:
    parser = ReplyParser()
    parser.feed(b"250-mail.example.org welcomes STARTTLS and AUTH PLAIN users\r\n250 SIZE 100\r\n")
    reply = parser.next_reply()
    assert reply is not None
    table = Capabilities.from_ehlo(reply.lines)
    assert dict(table) == {"SIZE": "100"}


def test_single_line_ehlo_has_no_capabilities() -> None:
    assert dict(Capabilities.from_ehlo(("mx.example.org",))) == {}
    assert dict(Capabilities.from_ehlo(())) == {}


@pytest.mark.parametrize(
    ("line", "key", "value"),
    [
        ("xverp", "XVERP", ""),
        ("8bitmime", "8BITMIME", ""),
        ("Size 100", "SIZE", "100"),
        ("X-EXPS GSSAPI NTLM", "X-EXPS", "GSSAPI NTLM"),
        ("SIZE   100  ", "SIZE", "100"),
        ("SIZE\t", "SIZE", ""),
        ("HELP ", "HELP", ""),
        ("AUTH=LOGIN PLAIN", "AUTH", "LOGIN PLAIN"),
        ("auth plain", "AUTH", "plain"),  # value case preserved
        ("DELIVERBY 300", "DELIVERBY", "300"),
        ("SIZE 100\r", "SIZE", "100"),  # A3: CR never leaks into values
        ("SIZE 100 \r", "SIZE", "100"),
        ("X-TAB a\tb", "X-TAB", "a\tb"),
        ("MT-PRIORITY MIXER", "MT-PRIORITY", "MIXER"),
    ],
)
def test_keyword_and_value(line: str, key: str, value: str) -> None:
    table = caps(line)
    assert dict(table) == {key: value}


@pytest.mark.parametrize(
    "line",
    [
        "",
        " SIZE 100",  # leading space: no keyword
        "-SIZE 100",  # a keyword starts with a letter or digit
        "SI_ZE 100",
        "SIZE:100",
        "SIZE\t100",
        "SIZE.100",
        "ÅUTH PLAIN",
        "AUTH PLAIN\rLOGIN",  # A3: an embedded CR makes the line invalid
        "SIZE 1\x00",
        "AUTH PLAIN X-FOO\x01BAR",  # CI-13
        "AUTH PLAIN\x7f",
        "\rSIZE 100",
    ],
)
def test_lines_outside_the_grammar_are_ignored(line: str) -> None:
    table = caps(line, "HELP")
    assert dict(table) == {"HELP": ""}


def test_no_value_ever_holds_a_control_character() -> None:
    lines = [f"K{i} a{chr(c)}b" for i, c in enumerate([*range(32), 127])] + ["SIZE 5\r", "AUTH x\r"]
    table = caps(*lines)
    for value in table.values():
        assert not any((ord(ch) < 32 and ch != "\t") or ord(ch) == 127 for ch in value), value
    assert table["SIZE"] == "5"
    assert table["AUTH"] == "x"
    assert table["K9"] == "a\tb"  # TAB is white space, not a control to reject


def test_lookup_is_case_insensitive() -> None:
    table = caps("STARTTLS", "size 42")
    assert "starttls" in table
    assert "StartTLS" in table
    assert table["size"] == "42"
    assert table.get("Size") == "42"
    assert "CHUNKING" not in table
    assert 42 not in table  # type: ignore[comparison-overlap]
    with pytest.raises(KeyError):
        table["CHUNKING"]


def test_later_duplicate_wins() -> None:
    table = caps("SIZE 100", "size 200")
    assert dict(table) == {"SIZE": "200"}


# ---- AUTH ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("lines", "value", "mechanisms"),
    [
        (("AUTH=LOGIN PLAIN", "AUTH PLAIN CRAM-MD5"), "LOGIN PLAIN CRAM-MD5", ("LOGIN", "PLAIN", "CRAM-MD5")),
        (("AUTH PLAIN CRAM-MD5", "AUTH=LOGIN PLAIN"), "PLAIN CRAM-MD5 LOGIN", ("PLAIN", "CRAM-MD5", "LOGIN")),
        (("AUTH=login", "AUTH LOGIN plain"), "login plain", ("LOGIN", "PLAIN")),  # no doubles
        (("AUTH", "AUTH PLAIN"), "PLAIN", ("PLAIN",)),
        (("AUTH PLAIN",), "PLAIN", ("PLAIN",)),
        (("AUTH  XOAUTH2\tOAUTHBEARER ",), "XOAUTH2\tOAUTHBEARER", ("XOAUTH2", "OAUTHBEARER")),
        (("AUTH=",), "", ()),
    ],
)
def test_auth_lists_are_merged(lines: tuple[str, ...], value: str, mechanisms: tuple[str, ...]) -> None:
    table = caps(*lines)
    assert table["AUTH"] == value
    assert table.auth_mechanisms == mechanisms


def test_no_auth_means_no_mechanisms() -> None:
    assert caps("SIZE 1").auth_mechanisms == ()


def test_long_mechanism_name_does_not_crash() -> None:
    # CI-13: odd tokens are kept as data, never acted on here.
    name = "X" * 5000
    table = caps(f"AUTH PLAIN {name}")
    assert table.auth_mechanisms == ("PLAIN", name)


# ---- SIZE (MS-18) -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "limit"),
    [
        ("10240000", 10240000),
        ("1", 1),
        ("0", None),  # RFC 1870: 0 means no fixed limit
        ("000", None),
        ("0010", 10),
        ("100 extra", 100),
        ("", None),
        ("-5", None),
        ("abc", None),
        ("12abc", None),
        ("+5", None),
        ("1.5", None),
        ("١٢٣", None),  # not ASCII digits
        ("²", None),
        ("9223372036854775807", 2**63 - 1),
        ("9223372036854775808", 2**63 - 1),  # clamped, not beyond the ceiling
        ("9999999999999999999", 2**63 - 1),
        ("99999999999999999999999", 2**63 - 1),
        ("9" * 5000, 2**63 - 1),  # more digits than int() accepts: no crash
        ("0" * 5000 + "7", 7),
    ],
)
def test_size_limit(value: str, limit: int | None) -> None:
    assert caps(f"SIZE {value}").size_limit == limit


def test_size_absent() -> None:
    assert caps("PIPELINING").size_limit is None


def test_ms18_absurd_table() -> None:
    lines = ["SIZE 99999999999999999999999", "SIZE -5", "SIZE abc"]
    assert caps(*lines).size_limit is None  # the last SIZE wins, and it is unusable
    many = caps(*(f"X-K{i} {i}" for i in range(10000)), "pipelining", "PIPELINING")
    assert len(many) == 10001
    assert many["X-K9999"] == "9999"
    assert "Pipelining" in many


def test_mapping_is_read_only_and_repr() -> None:
    table = Capabilities({"SIZE": "1"})
    assert repr(table) == "Capabilities({'SIZE': '1'})"
    with pytest.raises(TypeError):
        table["SIZE"] = "2"  # type: ignore[index]
    assert dict(Capabilities()) == {}
