"""Streaming: files and generators go out in bounded pieces (BDAT or stuffed DATA), data() and
datasend() take iterables without joining them, and memory stays bounded (both clients)."""

from __future__ import annotations

import hashlib
import io
import socket
import threading
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import netsmtp
from netsmtp._message import CHUNK
from tests.helpers.scripted import Peer, ScriptedServer

from .support import HELLO, Connect, greet, serve_quit

HEAD = b"From: a@example.org\r\nTo: b@example.net\r\nBcc: hidden@example.net\r\nSubject: stream\r\n\r\n"
SENT_HEAD = b"From: a@example.org\r\nTo: b@example.net\r\nSubject: stream\r\n\r\n"
ENVELOPE = b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nRCPT TO:<hidden@example.net>\r\n"


def body_across_the_chunk_boundary() -> bytes:
    """A body where a CRLF and the dot after it straddle the 1 MiB read boundary of a file."""
    filler = b"x" * (CHUNK - len(HEAD) - 1)
    return filler + b"\r\n.dot line\r\n..two\r\n.\r\nend\r\n"


def stuff(data: bytes) -> bytes:
    return data.replace(b"\r\n.", b"\r\n..") + b".\r\n"


def bdat_sink(got: dict[str, Any], *caps: str) -> Any:
    """A PIPELINING+CHUNKING script collecting the BDAT lines and the message."""

    def script(p: Peer) -> None:
        greet(p, "PIPELINING", "CHUNKING", *caps)
        got["envelope"] = b"".join(p.readline() for _ in range(3))
        p.reply("250 ok", "250 ok", "250 ok")
        lines, data = [], b""
        while True:
            line = p.readline()
            lines.append(line)
            data += p.read(int(line.split()[1]))
            p.reply("250 ok")
            if line.endswith(b"LAST\r\n"):
                break
        got["lines"], got["data"] = lines, data
        serve_quit(p)

    return script


def test_binary_file_by_bdat(scripted: type[ScriptedServer], connect: Connect, tmp_path: Path) -> None:
    body = body_across_the_chunk_boundary() + b"\x00binary\xff" * 100
    path = tmp_path / "message.eml"
    path.write_bytes(HEAD + body)
    got: dict[str, Any] = {}
    server = scripted(bdat_sink(got, "SIZE 100000000", "8BITMIME"))
    smtp = connect(server, max_line_length=None)  # a 1 MiB line and 8-bit octets, on purpose
    with path.open("rb") as fh:
        result = smtp.send_message(fh)
    smtp.quit()
    server.join()
    size = len(SENT_HEAD) + len(body)
    assert got["envelope"] == ENVELOPE.replace(b">\r\n", f"> SIZE={size}\r\n".encode(), 1)
    assert got["data"] == SENT_HEAD + body  # byte-exact: Bcc gone, nothing stuffed
    assert got["lines"] == [b"BDAT 1048576\r\n", f"BDAT {size - CHUNK} LAST\r\n".encode()]
    assert list(result.accepted) == ["b@example.net", "hidden@example.net"]


@pytest.mark.parametrize("pipelining", [True, False])
def test_binary_file_by_data_is_dot_stuffed(
    scripted: type[ScriptedServer], connect: Connect, tmp_path: Path, pipelining: bool
) -> None:
    body = body_across_the_chunk_boundary()
    path = tmp_path / "message.eml"
    path.write_bytes(HEAD + body)
    got: dict[str, bytes] = {}

    def script(p: Peer) -> None:
        greet(p, "PIPELINING", "SIZE 100000000")
        size = len(SENT_HEAD) + len(body)
        lines = ENVELOPE.replace(b">\r\n", f"> SIZE={size}\r\n".encode(), 1) + b"DATA\r\n"
        for line in lines.splitlines(keepends=True):
            p.expect(line)
            if not pipelining:
                p.reply("354 go" if line == b"DATA\r\n" else "250 ok")
        if pipelining:
            p.reply("250 ok", "250 ok", "250 ok", "354 go")
        got["data"] = p.read_data()
        p.reply("250 queued")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server, pipelining=pipelining, max_line_length=None)  # a 1 MiB line
    with path.open("rb") as fh:
        assert smtp.send_message(fh).delivered
    smtp.quit()
    server.join()
    assert got["data"] == stuff(SENT_HEAD + body)
    assert b"\r\n..dot line\r\n...two\r\n..\r\nend\r\n.\r\n" in got["data"]


def test_generator_is_streamed_not_joined(scripted: type[ScriptedServer], connect: Connect) -> None:
    """The server has the first chunk before the generator has produced the third megabyte."""
    arrived = threading.Event()
    waited: list[bool] = []
    piece = 100_000
    body = bytes(range(256)) * (4 * CHUNK // 256)

    def generator() -> Iterator[bytes]:
        yield HEAD
        for index, start in enumerate(range(0, len(body), piece)):
            if index == 25:  # 2.5 MB produced: the first chunk must be on the wire by now
                waited.append(arrived.wait(5))
            yield body[start : start + piece]

    got: dict[str, Any] = {}

    def script(p: Peer) -> None:
        greet(p, "PIPELINING", "CHUNKING", "8BITMIME")  # the body has every octet value
        assert p.read(len(ENVELOPE)) == ENVELOPE
        p.reply("250 ok", "250 ok", "250 ok")
        line = p.readline()
        assert line == b"BDAT 1048576\r\n"
        first = p.read(CHUNK // 2)
        arrived.set()
        data = first + p.read(CHUNK - len(first))
        p.reply("250 ok")
        lines = [line]
        while not lines[-1].endswith(b"LAST\r\n"):
            lines.append(p.readline())
            data += p.read(int(lines[-1].split()[1]))
            p.reply("250 ok")
        got["lines"], got["data"] = lines, data
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.send_message(generator()).delivered
    smtp.quit()
    server.join()
    assert waited == [True]
    assert got["data"] == SENT_HEAD + body
    total = len(SENT_HEAD) + len(body)
    assert got["lines"] == [b"BDAT 1048576\r\n"] * 4 + [f"BDAT {total - 4 * CHUNK} LAST\r\n".encode()]


def test_generator_by_data(scripted: type[ScriptedServer], connect: Connect) -> None:
    pieces = [HEAD[:10], HEAD[10:], b"line\r", b"\n.", b"dot\r\n", b".", b"\r\n", b"last"]
    got: dict[str, bytes] = {}

    def script(p: Peer) -> None:
        greet(p, "PIPELINING")
        assert p.read(len(ENVELOPE) + 6) == ENVELOPE + b"DATA\r\n"
        p.reply("250 ok", "250 ok", "250 ok", "354 go")
        got["data"] = p.read_data()
        p.reply("250 queued")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.send_message(iter(pieces)).delivered
    smtp.quit()
    server.join()
    assert got["data"] == SENT_HEAD + b"line\r\n..dot\r\n..\r\nlast\r\n.\r\n"


# ---- data() and datasend() with iterables ---------------------------------------------------------

SPLIT = [b"Subject: x\r", b"\n\r\n.", b"dot line\r\n", b".", b"\r\n", b"end\r"]
SPLIT_WIRE = b"Subject: x\r\n\r\n..dot line\r\n..\r\nend\r\n.\r\n"


def data_server(got: dict[str, bytes], arrived: threading.Event | None = None, marker: bytes = b"") -> Any:
    def script(p: Peer) -> None:
        greet(p)
        p.expect("MAIL FROM:<a@example.org>")
        p.reply("250 ok")
        p.expect("RCPT TO:<b@example.net>")
        p.reply("250 ok")
        p.expect("DATA")
        p.reply("354 go")
        if arrived is not None:
            head = p.read_until(marker)
            arrived.set()
            p.buffer = head + p.buffer
        got["data"] = p.read_data()
        p.reply("250 queued")
        serve_quit(p)

    return script


@pytest.mark.parametrize("form", ["list", "generator", "tuple"])
def test_data_takes_an_iterable_split_anywhere(
    scripted: type[ScriptedServer], connect: Connect, form: str
) -> None:
    got: dict[str, bytes] = {}
    server = scripted(data_server(got))
    smtp = connect(server)
    assert smtp.mail("a@example.org") and smtp.to("b@example.net")
    chunks: Any = {"list": SPLIT, "generator": iter(SPLIT), "tuple": tuple(SPLIT)}[form]
    assert smtp.data(chunks)
    smtp.quit()
    server.join()
    assert got["data"] == SPLIT_WIRE


def test_data_streams_its_iterable(scripted: type[ScriptedServer], connect: Connect) -> None:
    arrived = threading.Event()
    waited: list[bool] = []

    def generator() -> Iterator[bytes]:
        yield b"Subject: one\r\n\r\nfirst piece\r\n"
        yield b"second piece\r\n"
        waited.append(arrived.wait(5))  # the first piece is on the wire already
        yield b"third piece\r\n"

    got: dict[str, bytes] = {}
    server = scripted(data_server(got, arrived, b"first piece\r\n"))
    smtp = connect(server)
    assert smtp.mail("a@example.org") and smtp.to("b@example.net")
    assert smtp.data(generator())
    smtp.quit()
    server.join()
    assert waited == [True]
    assert got["data"] == b"Subject: one\r\n\r\nfirst piece\r\nsecond piece\r\nthird piece\r\n.\r\n"


def test_datasend_streams_its_iterable(scripted: type[ScriptedServer], connect: Connect) -> None:
    arrived = threading.Event()
    waited: list[bool] = []

    def generator() -> Iterator[bytes]:
        yield b"Subject: two\r\n\r\n."
        waited.append(arrived.wait(5))
        yield b"dot\r\n"

    got: dict[str, bytes] = {}
    server = scripted(data_server(got, arrived, b"\r\n\r\n.."))
    smtp = connect(server)
    assert smtp.mail("a@example.org") and smtp.to("b@example.net")
    assert smtp.data()
    assert smtp.datasend(generator())
    assert smtp.datasend(SPLIT[3:5])  # ".", "\r\n": a dot line split from its CRLF
    assert smtp.dataend()
    smtp.quit()
    server.join()
    assert waited == [True]
    assert got["data"] == b"Subject: two\r\n\r\n..dot\r\n..\r\n.\r\n"


class BlockReads(io.BytesIO):
    """A binary file that records each read1() and refuses to be read line by line, or
    with read(), which on a pipe would wait for a whole block: read1() takes what is there."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.reads: list[int] = []

    def read1(self, size: int = -1, /) -> bytes:
        block = super().read1(size)
        self.reads.append(len(block))
        return block

    def __iter__(self) -> Iterator[bytes]:
        raise AssertionError("a file must be read in blocks, not iterated by lines")

    def readline(self, size: int | None = -1, /) -> bytes:
        raise AssertionError("a file must be read in blocks, not iterated by lines")

    def read(self, size: int | None = -1, /) -> bytes:
        raise AssertionError("read() would wait for a whole block on a pipe: read1()")


@pytest.mark.parametrize("how", ["data", "datasend"])
def test_a_binary_file_is_read_in_blocks(scripted: type[ScriptedServer], connect: Connect, how: str) -> None:
    """2 MiB of short lines, a dot line straddling the first block boundary: two reads of
    1 MiB and one empty one (not 50,000 lines, each its own write), the same bytes on the wire."""
    head = b"Subject: lines\r\n\r\n"
    line = b"a short line of text\r\n"
    body = line * ((CHUNK - len(head)) // len(line))
    body += b"x" * (CHUNK - len(head) - len(body) - 1) + b"\r\n.dot\r\n" + line * (CHUNK // len(line))
    fh = BlockReads(head + body)
    got: dict[str, bytes] = {}
    server = scripted(data_server(got))
    smtp = connect(server)
    assert smtp.mail("a@example.org") and smtp.to("b@example.net")
    if how == "data":
        assert smtp.data(fh)
    else:
        assert smtp.data() and smtp.datasend(fh) and smtp.dataend()
    smtp.quit()
    server.join()
    assert fh.reads == [CHUNK, len(head) + len(body) - CHUNK, 0]
    assert got["data"] == stuff(head + body)


@pytest.mark.parametrize("how", ["data", "datasend"])
@pytest.mark.parametrize("form", [bytes, bytearray, memoryview])
def test_a_large_piece_is_sent_in_blocks(
    scripted: type[ScriptedServer], connect: Connect, form: type, how: str
) -> None:
    """A message over 1 MiB in one piece (to data() or datasend()) is checked whole, then
    dot-stuffed and written a block at a time: a CR and its LF split by the first block
    boundary, a dot line after them; a CRLF ending the second block, a dot line starting the
    third. The bytes on the wire are those of the whole message, stuffed."""

    def filler(size: int) -> bytes:  # short lines, the last one left open
        return (b"x" * 62 + b"\r\n") * (size // 64) + b"y" * (size % 64)

    head = b"Subject: big\r\n\r\n"
    first = filler(CHUNK - 1 - len(head)) + b"\r\n.dot\r\n"
    second = filler(CHUNK - 9) + b"\r\n..two\r\nend\r\n"
    message = head + first + second
    assert message[CHUNK - 1 : CHUNK + 2] == b"\r\n." and message[2 * CHUNK - 2 : 2 * CHUNK + 1] == b"\r\n."
    got: dict[str, bytes] = {}
    server = scripted(data_server(got))
    smtp = connect(server)
    assert smtp.mail("a@example.org") and smtp.to("b@example.net")
    if how == "data":
        assert smtp.data(form(message))
    else:
        assert smtp.data() and smtp.datasend(form(message)) and smtp.dataend()
    smtp.quit()
    server.join()
    assert got["data"] == stuff(message)


# ---- bounded memory -----------------------------------------------------------------------------


class FastSink:
    """A minimal PIPELINING(+CHUNKING) server that counts and hashes what it receives without
    keeping it (the scripted server records every byte, which is no good for 64 MiB)."""

    def __init__(self, chunking: bool) -> None:
        self.chunking = chunking
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.host = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self.digest = hashlib.sha256()
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            conn, _ = self.listener.accept()
            with conn:
                conn.settimeout(20)
                self._serve(conn)
        except BaseException as exc:
            self.errors.append(exc)
        finally:
            self.listener.close()

    def _serve(self, conn: socket.socket) -> None:
        buffer = bytearray(256 * 1024)
        view = memoryview(buffer)
        pending = b""

        def line() -> bytes:
            nonlocal pending
            while b"\r\n" not in pending:
                n = conn.recv_into(buffer)
                assert n, "EOF"
                pending += bytes(view[:n])
            text, _, pending = pending.partition(b"\r\n")
            return text

        def consume(count: int) -> None:
            nonlocal pending
            take = pending[:count]
            self.digest.update(take)
            count -= len(take)
            pending = pending[len(take) :]
            while count:
                n = conn.recv_into(buffer, min(count, len(buffer)))
                assert n, "EOF"
                self.digest.update(view[:n])
                count -= n

        conn.sendall(b"220 sink\r\n")
        assert line() == f"EHLO {HELLO}".encode()
        conn.sendall(
            b"250-sink\r\n250-PIPELINING\r\n"
            + (b"250 CHUNKING\r\n" if self.chunking else b"250 8BITMIME\r\n")
        )
        while True:
            command = line()
            if command.startswith(b"BDAT "):
                consume(int(command.split()[1]))
                conn.sendall(b"250 ok\r\n")
            elif command == b"DATA":
                conn.sendall(b"354 go\r\n")
                window = b""  # find the end marker without keeping the message
                while True:
                    if pending:
                        chunk, pending = pending, b""
                    else:
                        n = conn.recv_into(buffer)
                        assert n, "EOF"
                        chunk = bytes(view[:n])
                    window += chunk
                    end = window.find(b"\r\n.\r\n")
                    if end >= 0:
                        self.digest.update(window[: end + 2])
                        pending = window[end + 5 :]
                        break
                    self.digest.update(window[:-4])
                    window = window[-4:]
                conn.sendall(b"250 queued\r\n")
            elif command == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"250 ok\r\n")

    def join(self) -> None:
        self.thread.join(20)
        assert not self.thread.is_alive()
        if self.errors:
            raise self.errors[0]


def big_pieces(total: int) -> Iterator[bytes]:
    """``total`` octets of message in 100,000-octet pieces (each a new object), no dot lines."""
    block = (b"0123456789abcdefghijklmnopqrstuvwxyz" * 13 + b"\r\n") * 400  # lines <= 998 across pieces
    yield b"From: a@example.org\r\nTo: b@example.net\r\n\r\n"
    sent = 0
    while sent < total:
        start = sent % 100_000
        piece = block[start : start + min(100_000, total - sent)]
        sent += len(piece)
        yield piece
    yield b"\r\n"


@pytest.mark.parametrize(("chunking", "megabytes"), [(True, 64), (False, 32)], ids=["bdat", "data"])
def test_memory_stays_bounded(chunking: bool, megabytes: int) -> None:
    total = megabytes * 1024 * 1024
    expected = hashlib.sha256()
    for piece in big_pieces(total):
        expected.update(piece)
    sink = FastSink(chunking)
    tracemalloc.start()
    try:
        with netsmtp.SMTP(sink.host, hello=HELLO, timeout=20) as smtp:
            result = smtp.send_message(big_pieces(total))
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    sink.join()
    assert result.delivered
    # DATA: the sink hashes the payload up to the end marker (there is no line to un-stuff)
    assert sink.digest.hexdigest() == expected.hexdigest()
    assert peak < 16 * 1024 * 1024, f"peak traced memory {peak / 2**20:.1f} MiB"


@pytest.mark.parametrize("how", ["data", "datasend"])
def test_a_large_piece_holds_no_stuffed_copy(how: str) -> None:
    """Net::SMTP's data() or datasend() with 32 MiB of bytes: what it allocates on top of the
    message stays a few blocks, not a dot-stuffed copy of the whole (tracemalloc counts
    allocations only)."""
    message = b"".join(big_pieces(32 * 1024 * 1024)).replace(b"\r\n0", b"\r\n.")  # every line stuffed
    sink = FastSink(chunking=False)
    tracemalloc.start()
    try:
        with netsmtp.SMTP(sink.host, hello=HELLO, timeout=20) as smtp:
            assert smtp.mail("a@example.org") and smtp.to("b@example.net")
            if how == "data":
                assert smtp.data(message)
            else:
                assert smtp.data() and smtp.datasend(message) and smtp.dataend()
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    sink.join()
    assert sink.digest.hexdigest() == hashlib.sha256(message.replace(b"\r\n.", b"\r\n..")).hexdigest()
    assert peak < 8 * 1024 * 1024, f"peak traced memory {peak / 2**20:.1f} MiB"


@pytest.mark.parametrize("chunking", [True, False], ids=["bdat", "data"])
def test_failing_stream_abandons_the_message(
    scripted: type[ScriptedServer], connect: Connect, chunking: bool
) -> None:
    """A stream that fails half-way must never be committed: no BDAT LAST, no end marker, the
    connection is dropped (RFC 5321 §3.8) and the caller's exception comes out unchanged."""

    def generator() -> Iterator[bytes]:
        yield HEAD + (b"y" * 98 + b"\r\n") * (2 * CHUNK // 100)
        raise RuntimeError("disk on fire")

    got: dict[str, bytes] = {}

    def script(p: Peer) -> None:
        greet(p, "PIPELINING", *(["CHUNKING"] if chunking else []))
        envelope = ENVELOPE + (b"" if chunking else b"DATA\r\n")
        assert p.read(len(envelope)) == envelope
        p.reply("250 ok", "250 ok", "250 ok", *([] if chunking else ["354 go"]))
        got["rest"] = p.read_to_eof()

    server = scripted(script)
    smtp = connect(server)
    with pytest.raises(RuntimeError, match="disk on fire"):
        smtp.send_message(generator())
    server.join()
    assert b"LAST" not in got["rest"] and not got["rest"].endswith(b"\r\n.\r\n")
    assert smtp.noop() is False  # the connection is gone
