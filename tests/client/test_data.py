"""The message: data(), datasend()/dataend(), datafile(), rawdatasend(), bdat()/bdatlast()."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator

import pytest

from netsmtp import ConnectionLost, DeliveryUnknown, ProtocolError, ReplyError, UsageError
from tests.client.support import EHLO, Connect, greet, serve_quit, sink
from tests.helpers.scripted import Peer, ScriptedServer


def data_script(
    *, data_reply: str = "250 2.0.0 queued as ABC", caps: tuple[str, ...] = ()
) -> Callable[[Peer], None]:
    def script(p: Peer) -> None:
        greet(p, *caps)
        p.expect("DATA")
        p.reply("354 go ahead")
        p.read_data()
        p.reply(data_reply)
        serve_quit(p)

    return script


# ---- data(...) in one call -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("message", "wire"),
    [
        (b"Subject: hi\r\n\r\nhello\r\n", b"Subject: hi\r\n\r\nhello\r\n.\r\n"),
        (b"no final newline", b"no final newline\r\n.\r\n"),
        (b"", b".\r\n"),
        (b"a\nb\rc\r\n", b"a\r\nb\r\nc\r\n.\r\n"),
        (
            b".hidden\r\nA\r\n.\r\nMAIL FROM:<x@evil>\r\n",
            b"..hidden\r\nA\r\n..\r\nMAIL FROM:<x@evil>\r\n.\r\n",
        ),
        (b"a\r\n\r\n.\r\nRSET\r\n", b"a\r\n\r\n..\r\nRSET\r\n.\r\n"),
        (b"x\n.\ny", b"x\r\n..\r\ny\r\n.\r\n"),
        (b"x\n.\r\ny", b"x\r\n..\r\ny\r\n.\r\n"),
        (b"x\r.\ry", b"x\r\n..\r\ny\r\n.\r\n"),
        (b"x\r.\ny", b"x\r\n..\r\ny\r\n.\r\n"),
        (b"x\r.\r\ny", b"x\r\n..\r\ny\r\n.\r\n"),
        (b"x\r\n.\r\r\ny", b"x\r\n..\r\n\r\ny\r\n.\r\n"),
        (b"x\r\r\n.\r\r\ny", b"x\r\n\r\n..\r\n\r\ny\r\n.\r\n"),
        (b"a\r.\rb", b"a\r\n..\r\nb\r\n.\r\n"),
        (b"body\r\n.", b"body\r\n..\r\n.\r\n"),
        (b"a\r", b"a\r\n.\r\n"),
        (b"caf\xe9\n", b"caf\xe9\r\n.\r\n"),
    ],
)
def test_data_bytes(scripted: type[ScriptedServer], connect: Connect, message: bytes, wire: bytes) -> None:
    server = scripted(data_script())
    smtp = connect(server)
    assert smtp.data(message) is True
    assert smtp.code() == 250
    assert smtp.message() == "2.0.0 queued as ABC"
    assert smtp.quit() is True
    server.join()
    assert server.received == EHLO + b"DATA\r\n" + wire + b"QUIT\r\n"


def test_data_str_is_utf8(scripted: type[ScriptedServer], connect: Connect) -> None:
    server = scripted(data_script())
    smtp = connect(server)
    assert smtp.data("Subject: café\n\n.snowman ☃\n") is True
    assert smtp.quit() is True
    server.join()
    wire = "Subject: café\r\n\r\n..snowman ☃\r\n.\r\n".encode()
    assert server.received == EHLO + b"DATA\r\n" + wire + b"QUIT\r\n"


@pytest.mark.parametrize(
    ("chunks", "wire"),
    [
        ([b"a\r", "\nb\n", bytearray(b".c")], b"a\r\nb\r\n..c\r\n.\r\n"),
        ([b".a", b".b\n"], b"..a.b\r\n.\r\n"),
        ([b".a\n", b".b\n"], b"..a\r\n..b\r\n.\r\n"),
        ([b"a\r", b".b"], b"a\r\n..b\r\n.\r\n"),
        ([b"a\r", b"\n.b"], b"a\r\n..b\r\n.\r\n"),
        ([memoryview(b"x\n"), b"", b"y"], b"x\r\ny\r\n.\r\n"),
        ([], b".\r\n"),
    ],
)
def test_data_list_of_chunks(
    scripted: type[ScriptedServer], connect: Connect, chunks: list[bytes | str], wire: bytes
) -> None:
    server = scripted(data_script())
    smtp = connect(server)
    assert smtp.data(chunks) is True
    assert smtp.quit() is True
    server.join()
    assert server.received == EHLO + b"DATA\r\n" + wire + b"QUIT\r\n"


def test_data_from_a_generator(scripted: type[ScriptedServer], connect: Connect) -> None:
    def lines() -> Iterator[bytes]:
        for n in range(3):
            yield b".line %d\n" % n

    server = scripted(data_script())
    smtp = connect(server)
    assert smtp.data(lines()) is True
    assert smtp.quit() is True
    server.join()
    assert server.received == EHLO + b"DATA\r\n..line 0\r\n..line 1\r\n..line 2\r\n.\r\n" + b"QUIT\r\n"


def test_data_large_message(scripted: type[ScriptedServer], connect: Connect) -> None:
    messages: list[bytes] = []
    server = scripted(sink(messages))
    smtp = connect(server)
    body = b"".join(b".%06d %s\n" % (n, b"x" * 60) for n in range(20000))  # ~1.4 MB
    assert smtp.data(body) is True
    assert smtp.quit() is True
    server.join()
    assert messages == [_one_shot(body)]


def test_data_bad_type(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p)
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    with pytest.raises(TypeError):
        smtp.data(42)  # type: ignore[arg-type]
    assert smtp.quit() is True
    server.join()
    assert server.received == EHLO + b"QUIT\r\n"


# ---- data() + datasend() + dataend() ------------------------------------------------------------
# Net::SMTP's t/datasend.t vectors, with SPEC A1's rule that a bare CR becomes CRLF.
DATASEND_VECTORS: list[tuple[list[bytes], bytes]] = [
    ([], b".\r\n"),
    ([b"a"], b"a\r\n.\r\n"),
    ([b"a\r"], b"a\r\n.\r\n"),
    ([b"a\rb"], b"a\r\nb\r\n.\r\n"),
    ([b"a\rb\n"], b"a\r\nb\r\n.\r\n"),
    ([b"a\rb\n\n"], b"a\r\nb\r\n\r\n.\r\n"),
    ([b"a\r", b"\nb"], b"a\r\nb\r\n.\r\n"),
    ([b"a\r", b"\nb\n"], b"a\r\nb\r\n.\r\n"),
    ([b"a\r", b"\nb\r\n"], b"a\r\nb\r\n.\r\n"),
    ([b"a\r", b"\nb\r\n\n"], b"a\r\nb\r\n\r\n.\r\n"),
    ([b"a\n.b\n"], b"a\r\n..b\r\n.\r\n"),
    ([b".a\n.b\n"], b"..a\r\n..b\r\n.\r\n"),
    ([b".a\n", b".b\n"], b"..a\r\n..b\r\n.\r\n"),
    ([b".a", b".b\n"], b"..a.b\r\n.\r\n"),
    ([b"a\n."], b"a\r\n..\r\n.\r\n"),
    ([b"\xe9"], b"\xe9\r\n.\r\n"),
    ([b"a\r", b"\r", b"\n", b"."], b"a\r\n\r\n..\r\n.\r\n"),
    ([b"line\r\n", b"."], b"line\r\n..\r\n.\r\n"),
]


@pytest.mark.parametrize(("chunks", "wire"), DATASEND_VECTORS)
def test_datasend_across_calls(
    scripted: type[ScriptedServer], connect: Connect, chunks: list[bytes], wire: bytes
) -> None:
    server = scripted(data_script())
    smtp = connect(server)
    assert smtp.data() is True
    assert smtp.code() == 354
    for chunk in chunks:
        assert smtp.datasend(chunk) is True
    assert smtp.dataend() is True
    assert smtp.code() == 250
    assert smtp.dataend() is True  # a second dataend() is harmless and sends nothing
    assert smtp.quit() is True
    server.join()
    assert server.received == EHLO + b"DATA\r\n" + wire + b"QUIT\r\n"


SPLIT_BODIES = [
    b".a\r\n.\r\nb\r.\rc\n.\n\r\r\n..",
    b"x\r\n.\r\r\ny\r\n",
    b"\r\n.\r\n",
]


def test_datasend_any_split_matches_one_shot(scripted: type[ScriptedServer], connect: Connect) -> None:
    """Every two-way split and the one-byte-at-a-time split give the one-shot bytes (SM-08)."""
    cases: list[tuple[bytes, list[bytes]]] = []
    for body in SPLIT_BODIES:
        cases.append((body, [body]))
        cases.append((body, [body[i : i + 1] for i in range(len(body))]))
        cases.extend((body, [body[:i], body[i:]]) for i in range(len(body) + 1))
    messages: list[bytes] = []
    server = scripted(sink(messages))
    smtp = connect(server)
    expected = []
    for body, chunks in cases:
        assert smtp.data() is True
        for chunk in chunks:
            assert smtp.datasend(chunk) is True
        assert smtp.dataend() is True
        expected.append(_one_shot(body))
    assert smtp.quit() is True
    server.join()
    assert messages == expected
    for wire in messages:  # a lenient receiver finds the end only at the very end
        assert b"\r" not in wire.replace(b"\r\n", b"")
        assert b"\n" not in wire.replace(b"\r\n", b"")
        assert wire.count(b"\r\n.\r\n") + wire.startswith(b".\r\n") == 1


def _one_shot(body: bytes) -> bytes:
    normal = body.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    lines = normal.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return b"".join((b"." + line if line.startswith(b".") else line) + b"\r\n" for line in lines) + b".\r\n"


def test_datasend_str_and_lists(scripted: type[ScriptedServer], connect: Connect) -> None:
    server = scripted(data_script())
    smtp = connect(server)
    assert smtp.data() is True
    assert smtp.datasend("To: postmaster\n") is True
    assert smtp.datasend(["A simple ", b"test message\n", ".end"]) is True
    assert smtp.dataend() is True
    assert smtp.quit() is True
    server.join()
    wire = b"To: postmaster\r\nA simple test message\r\n..end\r\n.\r\n"
    assert server.received == EHLO + b"DATA\r\n" + wire + b"QUIT\r\n"


def test_datasend_outside_data_is_usage_error(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p)
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    with pytest.raises(UsageError):
        smtp.datasend(b"hello\n")
    assert smtp.dataend() is True  # nothing to end: harmless, nothing sent
    assert smtp.quit() is True
    server.join()
    assert server.received == EHLO + b"QUIT\r\n"


# ---- DATA refused or answered wrongly -------------------------------------------------------------
@pytest.mark.parametrize("answer", ["554 5.5.1 no valid recipients", "451 4.3.0 try later"])
def test_data_refused_sends_no_body(scripted: type[ScriptedServer], connect: Connect, answer: str) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.expect("DATA")
        p.reply(answer)
        p.expect("DATA")
        p.reply(answer)
        p.expect("NOOP")
        p.reply("250 ok")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.data(b"Subject: x\r\n\r\nbody\r\n") is False
    assert smtp.code() == int(answer[:3])
    assert smtp.data() is False
    assert smtp.noop() is True
    assert smtp.quit() is True
    server.join()
    assert server.received == EHLO + b"DATA\r\nDATA\r\nNOOP\r\nQUIT\r\n"


def test_data_refused_raises_with_raise_errors(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.expect("DATA")
        p.reply("554 no")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server, raise_errors=True)
    with pytest.raises(ReplyError) as info:
        smtp.data(b"body\n")
    assert info.value.command == "DATA"
    assert info.value.reply.code == 554
    assert smtp.quit() is True
    server.join()


@pytest.mark.parametrize("answer", ["250 ok", "334 what", "220 eh"])
def test_data_answered_without_354_closes(
    scripted: type[ScriptedServer], connect: Connect, answer: str
) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.expect("DATA")
        p.reply(answer)
        assert p.at_eof()

    server = scripted(script)
    smtp = connect(server)
    assert smtp.data(b"body\r\n") is False
    assert smtp.code() == 421
    assert "Protocol error" in smtp.message()
    assert smtp.noop() is False  # closed: nothing more is written
    server.join()
    assert server.received == EHLO + b"DATA\r\n"


def test_data_answered_250_raises_protocol_error(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.expect("DATA")
        p.reply("250 ok")
        assert p.at_eof()

    server = scripted(script)
    smtp = connect(server, raise_errors=True)
    with pytest.raises(ProtocolError):
        smtp.data()
    server.join()
    assert server.received == EHLO + b"DATA\r\n"


# ---- the data phase is exclusive (SPEC A10) ---------------------------------------------------------
def test_commands_during_data_are_usage_errors(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p, "STARTTLS", "ETRN", "CHUNKING", "8BITMIME")
        p.expect("DATA")
        p.reply("354 go")
        assert p.read_data() == b"partial\r\nmore\r\n.\r\n"
        p.reply("250 queued")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.data() is True
    assert smtp.datasend(b"partial\n") is True
    calls: list[Callable[[], object]] = [
        lambda: smtp.mail("a@example.org"),
        lambda: smtp.send("a@example.org"),
        lambda: smtp.to("b@example.org"),
        lambda: smtp.to("b@example.org", skip_bad=True),
        smtp.reset,
        smtp.noop,
        lambda: smtp.verify("x"),
        lambda: smtp.expand("x"),
        smtp.help,
        lambda: smtp.hello("again.test"),
        lambda: smtp.etrn("example.org"),
        smtp.starttls,
        lambda: smtp.command("RSET"),
        smtp.data,
        lambda: smtp.data(b"another"),
        smtp.datafile,
        lambda: smtp.bdat(b"x"),
        lambda: smtp.bdatlast(b"x"),
    ]
    for call in calls:
        with pytest.raises(UsageError):
            call()
    assert smtp.datasend(b"more\n") is True
    assert smtp.dataend() is True
    assert smtp.quit() is True
    server.join()
    assert server.received == EHLO + b"DATA\r\npartial\r\nmore\r\n.\r\nQUIT\r\n"


def test_quit_during_data_closes_without_quit(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.expect("DATA")
        p.reply("354 go")
        assert p.read_to_eof() == b"partial"

    server = scripted(script)
    smtp = connect(server)
    assert smtp.data() is True
    assert smtp.datasend(b"partial") is True
    assert smtp.quit() is False
    assert smtp.code() == 421
    assert smtp.noop() is False
    server.join()
    assert server.received == EHLO + b"DATA\r\npartial"  # no end of line, no dot, no QUIT


def test_close_during_data_abandons(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.expect("DATA")
        p.reply("354 go")
        assert p.read_to_eof() == b"line\r\n"

    server = scripted(script)
    smtp = connect(server)
    assert smtp.data() is True
    assert smtp.datasend(b"line\n") is True
    smtp.close()
    smtp.close()
    assert smtp.dataend() is False
    server.join()
    assert server.received == EHLO + b"DATA\r\nline\r\n"


def test_context_manager_during_data_abandons(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.expect("DATA")
        p.reply("354 go")
        assert p.read_to_eof() == b"line\r\n"

    server = scripted(script)
    with connect(server) as smtp:
        assert smtp.data() is True
        assert smtp.datasend(b"line\n") is True
    server.join()
    assert server.received == EHLO + b"DATA\r\nline\r\n"


# ---- datafile() ------------------------------------------------------------------------------------
def test_datafile_context_manager(scripted: type[ScriptedServer], connect: Connect) -> None:
    server = scripted(data_script())
    smtp = connect(server)
    with smtp.datafile() as fh:  # type: ignore[union-attr]
        assert fh.writable()
        assert fh.write(b"Subject: x\n\n") == 12
        fh.writelines([b".body\n", b"end"])
    assert fh.closed
    assert fh.accepted is True
    assert smtp.code() == 250
    assert smtp.quit() is True
    server.join()
    assert server.received == EHLO + b"DATA\r\nSubject: x\r\n\r\n..body\r\nend\r\n.\r\nQUIT\r\n"


def test_datafile_close_without_writing_ends_message(
    scripted: type[ScriptedServer], connect: Connect
) -> None:
    server = scripted(data_script(data_reply="554 5.6.0 empty message"))
    smtp = connect(server)
    fh = smtp.datafile()
    assert fh is not None
    fh.close()
    fh.close()
    assert fh.accepted is False
    assert smtp.code() == 554
    with pytest.raises(ValueError):
        fh.write(b"late")
    assert smtp.quit() is True
    server.join()
    assert server.received == EHLO + b"DATA\r\n.\r\nQUIT\r\n"


def test_datafile_exception_abandons_message(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.expect("DATA")
        p.reply("354 go")
        assert p.read_to_eof() == b"partial\r\n"

    server = scripted(script)
    smtp = connect(server)
    error = RuntimeError("generating the body failed")
    with pytest.raises(RuntimeError) as info, smtp.datafile() as fh:  # type: ignore[union-attr]
        fh.write(b"partial\n")
        raise error
    assert info.value is error
    assert fh.accepted is False
    assert smtp.noop() is False  # the connection is gone
    assert smtp.code() == 421
    server.join()
    assert server.received == EHLO + b"DATA\r\npartial\r\n"


def test_datafile_refused_is_none(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.expect("DATA")
        p.reply("503 5.5.1 need RCPT first")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.datafile() is None
    assert smtp.code() == 503
    assert smtp.quit() is True
    server.join()


def test_datafile_write_after_connection_loss_raises_oserror(
    scripted: type[ScriptedServer], connect: Connect
) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.expect("DATA")
        p.reply("354 go")
        p.reset()

    server = scripted(script)
    smtp = connect(server)
    fh = smtp.datafile()
    assert fh is not None
    server.join()
    time.sleep(0.1)
    with pytest.raises(OSError):
        for _ in range(50):
            fh.write((b"x" * 63 + b"\n") * 1024)
    fh.close()
    assert smtp.code() == 421


# ---- rawdatasend ---------------------------------------------------------------------------------
def test_rawdatasend_sends_bytes_unchanged(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.expect("DATA")
        p.reply("354 go")
        assert p.read_until(b"tail\r\n.\r\n") == b"a\nb\r\n.dot\r\ncooked\r\n..x tail\r\n.\r\n"
        p.reply("250 ok")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.data() is True
    assert smtp.rawdatasend(b"a\nb\r\n.dot\r\n") is True
    assert smtp.datasend(b"cooked\n.x") is True
    assert smtp.rawdatasend(" tail") is True
    assert smtp.rawdatasend(b"") is True
    assert smtp.dataend() is True
    assert smtp.quit() is True
    server.join()


# ---- BDAT ---------------------------------------------------------------------------------------
def test_bdat_and_bdatlast(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p, "CHUNKING", "BINARYMIME")
        p.expect("MAIL FROM:<a@b.example> BODY=BINARYMIME")
        p.reply("250 ok")
        p.expect("BDAT 11")
        assert p.read(11) == b"hello\n.\x00\r\n."
        p.reply("250 2.0.0 11 octets")
        p.expect("BDAT 2")
        assert p.read(2) == "é".encode()
        p.reply("250 2.0.0 2 octets")
        p.expect("BDAT 5 LAST")
        assert p.read(5) == b"end\r\n"
        p.reply("250 2.0.0 queued")
        p.expect("BDAT 0 LAST")
        p.reply("554 5.5.1 no transaction")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.mail("a@b.example", bits="binary") is True
    assert smtp.bdat(b"hello\n.\x00\r\n.") is True
    assert smtp.bdat("é") is True
    assert smtp.bdatlast(b"end\r\n") is True
    assert smtp.message() == "2.0.0 queued"
    assert smtp.bdatlast(b"") is False
    assert smtp.code() == 554
    assert smtp.quit() is True
    server.join()
    assert server.received == (
        EHLO + b"MAIL FROM:<a@b.example> BODY=BINARYMIME\r\n"
        b"BDAT 11\r\nhello\n.\x00\r\n.BDAT 2\r\n\xc3\xa9BDAT 5 LAST\r\nend\r\nBDAT 0 LAST\r\nQUIT\r\n"
    )


def test_bdat_without_chunking_sends_nothing(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p, "8BITMIME", "BINARYMIME")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.bdat(b"x") is False
    assert smtp.code() == 500
    assert smtp.bdatlast(b"x") is False
    assert smtp.code() == 500
    assert smtp.quit() is True
    server.join()
    assert server.received == EHLO + b"QUIT\r\n"


def test_bdatlast_drop_is_delivery_unknown(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p, "CHUNKING")
        p.expect("BDAT 3 LAST")
        p.read(3)
        p.close()

    server = scripted(script)
    smtp = connect(server, raise_errors=True)
    with pytest.raises(DeliveryUnknown):
        smtp.bdatlast(b"abc")
    server.join()


# ---- NUL ------------------------------------------------------------------------------------------
def test_nul_in_data_raises_before_data_is_sent(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.expect("NOOP")
        p.reply("250 ok")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    with pytest.raises(ValueError, match="NUL"):
        smtp.data(b"x\r\n\x00.\r\ny")
    with pytest.raises(ValueError, match="NUL"):
        smtp.data("nul \x00 in text")
    assert smtp.noop() is True
    assert smtp.quit() is True
    server.join()
    assert server.received == EHLO + b"NOOP\r\nQUIT\r\n"


def test_nul_in_a_later_chunk_abandons_the_message(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.expect("DATA")
        p.reply("354 go")
        assert p.at_eof()

    server = scripted(script)
    smtp = connect(server)
    with pytest.raises(ValueError, match="NUL"):
        smtp.data([b"first line\n", b"x\x00y\n"])
    assert smtp.noop() is False
    server.join()
    assert b"\r\n.\r\n" not in server.received
    assert server.received.startswith(EHLO + b"DATA\r\n")


def test_nul_in_datasend_is_refused_and_message_continues(
    scripted: type[ScriptedServer], connect: Connect
) -> None:
    server = scripted(data_script())
    smtp = connect(server)
    assert smtp.data() is True
    assert smtp.datasend(b"ok\n") is True
    with pytest.raises(ValueError):
        smtp.datasend(b"\x00")
    assert smtp.dataend() is True
    assert smtp.quit() is True
    server.join()
    assert server.received == EHLO + b"DATA\r\nok\r\n.\r\nQUIT\r\n"


# ---- the connection fails around the data ----------------------------------------------------------
def test_drop_after_final_dot(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.expect("DATA")
        p.reply("354 go")
        p.read_data()
        p.close()

    server = scripted(script)
    smtp = connect(server)
    assert smtp.data(b"Subject: x\n\nbody\n") is False
    assert smtp.code() == 421
    assert "Delivery unknown" in smtp.message()
    assert smtp.noop() is False
    server.join()


def test_drop_after_final_dot_raises_delivery_unknown(
    scripted: type[ScriptedServer], connect: Connect
) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.expect("DATA")
        p.reply("354 go")
        p.read_data()
        p.reset()

    server = scripted(script)
    smtp = connect(server, raise_errors=True)
    assert smtp.data() is True
    assert smtp.datasend(b"body\n") is True
    with pytest.raises(DeliveryUnknown) as info:
        smtp.dataend()
    assert isinstance(info.value, ConnectionLost)
    assert "may or may not" in str(info.value)
    server.join()


def test_stall_after_final_dot_is_delivery_unknown(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.expect("DATA")
        p.reply("354 go")
        p.read_data()
        assert p.at_eof(wait=3)

    server = scripted(script)
    smtp = connect(server, timeout=0.3, raise_errors=True)
    started = time.monotonic()
    with pytest.raises(DeliveryUnknown):
        smtp.data(b"body\n")
    assert time.monotonic() - started < 1.5
    assert smtp.code() == 421
    server.join()


def test_421_after_final_dot(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.expect("DATA")
        p.reply("354 go")
        p.read_data()
        p.reply("421 4.3.2 shutting down")
        assert p.at_eof()

    server = scripted(script)
    smtp = connect(server)
    assert smtp.data(b"body\n") is False
    assert smtp.code() == 421
    assert smtp.message() == "4.3.2 shutting down"
    assert smtp.noop() is False
    server.join()
    assert server.received == EHLO + b"DATA\r\nbody\r\n.\r\n"


def test_drop_mid_data_is_connection_lost_not_delivery_unknown(
    scripted: type[ScriptedServer], connect: Connect
) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.expect("DATA")
        p.reply("354 go")
        p.readline()
        p.reset()

    server = scripted(script)
    smtp = connect(server, raise_errors=True)
    assert smtp.data() is True
    assert smtp.datasend(b"first line\n") is True
    server.join()
    time.sleep(0.1)
    with pytest.raises(ConnectionLost) as info:
        for _ in range(50):
            smtp.datasend((b"y" * 63 + b"\n") * 1024)
    assert not isinstance(info.value, DeliveryUnknown)
    assert smtp.code() == 421
    with pytest.raises(ConnectionLost):  # closed: nothing more is written
        smtp.datasend(b"more\n")
    with pytest.raises(ConnectionLost):
        smtp.dataend()


def test_datafile_dropped_without_close_never_commits(
    scripted: type[ScriptedServer], connect: Connect
) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.expect("DATA")
        p.reply("354 go")
        assert p.read_to_eof() == b"partial\r\n"

    server = scripted(script)
    smtp = connect(server)

    def produce() -> None:
        fh = smtp.datafile()
        assert fh is not None
        fh.write(b"partial\n")
        raise RuntimeError("the body generator failed")

    with pytest.warns(ResourceWarning, match="never closed"):
        with pytest.raises(RuntimeError):
            produce()
        gc.collect()
    assert smtp.quit() is False  # still inside the message: closed without QUIT, not committed
    server.join()
    assert server.received == EHLO + b"DATA\r\npartial\r\n"
