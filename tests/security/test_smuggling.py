"""SECURITY.md §3: SMTP smuggling and DATA transparency (SM-01 .. SM-14).

Every input goes through a real connection, for ``SMTP`` and ``AsyncSMTP``: in one
``data(msg)`` call, and through ``data()`` + ``datasend()`` cut at every offset. The sink
reads each payload as a strict receiver does (up to the first ``CRLF.CRLF``) and reads what
follows as commands, so an early end of data shows up as an extra message or command.
"""

from __future__ import annotations

import email.message
import itertools
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import netsmtp
from netsmtp import NotSupportedError, ProtocolError, SendError
from netsmtp._core.data import DataEncoder, check_line_length
from tests.helpers.scripted import Peer, ScriptedServer
from tests.security._hostile_support import (
    EHLO,
    MAIL,
    QUIT,
    RCPT,
    RECIPIENT,
    SENDER,
    Sink,
    after_ehlo,
    bare_cr_or_lf,
    drain,
    every_split,
    greet,
    lenient_ends,
    serve_quit,
    transactions,
    transmit,
)

Scripted = type[ScriptedServer]


def run(scripted: Scripted, sec_connect: Any, bodies: list[list[bytes]], *caps: str) -> Sink:
    """Send each body (a list of pieces) in its own transaction; the sink's record."""
    sink = Sink(*caps)
    server = scripted(sink)
    smtp = sec_connect(server)
    transmit(smtp, bodies)
    assert smtp.quit() is True
    server.join()
    assert sink.commands == [*transactions(len(bodies)), QUIT], "the server saw other commands"
    assert len(sink.messages) == len(bodies)
    return sink


def check_every_way(scripted: Scripted, sec_connect: Any, body: bytes, wire: bytes) -> None:
    """``body`` in one piece and split at every offset always gives exactly ``wire``."""
    sink = run(scripted, sec_connect, every_split(body))
    for pieces, payload in zip(every_split(body), sink.messages, strict=True):
        assert payload == wire, f"pieces {pieces!r}"
        assert not bare_cr_or_lf(payload)
        assert lenient_ends(payload) == [len(payload)], "a lenient receiver would end the data early"


# ---- SM-01 .. SM-07: the wire form of hostile bodies -------------------------------------------------------
def test_SM_01_leading_dots(scripted: Scripted, sec_connect: Any) -> None:
    body = b".hidden\r\nA\r\n.\r\nMAIL FROM:<x@evil>\r\n"
    wire = b"..hidden\r\nA\r\n..\r\nMAIL FROM:<x@evil>\r\n.\r\n"
    check_every_way(scripted, sec_connect, body, wire)


def test_SM_02_dot_after_two_crlfs(scripted: Scripted, sec_connect: Any) -> None:
    # lettre CVE-2021-38189: the dot after two consecutive CRLFs
    check_every_way(scripted, sec_connect, b"a\r\n\r\n.\r\nRSET\r\n", b"a\r\n\r\n..\r\nRSET\r\n.\r\n")


@pytest.mark.parametrize("body", [b"x\n.\ny", b"x\n.\r\ny"])
def test_SM_03_bare_lf_end_of_data_lookalikes(scripted: Scripted, sec_connect: Any, body: bytes) -> None:
    check_every_way(scripted, sec_connect, body, b"x\r\n..\r\ny\r\n.\r\n")


@pytest.mark.parametrize("body", [b"x\r.\ry", b"x\r.\ny", b"x\r.\r\ny"])
def test_SM_04_bare_cr_lookalikes(scripted: Scripted, sec_connect: Any, body: bytes) -> None:
    # Net::SMTP and smtplib (bytes) send these raw; netsmtp never emits a lone CR (SPEC A1,
    # README "Where netsmtp differs on purpose").
    check_every_way(scripted, sec_connect, body, b"x\r\n..\r\ny\r\n.\r\n")


@pytest.mark.parametrize(
    ("body", "wire"),
    [
        (b"x\r\n.\r\r\ny", b"x\r\n..\r\n\r\ny\r\n.\r\n"),
        (b"x\r\r\n.\r\r\ny", b"x\r\n\r\n..\r\n\r\ny\r\n.\r\n"),
    ],
)
def test_SM_05_double_cr(scripted: Scripted, sec_connect: Any, body: bytes, wire: bytes) -> None:
    check_every_way(scripted, sec_connect, body, wire)
    assert b"\r\r" not in wire


def test_SM_06_nul_before_a_dot(scripted: Scripted, sec_connect: Any) -> None:
    body = b"x\r\n\x00.\r\ny"
    sink = Sink()
    server = scripted(sink)
    smtp = sec_connect(server)
    # data(msg): ValueError before DATA; the session stays usable
    assert smtp.mail(SENDER) is True
    assert smtp.to(RECIPIENT) is True
    with pytest.raises(ValueError, match="NUL"):
        smtp.data(body)
    assert smtp.reset() is True
    # send_message: before MAIL (no CHUNKING, so the message would go by DATA)
    with pytest.raises(ValueError, match="NUL"):
        smtp.send_message(b"Subject: x\r\n\r\n" + body, SENDER, [RECIPIENT])
    # streamed: the piece holding the NUL is refused and not written; abandon the message
    assert smtp.mail(SENDER) is True
    assert smtp.to(RECIPIENT) is True
    assert smtp.data() is True
    assert smtp.datasend(b"x\r\n") is True
    with pytest.raises(ValueError, match="NUL"):
        smtp.datasend(b"\x00.\r\ny")
    smtp.close()
    server.join()
    assert sink.commands == [MAIL, RCPT, b"RSET\r\n", MAIL, RCPT, b"DATA\r\n"]
    assert sink.messages == [b"x\r\n"]  # what came before the refused piece, never an end marker
    assert b"\x00" not in server.received


def test_SM_07_conversion_before_stuffing(scripted: Scripted, sec_connect: Any) -> None:
    # stuffing first and converting second would emit a\r\n.\r\nb: the end of the data
    check_every_way(scripted, sec_connect, b"a\r.\rb", b"a\r\n..\r\nb\r\n.\r\n")


# ---- SM-08: chunk boundaries -------------------------------------------------------------------------------
DATASEND_T = [
    # Net::SMTP's t/datasend.t vectors, with SPEC A1's lone-CR-to-CRLF rule
    ([b"a\r", b"\nb"], b"a\r\nb\r\n.\r\n"),
    ([b".a", b".b\n"], b"..a.b\r\n.\r\n"),
    ([b"a\n."], b"a\r\n..\r\n.\r\n"),
    ([b".a\n", b".b\n"], b"..a\r\n..b\r\n.\r\n"),
    ([b"a\r"], b"a\r\n.\r\n"),
    ([b"a\rb"], b"a\r\nb\r\n.\r\n"),
    ([b"a\r", b"\nb\r\n\n"], b"a\r\nb\r\n\r\n.\r\n"),
    ([b"a\n.b\n"], b"a\r\n..b\r\n.\r\n"),
    ([b"\xe9"], b"\xe9\r\n.\r\n"),
]


def test_SM_08_chunk_boundaries(scripted: Scripted, sec_connect: Any) -> None:
    bodies = [[b"", *pieces] if len(pieces) == 1 else pieces for pieces, _ in DATASEND_T]  # all streamed
    sink = run(scripted, sec_connect, bodies)
    assert sink.messages == [wire for _, wire in DATASEND_T]


SCANNER_SEQUENCES = [
    # The-Login/SMTP-Smuggling-Tools' end-of-data sequences (NUL one: SM-06)
    b"\n.\n",
    b"\n.\r",
    b"\r.\n",
    b"\r.\r",
    b"\n.\r\n",
    b"\r.\r\n",
    b"\r\n.\r\r\n",
    b"\r\r\n.\r\r\n",
]


def test_SM_08_smuggling_scanner_sequences(scripted: Scripted, sec_connect: Any) -> None:
    bodies = [[b"a" + seq + b"MAIL FROM:<x@evil>\r\n"] for seq in SCANNER_SEQUENCES]
    sink = run(scripted, sec_connect, bodies)
    for payload in sink.messages:
        assert not bare_cr_or_lf(payload)
        assert lenient_ends(payload) == [len(payload)]
        assert b"\r\n..\r\n" in payload


PIECES = st.lists(st.sampled_from([b"a", b".", b"\r", b"\n"]), max_size=24).map(b"".join)


@st.composite
def cut(draw: st.DrawFn, bodies: st.SearchStrategy[bytes] = PIECES) -> tuple[bytes, list[bytes]]:
    body = draw(bodies)
    cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=5)))
    bounds = [0, *cuts, len(body)]
    return body, [body[a:b] for a, b in itertools.pairwise(bounds)]


def test_SM_08_streamed_equals_one_shot_on_the_wire(scripted: Scripted, sec_connect: Any) -> None:
    """Property over a live connection: random bodies of ``a . CR LF`` cut at random; the
    streamed payload is the one-shot payload, and a lenient receiver ends it only at the end."""
    sink = Sink()
    server = scripted(sink)
    smtp = sec_connect(server)

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(cut())
    @example((b"a\r.\rb", [b"a\r", b".", b"\r", b"b"]))
    def check(case: tuple[bytes, list[bytes]]) -> None:
        body, pieces = case
        before = len(sink.messages)
        transmit(smtp, [[body], [b"", *pieces]])
        one_shot, streamed = sink.messages[before:]
        assert streamed == one_shot
        assert not bare_cr_or_lf(streamed)
        assert lenient_ends(streamed) == [len(streamed)]

    check()
    assert smtp.quit() is True
    server.join()


@settings(max_examples=200)
@given(cut(st.lists(st.sampled_from([b"a", b".", b"\r", b"\n", b"\x00"]), max_size=40).map(b"".join)))
def test_SM_08_encoder_property(case: tuple[bytes, list[bytes]]) -> None:
    """The same property on the sans-IO encoder, NUL included in the alphabet (the client
    refuses NUL before the encoder sees it: SM-06)."""
    body, pieces = case
    streamed = DataEncoder()
    wire = b"".join(streamed.encode(p) for p in pieces) + streamed.finish()
    one_shot = DataEncoder()
    assert wire == one_shot.encode(body) + one_shot.finish()
    assert not bare_cr_or_lf(wire)
    assert lenient_ends(wire, strip_nul=False) == [len(wire)]


# ---- SM-09: terminator forms -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "wire"),
    [
        (b"", b".\r\n"),  # curl test911
        (b"body", b"body\r\n.\r\n"),  # curl test910
        (b"x\r\n.", b"x\r\n..\r\n.\r\n"),
        (b"a\r", b"a\r\n.\r\n"),  # Net::SMTP: a\r\r\n.\r\n
    ],
)
def test_SM_09_terminator_forms(scripted: Scripted, sec_connect: Any, body: bytes, wire: bytes) -> None:
    check_every_way(scripted, sec_connect, body, wire)


# ---- SM-10: line length ------------------------------------------------------------------------------------
LINE_998 = b"x" * 998
LINE_999 = b"x" * 999


def test_SM_10_998_octets_pass_999_raise_before_data(scripted: Scripted, sec_connect: Any) -> None:
    sink = Sink()
    server = scripted(sink)
    smtp = sec_connect(server)
    ok = [
        LINE_998 + b"\r\n",
        b"." + b"x" * 997 + b"\r\n",  # the stuffed dot does not count (RFC 5321 §4.5.3.1.6)
        LINE_998 + b"\r" + LINE_998 + b"\n" + LINE_998,  # lone CR and LF end lines too
    ]
    transmit(smtp, [[body] for body in ok])
    # 999 octets: ValueError before DATA, nothing of the message written; still usable
    for body in (LINE_999, b"a\r\n" + LINE_999 + b"\r\nb\r\n", b"a\n" + LINE_998 + b"y"):
        assert smtp.mail(SENDER) is True
        assert smtp.to(RECIPIENT) is True
        with pytest.raises(ValueError, match="998"):
            smtp.data(body)
        assert smtp.reset() is True
    assert smtp.quit() is True
    server.join()
    assert sink.messages == [
        LINE_998 + b"\r\n.\r\n",
        b".." + b"x" * 997 + b"\r\n.\r\n",
        LINE_998 + b"\r\n" + LINE_998 + b"\r\n" + LINE_998 + b"\r\n.\r\n",
    ]
    assert sink.commands == [*transactions(3), *[MAIL, RCPT, b"RSET\r\n"] * 3, QUIT]


def test_SM_10_a_long_line_across_datasend_calls(scripted: Scripted, sec_connect: Any) -> None:
    sink = Sink()
    server = scripted(sink)
    smtp = sec_connect(server)
    assert smtp.mail(SENDER) is True
    assert smtp.to(RECIPIENT) is True
    assert smtp.data() is True
    assert smtp.datasend(b"x" * 500) is True
    assert smtp.datasend(b"x" * 498 + b"\r") is True  # 998 octets, the line ended by a CR
    assert smtp.datasend(b"\n" + b"y" * 998) is True  # the CR's LF, then another 998
    with pytest.raises(ValueError, match="998"):
        smtp.datasend(b"y")  # the 999th octet of that line: refused, not written
    smtp.close()  # abandon: the message is never ended
    server.join()
    assert sink.messages == [b"x" * 998 + b"\r\n" + b"y" * 998]


def test_SM_10_opt_out_and_other_limits(scripted: Scripted, sec_connect: Any) -> None:
    long_line = b"z" * 5000
    sink = Sink()
    server = scripted(sink, connections=2)
    smtp = sec_connect(server, max_line_length=None)
    transmit(smtp, [[long_line], [b"", long_line[:2500], long_line[2500:]]])
    assert smtp.send_message(b"Subject: x\r\n\r\n" + long_line, SENDER, [RECIPIENT]).delivered
    assert smtp.quit() is True
    strict = sec_connect(server, max_line_length=78)
    assert strict.mail(SENDER) is True
    assert strict.to(RECIPIENT) is True
    with pytest.raises(ValueError, match="78"):
        strict.data(b"y" * 79)
    assert strict.data(b"y" * 78) is True
    assert strict.quit() is True
    server.join()
    assert sink.messages[:3] == [long_line + b"\r\n.\r\n"] * 2 + [
        b"Subject: x\r\n\r\n" + long_line + b"\r\n.\r\n"
    ]
    assert sink.messages[3:] == [b"y" * 78 + b"\r\n.\r\n"]


def naive_lines(chunks: list[bytes]) -> list[int]:
    """Every line length of the chunks joined, lines ended by CRLF, LF or CR (the reference)."""
    return [len(line) for line in re.split(rb"\r\n|\r|\n", b"".join(chunks))]


@settings(max_examples=200)
@given(
    st.lists(
        st.lists(st.sampled_from([b"x", b"xxxxxxx", b"\r", b"\n", b"\r\n"]), max_size=30).map(b"".join),
        max_size=6,
    ),
    st.integers(1, 12),
)
@example([b"x" * 12, b"\r", b"\nx"], 12)
@example([b"x" * 6, b"x" * 7], 12)
def test_SM_10_line_check_matches_a_naive_count(chunks: list[bytes], limit: int) -> None:
    """The jumping check (``rfind`` over limit-sized windows, carried across chunks) refuses
    exactly the inputs with a line over the limit, at the chunk that completes it."""
    carry = 0
    for index, chunk in enumerate(chunks):
        too_long = max(naive_lines(chunks[: index + 1])) > limit
        if too_long:
            with pytest.raises(ValueError, match=f"longer than {limit} octets"):
                check_line_length(chunk, limit, carry)
            assert max(naive_lines(chunks[:index])) <= limit if index else True
            return
        carry = check_line_length(chunk, limit, carry)
        assert carry == naive_lines(chunks[: index + 1])[-1]


@pytest.mark.parametrize("value", [0, -1, 1.5, "998", True])
def test_SM_10_option_is_checked(value: object) -> None:
    with pytest.raises((TypeError, ValueError), match="max_line_length must be"):
        netsmtp.SMTP("127.0.0.1:1", max_line_length=value)


@pytest.mark.parametrize("caps", [(), ("CHUNKING",), ("PIPELINING",), ("PIPELINING", "CHUNKING")])
def test_SM_10_send_message_refuses_before_mail(
    scripted: Scripted, sec_connect: Any, caps: tuple[str, ...]
) -> None:
    sink = Sink(*caps)
    server = scripted(sink)
    smtp = sec_connect(server)
    with pytest.raises(ValueError, match="998"):
        smtp.send_message(b"Subject: x\r\n\r\n" + LINE_999 + b"\r\n", SENDER, [RECIPIENT])
    assert smtp.noop() is True  # nothing was sent: the session is usable
    assert smtp.quit() is True
    server.join()
    assert sink.commands == [b"NOOP\r\n", QUIT]


@pytest.mark.parametrize("caps", [(), ("CHUNKING",)])
def test_SM_10_streamed_message_is_abandoned(
    scripted: Scripted, sec_connect: Any, caps: tuple[str, ...]
) -> None:
    """A message given as a stream is checked as it goes: the long line is never written and
    the message never ended (the connection is closed, which voids it)."""
    sink = Sink(*caps)
    server = scripted(sink)
    smtp = sec_connect(server)
    chunks = [b"Subject: x\r\n\r\n", b"y" * (2 * 1024 * 1024), b"\r\n"]  # one 2 MiB line
    with pytest.raises(ValueError, match="998"):
        smtp.send_message(iter(chunks), SENDER, [RECIPIENT])
    assert smtp.noop() is False  # closed
    server.join()
    assert b"y" * 999 not in server.received
    assert b".\r\n" not in after_ehlo(server.received).split(b"DATA\r\n")[-1]
    assert not any(frame.startswith(b"BDAT") and b" LAST" in frame.split(b"\r\n")[0] for frame in sink.frames)


def test_SM_10_binarymime_has_no_lines(scripted: Scripted, sec_connect: Any) -> None:
    sink = Sink("CHUNKING", "BINARYMIME")
    server = scripted(sink)
    smtp = sec_connect(server)
    body = b"Subject: x\r\n\r\n" + b"\x00" * 5000
    assert smtp.send_message(body, SENDER, [RECIPIENT], bits="binary").delivered
    assert smtp.quit() is True
    server.join()
    assert sink.commands[0] == b"MAIL FROM:<a@example.org> BODY=BINARYMIME\r\n"
    assert sink.frames == [f"BDAT {len(body)} LAST\r\n".encode() + body]


# ---- SM-11: 8-bit data needs 8BITMIME ----------------------------------------------------------------------
EIGHT_BIT = b"Subject: caf\xe9\r\n\r\ncaf\xe9\r\n"


@pytest.mark.parametrize("caps", [(), ("PIPELINING",), ("CHUNKING",), ("PIPELINING", "CHUNKING")])
def test_SM_11_8bit_without_8bitmime_refused_before_mail(
    scripted: Scripted, sec_connect: Any, caps: tuple[str, ...]
) -> None:
    sink = Sink(*caps)
    server = scripted(sink)
    smtp = sec_connect(server)
    with pytest.raises(NotSupportedError, match="8BITMIME") as info:
        smtp.send_message(EIGHT_BIT, SENDER, [RECIPIENT])
    assert info.value.reply.code == 554
    assert smtp.noop() is True
    assert smtp.quit() is True
    server.join()
    assert sink.commands == [b"NOOP\r\n", QUIT]


def test_SM_11_8bit_stream_without_8bitmime_is_abandoned(scripted: Scripted, sec_connect: Any) -> None:
    sink = Sink()
    server = scripted(sink)
    smtp = sec_connect(server)
    with pytest.raises(NotSupportedError, match="8BITMIME"):
        smtp.send_message(iter([EIGHT_BIT]), SENDER, [RECIPIENT])
    assert smtp.noop() is False
    server.join()
    assert b"\xe9" not in server.received
    assert sink.commands == [MAIL, RCPT, b"DATA\r\n"]
    assert sink.messages == [b""]  # not one byte of the message, and no end marker


@pytest.mark.parametrize(
    ("caps", "body_param", "via"),
    [
        (("8BITMIME",), "BODY=8BITMIME", "DATA"),
        (("8BITMIME", "CHUNKING"), "BODY=8BITMIME", "BDAT"),
        (("CHUNKING", "BINARYMIME"), "BODY=BINARYMIME", "BDAT"),
    ],
)
def test_SM_11_8bit_declared_when_advertised(
    scripted: Scripted, sec_connect: Any, caps: tuple[str, ...], body_param: str, via: str
) -> None:
    sink = Sink(*caps)
    server = scripted(sink)
    smtp = sec_connect(server)
    assert smtp.send_message(EIGHT_BIT, SENDER, [RECIPIENT]).delivered
    if "8BITMIME" in caps:
        assert smtp.mail(SENDER, bits="8") is True  # Net::SMTP's Bits => 8
        assert smtp.reset() is True
    assert smtp.quit() is True
    server.join()
    assert sink.commands[0] == f"MAIL FROM:<{SENDER}> {body_param}\r\n".encode()
    if "8BITMIME" in caps:
        assert sink.commands[3:5] == [b"MAIL FROM:<a@example.org> BODY=8BITMIME\r\n", b"RSET\r\n"]
    if via == "DATA":
        assert sink.messages == [EIGHT_BIT + b".\r\n"]
    else:
        assert sink.frames == [f"BDAT {len(EIGHT_BIT)} LAST\r\n".encode() + EIGHT_BIT]


def test_SM_11_data_sends_8bit_as_net_smtp_does(scripted: Scripted, sec_connect: Any) -> None:
    """Decision: ``data()``/``datasend()`` are Net::SMTP's low-level calls and send 8-bit
    octets as given (``mail(bits="8")`` warns when the server lacks 8BITMIME); the check
    belongs to ``send_message``, which chooses BODY= itself."""
    sink = Sink()
    server = scripted(sink)
    smtp = sec_connect(server)
    with pytest.warns(netsmtp.ExtensionWarning, match="8BITMIME"):
        assert smtp.mail(SENDER, bits="8") is True
    assert smtp.to(RECIPIENT) is True
    assert smtp.data(b"caf\xe9\r\n") is True
    assert smtp.quit() is True
    server.join()
    assert sink.commands[0] == MAIL
    assert sink.messages == [b"caf\xe9\r\n.\r\n"]


# ---- SM-12: BDAT is not dot-stuffed ------------------------------------------------------------------------
def test_SM_12_bdat_sends_bytes_unchanged(scripted: Scripted, sec_connect: Any) -> None:
    first = b"a\r\n.\r\nRSET\r\n\x00\x00.\n"
    last = b"\r\n.\r\n\x00end"
    sink = Sink("CHUNKING", "BINARYMIME")
    server = scripted(sink)
    smtp = sec_connect(server)
    assert smtp.mail(SENDER, bits="binary") is True
    assert smtp.to(RECIPIENT) is True
    assert smtp.bdat(first) is True
    assert smtp.bdatlast(last) is True
    body = b"Subject: x\r\n\r\n" + first + last
    assert smtp.send_message(body, SENDER, [RECIPIENT], bits="binary").delivered
    assert smtp.quit() is True
    server.join()
    assert sink.commands == [
        b"MAIL FROM:<a@example.org> BODY=BINARYMIME\r\n",
        RCPT,
        f"BDAT {len(first)}\r\n".encode(),
        f"BDAT {len(last)} LAST\r\n".encode(),
        b"MAIL FROM:<a@example.org> BODY=BINARYMIME\r\n",
        RCPT,
        f"BDAT {len(body)} LAST\r\n".encode(),
        QUIT,
    ]
    assert sink.frames == [
        f"BDAT {len(first)}\r\n".encode() + first,
        f"BDAT {len(last)} LAST\r\n".encode() + last,
        f"BDAT {len(body)} LAST\r\n".encode() + body,
    ]
    assert b"DATA\r\n" not in server.received


# ---- SM-13: a DATA reply other than 354 --------------------------------------------------------------------
def data_answered(answer: str, pipelining: bool = False) -> Any:
    """MAIL and RCPT accepted, DATA answered with ``answer``; after a 4xx the client resets."""

    def script(p: Peer) -> None:
        greet(p, *(("PIPELINING",) if pipelining else ()))
        for round_ in ("data", "send_message"):  # data() never pipelines; send_message may
            if pipelining and round_ == "send_message":
                p.expect(MAIL)
                p.expect(RCPT)
                p.expect("DATA")
                p.reply("250 2.1.0 ok", "250 2.1.5 ok", answer)
            else:
                p.expect(MAIL)
                p.reply("250 2.1.0 ok")
                p.expect(RCPT)
                p.reply("250 2.1.5 ok")
                p.expect("DATA")
                p.reply(answer)
            p.expect("RSET")
            p.reply("250 2.0.0 reset")
        serve_quit(p)

    return script


@pytest.mark.parametrize("how", ["data", "send_message"])
def test_SM_13_data_answered_250_is_a_protocol_error(scripted: Scripted, sec_connect: Any, how: str) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.expect(MAIL)
        p.reply("250 2.1.0 ok")
        p.expect(RCPT)
        p.reply("250 2.1.5 ok")
        p.expect("DATA")
        p.reply("250 2.0.0 ok")
        assert drain(p) == b"", "the client went on after a DATA reply that is not 354"

    server = scripted(script)
    smtp = sec_connect(server, raise_errors=True)
    with pytest.raises(ProtocolError, match="354"):
        if how == "data":
            assert smtp.mail(SENDER) is True
            assert smtp.to(RECIPIENT) is True
            smtp.data(b"body\r\n")
        else:
            smtp.send_message(b"Subject: x\r\n\r\nbody\r\n", SENDER, [RECIPIENT])
    assert smtp.code() == 421
    server.join()
    assert after_ehlo(server.received) == MAIL + RCPT + b"DATA\r\n"  # no body byte


@pytest.mark.parametrize("pipelining", [False, True])
def test_SM_13_data_answered_451(scripted: Scripted, sec_connect: Any, pipelining: bool) -> None:
    server = scripted(data_answered("451 4.3.0 later", pipelining))
    smtp = sec_connect(server)
    assert smtp.mail(SENDER) is True
    assert smtp.to(RECIPIENT) is True
    assert smtp.data(b"body\r\n") is False
    assert smtp.code() == 451
    assert smtp.reset() is True  # a refusal: the session is usable
    with pytest.raises(SendError) as info:
        smtp.send_message(b"Subject: x\r\n\r\nbody\r\n", SENDER, [RECIPIENT])
    assert info.value.result.reply.code == 451
    assert info.value.result.refused[RECIPIENT].code == 451
    assert smtp.quit() is True
    server.join()
    assert b"body" not in server.received


# ---- SM-14: the envelope taken from headers cannot smuggle -------------------------------------------------
@pytest.mark.parametrize("header", ["From", "Sender", "To", "Cc", "Bcc"])
def test_SM_14_header_injection_in_a_message_object(
    scripted: Scripted, sec_connect: Any, header: str
) -> None:
    sink = Sink()
    server = scripted(sink)
    smtp = sec_connect(server)
    msg = email.message.Message()  # compat32: takes the CRLF (aiosmtplib's test)
    msg["From"] = "a@example.org"
    msg["To"] = "b@example.org"
    del msg[header]
    msg[header] = "a@example.org\r\nRCPT TO:<hijack@x>"
    msg.set_payload("hello\r\n")
    with pytest.raises(ValueError, match=header):
        smtp.send_message(msg)
    assert smtp.quit() is True
    server.join()
    assert sink.commands == [QUIT]
    assert b"hijack" not in server.received


def test_SM_14_header_injection_in_bytes(scripted: Scripted, sec_connect: Any) -> None:
    sink = Sink()
    server = scripted(sink)
    smtp = sec_connect(server)
    raw = b"To: b@example.org\r\nFrom: a@example.org\r\nRCPT TO:<hijack@x>\r\n\r\nhello\r\n"
    result = smtp.send_message(raw)
    assert list(result.accepted) == [RECIPIENT]
    assert smtp.quit() is True
    server.join()
    assert sink.commands == [MAIL, RCPT, b"DATA\r\n", QUIT]
    assert not any(b"hijack" in line for line in sink.commands)  # only ever message content
    assert EHLO in server.received
