"""Hypothesis properties of the reply parser beyond tests/core/test_properties.py (SPEC A4;
SECURITY MS-01..MS-07).

* No input makes it raise anything but ProtocolError, and after one it refuses everything.
* Its caps hold in memory after every step: while it waits for a line end it never holds
  more than ``max_line_length`` bytes, and a reply being read never holds more than
  ``max_lines`` lines or ``max_reply_size`` bytes.
* Every reply it returns has the grammar's code, lines without CR/LF, and is within caps.
"""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from netsmtp._core.reply import MAX_LINE_LENGTH, Reply, ReplyParser
from netsmtp._core.session import Session
from netsmtp._exceptions import ProtocolError

CODE = re.compile(r"[2-5][0-5][0-9]")

# Pieces that make parsers trip: valid and invalid codes, separators, line ends of every
# kind, bytes that are not UTF-8, and runs of text.
TOKENS = st.sampled_from(
    [
        b"250",
        b"250-",
        b"250 ",
        b"220 ok",
        b"354",
        b"421 bye",
        b"550-",
        b"099",
        b"600",
        b"2500",
        b"25",
        b"abc",
        b"\r\n",
        b"\n",
        b"\r",
        b"\r\r\n",
        b" ",
        b"-",
        b"\x00",
        b"\xff\xfe",
        b"\xc3\xa9",
        b"\xe2\x80\xa8",
        b"\x85",
        b"AUTH PLAIN",
        b"x" * 40,
    ]
)
STREAMS = st.one_of(st.lists(TOKENS, max_size=60).map(b"".join), st.binary(max_size=400))


@st.composite
def caps(draw: st.DrawFn) -> tuple[int, int, int]:
    return (draw(st.integers(4, 80)), draw(st.integers(1, 6)), draw(st.integers(8, 300)))


@st.composite
def cut(draw: st.DrawFn, data: bytes) -> list[bytes]:
    points = sorted(draw(st.lists(st.integers(0, len(data)), max_size=12)))
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def check_reply(reply: Reply, max_lines: int) -> None:
    assert CODE.fullmatch(str(reply.code))
    assert 1 <= len(reply.lines) <= max_lines
    for line in reply.lines:
        assert "\n" not in line
    if reply.enhanced_status is not None:
        assert reply.enhanced_status[0] == str(reply.code)[0]


def check_bounded(parser: ReplyParser, waiting: bool) -> None:
    """The caps, as they stand in memory right now."""
    assert len(parser._lines) <= parser.max_lines
    assert parser._size <= parser.max_reply_size
    assert len(parser._raw) == len(parser._lines)
    if waiting:  # next_reply() said "more bytes needed": what it holds is one unfinished line
        assert parser.buffered <= parser.max_line_length


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(caps(), STREAMS, st.data())
@example((8, 2, 20), b"250-a\r\n250-b\r\n250 c\r\n", None)
@example((8, 5, 300), b"250 " + b"x" * 40, None)
def test_any_bytes_any_cuts_only_protocol_error_and_caps_hold(
    limits: tuple[int, int, int], raw: bytes, data: st.DataObject | None
) -> None:
    max_line, max_lines, max_size = limits
    pieces = data.draw(cut(raw)) if data is not None else [raw]
    parser = ReplyParser(max_line_length=max_line, max_lines=max_lines, max_reply_size=max_size)
    try:
        for piece in pieces:
            parser.feed(piece)
            while True:
                reply = parser.next_reply()
                check_bounded(parser, waiting=reply is None)
                if reply is None:
                    break
                check_reply(reply, max_lines)
                assert sum(len(r) + 2 for r in parser._completed_raw) <= max_size + 2 * max_lines
    except ProtocolError:
        # Broken for good: nothing is kept and nothing more is read.
        assert parser.buffered == 0
        with pytest.raises(ProtocolError):
            parser.feed(b"250 ok\r\n")
        with pytest.raises(ProtocolError):
            parser.next_reply()


@settings(max_examples=300)
@given(
    st.integers(1, 64),
    st.lists(st.binary(min_size=1, max_size=50).map(lambda b: b.replace(b"\n", b"")), max_size=20),
)
def test_no_line_end_never_grows_past_the_line_cap(max_line: int, pieces: list[bytes]) -> None:
    # MS-01: a stream without LF. After every feed the parser either still waits, holding
    # at most max_line bytes, or has failed and holds nothing.
    parser = ReplyParser(max_line_length=max_line)
    for piece in pieces:
        try:
            parser.feed(piece)
            assert parser.next_reply() is None
        except ProtocolError:
            assert parser.buffered == 0
            assert sum(map(len, pieces)) > max_line
            return
        assert parser.buffered <= max_line


@settings(max_examples=200)
@given(st.integers(1, 30), st.integers(1, 200), st.lists(st.integers(0, 20), min_size=1, max_size=60))
def test_endless_multiline_reply_hits_a_cap(max_lines: int, max_size: int, lengths: list[int]) -> None:
    # MS-02: continuation lines forever. The reply in progress stays within both caps, and
    # the parser fails as soon as either is passed (never later).
    parser = ReplyParser(max_line_length=64, max_lines=max_lines, max_reply_size=max_size)
    count = size = 0
    for n in lengths:
        line = b"250-" + b"x" * n + b"\r\n"
        count, size = count + 1, size + len(line)
        parser.feed(line)
        try:
            assert parser.next_reply() is None
        except ProtocolError:
            assert count > max_lines or size > max_size
            return
        assert count <= max_lines
        assert size <= max_size
        check_bounded(parser, waiting=True)


def test_default_caps_hold_for_megabytes_without_a_line_end() -> None:
    # MS-01 with the real defaults, fed as a socket would (64 KiB reads).
    parser = ReplyParser()
    with pytest.raises(ProtocolError, match="longer than"):
        for _ in range(256):  # 16 MiB
            parser.feed(b"A" * 65536)
            assert parser.next_reply() is None
            assert parser.buffered <= MAX_LINE_LENGTH
    assert parser.buffered == 0


# ---- the session on top: replies paired with commands, whatever the server sends ----------------
VERBS = st.sampled_from(["EHLO", "HELO", "MAIL", "RCPT", "DATA", "STARTTLS", "NOOP", "QUIT", "AUTH", "RSET"])


@settings(max_examples=400)
@given(st.lists(VERBS, min_size=1, max_size=6), STREAMS, st.data())
def test_session_raises_only_protocol_errors(verbs: list[str], raw: bytes, data: st.DataObject) -> None:
    session = Session()
    session.receive_data(b"220 ready\r\n")
    assert session.next_reply() is not None
    for verb in verbs:
        session.command(f"{verb}\r\n".encode())
    try:
        for piece in data.draw(cut(raw)):
            session.receive_data(piece)
            while (result := session.next_reply()) is not None:
                verb, reply = result
                check_reply(reply, session.parser.max_lines)
                if session.capabilities is not None:
                    for key, value in session.capabilities.items():
                        assert re.fullmatch(r"[A-Z0-9][A-Z0-9-]*", key)
                        assert not re.search(r"[\x00-\x08\x0a-\x1f\x7f]", value)
    except ProtocolError:
        assert session.closed
