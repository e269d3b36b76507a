"""Fuzz target: the reply parser and the capability parser (SPEC A3, A4; SECURITY MS-01..07).

The input picks caps and a way to cut the stream, the rest is what a server sends. It is
parsed twice, once cut into pieces and once whole; a failure is any exception but
ProtocolError, a cap exceeded in memory, a malformed reply returned, a parser that reads
on after ProtocolError, a capability table with a bad keyword or a control character in a
value, or two cuts that disagree. Run: ``python fuzz/reply_parser.py`` (see README.md).
"""

from __future__ import annotations

import re

from _harness import Input, instrumented, run

with instrumented():
    from netsmtp._core.capabilities import Capabilities
    from netsmtp._core.reply import Reply, ReplyParser
    from netsmtp._exceptions import ProtocolError

CODE = re.compile(r"[2-5][0-5][0-9]")
KEYWORD = re.compile(r"[A-Z0-9][A-Z0-9-]*")
CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def parse(pieces: list[bytes], caps: tuple[int, int, int]) -> tuple[list[Reply], bool]:
    max_line, max_lines, max_size = caps
    parser = ReplyParser(max_line_length=max_line, max_lines=max_lines, max_reply_size=max_size)
    replies: list[Reply] = []
    try:
        for piece in pieces:
            parser.feed(piece)
            while True:
                reply = parser.next_reply()
                assert len(parser._lines) <= max_lines, "line cap exceeded"
                assert parser._size <= max_size, "size cap exceeded"
                if reply is None:
                    assert parser.buffered <= max_line, "unfinished line longer than the cap is held"
                    break
                assert CODE.fullmatch(str(reply.code)), reply
                assert 1 <= len(reply.lines) <= max_lines, reply
                assert all("\n" not in line for line in reply.lines), reply
                check_capabilities(Capabilities.from_ehlo(reply.lines))
                replies.append(reply)
    except ProtocolError:
        assert parser.buffered == 0, "bytes kept after ProtocolError"
        for again in (lambda: parser.feed(b"250 ok\r\n"), parser.next_reply):
            refused = False
            try:
                again()
            except ProtocolError:
                refused = True
            assert refused, "the parser went on after ProtocolError"
        return replies, True
    return replies, False


def check_capabilities(caps: Capabilities) -> None:
    for key, value in caps.items():
        assert KEYWORD.fullmatch(key), key
        assert not CONTROL.search(value), (key, value)
    size = caps.size_limit
    assert size is None or 1 <= size <= 2**63 - 1
    for mechanism in caps.auth_mechanisms:
        assert mechanism and not any(ch.isspace() for ch in mechanism)


def test_one_input(data: bytes) -> None:
    source = Input(data)
    caps = (source.int_in_range(4, 300), source.int_in_range(1, 50), source.int_in_range(8, 5000))
    cuts = [source.int_in_range(0, 64) for _ in range(source.int_in_range(0, 8))]
    stream = source.rest()
    pieces, start = [], 0
    for size in cuts:
        pieces.append(stream[start : start + size])
        start += size
    pieces.append(stream[start:])
    assert parse(pieces, caps) == parse([stream], caps), "the outcome depends on how the bytes were cut"


if __name__ == "__main__":
    run(test_one_input)
