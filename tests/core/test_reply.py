"""The reply parser and Reply (SPEC A4; SECURITY MS-01..MS-07)."""

from __future__ import annotations

import itertools

import pytest

from netsmtp._core.reply import MAX_LINE_LENGTH, MAX_LINES, MAX_REPLY_SIZE, Reply, ReplyParser
from netsmtp._exceptions import ProtocolError


def parse_all(data: bytes, parser: ReplyParser | None = None) -> list[Reply]:
    """Feed ``data`` at once and collect every complete reply."""
    parser = parser or ReplyParser()
    parser.feed(data)
    replies = []
    while (reply := parser.next_reply()) is not None:
        replies.append(reply)
    return replies


def parse_split(data: bytes, *cuts: int) -> list[Reply]:
    """Feed ``data`` in pieces cut at ``cuts``, reading replies after every piece."""
    parser = ReplyParser()
    replies = []
    bounds = [0, *cuts, len(data)]
    for start, end in itertools.pairwise(bounds):
        parser.feed(data[start:end])
        while (reply := parser.next_reply()) is not None:
            replies.append(reply)
    return replies


# ---- well-formed replies ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "code", "lines"),
    [
        (b"250 ok\r\n", 250, ("ok",)),
        (b"250 ok\n", 250, ("ok",)),  # MS-04: bare LF accepted
        (b"250\r\n", 250, ("",)),  # MS-05: no text is valid
        (b"250 \r\n", 250, ("",)),
        (b"250-\r\n250 \r\n", 250, ("", "")),
        (b"220 mx.example.org ESMTP\r\n", 220, ("mx.example.org ESMTP",)),
        (b"250-a\r\n250-b\r\n250 c\r\n", 250, ("a", "b", "c")),
        (b"250-a\n250-b\r\n250 c\n", 250, ("a", "b", "c")),
        (b"354 go ahead\r\n", 354, ("go ahead",)),
        (b"421 4.3.2 bye\r\n", 421, ("4.3.2 bye",)),
        (b"559 x\r\n", 559, ("x",)),
        (b"259 x\r\n", 259, ("x",)),
        (b"200  two spaces \r\n", 200, (" two spaces ",)),  # only the separator is removed
        (b"250 a\rb\r\n", 250, ("a\rb",)),  # MS-04: a bare CR is not a line end
        (b"250 a\x0cb\x85c\r\n", 250, ("a\x0cb\x85c",)),  # MS-04: one line (not UTF-8: latin-1)
        ("250 a\u2028b\r\n".encode(), 250, ("a\u2028b",)),  # MS-04: U+2028 is no line end
        (b"250 a\r\r\n", 250, ("a\r",)),  # one CR before the LF is dropped, not two
    ],
)
def test_valid_reply(data: bytes, code: int, lines: tuple[str, ...]) -> None:
    [reply] = parse_all(data)
    assert reply.code == code
    assert reply.lines == lines


def test_bare_cr_never_ends_a_line() -> None:
    # MS-04: ``250 ok\rEVIL 250 …`` with no LF is one unfinished line.
    parser = ReplyParser()
    parser.feed(b"250 ok\r250 EVIL\r")
    assert parser.next_reply() is None
    parser.feed(b"\n")
    assert parser.next_reply() == Reply(250, ("ok\r250 EVIL",))


def test_several_replies_in_one_feed_come_out_one_at_a_time() -> None:
    parser = ReplyParser()
    parser.feed(b"250 one\r\n251-two\r\n251 two b\r\n550 three\r\n45")
    assert parser.next_reply() == Reply(250, ("one",))
    assert parser.buffered == len(b"251-two\r\n251 two b\r\n550 three\r\n45")
    assert parser.next_reply() == Reply(251, ("two", "two b"))
    assert parser.next_reply() == Reply(550, ("three",))
    assert parser.next_reply() is None
    assert parser.buffered == 2
    assert not parser.in_reply


def test_in_reply_and_raw_lines() -> None:
    parser = ReplyParser()
    parser.feed(b"250-first\r\n")
    assert parser.next_reply() is None
    assert parser.in_reply
    parser.feed(b"250 last\r\n")
    assert parser.next_reply() == Reply(250, ("first", "last"))
    assert not parser.in_reply
    assert parser.completed_raw_lines == ["250-first", "250 last"]


def test_partial_reply_is_never_a_reply() -> None:
    # MS-03: ``250-first\r\n250 sec`` then EOF: nothing complete.
    parser = ReplyParser()
    parser.feed(b"250-first\r\n250 sec")
    assert parser.next_reply() is None
    assert parser.in_reply


def test_split_at_every_offset_gives_the_same_replies() -> None:
    data = b"220 hi\r\n250-mx\n250-SIZE 10\r\n250 AUTH PLAIN\r\n354 go\r\n250 2.0.0 ok\r\n"
    whole = parse_all(data)
    assert [r.code for r in whole] == [220, 250, 354, 250]
    for cut in range(len(data) + 1):
        assert parse_split(data, cut) == whole, cut
    for first in range(0, len(data), 3):
        for second in range(first, len(data), 5):
            assert parse_split(data, first, second) == whole, (first, second)
    # one byte at a time
    assert parse_split(data, *range(1, len(data))) == whole


# ---- malformed replies (MS-05, MS-06) -------------------------------------------------------
@pytest.mark.parametrize(
    "data",
    [
        b"abc ok\r\n",
        b"25 ok\r\n",
        b"2500 ok\r\n",
        b"099 ok\r\n",
        b"600 ok\r\n",
        b"150 info\r\n",  # 1xx is not an SMTP reply code (RFC 5321 §4.2)
        b"260 ok\r\n",  # the second digit is 0-5
        b"250x ok\r\n",
        b"250\tok\r\n",
        b"\r\n",
        b"\n",
        b" 250 ok\r\n",
        b"25\r\n",
        b"\xb2\xb5\xb0 ok\r\n",
        "²⁵⁰ ok\r\n".encode(),
        b"250-a\r\n550 b\r\n",  # MS-06: never "success", never "550"
        b"250-a\r\n251 b\r\n",
        b"250-a\r\n25 b\r\n",
        b"250-a\r\nb\r\n",
    ],
)
def test_malformed_reply_breaks_the_parser(data: bytes) -> None:
    parser = ReplyParser()
    parser.feed(data)
    with pytest.raises(ProtocolError):
        parser.next_reply()
    # A4: the connection is never re-read: the parser refuses anything more.
    with pytest.raises(ProtocolError):
        parser.next_reply()
    with pytest.raises(ProtocolError):
        parser.feed(b"250 ok\r\n")
    assert parser.buffered == 0


def test_codes_that_disagree_fail_even_when_split() -> None:
    parser = ReplyParser()
    parser.feed(b"250-a\r\n")
    assert parser.next_reply() is None
    parser.feed(b"550 b\r\n")
    with pytest.raises(ProtocolError, match="250 to 550"):
        parser.next_reply()


def test_good_reply_before_a_bad_one_is_delivered() -> None:
    parser = ReplyParser()
    parser.feed(b"250 ok\r\nEVIL\r\n")
    assert parser.next_reply() == Reply(250, ("ok",))
    with pytest.raises(ProtocolError):
        parser.next_reply()


# ---- caps (MS-01, MS-02) --------------------------------------------------------------------
def test_default_caps() -> None:
    assert (MAX_LINE_LENGTH, MAX_LINES, MAX_REPLY_SIZE) == (8192, 1000, 1024 * 1024)


def test_line_of_exactly_the_limit_is_accepted() -> None:
    text = b"x" * (MAX_LINE_LENGTH - 4)
    [reply] = parse_all(b"250 " + text + b"\n")  # 8192 bytes before the LF
    assert reply.lines == (text.decode(),)


def test_line_over_the_limit_fails() -> None:
    with pytest.raises(ProtocolError, match="longer than 8192"):
        parse_all(b"250 " + b"x" * (MAX_LINE_LENGTH - 3) + b"\n")


def test_no_lf_within_the_limit_waits_beyond_it_fails() -> None:
    # MS-01: an endless line without LF: buffering stops once the cap is passed.
    parser = ReplyParser()
    parser.feed(b"2" * MAX_LINE_LENGTH)
    assert parser.next_reply() is None
    parser.feed(b"A")
    with pytest.raises(ProtocolError):
        parser.next_reply()
    assert parser.buffered == 0


def test_no_lf_streamed_in_small_pieces_fails_at_the_cap() -> None:
    parser = ReplyParser()
    fed = 0
    with pytest.raises(ProtocolError):
        while True:
            parser.feed(b"A" * 1000)
            fed += 1000
            parser.next_reply()
    assert fed == 9000


def test_configurable_line_cap() -> None:
    parser = ReplyParser(max_line_length=10)
    parser.feed(b"250 123456\n250 1234567\n")
    assert parser.next_reply() == Reply(250, ("123456",))
    with pytest.raises(ProtocolError):
        parser.next_reply()


def test_line_count_cap() -> None:
    ok = b"250-x\r\n" * (MAX_LINES - 1) + b"250 x\r\n"
    [reply] = parse_all(ok)
    assert len(reply.lines) == MAX_LINES
    with pytest.raises(ProtocolError, match="1000 lines"):
        parse_all(b"250-x\r\n" * MAX_LINES + b"250 x\r\n")


def test_endless_multiline_reply_fails_without_its_end() -> None:
    # MS-02: ``250-x`` forever: the error comes before any final line.
    parser = ReplyParser()
    with pytest.raises(ProtocolError):
        for _ in range(MAX_LINES + 1):
            parser.feed(b"250-x\r\n")
            assert parser.next_reply() is None


def test_total_size_cap() -> None:
    parser = ReplyParser(max_reply_size=100)
    parser.feed(b"250-" + b"a" * 40 + b"\r\n")  # 46 bytes
    parser.feed(b"250-" + b"a" * 40 + b"\r\n")  # 92
    assert parser.next_reply() is None
    parser.feed(b"250 " + b"a" * 2 + b"\r\n")  # 100: at the cap
    assert parser.next_reply() is not None
    parser.feed(b"250-" + b"a" * 90 + b"\r\n250 b\r\n")  # 96 + 7 = 103
    with pytest.raises(ProtocolError, match="larger than 100"):
        parser.next_reply()


def test_size_counts_one_reply_at_a_time() -> None:
    parser = ReplyParser(max_reply_size=20)
    parser.feed(b"250 0123456789abcd\r\n" * 5)  # 20 bytes each
    assert [parser.next_reply() for _ in range(5)] == [Reply(250, ("0123456789abcd",))] * 5


# ---- text decoding (MS-07) ------------------------------------------------------------------
def test_non_utf8_text_is_decoded_without_error() -> None:
    [reply] = parse_all(b"250-caf\xe9\r\n250 AUTH PLAIN\r\n")
    assert reply.lines == ("caf\xe9", "AUTH PLAIN")


def test_utf8_text_is_decoded_as_utf8() -> None:
    [reply] = parse_all("250 café ☺\r\n".encode())
    assert reply.lines == ("café ☺",)


@pytest.mark.parametrize("junk", [bytes(range(128, 256)), b"\xff\xfe\x00", b"\xc3"])
def test_any_byte_decodes(junk: bytes) -> None:
    [reply] = parse_all(b"250 " + junk + b"\r\n")
    assert reply.lines == (junk.decode("latin-1"),)


# ---- enhanced status codes and Reply ----------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"250 2.1.0 Sender ok\r\n", "2.1.0"),
        (b"250 2.0.0\r\n", "2.0.0"),
        (b"550 5.7.1 no\r\n", "5.7.1"),
        (b"451 4.123.456 later\r\n", "4.123.456"),
        (b"250-2.1.5 first\r\n250 2.1.9 second\r\n", "2.1.5"),  # from the first line
        (b"250 5.1.0 class digit disagrees\r\n", None),
        (b"550 2.1.0 class digit disagrees\r\n", None),
        (b"354 3.0.0 no class 3\r\n", None),
        (b"250 2.1.0ok\r\n", None),
        (b"250 2.1\r\n", None),
        (b"250 2.1234.0 x\r\n", None),
        (b"250 x 2.1.0\r\n", None),
        (b"250 ok\r\n", None),
        (b"250\r\n", None),
        ("250 2.\u0661.0 not ASCII digits\r\n".encode(), None),
    ],
)
def test_enhanced_status(data: bytes, status: str | None) -> None:
    [reply] = parse_all(data)
    assert reply.enhanced_status == status


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        (220, 2, "positive"),
        (250, 2, "positive"),
        (354, 3, "intermediate"),
        (421, 4, "transient"),
        (451, 4, "transient"),
        (500, 5, "permanent"),
        (554, 5, "permanent"),
    ],
)
def test_reply_classes(code: int, status: int, kind: str) -> None:
    reply = Reply(code, ("x",))
    assert reply.status == status
    assert {
        "positive": reply.is_positive,
        "intermediate": reply.is_intermediate,
        "transient": reply.is_transient,
        "permanent": reply.is_permanent,
    } == {k: k == kind for k in ("positive", "intermediate", "transient", "permanent")}


def test_reply_text_and_str() -> None:
    reply = Reply.from_lines(250, ("mx.example.org", "SIZE 10", "HELP"))
    assert reply.text == "mx.example.org\nSIZE 10\nHELP"
    assert str(reply) == "250 mx.example.org\nSIZE 10\nHELP"
    assert Reply(250).lines == ("",)
    assert Reply(250).text == ""


def test_reply_equality_ignores_the_derived_status() -> None:
    assert Reply.from_lines(250, ("2.0.0 ok",)) == Reply(250, ("2.0.0 ok",))
    assert Reply(250, ("a",)) != Reply(251, ("a",))
    assert Reply(250, ("a",)) != Reply(250, ("a", "b"))


def test_reply_is_frozen() -> None:
    reply = Reply(250, ("ok",))
    with pytest.raises(AttributeError):
        reply.code = 550  # type: ignore[misc]
