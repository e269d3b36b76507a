"""Operations of a mail transaction: MAIL, RCPT, DATA, BDAT (SPEC A1, A8-A11, Part B §7-10)."""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from .._core.address import ascii_domain, to_path
from .._core.commands import DSN_MAIL_EXTRA, DSN_RCPT_EXTRA, MAX_COMMAND_LINE, encode_line
from .._core.data import check_line_length
from .._core.parameters import (
    MAIL_OPTIONS,
    RCPT_OPTIONS,
    Parameters,
    mail_parameters,
    normalise_options,
    rcpt_parameters,
)
from .._core.session import State
from .._exceptions import (
    ConnectionLost,
    ExtensionWarning,
    NotSupportedError,
    ProtocolError,
    ReplyError,
    UsageError,
)
from .requests import Flow, Write
from .session_flows import SessionFlows
from .state import pseudo_reply

MessageData = bytes | bytearray | memoryview | str | Iterable[bytes | bytearray | memoryview | str]
# Below this size the end marker rides in the same write as the message.
_JOIN_LIMIT = 256 * 1024


_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _caller_stacklevel() -> int:
    """The ``stacklevel`` that makes a warning name the caller's line, not ours.

    Counted from the function that calls this one; how deep the drivers and flows nest
    differs between the blocking and the asyncio client, so it is found, not fixed.
    """
    frame = sys._getframe(1)
    level = 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
        level += 1
    return level


def _as_bytes(chunk: object) -> bytes:
    if isinstance(chunk, bytes):
        return chunk
    if isinstance(chunk, str):
        return chunk.encode()  # UTF-8
    if isinstance(chunk, bytearray | memoryview):
        return bytes(chunk)
    raise TypeError(f"message data must be bytes or str, not {type(chunk).__name__}")


_ONE_PIECE = (bytes, bytearray, memoryview, str)
_LISTS = (list, tuple)  # (a tuple of types: "list | tuple" builds a union object at every test)


# A binary file given to data() or datasend() is read, and a large piece of message encoded,
# in blocks of up to this size.
_BLOCK = 1024 * 1024


def iter_chunks(data: object) -> Iterator[bytes]:
    """The chunks of ``data`` (bytes, str, or an iterable of them), without joining them."""
    if isinstance(data, _ONE_PIECE):
        return iter((_as_bytes(data),))  # no generator to make for the usual one piece
    read1 = getattr(data, "read1", None)
    if callable(read1):
        # A binary file: what is there, up to a block per read, not line by line (a 4 MB
        # file of short lines was 110,000 writes). read1() makes at most one read of the
        # underlying file, so a pipe still streams as its writer writes.
        return _blocks(read1)
    if not isinstance(data, Iterable):
        raise TypeError(f"message data must be bytes, str or an iterable of them, not {type(data).__name__}")
    return map(_as_bytes, data)  # lazily, piece by piece


def _blocks(read1: Callable[[int], object]) -> Iterator[bytes]:
    while block := read1(_BLOCK):
        yield _as_bytes(block)


def _check_text(chunk: bytes) -> bytes:
    # A NUL has no place in RFC 5322 text, and receivers that strip it can be made to
    # see an end-of-data marker that we never sent (SECURITY SM-06). BDAT can carry it.
    if 0 in chunk:  # (an int needle: "b'\\x00' in chunk" costs a failed int conversion first)
        raise ValueError("message data contains a NUL byte; send binary content with bdat()")
    return chunk


class TransactionFlows(SessionFlows):
    """MAIL FROM, RCPT TO, DATA and BDAT."""

    # The most pipelined commands written before their replies are read (RFC 2920 §3.1). A
    # client that does not read while it writes deadlocks with a server that answers as it
    # reads once both socket buffers fill: 20,000 RCPTs are 600 KB, their replies 300 KB.
    # A group of 1,000 (about 50 KB each way) fits the smallest default buffers; a longer
    # list costs one round trip per group.
    _pipeline_window = 1000

    def _warn_dropped(self, params: Parameters, given: Mapping[str, Any], where: str) -> None:
        if not params.dropped:
            return
        level = _caller_stacklevel()
        if self._session.capabilities is None:
            message = f"{where}: ESMTP not supported by host - options discarded ({', '.join(given)})"
            warnings.warn(message, ExtensionWarning, stacklevel=level)
            return
        for why in params.dropped:
            warnings.warn(f"{where}: {why}", ExtensionWarning, stacklevel=level)

    def _path(self, address: str | None) -> str:
        path = to_path(address, self._options.exact_addresses)
        return ascii_domain(path) if not path.isascii() else path

    def _mail_flow(self, verb: str, address: str | None, options: Mapping[str, Any]) -> Flow[bool]:
        opts = normalise_options(options, MAIL_OPTIONS, "mail")
        path = self._path(address)
        caps = self._session.capabilities
        params = mail_parameters(opts, caps, path, self._options.exact_addresses)
        if params.missing:
            text = f"5.5.4 {params.missing} is not advertised by the server; {verb} not sent"
            raise NotSupportedError(pseudo_reply(555, text), verb)
        dsn = bool(params.params) and any(p.startswith(("RET=", "ENVID=")) for p in params.params)
        line = encode_line(
            f"{verb} FROM:{path}{params.text}",
            limit=MAX_COMMAND_LINE + (DSN_MAIL_EXTRA if dsn else 0),
        )
        if params.dropped:
            self._warn_dropped(params, opts, "mail")
        reply = yield from self._read(self._queue(line, label=verb))  # the verb: no need to parse it
        self._expect_ok(reply, verb)
        self._txn_recipients = []
        return True

    def _write_message(self, data: bytes | memoryview) -> Flow[None]:
        """Write part of a message, its end included or not. If the connection breaks now,
        the end of the message has not reached the server: the transaction is void (RFC 5321
        §3.8), the message was not accepted and sending it again is safe (SECURITY MS-11).
        Only once all of it is out does a lost connection leave its fate unknown
        (DeliveryUnknown, MS-10)."""
        try:
            yield Write(data)
        except ConnectionLost as exc:
            raise ConnectionLost(
                f"the connection broke while the message was being sent: the message was not accepted ({exc})"
            ) from exc

    def _recipient_flow(self, addresses: tuple[Any, ...], options: Mapping[str, Any]) -> Flow[Any]:
        opts = normalise_options(options, RCPT_OPTIONS, "recipient")
        skip_bad = bool(opts.pop("skip_bad", False))
        given: list[str] = []
        for item in addresses:  # to(["a", "b"]) as well as to("a", "b")
            given.extend(item if isinstance(item, _LISTS) else [item])
        caps = self._session.capabilities
        params = rcpt_parameters(opts, caps)
        limit = MAX_COMMAND_LINE + (DSN_RCPT_EXTRA if params.params else 0)
        lines = []
        extra = params.text
        for address in given:  # validate every address before the first byte (SECURITY CI-02)
            path = self._path(address)
            if not path.isascii() and (caps is None or "SMTPUTF8" not in caps):
                text = f"5.5.4 SMTPUTF8 is not advertised by the server; RCPT for {path} not sent"
                raise NotSupportedError(pseudo_reply(555, text), "RCPT")
            lines.append(encode_line(f"RCPT TO:{path}{extra}", limit=limit))
        if params.dropped:
            self._warn_dropped(params, opts, "recipient")
        # With skip_bad every address is tried anyway, so with PIPELINING the RCPTs go out
        # in one write (a group per _pipeline_window) and the replies are read after it: the
        # server gets what lockstep sends, in one round trip. Without skip_bad there is no
        # batch: Net::SMTP stops at the first refusal and sends no later address, which only
        # lockstep can do.
        batched = skip_bad and len(lines) > 1 and self._pipelining()
        window = self._pipeline_window
        accepted: list[str] = []
        last = len(given) - 1
        for index, (address, line) in enumerate(zip(given, lines, strict=True)):
            if batched and index % window == 0:  # a new group, the last one all answered
                group = lines[index : index + window]
                yield Write(b"".join([self._queue(queued, label="RCPT") for queued in group]))
            reply = yield from (self._read() if batched else self._read(self._queue(line, label="RCPT")))
            if reply.is_positive:
                accepted.append(address)
                self._txn_recipients.append(address)
            elif not skip_bad:
                raise ReplyError(reply, "RCPT")
            elif batched and index < last:
                self._ensure_open()  # a 421 closed the session: no later reply will come
        return accepted if skip_bad else True

    def _pipelining(self) -> bool:
        """May commands be batched: the server offers PIPELINING and it was not turned off."""
        caps = self._session.capabilities
        return caps is not None and "PIPELINING" in caps and self._options.pipelining

    # ---- DATA ---------------------------------------------------------------------------
    def _data_start_flow(self) -> Flow[None]:
        reply = yield from self._read(self._queue(b"DATA\r\n", label="DATA"))
        if reply.code != 354:
            raise ReplyError(reply, "DATA")
        self._nothing_after_354()

    def _nothing_after_354(self) -> None:
        """Bytes already received after a 354 answer no command (a reply too many, as in
        SECURITY MS-14): read after the message, they would be taken as the server's
        verdict on it. Close before any byte of the message is sent."""
        if self._session.parser.buffered:
            self._session.close(" (unsolicited reply after 354)")
            raise ProtocolError(
                "the server sent data that answers no command after its 354; connection closed"
            )

    def _data_flow(self, data: MessageData | None) -> Flow[bool]:
        if data is None:
            yield from self._data_start_flow()
            return True
        chunks = iter_chunks(data)
        first = next(chunks, b"")  # a one-piece message is checked before DATA is sent
        _check_text(first)
        if self._options.max_line_length is not None:  # SM-10 (the encoder checks the rest)
            check_line_length(first, self._options.max_line_length)
        yield from self._data_start_flow()
        pending = b""
        chunk: bytes | None = first
        try:
            while chunk is not None:
                for encoded in self._encoded(chunk):
                    if pending:
                        yield from self._write_message(pending)
                    pending = encoded  # (held back: the last piece goes out with the end marker)
                self._transcript.data(chunk)
                chunk = next(chunks, None)
                if chunk is not None:
                    _check_text(chunk)
        except BaseException:
            # Half a message must never be committed: drop the connection, which voids
            # the transaction (RFC 5321 §3.8) (SPEC A10).
            self._session.close(" (message abandoned)")
            self._close_transport()
            raise
        tail = self._session.end_data(self._end_replies())
        if self._transcript.on:
            self._transcript.line(">>>", ".")
        if len(pending) < _JOIN_LIMIT:
            yield from self._write_message(pending + tail)
        else:
            yield from self._write_message(pending)
            yield from self._write_message(tail)
        return (yield from self._data_reply_flow())

    def _end_replies(self) -> int:
        """How many replies the end of data earns: one for SMTP (LMTP overrides)."""
        return 1

    def _data_reply_flow(self) -> Flow[bool]:
        reply = yield from self._read_final()
        self._expect_ok(reply, "DATA")
        return True

    def _datasend_flow(self, data: MessageData) -> Flow[bool]:
        self._ensure_open()  # Net::Cmd: false once the connection is gone, not a usage error
        if self._session.state is not State.DATA:
            raise UsageError("datasend() needs a data phase: call data() with no argument first")
        for chunk in iter_chunks(data):
            for encoded in self._encoded(_check_text(chunk)):
                if encoded:
                    yield from self._write_message(encoded)
            self._transcript.data(chunk)
        return True

    def _encoded(self, chunk: bytes) -> Iterable[bytes]:
        """The wire form of a piece of message: whole, or a block at a time for a large
        piece, which is checked whole first (a refused piece still changes nothing) and never
        held twice (a dot-stuffed copy of 64 MB would double what the message costs)."""
        if len(chunk) > _BLOCK:
            return self._session.data_blocks(chunk, _BLOCK)
        return (self._session.data(chunk),)

    def _dataend_flow(self) -> Flow[bool]:
        self._ensure_open()  # an abandoned message was not accepted: never report success
        if self._session.state is not State.DATA:
            return True  # Net::Cmd: ending twice is harmless and sends nothing
        tail = self._session.end_data(self._end_replies())
        self._transcript.line(">>>", ".")
        yield from self._write_message(tail)
        return (yield from self._data_reply_flow())

    def _rawdatasend_flow(self, data: MessageData) -> Flow[bool]:
        self._ensure_open()
        for chunk in iter_chunks(data):
            raw = self._session.raw_data(chunk)
            self._transcript.data(chunk)
            if raw:
                yield from self._write_message(raw)
        return True

    # ---- BDAT ---------------------------------------------------------------------------
    def _bdat_flow(self, data: bytes | str, last: bool) -> Flow[bool]:
        chunk = _as_bytes(data)
        caps = self._session.capabilities
        if caps is None or "CHUNKING" not in caps:
            raise NotSupportedError(pseudo_reply(500, "Command unknown: 'BDAT'"), "BDAT")
        self._take_unsolicited()
        frame = self._session.bdat(chunk, last)
        if self._transcript.on:
            self._transcript.line(">>>", f"BDAT {len(chunk)}{' LAST' if last else ''}")
            self._transcript.data(chunk)
        yield from self._write_message(frame)
        reply = yield from (self._read_final() if last else self._read())
        self._expect_ok(reply, "BDAT")
        return True
