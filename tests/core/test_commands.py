"""Command line validation and encoding (SPEC A2; SECURITY CI-01, CI-03, CI-07, CI-12)."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from netsmtp._core.commands import (
    DSN_MAIL_EXTRA,
    DSN_RCPT_EXTRA,
    MAX_COMMAND_LINE,
    check_argument,
    encode_line,
    verb_of,
)


@pytest.mark.parametrize(
    ("parts", "wire"),
    [
        (("QUIT",), b"QUIT\r\n"),
        (("EHLO", "client.example"), b"EHLO client.example\r\n"),
        (("MAIL", "FROM:<a@b>", "SIZE=10"), b"MAIL FROM:<a@b> SIZE=10\r\n"),
        (("NOOP", "a b", "c"), b"NOOP a b c\r\n"),
        (
            ("MAIL", "FROM:<Avsändaren@example.org>", "SMTPUTF8"),
            "MAIL FROM:<Avsändaren@example.org> SMTPUTF8\r\n".encode(),
        ),
        (("VRFY", "\u760d"), b"VRFY \xe7\x98\x8d\r\n"),  # CI-12's CJK example: E7 98 8D
        (("NOOP", "a\u2028b\x85c\x0b\x0c"), "NOOP a\u2028b\x85c\x0b\x0c\r\n".encode()),
        (("NOOP", ""), b"NOOP \r\n"),
        ((), b"\r\n"),
    ],
)
def test_encode_line(parts: tuple[str, ...], wire: bytes) -> None:
    assert encode_line(*parts) == wire


@pytest.mark.parametrize(
    "bad",
    [
        "a@example.org\r\nRCPT TO:<x@evil>",  # CI-01
        "a@example.org\nRCPT TO:<x@evil>",
        "a@example.org\rRCPT TO:<x@evil>",
        "a@exa\rmple.org",
        "a\x00b",
        "\r",
        "\n",
        "\x00",
        "client.example\r\nMAIL FROM:<x>",  # CI-03
    ],
)
def test_cr_lf_nul_raise(bad: str) -> None:
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        encode_line("MAIL", bad)
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        encode_line(bad)
    with pytest.raises(ValueError):
        check_argument(bad)


@pytest.mark.parametrize("fine", ["a\x0bb", "a\x7fb", "a\tb", "a\x85b", "a\u2028b", ""])
def test_check_argument_passes_other_text_through(fine: str) -> None:
    # Only CR, LF and NUL break a line; address-level checks reject the other controls.
    assert check_argument(fine) is fine


@pytest.mark.parametrize("value", [b"bytes", None, 5, ["a"]])
def test_non_str_argument_is_a_type_error(value: object) -> None:
    with pytest.raises(TypeError, match="must be a str"):
        encode_line("NOOP", value)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="hello domain must be a str"):
        check_argument(value, "hello domain")  # type: ignore[arg-type]


def test_check_argument_names_what_is_wrong() -> None:
    with pytest.raises(ValueError, match=r"^hello domain contains CR, LF or NUL"):
        check_argument("a\nb", "hello domain")


# ---- length limit (RFC 5321 §4.5.3.1.4: 512 octets including CRLF) ------------------------------
def test_limit_constants() -> None:
    assert MAX_COMMAND_LINE == 512
    assert (DSN_MAIL_EXTRA, DSN_RCPT_EXTRA) == (100, 500)


def test_510_characters_fit() -> None:
    line = encode_line("X" * 510)
    assert len(line) == 512
    assert line.endswith(b"X\r\n")


def test_511_characters_do_not() -> None:
    with pytest.raises(ValueError, match="513 octets exceeds the limit of 512"):
        encode_line("X" * 511)


def test_parts_and_spaces_count() -> None:
    assert len(encode_line("NOOP", "x" * 505)) == 512  # 4 + 1 + 505 + 2
    with pytest.raises(ValueError):
        encode_line("NOOP", "x" * 506)


def test_limit_is_in_octets_not_characters() -> None:
    assert len(encode_line("é" * 255)) == 512  # 510 octets of UTF-8
    with pytest.raises(ValueError):
        encode_line("é" * 255 + "x")
    with pytest.raises(ValueError):
        encode_line("\u760d" * 171)  # 171 characters, 513 octets


def test_raised_limit() -> None:
    limit = MAX_COMMAND_LINE + DSN_MAIL_EXTRA
    assert len(encode_line("X" * (limit - 2), limit=limit)) == limit
    with pytest.raises(ValueError):
        encode_line("X" * (limit - 1), limit=limit)


def test_lone_surrogate_is_a_value_error() -> None:
    # The argument cannot be encoded at all: UnicodeEncodeError, which is a ValueError, so
    # callers catching ValueError for "can never be sent" get it too (A2).
    with pytest.raises(ValueError) as info:
        encode_line("MAIL", "FROM:<\udce9@x>")
    assert isinstance(info.value, UnicodeEncodeError)


# ---- CI-12 property: after encoding, the only CR and LF are the final CRLF -------------------
_TRICKY = st.sampled_from(
    [
        "\r",
        "\n",
        "\x00",
        "\x85",
        "\u2028",
        "\u2029",
        "\x0b",
        "\x0c",
        "\x1c",
        "\ud800",
        "\udc0a",
        "\u760d",
        "\u010d",
        "\u0a0d",
    ]
)
_TEXT = st.text(st.one_of(st.characters(codec=None), _TRICKY), max_size=40)


@given(st.lists(_TEXT, min_size=1, max_size=5))
@example(["MAIL", "FROM:<a@b>\u2028RCPT TO:<x@y>"])
@example(["MAIL", "FROM:<a@b>\u010a"])  # U+010A: its UTF-8 bytes hold no 0x0A
@example(["NOOP", "\udc0d\udc0a"])  # surrogate escapes of CR and LF
def test_ci12_no_line_break_can_be_smuggled(parts: list[str]) -> None:
    try:
        line = encode_line(*parts)
    except ValueError:  # includes UnicodeEncodeError
        assert (
            any(c in p for p in parts for c in "\r\n\x00")
            or any(0xD800 <= ord(c) <= 0xDFFF for p in parts for c in p)
            or len(" ".join(parts).encode("utf-8", "surrogatepass")) + 2 > MAX_COMMAND_LINE
        )
        return
    assert line.endswith(b"\r\n")
    body = line[:-2]
    assert b"\r" not in body
    assert b"\n" not in body
    assert b"\x00" not in body
    assert body.decode("utf-8") == " ".join(parts)  # nothing was altered either
    assert len(line) <= MAX_COMMAND_LINE


# ---- verb_of -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("line", "verb"),
    [
        (b"MAIL FROM:<a@b> SIZE=1\r\n", "MAIL"),
        (b"RCPT TO:<a@b>\r\n", "RCPT"),
        (b"ehlo client\r\n", "EHLO"),
        (b"QUIT\r\n", "QUIT"),
        (b"DATA\r\n", "DATA"),
        (b"STARTTLS\r\n", "STARTTLS"),
        (b"AUTH PLAIN AGpvZQBzZWNyZXQ=\r\n", "AUTH"),
        (b"MAIL:FROM\r\n", "MAIL"),
        (b"\r\n", ""),
        (b"\xff\r\n", "\ufffd"),
    ],
)
def test_verb_of(line: bytes, verb: str) -> None:
    assert verb_of(line) == verb
