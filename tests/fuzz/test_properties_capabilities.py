"""Hypothesis properties of the EHLO capability parser on arbitrary reply lines (SPEC A3;
SECURITY MS-07, MS-18, MS-19, CI-13).

Whatever the lines: no exception; keywords fit ``[A-Z0-9][A-Z0-9-]*``; no value holds a
control character (CR above all) or surrounding blanks; the first line never counts;
SIZE is None or a bounded positive int; AUTH mechanisms are single upper-case tokens, and
only names from netsmtp's own list ever come out of ``sasl.choose``.
"""

from __future__ import annotations

import re

from hypothesis import example, given, settings
from hypothesis import strategies as st

from netsmtp._core import sasl
from netsmtp._core.capabilities import Capabilities
from netsmtp._core.reply import ReplyParser

KEYWORD = re.compile(r"[A-Z0-9][A-Z0-9-]*")
CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")

# Lines that look like capabilities (so the grammar is hit, not only missed) or anything.
WORDS = st.sampled_from(
    ["AUTH", "auth", "AUTH=", "SIZE", "size", "STARTTLS", "8BITMIME", "PIPELINING", "X-FOO", "-x", "ſize"]
)
VALUES = st.sampled_from(
    [
        "",
        " ",
        " PLAIN LOGIN",
        "=PLAIN",
        " 99999999999999999999999",
        " -5",
        " abc",
        " 0",
        " 0001000",
        " \u0661\u0662",  # Arabic-Indic digits: isdigit() but not ASCII
        " X\x01Y",
        " a\rb",
        " \x85x",
        " \u2028",
        "\t",
        " " + "A" * 300,
    ]
)
CAP_LINE = st.one_of(
    st.builds(lambda w, v: w + v, WORDS, VALUES),
    st.text(max_size=40),
    st.text(st.characters(codec="ascii"), max_size=30),
)
EHLO_LINES = st.lists(CAP_LINE, min_size=1, max_size=12).map(tuple)


def check(caps: Capabilities) -> None:
    for key in caps:
        assert KEYWORD.fullmatch(key), key
        assert key in caps
        assert key.lower() in caps
        value = caps[key]
        assert caps[key.lower()] == value
        assert not CONTROL.search(value), (key, value)
        assert value == value.strip(" \t")
    size = caps.size_limit
    assert size is None or 1 <= size <= 2**63 - 1
    for mechanism in caps.auth_mechanisms:
        assert mechanism == mechanism.upper()
        assert mechanism and not any(ch.isspace() for ch in mechanism)
    # Only netsmtp's own names ever go on a command line (CI-13).
    assert set(sasl.choose(caps.get("AUTH", ""), sasl.names())) <= set(sasl.names())
    assert len(caps) == len(list(caps))


@settings(max_examples=800)
@given(EHLO_LINES)
@example(("mail.example.org welcomes STARTTLS and AUTH PLAIN users", "SIZE 100"))
@example(("x", "SIZE 99999999999999999999999", "SIZE -5", "SIZE abc"))
@example(("x", "AUTH PLAIN X-FOO\x01BAR", "AUTH=" + "Y" * 5000))
@example(("x", "SIZE 100\r"))
def test_any_lines(lines: tuple[str, ...]) -> None:
    caps = Capabilities.from_ehlo(lines)
    check(caps)
    # The first line is the greeting, never a capability (MS-19).
    assert Capabilities.from_ehlo(("SIZE 1 STARTTLS AUTH PLAIN", *lines[1:])) == caps


@settings(max_examples=400)
@given(st.lists(st.binary(max_size=60).map(lambda b: b.replace(b"\n", b"")), min_size=1, max_size=10))
def test_any_bytes_through_the_reply_parser(lines: list[bytes]) -> None:
    # From the wire: any bytes as the text of a multi-line 250 (MS-07: not UTF-8 is fine).
    raw = b"".join(
        b"250" + (b"-" if i < len(lines) - 1 else b" ") + line + b"\r\n" for i, line in enumerate(lines)
    )
    parser = ReplyParser()
    parser.feed(raw)
    reply = parser.next_reply()
    assert reply is not None
    caps = Capabilities.from_ehlo(reply.lines)
    check(caps)


@settings(max_examples=300)
@given(st.text(st.sampled_from("0123456789"), min_size=1, max_size=6000))
def test_size_of_any_length(digits: str) -> None:
    # MS-18: never an int() of thousands of digits (CPython refuses past 4300), never a crash.
    limit = Capabilities.from_ehlo(("x", f"SIZE {digits}")).size_limit
    significant = digits.lstrip("0")
    value = int(significant or "0") if len(significant) <= 19 else None
    if value == 0:
        assert limit is None
    elif value is not None and value <= 2**63 - 1:
        assert limit == value
    else:
        assert limit == 2**63 - 1
