"""xtext (RFC 3461 §4; SPEC A8, Part B §14; SECURITY CI-06)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netsmtp._core.xtext import is_xtext, xtext, xtext_decode


@pytest.mark.parametrize(
    ("raw", "encoded"),
    [
        ("id=+ x\x7f", "id+3D+2B+20x+7F"),  # Part B §14
        ("a+b=c d\xe9", "a+2Bb+3Dc+20d+C3+A9"),  # CI-06: over UTF-8 bytes
        (b"a+b=c d\xe9", "a+2Bb+3Dc+20d+E9"),  # bytes are taken as they are
        ("caf\xe9\u263a", "caf+C3+A9+E2+98+BA"),  # Net::SMTP gives the invalid caf+E9+263A
        ("", ""),
        ("!\"#$%&'()*,-./0123456789:;<>?@", "!\"#$%&'()*,-./0123456789:;<>?@"),
        ("ABCxyz[\\]^_`{|}~", "ABCxyz[\\]^_`{|}~"),
        ("\x00\t\r\n", "+00+09+0D+0A"),
        ("user@example.org", "user@example.org"),
        (bytes(range(0x7F, 0x82)), "+7F+80+81"),
        (bytearray(b"+"), "+2B"),
    ],
)
def test_xtext(raw: str | bytes, encoded: str) -> None:
    assert xtext(raw) == encoded
    assert is_xtext(encoded)


@pytest.mark.parametrize(
    "value",
    [
        "+2",  # CI-06
        "+2b",  # lower-case hex is not xtext
        "+",
        "a+",
        "+G0",
        "+2B+",
        "a b",
        "a=b",
        "a\x7f",
        "é",
        "a\r\n",
        "x NOTIFY=NEVER",
    ],
)
def test_not_xtext(value: str) -> None:
    assert not is_xtext(value)
    with pytest.raises(ValueError, match="not valid xtext"):
        xtext_decode(value)


@pytest.mark.parametrize("value", ["", "PRE+2Bencoded", "sub+40x", "+00", "+FF+2B+3D", "rfc822", "a!b~c"])
def test_is_xtext(value: str) -> None:
    assert is_xtext(value)


@pytest.mark.parametrize(
    ("encoded", "raw"),
    [
        ("id+3D+2B+20x+7F", b"id=+ x\x7f"),
        ("a+2Bb+3Dc+20d+C3+A9", b"a+b=c d\xc3\xa9"),
        ("", b""),
        ("+00", b"\x00"),
        ("+2B2B", b"+2B"),  # decoded once, not recursively
    ],
)
def test_xtext_decode(encoded: str, raw: bytes) -> None:
    assert xtext_decode(encoded) == raw


@given(st.binary(max_size=64))
def test_round_trip_bytes(raw: bytes) -> None:
    encoded = xtext(raw)
    assert is_xtext(encoded)
    assert encoded.isascii()
    assert not any(c in encoded for c in " =\r\n\x00")
    assert xtext_decode(encoded) == raw


@given(st.text(max_size=32))
def test_round_trip_text(raw: str) -> None:
    encoded = xtext(raw)
    assert is_xtext(encoded)
    assert xtext_decode(encoded).decode("utf-8") == raw


@given(st.text(st.characters(min_codepoint=0, max_codepoint=0x7F), max_size=32))
def test_is_xtext_agrees_with_decode(value: str) -> None:
    # Whatever is_xtext accepts decodes, and re-encoding gives the same octets back (xtext
    # may encode more than it must, "+41" for "A", so octets are compared, not strings).
    if is_xtext(value):
        assert xtext_decode(xtext(xtext_decode(value))) == xtext_decode(value)
    else:
        with pytest.raises(ValueError):
            xtext_decode(value)
