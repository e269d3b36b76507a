"""Hypothesis properties of the DATA encoder beyond tests/core/test_properties.py (SPEC A1;
SECURITY SM-01..SM-10).

Any bytes (not only a small alphabet), any chunking (empty chunks too), and ``raw()``
chunks mixed in: the wire never holds a CR or LF outside a CRLF, and ``CRLF.CRLF`` (or a
leading ``.CRLF``) only as the end marker, once, at the very end. ``raw()`` sends bytes
as given, so the property holds for raw chunks that are themselves well-formed DATA
content (as ``rawdatasend`` of pre-encoded text is meant to be used); for arbitrary raw
bytes, the end marker still comes out right.
"""

from __future__ import annotations

import itertools
import re

from hypothesis import example, given, settings
from hypothesis import strategies as st

from netsmtp._core.data import DataEncoder, bdat_frame, encode_message, unstuff

BYTES = st.one_of(
    st.binary(max_size=300),
    st.lists(
        st.sampled_from([b"\r", b"\n", b".", b"\r\n", b"\r\n.", b".\r\n", b"\x00", b"a", b"\xff", b" "]),
        max_size=80,
    ).map(b"".join),
)


@st.composite
def chunked(draw: st.DrawFn, source: st.SearchStrategy[bytes] = BYTES) -> list[bytes]:
    data = draw(source)
    points = sorted(draw(st.lists(st.integers(0, len(data)), max_size=16)))
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def well_formed(wire: bytes, *, empty_message: bool) -> None:
    """The wire form of one whole DATA payload (end marker included)."""
    assert b"\r" not in wire.replace(b"\r\n", b""), wire
    assert b"\n" not in wire.replace(b"\r\n", b""), wire
    assert wire.endswith(b".\r\n")
    if empty_message:
        assert wire == b".\r\n"
        return
    assert wire.endswith(b"\r\n.\r\n")
    assert wire.find(b"\r\n.\r\n") == len(wire) - 5
    assert not wire.startswith(b".\r\n")
    # Every line that starts with a dot is stuffed, except the end marker.
    for line in wire[:-5].split(b"\r\n"):
        assert not line.startswith(b".") or line.startswith(b"..") or line == b"", wire


@settings(max_examples=800)
@given(chunked())
@example([b"a\r", b"", b"\n.", b"\r", b"\n"])
@example([b".", b"\r", b"\r", b"\n."])
def test_any_bytes_any_chunks(chunks: list[bytes]) -> None:
    encoder = DataEncoder(max_line_length=None)  # framing only; the limit has its own test
    out = b""
    for chunk in chunks:
        out += encoder.encode(chunk)
        # The line state the encoder reports is the one the wire shows.
        if not encoder._pending_cr:  # (a held-back CR is neither)
            assert encoder.at_line_start == (out == b"" or out.endswith(b"\r\n"))
    message = b"".join(chunks)
    assert encoder.bytes_in == len(message)
    wire = out + encoder.finish()
    well_formed(wire, empty_message=not message)
    assert wire == encode_message(message)


@st.composite
def mixed(draw: st.DrawFn) -> list[tuple[bool, bytes]]:
    """Encoded chunks and raw chunks of pre-encoded content (complete lines), interleaved."""
    items: list[tuple[bool, bytes]] = []
    for _ in range(draw(st.integers(0, 8))):
        if draw(st.booleans()):
            body = encode_message(draw(BYTES))[:-3]  # whole stuffed lines, no end marker
            items.append((True, body))
        else:
            items += [(False, chunk) for chunk in draw(chunked())]
    return items


@settings(max_examples=600)
@given(mixed())
@example([(False, b"a\r"), (True, b"..x\r\n"), (False, b".")])
@example([(False, b"a"), (True, b""), (False, b"\r"), (True, b"b\r\n")])
def test_raw_chunks_of_wellformed_content(items: list[tuple[bool, bytes]]) -> None:
    encoder = DataEncoder(max_line_length=None)  # framing only; the limit has its own test
    wire = b"".join(encoder.raw(data) if raw else encoder.encode(data) for raw, data in items)
    wire += encoder.finish()
    well_formed(wire, empty_message=wire == b".\r\n")


@settings(max_examples=300)
@given(st.lists(st.tuples(st.booleans(), BYTES), max_size=8))
def test_raw_anything_still_ends_right(items: list[tuple[bool, bytes]]) -> None:
    # Raw bytes are the caller's responsibility, but the end marker is still recognised.
    encoder = DataEncoder(max_line_length=None)  # framing only; the limit has its own test
    wire = b"".join(encoder.raw(data) if raw else encoder.encode(data) for raw, data in items)
    tail = encoder.finish()
    wire += tail
    assert wire == b".\r\n" or wire.endswith(b"\r\n.\r\n")
    assert tail in (b".\r\n", b"\r\n.\r\n")
    assert encoder.at_line_start


@settings(max_examples=300)
@given(BYTES)
def test_receiver_gets_the_message_back(message: bytes) -> None:
    wire = encode_message(message)
    expected = message.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")
    if expected and not expected.endswith(b"\r\n"):
        expected += b"\r\n"
    assert unstuff(wire) == expected


@settings(max_examples=200)
@given(st.binary(max_size=500), st.booleans())
def test_bdat_frames_are_exact(chunk: bytes, last: bool) -> None:
    frame = bdat_frame(chunk, last)
    header, _, body = frame.partition(b"\r\n")
    assert body == chunk  # never stuffed, never converted (SM-12)
    words = header.split(b" ")
    assert words[0] == b"BDAT"
    assert int(words[1]) == len(chunk)
    assert words[2:] == ([b"LAST"] if last else [])


def too_long(text: bytes, limit: int) -> bool:
    return any(len(line) > limit for line in re.split(rb"\r\n|\r|\n", text))


@settings(max_examples=500)
@given(st.integers(1, 40), chunked())
@example(3, [b"ab", b"c\r", b"\nabc"])
@example(3, [b"abc", b"d"])
@example(2, [b"a\r", b"\r", b"bc"])
def test_line_limit_across_chunks(limit: int, chunks: list[bytes]) -> None:
    # SM-10: a chunk is refused exactly when it makes a line (CRLF, LF or CR ends one)
    # longer than the limit, however the message is cut, and a refused chunk changes nothing.
    encoder = DataEncoder(max_line_length=limit)
    seen = b""
    for chunk in chunks:
        seen += chunk
        before = (encoder._line, encoder._pending_cr, encoder._at_line_start, encoder.bytes_in)
        try:
            encoder.encode(chunk)
        except ValueError:
            assert too_long(seen, limit)
            assert before == (encoder._line, encoder._pending_cr, encoder._at_line_start, encoder.bytes_in)
            return
        assert not too_long(seen, limit)
