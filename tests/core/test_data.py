"""The DATA encoder, rawdatasend, BDAT framing (SPEC A1, A11; SECURITY SM-01..SM-05, SM-07..SM-09, SM-12)."""

from __future__ import annotations

import itertools

import pytest

from netsmtp._core.data import END_OF_DATA, DataEncoder, bdat_frame, encode_message, unstuff


def streamed(message: bytes, cuts: tuple[int, ...]) -> bytes:
    encoder = DataEncoder()
    bounds = [0, *cuts, len(message)]
    out = b"".join(encoder.encode(message[a:b]) for a, b in itertools.pairwise(bounds))
    return out + encoder.finish()


# (SECURITY id, message, exact wire bytes including the end marker)
VECTORS = [
    (
        "SM-01",
        b".hidden\r\nA\r\n.\r\nMAIL FROM:<x@evil>\r\n",
        b"..hidden\r\nA\r\n..\r\nMAIL FROM:<x@evil>\r\n.\r\n",
    ),
    ("SM-02", b"a\r\n\r\n.\r\nRSET\r\n", b"a\r\n\r\n..\r\nRSET\r\n.\r\n"),
    ("SM-03a", b"x\n.\ny", b"x\r\n..\r\ny\r\n.\r\n"),
    ("SM-03b", b"x\n.\r\ny", b"x\r\n..\r\ny\r\n.\r\n"),
    # SM-04: Net::SMTP sends these bare CRs raw; A1 turns each into CRLF.
    ("SM-04a", b"x\r.\ry", b"x\r\n..\r\ny\r\n.\r\n"),
    ("SM-04b", b"x\r.\ny", b"x\r\n..\r\ny\r\n.\r\n"),
    ("SM-04c", b"x\r.\r\ny", b"x\r\n..\r\ny\r\n.\r\n"),
    ("SM-05a", b"x\r\n.\r\r\ny", b"x\r\n..\r\n\r\ny\r\n.\r\n"),
    ("SM-05b", b"x\r\r\n.\r\r\ny", b"x\r\n\r\n..\r\n\r\ny\r\n.\r\n"),
    ("SM-07", b"a\r.\rb", b"a\r\n..\r\nb\r\n.\r\n"),
    ("SM-08a", b"a\r\nb", b"a\r\nb\r\n.\r\n"),
    ("SM-08b", b".a.b\n", b"..a.b\r\n.\r\n"),
    ("SM-08c", b"a\n.", b"a\r\n..\r\n.\r\n"),
    ("SM-08d", b".a\n.b\n", b"..a\r\n..b\r\n.\r\n"),
    ("SM-09 empty", b"", b".\r\n"),
    ("SM-09 no final newline", b"body", b"body\r\n.\r\n"),
    ("SM-09 ends in CRLF dot", b"x\r\n.", b"x\r\n..\r\n.\r\n"),
    ("SM-09 only CRLF dot", b"\r\n.", b"\r\n..\r\n.\r\n"),
    # SM-09: Net::SMTP sends a\r\r\n.\r\n here.
    ("SM-09 ends in lone CR", b"a\r", b"a\r\n.\r\n"),
    ("SM-09 just CR", b"\r", b"\r\n.\r\n"),
    ("SM-09 ends in CRLF", b"a\r\n", b"a\r\n.\r\n"),
    ("dot only", b".", b"..\r\n.\r\n"),
    ("dot line", b".\r\n", b"..\r\n.\r\n"),
    ("two dots", b"..\n", b"...\r\n.\r\n"),
    ("end marker as a body", b"\r\n.\r\n", b"\r\n..\r\n.\r\n"),
    ("LF dot LF", b"\n.\n", b"\r\n..\r\n.\r\n"),
    ("dot mid-line", b"a.b\r\n", b"a.b\r\n.\r\n"),
    ("CR CR", b"a\r\rb", b"a\r\n\r\nb\r\n.\r\n"),
    ("LF CR", b"a\n\rb", b"a\r\n\r\nb\r\n.\r\n"),
    ("NUL kept", b"x\r\n\x00.\r\ny", b"x\r\n\x00.\r\ny\r\n.\r\n"),  # SM-06 is a policy above the core
    ("8-bit kept", b"caf\xe9\n", b"caf\xe9\r\n.\r\n"),
]


@pytest.mark.parametrize(("ident", "message", "wire"), VECTORS, ids=[v[0] for v in VECTORS])
def test_vector_one_shot(ident: str, message: bytes, wire: bytes) -> None:
    assert encode_message(message) == wire


@pytest.mark.parametrize(("ident", "message", "wire"), VECTORS, ids=[v[0] for v in VECTORS])
def test_vector_split_at_every_offset(ident: str, message: bytes, wire: bytes) -> None:
    # "Run each input ... through a streaming datasend() with the input split at every
    # possible offset" (SECURITY §3 (c)), and at every pair of offsets.
    n = len(message)
    for cut in range(n + 1):
        assert streamed(message, (cut,)) == wire, cut
    for cuts in itertools.combinations(range(n + 1), 2):
        assert streamed(message, cuts) == wire, cuts
    assert streamed(message, tuple(range(1, n))) == wire  # one byte per call


@pytest.mark.parametrize(("ident", "message", "wire"), VECTORS, ids=[v[0] for v in VECTORS])
def test_vector_has_one_end_of_data(ident: str, message: bytes, wire: bytes) -> None:
    assert wire.endswith(END_OF_DATA)
    assert wire == END_OF_DATA or wire.find(b"\r\n.\r\n") == len(wire) - 5
    # a lenient receiver (LF, CR or CRLF as a line end) finds no earlier end either
    lines = wire.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    assert lines[-2:] == [b".", b""]
    assert b"." not in lines[:-2]


def test_encoder_state() -> None:
    encoder = DataEncoder()
    assert encoder.at_line_start
    assert encoder.encode(b"a") == b"a"
    assert not encoder.at_line_start
    assert encoder.encode(b"\r") == b""  # held back: half of a CRLF, or a bare CR?
    assert not encoder.at_line_start
    assert encoder.encode(b"\n") == b"\r\n"
    assert encoder.at_line_start
    assert encoder.encode(b"") == b""
    assert encoder.at_line_start
    assert encoder.encode(b".") == b".."
    assert encoder.bytes_in == 4
    assert encoder.finish() == b"\r\n.\r\n"
    assert encoder.at_line_start


def test_pending_cr_then_more_text() -> None:
    encoder = DataEncoder()
    assert encoder.encode(b"a\r") == b"a"
    assert encoder.encode(b"b") == b"\r\nb"
    assert encoder.encode(b"\r") == b""
    assert encoder.encode(b".x") == b"\r\n..x"
    assert encoder.finish() == b"\r\n.\r\n"


# ---- rawdatasend ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("steps", "wire"),
    [
        ([("raw", b"a\r\n")], b"a\r\n.\r\n"),
        ([("raw", b"a")], b"a\r\n.\r\n"),
        # Only CRLF ends a line for the receiver: after a raw bare LF the end marker still
        # needs its CRLF, or "a\n.\r\n" would leave the server waiting.
        ([("raw", b"a\n")], b"a\n\r\n.\r\n"),
        ([("raw", b"a\r")], b"a\r\r\n.\r\n"),
        ([("raw", b"")], b".\r\n"),
        ([("raw", b".x\r\n")], b".x\r\n.\r\n"),  # raw is not stuffed
        ([("raw", b"x\r\n.\r\n")], b"x\r\n.\r\n.\r\n"),  # not even this (the caller's bytes)
        ([("enc", b"a\r"), ("raw", b"")], b"a\r\n.\r\n"),  # a pending CR is completed first
        ([("enc", b"a\r"), ("raw", b"\nb")], b"a\r\n\nb\r\n.\r\n"),
        ([("enc", b"a"), ("raw", b"b\r\n"), ("enc", b".c")], b"ab\r\n..c\r\n.\r\n"),
        ([("raw", b"x"), ("enc", b".c\n")], b"x.c\r\n.\r\n"),
        ([("raw", b"x\r\n"), ("enc", b"\r"), ("raw", b"y")], b"x\r\n\r\ny\r\n.\r\n"),
    ],
)
def test_raw(steps: list[tuple[str, bytes]], wire: bytes) -> None:
    encoder = DataEncoder()
    out = b""
    for kind, chunk in steps:
        out += encoder.raw(chunk) if kind == "raw" else encoder.encode(chunk)
    out += encoder.finish()
    assert out == wire
    assert out.endswith(b"\r\n.\r\n") or out == END_OF_DATA


def test_raw_counts_bytes() -> None:
    encoder = DataEncoder()
    encoder.raw(b"abc")
    encoder.encode(b"de")
    assert encoder.bytes_in == 5


# ---- unstuff ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("wire", "message"),
    [
        (b".\r\n", b""),
        (b"a\r\n.\r\n", b"a\r\n"),
        (b"..a\r\n..\r\nb\r\n.\r\n", b".a\r\n.\r\nb\r\n"),
        (b"...\r\n.\r\n", b"..\r\n"),
        (b"a\r\nb", b"a\r\nb"),  # no end marker: taken as is
    ],
)
def test_unstuff(wire: bytes, message: bytes) -> None:
    assert unstuff(wire) == message


# ---- BDAT (RFC 3030; A1, A11; SM-12) --------------------------------------------------------------
@pytest.mark.parametrize(
    ("chunk", "last", "wire"),
    [
        (b"hello\n.", False, b"BDAT 7\r\nhello\n."),  # Part B §10.3 observed wire
        (b"end\r\n", True, b"BDAT 5 LAST\r\nend\r\n"),
        (b"", True, b"BDAT 0 LAST\r\n"),
        (b"", False, b"BDAT 0\r\n"),
        (b"a\r\n.\r\n\x00\x00\r", False, b"BDAT 9\r\na\r\n.\r\n\x00\x00\r"),  # SM-12: unchanged
        ("é".encode(), True, b"BDAT 2 LAST\r\n\xc3\xa9"),  # the count is in octets
    ],
)
def test_bdat_frame(chunk: bytes, last: bool, wire: bytes) -> None:
    assert bdat_frame(chunk, last) == wire


def test_bdat_large_count() -> None:
    chunk = b"x" * 1_000_000
    frame = bdat_frame(chunk, True)
    assert frame[:20] == b"BDAT 1000000 LAST\r\nx"
    assert len(frame) == len(b"BDAT 1000000 LAST\r\n") + 1_000_000


def test_encode_blocks_checks_the_whole_piece_first() -> None:
    """A line too long in the last block of a piece refuses the piece before its first
    block: nothing of it is returned and the encoder is as before (SECURITY SM-10)."""
    encoder = DataEncoder(max_line_length=10)
    assert encoder.encode(b"head\r\nopen") == b"head\r\nopen"  # a line of 4 left open
    piece = b"ing\r\n" + b"short\r\n" * 3 + b"x" * 11  # the open line ends fine; the last does not
    with pytest.raises(ValueError, match="longer than 10 octets"):
        encoder.encode_blocks(piece, 4)
    assert b"".join(encoder.encode_blocks(b"ing\r\n.a\r\n", 4)) == b"ing\r\n..a\r\n"
    assert encoder.finish() == END_OF_DATA
