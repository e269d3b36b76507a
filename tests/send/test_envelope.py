"""``_message.prepare``: the envelope from the headers, Bcc removed byte for byte (pure, no I/O)."""

from __future__ import annotations

import email.message
import email.policy
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from netsmtp._message import CHUNK, PreparedMessage, prepare, rechunk, strip_bcc

RAW = (
    b"From: Alice <alice@example.org>\r\n"
    b"To: bob@example.net, Carol <carol@example.net>\r\n"
    b"Bcc: dave@example.net,\r\n"
    b"\t erin@example.net\r\n"
    b"Cc: frank@example.net\r\n"
    b"X-Bcc: kept@example.net\r\n"
    b"Subject: hi\r\n"
    b"BCC:  grace@example.net\r\n"
    b"\r\n"
    b"Bcc: a body line, kept\r\n"
    b".leading dot\r\n"
)
RAW_SENT = (
    b"From: Alice <alice@example.org>\r\n"
    b"To: bob@example.net, Carol <carol@example.net>\r\n"
    b"Cc: frank@example.net\r\n"
    b"X-Bcc: kept@example.net\r\n"
    b"Subject: hi\r\n"
    b"\r\n"
    b"Bcc: a body line, kept\r\n"
    b".leading dot\r\n"
)


def payload(p: PreparedMessage) -> bytes:
    return b"".join(p.chunks())


def test_bytes_envelope_and_bcc_stripped_byte_for_byte() -> None:
    p = prepare(RAW, None, None)
    assert p.sender == "alice@example.org"
    assert p.recipients == (
        "bob@example.net",
        "carol@example.net",
        "frank@example.net",
        "dave@example.net",
        "erin@example.net",
        "grace@example.net",
    )
    assert payload(p) == RAW_SENT
    assert p.size == len(RAW_SENT)
    assert p.eight_bit is False
    assert p.international is False
    assert p.stream is None


def test_bytes_without_bcc_is_the_same_object() -> None:
    raw = b"From: a@example.org\r\nTo: b@example.net\r\n\r\nbody\r\n"
    p = prepare(raw, None, None)
    assert p.in_one_piece() is raw  # no copy at all
    assert p.size == len(raw)


def test_bcc_body_is_not_copied() -> None:
    p = prepare(RAW, None, None)
    assert p.payload is not None and len(p.payload) == 2
    assert isinstance(p.payload[1], memoryview)  # the body is a view on the caller's bytes
    assert p.payload[1].obj is RAW


def test_bcc_only_header_block_and_lf_line_endings() -> None:
    raw = b"To: b@example.net\nBcc: c@example.net\n  d@example.net\nSubject: x\n\nbody\n"
    p = prepare(raw, "s@example.org", None)
    assert p.recipients == ("b@example.net", "c@example.net", "d@example.net")
    assert payload(p) == b"To: b@example.net\nSubject: x\n\nbody\n"


def test_message_without_body() -> None:
    raw = b"From: a@example.org\r\nTo: b@example.net\r\nBcc: c@example.net\r\n"
    p = prepare(raw, None, None)
    assert p.recipients == ("b@example.net", "c@example.net")
    assert payload(p) == b"From: a@example.org\r\nTo: b@example.net\r\n"


def test_strip_bcc_keeps_similar_names() -> None:
    block = b"Bccx: 1\r\nX-Bcc: 2\r\nResent-Bcc: 3\r\n more\r\nbcc:4\r\nResent-BCC\t: 5\r\nSubject: 6\r\n\r\n"
    assert strip_bcc(block) == b"Bccx: 1\r\nX-Bcc: 2\r\nSubject: 6\r\n\r\n"


def test_sender_wins_over_from() -> None:
    raw = b"From: a@example.org\r\nSender: Sec <s@example.org>\r\nTo: b@example.net\r\n\r\n"
    assert prepare(raw, None, None).sender == "s@example.org"
    msg = email.message.EmailMessage()
    msg["From"] = "a@example.org"
    msg["Sender"] = "s@example.org"
    msg["To"] = "b@example.net"
    assert prepare(msg, None, None).sender == "s@example.org"


def test_no_from_gives_the_null_sender() -> None:
    assert prepare(b"To: b@example.net\r\n\r\nx\r\n", None, None).sender == ""


def resent_message() -> email.message.EmailMessage:
    msg = email.message.EmailMessage()
    msg["From"] = "orig@example.org"
    msg["To"] = "orig-to@example.net"
    msg["Bcc"] = "orig-bcc@example.net"
    msg["Resent-Date"] = "Mon, 1 Jan 2024 00:00:00 +0000"
    msg["Resent-From"] = "resender@example.org"
    msg["Resent-To"] = "r1@example.net, r2@example.net"
    msg["Resent-Cc"] = "r3@example.net"
    msg["Resent-Bcc"] = "r4@example.net"
    msg.set_content("forwarded\n")
    return msg


def test_resent_fields_used_with_one_resent_block() -> None:
    msg = resent_message()
    p = prepare(msg, None, None)
    assert p.sender == "resender@example.org"
    assert p.recipients == ("r1@example.net", "r2@example.net", "r3@example.net", "r4@example.net")
    sent = payload(p)
    assert b"Bcc" not in sent and b"r4@example.net" not in sent and b"orig-bcc" not in sent
    assert b"Resent-To: r1@example.net, r2@example.net\r\n" in sent
    # the caller's message is not changed
    assert msg["Bcc"] == "orig-bcc@example.net" and msg["Resent-Bcc"] == "r4@example.net"


def test_resent_sender_wins_over_resent_from() -> None:
    msg = resent_message()
    msg["Resent-Sender"] = "agent@example.org"
    assert prepare(msg, None, None).sender == "agent@example.org"


def test_two_resent_blocks_are_refused() -> None:
    msg = resent_message()
    msg["Resent-Date"] = "Tue, 2 Jan 2024 00:00:00 +0000"
    with pytest.raises(ValueError, match="more than one Resent"):
        prepare(msg, None, None)
    # but an explicit envelope makes the headers irrelevant
    p = prepare(msg, "me@example.org", ["you@example.net"])
    assert (p.sender, p.recipients) == ("me@example.org", ("you@example.net",))


def test_explicit_envelope_wins() -> None:
    p = prepare(RAW, "x@example.org", "y@example.net")
    assert (p.sender, p.recipients) == ("x@example.org", ("y@example.net",))
    assert payload(p) == RAW_SENT  # Bcc is still removed
    p = prepare(RAW, None, ["y@example.net", "z@example.net"])
    assert (p.sender, p.recipients) == ("alice@example.org", ("y@example.net", "z@example.net"))
    p = prepare(RAW, "x@example.org", None)
    assert p.sender == "x@example.org" and len(p.recipients) == 6
    p = prepare(RAW, "", [])
    assert (p.sender, p.recipients) == ("", ())


def test_duplicate_recipients_are_sent_once() -> None:
    # One RCPT per mailbox: LMTP answers once per accepted RCPT and the result maps
    # each recipient to one reply, so a duplicate would put the replies out of step.
    raw = b"From: a@example.org\r\nTo: b@example.net\r\nCc: b@example.net, c@example.net\r\n\r\n"
    assert prepare(raw, None, None).recipients == ("b@example.net", "c@example.net")
    assert prepare(raw, None, ["x@example.net", "x@example.net"]).recipients == ("x@example.net",)


@pytest.mark.parametrize("field", ["From", "Sender", "To", "Cc", "Bcc", "Subject"])
def test_header_injection_sm14(field: str) -> None:
    # SECURITY SM-14: a compat32 header with a bare CRLF would smuggle a line into the
    # header block, and into the envelope when it is read from the headers.
    msg = email.message.Message()
    msg["From"] = "a@example.org"
    msg["To"] = "b@example.net"
    msg[field] = "x@example.org\r\nRCPT TO:<hijack@x>"
    msg.set_payload("hi\r\n")
    with pytest.raises(ValueError, match="header"):
        prepare(msg, None, None)
    with pytest.raises(ValueError, match="header"):
        prepare(msg, "a@example.org", ["b@example.net"])


def test_folded_compat32_headers_are_fine() -> None:
    raw = b"From: a@example.org\r\nTo: b@example.net,\r\n c@example.net\r\nSubject: a\r\n\tb\r\n\r\nhi\r\n"
    p = prepare(email.message_from_bytes(raw), None, None)
    assert p.recipients == ("b@example.net", "c@example.net")
    assert payload(p) == raw


def test_email_message_serialised_with_crlf() -> None:
    msg = email.message.EmailMessage()
    msg["From"] = "a@example.org"
    msg["To"] = "b@example.net"
    msg["Bcc"] = "c@example.net"
    msg["Subject"] = "plain"
    msg.set_content("line one\n.line two\n")
    p = prepare(msg, None, None)
    assert payload(p) == (
        b"From: a@example.org\r\nTo: b@example.net\r\nSubject: plain\r\n"
        b'Content-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: 7bit\r\n'
        b"MIME-Version: 1.0\r\n\r\nline one\r\n.line two\r\n"
    )
    assert p.recipients == ("b@example.net", "c@example.net")
    assert p.eight_bit is False and p.size == len(payload(p))


def test_eight_bit_detection() -> None:
    assert prepare(b"To: b@example.net\r\n\r\ncaf\xc3\xa9\r\n", "a@x.org", None).eight_bit is True
    assert prepare(b"To: b@example.net\r\n\r\ncafe\r\n", "a@x.org", None).eight_bit is False
    msg = email.message.EmailMessage()
    msg["To"] = "b@example.net"
    msg.set_content("café\n", cte="8bit")
    assert prepare(msg, "a@x.org", None).eight_bit is True
    msg = email.message.EmailMessage()
    msg["To"] = "b@example.net"
    msg.set_content("café\n", cte="quoted-printable")
    assert prepare(msg, "a@x.org", None).eight_bit is False


def test_international_addresses_serialise_as_utf8() -> None:
    msg = email.message.EmailMessage()
    msg["From"] = "jörg@example.org"
    msg["To"] = "b@example.net"
    msg.set_content("hi\n")
    p = prepare(msg, None, None)
    assert p.international is True
    assert payload(p).startswith("From: jörg@example.org\r\n".encode())
    assert prepare(b"To: b@example.net\r\n\r\n", "a@example.org", None).international is False


def test_str_message_is_utf8() -> None:
    p = prepare("To: b@example.net\r\n\r\ncafé\r\n", "a@example.org", None)
    assert payload(p) == "To: b@example.net\r\n\r\ncafé\r\n".encode()
    assert p.eight_bit is True


def test_binary_file_streamed_with_bcc_removed(tmp_path: Path) -> None:
    path = tmp_path / "msg.eml"
    body = b"x" * (CHUNK + 10) + b"\r\n"
    path.write_bytes(RAW + body)
    with path.open("rb") as fh:
        p = prepare(fh, None, None)
        assert p.payload is None and p.stream is not None
        assert p.size == len(RAW_SENT) + len(body)
        assert p.eight_bit is None  # unknown without reading the whole file
        assert p.recipients[-1] == "grace@example.net"
        assert payload(p) == RAW_SENT + body


def test_file_position_is_respected() -> None:
    fh = io.BytesIO(b"junk" + RAW)
    fh.seek(4)
    p = prepare(fh, None, None)
    assert payload(p) == RAW_SENT


def test_generator_is_read_lazily() -> None:
    consumed: list[int] = []

    def gen() -> Iterator[bytes]:
        for i, piece in enumerate([RAW[:7], RAW[7:50], RAW[50:], b"more\r\n", b"end\r\n"]):
            consumed.append(i)
            yield piece

    p = prepare(gen(), None, None)
    assert consumed == [0, 1, 2]  # only the header block has been read
    assert p.size is None and p.stream is not None
    assert payload(p) == RAW_SENT + b"more\r\nend\r\n"
    assert consumed == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 64])
@pytest.mark.parametrize("ending", [b"\r\n", b"\n"], ids=["crlf", "lf"])
def test_generator_in_small_pieces_finds_the_end_of_the_headers(size: int, ending: bytes) -> None:
    """The blank line that ends the header block is found wherever the pieces split it (the
    search resumes where the last one stopped), and nothing after it is read early."""
    raw = RAW.replace(b"\r\n", ending)
    head_end = raw.index(ending * 2) + 2 * len(ending)
    pieces = [raw[i : i + size] for i in range(0, len(raw), size)]
    consumed: list[int] = []

    def gen() -> Iterator[bytes]:
        for i, piece in enumerate(pieces):
            consumed.append(i)
            yield piece

    p = prepare(gen(), None, None)
    assert len(consumed) == -(-head_end // size)  # up to the piece holding the blank line
    assert p.recipients[-1] == "grace@example.net"  # the Bcc field after the To
    assert payload(p) == RAW_SENT.replace(b"\r\n", ending)  # Bcc removed, the rest as given


def test_unsupported_type() -> None:
    with pytest.raises(TypeError, match="not int"):
        prepare(42, "a@example.org", ["b@example.net"])


def test_compat32_policy_message() -> None:
    msg = email.message.Message(policy=email.policy.compat32)
    msg["From"] = "a@example.org"
    msg["To"] = "b@example.net"
    msg["Bcc"] = "c@example.net"
    msg.set_payload("hello\n")
    p = prepare(msg, None, None)
    assert payload(p) == b"From: a@example.org\r\nTo: b@example.net\r\n\r\nhello\r\n"
    assert p.recipients == ("b@example.net", "c@example.net")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Subject", "hi\r\n"),  # would end the header block early
        ("Subject", "a\rRCPT TO:<hijack@x>"),
        ("Subject", "a\nRCPT TO:<hijack@x>"),
        ("X-Evil\r\nRCPT TO", "<hijack@x>"),
        ("X Evil", "v"),
    ],
)
def test_header_injection_variants(name: str, value: str) -> None:
    msg = email.message.Message()
    msg["To"] = "b@example.net"
    msg[name] = value
    with pytest.raises(ValueError, match="header"):
        prepare(msg, "a@example.org", None)


def test_header_injection_in_a_mime_part() -> None:
    msg = email.message.Message()
    msg["To"] = "b@example.net"
    msg["Content-Type"] = "multipart/mixed; boundary=XX"
    part = email.message.Message()
    part["Content-Type"] = "text/plain"
    part["X-Note"] = "a\r\n\r\nforged body"
    part.set_payload("hi\r\n")
    msg.attach(part)
    with pytest.raises(ValueError, match="X-Note"):
        prepare(msg, "a@example.org", None)


def test_utf8_addresses_in_a_bytes_header_block() -> None:
    raw = 'From: Jörg <jörg@example.org>\r\nTo: "Müller" <m@exämple.net>\r\n\r\nhi\r\n'.encode()
    p = prepare(raw, None, None)
    assert (p.sender, p.recipients) == ("jörg@example.org", ("m@exämple.net",))
    assert p.international is True


def test_undecodable_address_header_is_refused() -> None:
    raw = b"From: j\xf6rg@example.org\r\nTo: b@example.net\r\nSubject: caf\xe9\r\n\r\nhi\r\n"
    with pytest.raises(ValueError, match="From header is not valid UTF-8"):
        prepare(raw, None, None)
    p = prepare(raw, "a@example.org", None)  # an explicit sender: the From header is not read
    assert p.recipients == ("b@example.net",)
    assert payload(p) == raw  # the bytes themselves are sent as they are
    with pytest.raises(ValueError, match="From header is not valid UTF-8"):
        prepare(email.message_from_bytes(raw), None, None)


@pytest.mark.parametrize(
    "sizes",
    [
        [10] * 300_000,  # lines: gathered
        [CHUNK] * 3,  # aligned: passed through
        [3 * CHUNK + 5],  # one huge piece: split
        [7, CHUNK, CHUNK - 7, 0, 1],
        [0],
        [],
    ],
    ids=["small", "aligned", "huge", "mixed", "empty-piece", "nothing"],
)
def test_rechunk(sizes: list[int]) -> None:
    pieces = [bytes([i % 251]) * n for i, n in enumerate(sizes)]
    out = list(rechunk(pieces))
    assert b"".join(out) == b"".join(pieces)
    total = sum(sizes)
    assert [len(c) for c in out] == [CHUNK] * (total // CHUNK) + ([total % CHUNK] if total % CHUNK else [])
    assert all(type(c) is bytes for c in out)
    if sizes == [CHUNK] * 3:
        assert all(a is b for a, b in zip(out, pieces, strict=True))  # no copies
