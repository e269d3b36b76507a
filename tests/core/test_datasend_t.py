"""libnet's ``t/datasend.t`` as DataEncoder tests (SPEC Part B §17.1; A1; SECURITY SM-08, SM-09).

Each row: the ``datasend`` calls in order, the exact bytes netsmtp puts on the wire (the
terminator from ``finish()`` included), and the bytes Net::SMTP 3.14 sends. They are equal
except in rows 3-6, where SPEC A1 wins: a bare CR becomes CRLF, because the wire must never
hold a CR outside a CRLF (Net::SMTP keeps the bare CR: Perl/perl5 #8306).
"""

from __future__ import annotations

import pytest

from netsmtp._core.data import DataEncoder, encode_message

ROWS = [
    # (row, datasend calls, netsmtp wire bytes, Net::SMTP wire bytes)
    (1, [b""], b".\r\n", b".\r\n"),  # datasend() with no arguments
    (2, [b"a"], b"a\r\n.\r\n", b"a\r\n.\r\n"),
    (3, [b"a\r"], b"a\r\n.\r\n", b"a\r\r\n.\r\n"),  # A1: the trailing bare CR ends the line
    (4, [b"a\rb"], b"a\r\nb\r\n.\r\n", b"a\rb\r\n.\r\n"),  # A1: bare CR -> CRLF
    (5, [b"a\rb\n"], b"a\r\nb\r\n.\r\n", b"a\rb\r\n.\r\n"),  # A1
    (6, [b"a\rb\n\n"], b"a\r\nb\r\n\r\n.\r\n", b"a\rb\r\n\r\n.\r\n"),  # A1
    (7, [b"a\r", b"\nb"], b"a\r\nb\r\n.\r\n", b"a\r\nb\r\n.\r\n"),  # CRLF split across calls
    (8, [b"a\r", b"\nb\n"], b"a\r\nb\r\n.\r\n", b"a\r\nb\r\n.\r\n"),
    (9, [b"a\r", b"\nb\r\n"], b"a\r\nb\r\n.\r\n", b"a\r\nb\r\n.\r\n"),
    (10, [b"a\r", b"\nb\r\n\n"], b"a\r\nb\r\n\r\n.\r\n", b"a\r\nb\r\n\r\n.\r\n"),
    (11, [b"a\n.b\n"], b"a\r\n..b\r\n.\r\n", b"a\r\n..b\r\n.\r\n"),
    (12, [b".a\n.b\n"], b"..a\r\n..b\r\n.\r\n", b"..a\r\n..b\r\n.\r\n"),  # dot at the very start
    (13, [b".a\n", b".b\n"], b"..a\r\n..b\r\n.\r\n", b"..a\r\n..b\r\n.\r\n"),  # dot after LF, next call
    (14, [b".a", b".b\n"], b"..a.b\r\n.\r\n", b"..a.b\r\n.\r\n"),  # 2nd call continues the line
    (15, [b"a\n."], b"a\r\n..\r\n.\r\n", b"a\r\n..\r\n.\r\n"),  # trailing lone dot stuffed
    (16, [b"\xe9"], b"\xe9\r\n.\r\n", b"\xe9\r\n.\r\n"),  # one octet 0xE9 stays one octet
]
DIFFERS_FROM_NET_SMTP = {3, 4, 5, 6}


def _ids(row: tuple[int, list[bytes], bytes, bytes]) -> str:
    return f"row{row[0]}"


@pytest.mark.parametrize("row", ROWS, ids=_ids)
def test_datasend_t_streamed(row: tuple[int, list[bytes], bytes, bytes]) -> None:
    _, calls, wire, _ = row
    encoder = DataEncoder()
    out = b"".join(encoder.encode(chunk) for chunk in calls)
    assert out + encoder.finish() == wire


@pytest.mark.parametrize("row", ROWS, ids=_ids)
def test_datasend_t_one_shot(row: tuple[int, list[bytes], bytes, bytes]) -> None:
    _, calls, wire, _ = row
    assert encode_message(b"".join(calls)) == wire


@pytest.mark.parametrize("row", ROWS, ids=_ids)
def test_datasend_t_differs_from_net_smtp_only_on_bare_cr(row: tuple[int, list[bytes], bytes, bytes]) -> None:
    number, _, wire, net_smtp = row
    assert (wire != net_smtp) is (number in DIFFERS_FROM_NET_SMTP)
    if number in DIFFERS_FROM_NET_SMTP:
        # Net::SMTP's bytes carry the bare CR of the input; ours never do.
        assert b"\r" in net_smtp.replace(b"\r\n", b"")
    assert b"\r" not in wire.replace(b"\r\n", b"")
    assert b"\n" not in wire.replace(b"\r\n", b"")


def test_row_16_byte_count() -> None:
    encoder = DataEncoder()
    assert encoder.encode(b"\xe9") == b"\xe9"
    assert encoder.bytes_in == 1
    assert encoder.finish() == b"\r\n.\r\n"


@pytest.mark.parametrize("row", ROWS, ids=_ids)
def test_datasend_t_every_call_output(row: tuple[int, list[bytes], bytes, bytes]) -> None:
    # The bytes of each call are final: nothing written earlier is ever taken back, and
    # each call writes a prefix of the final wire form.
    _, calls, wire, _ = row
    encoder = DataEncoder()
    sent = b""
    for chunk in calls:
        sent += encoder.encode(chunk)
        assert wire.startswith(sent)
    assert sent + encoder.finish() == wire
