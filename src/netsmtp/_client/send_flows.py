"""``send_message``: the whole transaction, pipelined (RFC 2920) and chunked (RFC 3030).

With PIPELINING and CHUNKING, MAIL, every RCPT, ``BDAT <n> LAST`` and the message go out
in one write: one round trip per message (SPEC A15). With PIPELINING alone, MAIL, the RCPTs
and DATA share one write and the body follows the 354. Without PIPELINING every command
waits for its reply (OpenSMTPD drops clients that pipeline uninvited). Whatever fails, every
reply is read and paired with its command, so the session stays in step; a message is never
committed without an accepted recipient.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .._core.commands import DSN_MAIL_EXTRA, MAX_COMMAND_LINE, encode_line
from .._core.data import check_line_length
from .._core.parameters import MAIL_OPTIONS, mail_parameters, normalise_options
from .._core.reply import Reply
from .._exceptions import ConnectionLost, NotSupportedError, SendError, SMTPTimeout
from .._message import CHUNK, PreparedMessage, prepare
from .requests import Flow, Write
from .state import delivery_unknown, pseudo_reply
from .transaction_flows import _JOIN_LIMIT, TransactionFlows, _check_text

# SPEC A15: up to this size the body rides with the envelope (BDAT LAST in the same write).
INLINE_BDAT_LIMIT = 1024 * 1024
# BDAT chunks in flight before the oldest reply is read: replies never pile up unread.
BDAT_WINDOW = 16


@dataclass
class SendResult:
    """What happened to one message: per-recipient replies and the data-phase reply.

    ``accepted`` maps each recipient that got the message (as given) to its RCPT reply
    (LMTP: to its reply after the data). ``refused`` maps every other recipient to the reply
    that refused it: its RCPT reply, or, when the message itself was refused after the
    recipient was accepted (DATA, a BDAT chunk, the end of the data), that refusal.
    ``reply`` is the reply that ended the data phase (None if it was never reached).
    ``sender`` is the envelope sender as given (or taken from the headers), ``mail_reply``
    the answer to MAIL FROM.
    """

    sender: str
    accepted: dict[str, Reply] = field(default_factory=dict)
    refused: dict[str, Reply] = field(default_factory=dict)
    reply: Reply | None = None
    mail_reply: Reply | None = None

    @property
    def delivered(self) -> bool:
        """True when at least one recipient has the message."""
        return bool(self.accepted) and self.reply is not None


class SendFlows(TransactionFlows):
    """The send_message operation."""

    def _send_message_flow(
        self,
        msg: Any,
        from_addr: str | None,
        to_addrs: str | Iterable[str] | None,
        options: Mapping[str, Any],
    ) -> Flow[SendResult]:
        prepared = prepare(msg, from_addr, to_addrs)
        if not prepared.recipients:
            raise ValueError("send_message(): no recipients (none given and none in To, Cc or Bcc)")
        caps = self._session.capabilities
        opts = normalise_options(options, MAIL_OPTIONS, "send_message")
        if prepared.size is not None and caps is not None and "SIZE" in caps:
            opts.setdefault("size", prepared.size)
            limit = caps.size_limit
            if limit is not None and prepared.size > limit:
                text = f"5.3.4 message of {prepared.size} octets exceeds the server's limit of {limit}"
                raise NotSupportedError(pseudo_reply(552, text), "MAIL")
        eight_bit_ok = caps is not None and (
            "8BITMIME" in caps or ("BINARYMIME" in caps and "CHUNKING" in caps)
        )
        if prepared.eight_bit:  # declared only when the body needs it (Exchange refuses it otherwise)
            if not eight_bit_ok:  # SECURITY SM-11, RFC 6152: never 8-bit octets to a 7-bit server
                raise NotSupportedError(_not_8bit("nothing sent"), "MAIL")
            assert caps is not None
            opts.setdefault("bits", "8" if "8BITMIME" in caps else "binary")
        if prepared.international:
            opts.setdefault("smtputf8", True)

        # Validate everything before the first byte.
        sender_path = self._path(prepared.sender)
        params = mail_parameters(opts, caps, sender_path, self._options.exact_addresses)
        if params.missing:
            text = f"5.5.4 {params.missing} is not advertised by the server; nothing sent"
            raise NotSupportedError(pseudo_reply(555, text), "MAIL")
        dsn = any(p.startswith(("RET=", "ENVID=")) for p in params.params)
        mail_line = encode_line(
            f"MAIL FROM:{sender_path}{params.text}", limit=MAX_COMMAND_LINE + (DSN_MAIL_EXTRA if dsn else 0)
        )
        rcpt_lines = [encode_line(f"RCPT TO:{self._path(r)}") for r in prepared.recipients]
        self._warn_dropped(params, opts, "send_message")
        chunking = caps is not None and "CHUNKING" in caps
        whole = _whole(prepared)
        if not chunking and whole is not None:
            _check_text(whole)
        # SM-10 line length (not for BINARYMIME, which has no lines) and SM-11 8-bit content:
        # a message in memory is checked whole before the first byte; a stream as it goes (a
        # failure then abandons the message). With DATA the encoder checks the lines itself.
        binary = "BODY=BINARYMIME" in params.params
        check = _BodyCheck(None if binary else self._options.max_line_length, eight_bit_ok or binary)
        if prepared.payload is not None:
            for piece in [whole] if whole is not None else prepared.chunks():
                check(piece)
        elif prepared.stream is not None:
            if not chunking:
                check.limit = None
            prepared = replace(prepared, stream=map(check, prepared.stream))

        result = SendResult(prepared.sender)
        pipelining = self._pipelining()
        if pipelining:
            inline = chunking and whole is not None and len(whole) <= INLINE_BDAT_LIMIT
            # The envelope in groups of at most _pipeline_window commands, each written once
            # the one before it is answered (RFC 2920 §3.1: no deadlock); the message, or DATA,
            # goes with the last. Nearly every envelope is one group: one round trip.
            count, window = len(rcpt_lines), self._pipeline_window
            start, first = 0, True
            while True:
                stop = min(count, start + window - (1 if first else 0))  # the first holds MAIL
                batch = [self._queue(mail_line, label="MAIL")] if first else []  # (verbs given)
                batch += [self._queue(line, label="RCPT") for line in rcpt_lines[start:stop]]
                if stop == count and inline:
                    assert whole is not None
                    batch.append(self._queue_bdat(whole, last=True))
                elif stop == count and not chunking:
                    batch.append(self._queue(b"DATA\r\n", label="DATA"))
                yield from self._write_message(b"".join(batch))  # with inline BDAT, the message
                if stop == count:
                    break
                yield from self._read_envelope(result, prepared, first, start, stop)
                assert result.mail_reply is not None
                if not result.mail_reply.is_positive:
                    # RFC 2920 §3: no RCPT after a refused MAIL counts; send no more of them.
                    for recipient in prepared.recipients[stop:]:
                        result.refused[recipient] = result.mail_reply
                    return (yield from self._nothing_accepted(result))
                start, first = stop, False
            if inline:
                # The whole message went out with the envelope: from now on a lost connection
                # leaves its fate unknown (RFC 1047), unless a reply already settled it.
                try:
                    yield from self._read_envelope(result, prepared, first, start, count)
                except (ConnectionLost, SMTPTimeout) as exc:
                    if _refused_for_sure(result, prepared):
                        raise
                    raise delivery_unknown(exc) from exc
            else:
                yield from self._read_envelope(result, prepared, first, start, count)
            if inline:
                self._expect_final_extras(result)  # known only now (LMTP: one per recipient)
                final = yield from self._read_final()
                if not result.accepted:
                    result.reply = final
                    return (yield from self._nothing_accepted(result))
                return (yield from self._finish(result, final))
            if not chunking:
                data_reply = yield from self._read()
                return (yield from self._after_data_reply(result, prepared, data_reply))
        else:
            yield from self._send(mail_line)
            result.mail_reply = yield from self._read()
            self._stop_if_closed(result, result.mail_reply, prepared.recipients, 0)
            if not result.mail_reply.is_positive:
                raise SendError(f"MAIL refused: {result.mail_reply}", result)
            for index, (recipient, line) in enumerate(zip(prepared.recipients, rcpt_lines, strict=True)):
                yield from self._send(line)
                reply = yield from self._read()
                self._record(result, recipient, reply)
                self._stop_if_closed(result, reply, prepared.recipients, index + 1)
        if not result.accepted:
            return (yield from self._nothing_accepted(result))
        if chunking:
            return (yield from self._send_bdat(result, prepared))
        yield from self._send(b"DATA\r\n")
        return (yield from self._after_data_reply(result, prepared, (yield from self._read())))

    # ---- pieces -----------------------------------------------------------------------------
    def _queue_bdat(self, chunk: bytes, last: bool) -> bytes:
        return self._queue_bdat_line(len(chunk), last) + chunk

    def _queue_bdat_line(self, size: int, last: bool) -> bytes:
        """Register ``BDAT <size> [LAST]`` and log it; return the command line alone."""
        self._take_unsolicited()
        line = self._session.bdat_command(size, last)
        if self._transcript.on:
            self._transcript.line(">>>", f"BDAT {size}{' LAST' if last else ''}")
        return line

    def _write_bdat(self, piece: bytes | memoryview, last: bool) -> Flow[None]:
        """One BDAT and its chunk. A large chunk is written after the command line, not
        joined to it: a message in memory is sent from where it is, without a copy."""
        line = self._queue_bdat_line(len(piece), last)
        if len(piece) < _JOIN_LIMIT:
            yield from self._write_message(line + piece)
        else:
            yield from self._write_message(line)
            yield from self._write_message(piece)

    def _expect_final_extras(self, result: SendResult) -> None:
        """Await the replies to the end of the message beyond the first (LMTP)."""
        for _ in range(self._final_replies_extra(result)):
            self._session.expect_reply("BDAT LAST")

    def _final_replies_extra(self, result: SendResult) -> int:
        """Replies to the end of a message beyond the first (LMTP: one per accepted recipient)."""
        return 0

    def _record(self, result: SendResult, recipient: str, reply: Reply) -> None:
        (result.accepted if reply.is_positive else result.refused)[recipient] = reply

    def _read_envelope(
        self, result: SendResult, prepared: PreparedMessage, mail: bool, start: int, stop: int
    ) -> Flow[None]:
        """Read the replies to one pipelined group: MAIL's (if ``mail``), then those to the
        RCPTs of ``prepared.recipients[start:stop]``."""
        if mail:
            result.mail_reply = yield from self._read()
            self._stop_if_closed(result, result.mail_reply, prepared.recipients, 0)
        assert result.mail_reply is not None
        recipients = prepared.recipients
        for index in range(start, stop):
            recipient = recipients[index]
            reply = yield from self._read()
            if result.mail_reply.is_positive:
                self._record(result, recipient, reply)
            else:  # RFC 2920 §3: RCPTs after a refused MAIL count for nothing
                result.refused[recipient] = reply
            self._stop_if_closed(result, reply, prepared.recipients, index + 1)

    def _stop_if_closed(
        self, result: SendResult, reply: Reply, recipients: Sequence[str], answered: int
    ) -> None:
        """A reply that closed the session (421) refuses the message for everyone: those
        whose RCPT was answered already, and ``recipients[answered:]``, never answered.
        (The index, not the slice: this runs after every reply, and a slice per reply would
        copy a long list once per recipient.)"""
        if not self._session.closed:
            return
        for recipient in recipients[answered:]:
            result.refused[recipient] = reply
        _refuse_all(result, reply)
        raise SendError(f"message not sent: the server closed the connection: {reply}", result)

    def _reset(self) -> Flow[None]:
        """RSET, so that no half-done transaction is left behind (if the session is open)."""
        if not self._session.closed:
            yield from self._send(b"RSET\r\n")
            yield from self._read()

    def _nothing_accepted(self, result: SendResult) -> Flow[SendResult]:
        """No recipient: leave the transaction clean (RSET) and report everything."""
        if result.mail_reply is not None and result.mail_reply.is_positive:
            yield from self._reset()
        mail_ok = result.mail_reply is not None and result.mail_reply.is_positive
        what = "every recipient refused" if mail_ok else "MAIL refused"
        raise SendError(f"message not sent: {what}", result)

    def _after_data_reply(
        self, result: SendResult, prepared: PreparedMessage, reply: Reply
    ) -> Flow[SendResult]:
        if reply.code != 354:
            result.reply = reply
            if not result.accepted:
                return (yield from self._nothing_accepted(result))
            _refuse_all(result, reply)
            if result.mail_reply is not None and result.mail_reply.is_positive:
                yield from self._reset()
            raise SendError(f"DATA refused: {reply}", result)
        self._nothing_after_354()
        if not result.accepted:
            # RFC 2920 §3: DATA accepted although no RCPT was; end the data at once, so
            # nothing is committed, and let the server refuse the empty transaction.
            yield Write(self._session.end_data(1))
            result.reply = yield from self._read()
            raise SendError("message not sent: every recipient refused", result)
        pending = b""
        try:
            for chunk in prepared.chunks():
                encoded = self._session.data(_check_text(chunk))
                self._transcript.data(chunk)
                if pending:
                    yield from self._write_message(pending)
                pending = encoded
        except BaseException:
            self._session.close(" (message abandoned)")
            self._close_transport()
            raise
        tail = self._session.end_data(1 + self._final_replies_extra(result))
        self._transcript.line(">>>", ".")
        if len(pending) < _JOIN_LIMIT:  # a small message and its end marker: one segment
            yield from self._write_message(pending + tail)
        else:
            yield from self._write_message(pending)
            yield from self._write_message(tail)
        return (yield from self._finish(result, (yield from self._read_final())))

    def _send_bdat(self, result: SendResult, prepared: PreparedMessage) -> Flow[SendResult]:
        """The message as BDAT chunks after the envelope.

        With PIPELINING, up to BDAT_WINDOW chunks are in flight before the oldest reply is
        read; without it, each chunk waits for its reply. A refused chunk ends the sending
        (RFC 3030 §2: no further chunk may follow): the replies still due are read, RSET
        ends the transaction and SendError reports it. Every reply to the earlier chunks
        is read before ``BDAT LAST``, so the replies to the end of the message (one per
        recipient for LMTP) are never mixed with a chunk's.

        The chunks are those of ``prepared.chunks()``, sent as they are; a message in memory
        goes out from where it is, without a copy.
        """
        window = BDAT_WINDOW if self._pipelining() else 1
        outstanding = 0
        failed: Reply | None = None
        windows = prepared.windows()
        try:
            pending = next(windows, _NO_WINDOW)  # a stream may fail its checks here already
            for upcoming in windows:
                if pending[2] > pending[1]:
                    yield from self._write_bdat(_piece(pending), last=False)
                    outstanding += 1
                pending = upcoming
                while outstanding >= window:
                    reply = yield from self._read()
                    outstanding -= 1
                    failed = failed or (None if reply.is_positive else reply)
                if failed is not None:
                    break
        except BaseException:
            self._session.close(" (message abandoned)")
            self._close_transport()
            raise
        for _ in range(outstanding):
            reply = yield from self._read()
            failed = failed or (None if reply.is_positive else reply)
        if failed is not None:
            result.reply = failed
            _refuse_all(result, failed)
            yield from self._reset()
            raise SendError(f"message refused: {failed}", result)
        yield from self._write_bdat(_piece(pending), last=True)
        self._expect_final_extras(result)
        return (yield from self._finish(result, (yield from self._read_final())))

    def _finish(self, result: SendResult, reply: Reply) -> Flow[SendResult]:
        """Record the end-of-data reply (LMTP overrides to read one per recipient)."""
        result.reply = reply
        if not reply.is_positive:
            _refuse_all(result, reply)
            raise SendError(f"message refused: {reply}", result)
        return result
        yield  # pragma: no cover - makes this a generator like the LMTP override


def _refused_for_sure(result: SendResult, prepared: PreparedMessage) -> bool:
    """True when the replies read so far rule delivery out: MAIL refused, or every
    recipient answered and none accepted."""
    mail = result.mail_reply
    if mail is not None and not mail.is_positive:
        return True
    return not result.accepted and len(result.refused) == len(prepared.recipients)


_NO_WINDOW = (b"", 0, 0)


def _piece(window: tuple[bytes, int, int]) -> bytes | memoryview:
    """``data[start:stop]`` of a window of :meth:`PreparedMessage.windows`, not copied."""
    data, start, stop = window
    return data if start == 0 and stop == len(data) else memoryview(data)[start:stop]


def _not_8bit(what: str) -> Reply:
    return pseudo_reply(
        554,
        f"5.6.3 the message has 8-bit content and the server offers neither 8BITMIME nor BINARYMIME; {what}",
    )


class _BodyCheck:
    """Checks the pieces of a message body in order: no line over ``limit`` octets (across
    pieces), and no 8-bit octet unless ``eight_bit_ok``. Returns each piece unchanged."""

    __slots__ = ("carry", "eight_bit_ok", "limit")

    def __init__(self, limit: int | None, eight_bit_ok: bool) -> None:
        self.limit = limit
        self.eight_bit_ok = eight_bit_ok
        self.carry = 0

    def __call__(self, piece: bytes) -> bytes:
        if self.limit is not None:
            self.carry = check_line_length(piece, self.limit, self.carry)
        if not self.eight_bit_ok and not piece.isascii():
            raise NotSupportedError(_not_8bit("message abandoned"), "DATA")
        return piece


def _refuse_all(result: SendResult, reply: Reply) -> None:
    """Nobody got the message: every accepted recipient moves to ``refused`` with ``reply``."""
    for recipient in list(result.accepted):
        del result.accepted[recipient]
        result.refused[recipient] = reply


def _whole(prepared: PreparedMessage) -> bytes | None:
    """The message as one bytes object when it is in memory and small enough to join."""
    one = prepared.in_one_piece()
    if one is not None:
        return one
    if prepared.payload is not None and prepared.size is not None and prepared.size <= CHUNK:
        return b"".join(bytes(p) for p in prepared.payload)
    return None
