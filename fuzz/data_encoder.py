"""Fuzz target: the DATA encoder (SPEC A1; SECURITY SM-01..SM-09).

The input is cut into a sequence of ``encode()`` chunks and ``raw()`` chunks (raw ones
carry pre-encoded content: whole stuffed lines, as ``rawdatasend`` is meant to be used).
A failure is a CR or LF outside a CRLF on the wire, an end-of-data marker anywhere but
at the very end, an unstuffed line that starts with a dot, a streamed result that differs
from the one-shot one, or a message the receiver cannot get back. Run:
``python fuzz/data_encoder.py`` (see README.md).
"""

from __future__ import annotations

import re

from _harness import Input, instrumented, run

with instrumented():
    from netsmtp._core.data import DataEncoder, unstuff


def well_formed(wire: bytes, empty: bool) -> None:
    bare = wire.replace(b"\r\n", b"")
    assert b"\r" not in bare and b"\n" not in bare, "CR or LF outside a CRLF"
    if empty:
        assert wire == b".\r\n", wire
        return
    assert wire.endswith(b"\r\n.\r\n"), "no end marker"
    assert wire.find(b"\r\n.\r\n") == len(wire) - 5, "end marker before the end"
    assert not wire.startswith(b".\r\n"), "end marker at the start"
    for line in wire[:-5].split(b"\r\n"):
        assert not line.startswith(b".") or line.startswith(b".."), f"unstuffed dot line {line!r}"


def one_shot(message: bytes) -> bytes:
    encoder = DataEncoder(max_line_length=None)
    return encoder.encode(message) + encoder.finish()


def too_long(text: bytes, limit: int) -> bool:
    return any(len(line) > limit for line in re.split(rb"\r\n|\r|\n", text))


def test_one_input(data: bytes) -> None:
    source = Input(data)
    limit = source.int_in_range(1, 120)
    steps = []
    for _ in range(source.int_in_range(0, 12)):
        raw = source.byte() % 4 == 3
        steps.append((raw, source.take(source.int_in_range(0, 48))))
    steps.append((False, source.rest()))

    # Framing, whatever the line lengths.
    encoder = DataEncoder(max_line_length=None)
    wire = b""
    for raw, chunk in steps:
        wire += encoder.raw(one_shot(chunk)[:-3]) if raw else encoder.encode(chunk)
    wire += encoder.finish()
    well_formed(wire, empty=wire == b".\r\n")

    if any(raw for raw, _ in steps):
        return
    message = b"".join(chunk for _, chunk in steps)
    assert wire == one_shot(message), "streamed and one-shot differ"
    assert encoder.bytes_in == len(message)
    expected = re.sub(rb"\r\n|\r|\n", b"\r\n", message)
    if expected and not expected.endswith(b"\r\n"):
        expected += b"\r\n"
    assert unstuff(wire) == expected, "the receiver does not get the message back"

    # The line-length limit (SM-10), across chunks: refused exactly at the first chunk that
    # makes a line too long, and a refused chunk changes nothing.
    limited = DataEncoder(max_line_length=limit)
    seen = b""
    for _, chunk in steps:
        seen += chunk
        before = (limited._line, limited._pending_cr, limited._at_line_start, limited.bytes_in)
        try:
            limited.encode(chunk)
        except ValueError:
            assert too_long(seen, limit), "a chunk was refused with no line over the limit"
            after = (limited._line, limited._pending_cr, limited._at_line_start, limited.bytes_in)
            assert before == after, "a refused chunk changed the encoder"
            return
        assert not too_long(seen, limit), "a line over the limit went through"


if __name__ == "__main__":
    run(test_one_input)
