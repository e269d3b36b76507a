"""Hypothesis properties of the DATA encoder and the reply parser (SPEC A1, A4; SECURITY SM-08, MS-04)."""

from __future__ import annotations

import itertools
import re

from hypothesis import example, given, settings
from hypothesis import strategies as st

from netsmtp._core.data import DataEncoder, encode_message, unstuff
from netsmtp._core.reply import Reply, ReplyParser
from netsmtp._exceptions import ProtocolError

# ---- the DATA encoder --------------------------------------------------------------------------
ALPHABET = st.sampled_from([b"a", b".", b"\r", b"\n", b"\x00", b"\xe9"])
MESSAGES = st.lists(ALPHABET, max_size=40).map(b"".join)


@st.composite
def chunked(draw: st.DrawFn) -> tuple[bytes, list[bytes]]:
    """A message and a random split of it into chunks (empty chunks included)."""
    message = draw(MESSAGES)
    cuts = sorted(draw(st.lists(st.integers(0, len(message)), max_size=8)))
    bounds = [0, *cuts, len(message)]
    return message, [message[a:b] for a, b in itertools.pairwise(bounds)]


def normalised(message: bytes) -> bytes:
    """What the receiver must get: every CRLF, lone CR and lone LF as CRLF, and the last
    line completed."""
    text = re.sub(rb"\r\n|\r|\n", b"\r\n", message)
    if text and not text.endswith(b"\r\n"):
        text += b"\r\n"
    return text


def stream(chunks: list[bytes]) -> bytes:
    encoder = DataEncoder()
    out = b"".join(encoder.encode(chunk) for chunk in chunks)
    assert encoder.bytes_in == sum(map(len, chunks))
    return out + encoder.finish()


SPLITS = [
    (b"a\r.\rb", [b"a\r", b".", b"\r", b"b"]),
    (b"\r\n.\r\n", [b"\r", b"\n.\r", b"\n"]),
    (b".\r\r\n.", [b".", b"\r", b"\r", b"\n", b"."]),
]


@settings(max_examples=500)
@given(chunked())
@example(SPLITS[0])
@example(SPLITS[1])
@example(SPLITS[2])
def test_encoder_properties(case: tuple[bytes, list[bytes]]) -> None:
    message, chunks = case
    wire = stream(chunks)
    # (a) streaming gives exactly the one-shot bytes
    assert wire == encode_message(message)
    # (b) never a CR or LF outside a CRLF
    bare = wire.replace(b"\r\n", b"")
    assert b"\r" not in bare
    assert b"\n" not in bare
    # (c) one end of data, at the very end; a lone ".\r\n" only for an empty message
    assert wire.endswith(b".\r\n")
    if message:
        assert wire.find(b"\r\n.\r\n") == len(wire) - 5
        assert not wire.startswith(b".\r\n")
    else:
        assert wire == b".\r\n"
    # (d) the receiver gets the message back, line endings normalised
    assert unstuff(wire) == normalised(message)


@settings(max_examples=200)
@given(chunked())
def test_lenient_receiver_sees_no_early_end(case: tuple[bytes, list[bytes]]) -> None:
    # SM-08: a receiver taking LF, CR or CRLF as a line end finds end-of-data only at the
    # final terminator.
    _, chunks = case
    lines = re.split(rb"\r\n|\r|\n", stream(chunks))
    assert lines[-2:] == [b".", b""]
    assert b"." not in lines[:-2]


@settings(max_examples=200)
@given(chunked(), st.lists(st.booleans(), max_size=10))
def test_raw_chunks_keep_the_end_marker_right(case: tuple[bytes, list[bytes]], raw_flags: list[bool]) -> None:
    # rawdatasend mixed in anywhere: whatever the raw bytes, the payload still ends with
    # CRLF "." CRLF, so the server sees the end of the data.
    _, chunks = case
    encoder = DataEncoder()
    out = b""
    for i, chunk in enumerate(chunks):
        raw = raw_flags[i] if i < len(raw_flags) else False
        out += encoder.raw(chunk) if raw else encoder.encode(chunk)
    out += encoder.finish()
    assert out == b".\r\n" or out.endswith(b"\r\n.\r\n")


# ---- the reply parser ----------------------------------------------------------------------------
LINE_TEXT = st.binary(max_size=12).filter(lambda b: b"\n" not in b)
CODES = st.sampled_from([b"220", b"250", b"354", b"421", b"550"])


@st.composite
def reply_stream(draw: st.DrawFn) -> tuple[bytes, list[Reply]]:
    """Well-formed replies (any text, LF or CRLF endings) and what they must parse to."""
    data = b""
    expected = []
    for _ in range(draw(st.integers(1, 4))):
        code = draw(CODES)
        texts = draw(st.lists(LINE_TEXT, min_size=1, max_size=4))
        lines = []
        for i, text in enumerate(texts):
            sep = b" " if i == len(texts) - 1 else b"-"
            if sep == b" " and not text and draw(st.booleans()):
                sep = b""  # "250" alone is a valid last line
            ending = draw(st.sampled_from([b"\r\n", b"\n"]))
            data += code + sep + text + ending
            decoded_text = text[:-1] if ending == b"\n" and text.endswith(b"\r") else text
            try:
                lines.append(decoded_text.decode("utf-8"))
            except UnicodeDecodeError:
                lines.append(decoded_text.decode("latin-1"))
        expected.append(Reply(int(code), tuple(lines)))
    return data, expected


def parse_in_pieces(data: bytes, cuts: list[int]) -> list[Reply]:
    parser = ReplyParser()
    bounds = [0, *sorted(cuts), len(data)]
    out = []
    for a, b in itertools.pairwise(bounds):
        parser.feed(data[a:b])
        while (reply := parser.next_reply()) is not None:
            out.append(reply)
    assert parser.buffered == 0
    assert not parser.in_reply
    return out


@settings(max_examples=300)
@given(reply_stream(), st.data())
def test_parser_split_anywhere(case: tuple[bytes, list[Reply]], data: st.DataObject) -> None:
    raw, expected = case
    cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=10))
    assert parse_in_pieces(raw, cuts) == expected
    assert parse_in_pieces(raw, list(range(len(raw)))) == expected


@settings(max_examples=300)
@given(st.binary(max_size=200), st.lists(st.integers(0, 200), max_size=6))
def test_parser_never_crashes_and_split_does_not_matter(raw: bytes, cuts: list[int]) -> None:
    # Any bytes: either replies or ProtocolError, never another exception, and the outcome
    # does not depend on how the bytes were cut.
    def outcome(pieces: list[int]) -> tuple[list[Reply], bool]:
        parser = ReplyParser(max_line_length=64, max_lines=5, max_reply_size=150)
        got: list[Reply] = []
        bounds = [0, *sorted(c for c in pieces if c <= len(raw)), len(raw)]
        try:
            for a, b in itertools.pairwise(bounds):
                parser.feed(raw[a:b])
                while (reply := parser.next_reply()) is not None:
                    got.append(reply)
        except ProtocolError:
            return got, True
        return got, False

    assert outcome(cuts) == outcome([])


@settings(max_examples=500)
@given(chunked(), st.integers(1, 8))
def test_encoding_in_blocks_gives_the_same_bytes(case: tuple[bytes, list[bytes]], size: int) -> None:
    """encode_blocks() (a large piece, a block at a time) gives what encode() gives, whatever
    the block size and wherever the blocks cut a CRLF or a dot line."""
    _message, chunks = case
    encoder = DataEncoder()
    out = b"".join(b"".join(encoder.encode_blocks(chunk, size)) for chunk in chunks)
    assert out + encoder.finish() == stream(chunks)
