"""State and primitives shared by every client operation.

Internally everything raises; :meth:`ClientState._finish` is the thin layer that turns
netsmtp's errors into Net::SMTP's false returns (unless ``raise_errors=True``) and makes
sure a transport failure always leaves the connection closed.
"""

from __future__ import annotations

from typing import Any, TypeVar

from .._core.commands import encode_line
from .._core.reply import Reply
from .._core.sasl import SASLError
from .._core.session import Session, State
from .._exceptions import (
    ConnectionLost,
    DeliveryUnknown,
    ProtocolError,
    ReplyError,
    SendError,
    SMTPError,
    SMTPTimeout,
    TLSError,
)
from .._options import Options
from .._transcript import RECEIVED, SENT, Transcript
from .requests import Close, Flow, ReadReply, ReplyResult, Write

T = TypeVar("T")
F = TypeVar("F")

READ_NEXT = ReadReply()  # the commonest request (never modified): read the next reply, write nothing
# State.X is a descriptor call in Python 3.11: not before every command or after every reply
_READY, _CLOSED = State.READY, State.CLOSED

CMD_PENDING, CMD_INFO, CMD_OK, CMD_MORE, CMD_REJECT, CMD_ERROR = 0, 1, 2, 3, 4, 5
DEFAULT_REPLY_CODE = 421
# The "failure value" of operations that always raise (send_message): Net::SMTP's
# false returns are for Net::SMTP's methods only.
RAISE: Any = object()


def delivery_unknown(exc: SMTPError) -> DeliveryUnknown:
    """What a transport failure becomes once the whole message is on the wire (RFC 1047)."""
    return DeliveryUnknown(
        "the connection failed after the message was sent and before the server "
        f"answered: it may or may not have been accepted ({exc})"
    )


def pseudo_reply(code: int, text: str) -> Reply:
    """A reply made up locally (Net::SMTP's pseudo statuses), e.g. 421 for a timeout."""
    return Reply.from_lines(code, (text,))


class ClientState:
    """Attributes and protocol primitives common to SMTP, AsyncSMTP, LMTP and AsyncLMTP."""

    _options: Options
    _session: Session
    _transcript: Transcript
    _last_reply: Reply | None
    _connected_host: str | None
    _connected_name: str | None  # the host part of _connected_host: what TLS verifies
    _hello_domain: str | None
    _local_address: str | None
    _peer: tuple[Any, ...] | None
    _tls_verified = False  # TLS came from a context that checks the certificate and host name
    _txn_recipients: list[str]  # accepted by RCPT in this transaction (LMTP counts replies)
    _greeting_verb = "EHLO"

    def _init_state(self, options: Options) -> None:
        self._options = options
        self._session = Session()
        self._session.close(" (not connected)")
        self._transcript = Transcript(type(self).__name__, options.debug)
        self._last_reply = None
        self._connected_host = None
        self._connected_name = None
        self._hello_domain = None
        self._local_address = None
        self._peer = None
        self._txn_recipients = []

    # ---- primitives used by the operations --------------------------------------------
    def _ensure_open(self) -> None:
        """Raise ConnectionLost when the connection is closed: nothing may be written."""
        if self._session.closed:
            raise ConnectionLost(f"the connection is closed{self._session.closed_reason}")

    def _pending_input(self) -> bytes:  # pragma: no cover - every driver overrides it
        """Bytes already received and not yet read, taken without waiting (b"" if none)."""
        raise NotImplementedError

    def _take_unsolicited(self) -> None:
        """Before a command goes out while no reply is due, take what the server already
        sent: the session then refuses the command (ProtocolError, connection closed)
        instead of pairing that early reply with it (SECURITY MS-15, MS-20). Bytes read
        earlier are checked by the session anyway; this catches those still in the
        socket (one non-blocking check; none at all for asyncio, whose protocol holds them)."""
        session = self._session
        if not session.awaiting and session.state is _READY:
            data = self._pending_input()
            if data:
                session.receive_data(data)

    def _queue(self, line: bytes, shown: str | None = None, label: str | None = None) -> bytes:
        """Register one command line as sent and log it; return the bytes to write.

        ``shown`` replaces the line in the transcript (secrets); ``label`` pairs its reply
        when the line is not a command (an AUTH continuation could spell a verb).
        """
        self._take_unsolicited()
        data = self._session.command(line, label)
        if self._transcript.on:  # taken when the operation started
            self._transcript.line(SENT, shown or line[:-2].decode("utf-8", "replace"))
        return data

    def _send(self, line: bytes, shown: str | None = None, label: str | None = None) -> Flow[None]:
        """Register and write one command line."""
        yield Write(self._queue(line, shown, label))

    def _read(self, write: bytes = b"", timeout: float | None = None) -> Flow[Reply]:
        """Write ``write`` (a queued command), read the next reply, make it ``last_reply``.

        ``timeout`` shortens the wait for this one reply (None: the client's timeout)."""
        # A reply already received (the later answers to a pipelined batch) is taken from the
        # session here: what the driver would do first, without the round trip through it.
        result: ReplyResult | None = None if write else self._session.next_reply()
        if result is None:
            request = READ_NEXT if not write and timeout is None else ReadReply(timeout=timeout, write=write)
            result = yield request
        reply = result[1]
        self._last_reply = reply
        if self._transcript.on:  # taken when the operation started
            for raw in self._session.parser.completed_raw_lines:
                self._transcript.line(RECEIVED, raw)
        if self._session.state is _CLOSED:
            # A 421 or the answer to QUIT ended the session, whichever command (raw ones
            # too) it answered: release the socket now, not at the next call.
            yield Close()
        return reply

    def _command(self, *parts: str, shown: str | None = None) -> Flow[Reply]:
        """Send one command and read its reply."""
        return (yield from self._read(self._queue(encode_line(*parts), shown)))

    def _expect_ok(self, reply: Reply, verb: str) -> None:
        if not reply.is_positive:
            raise ReplyError(reply, verb)

    def _read_final(self) -> Flow[Reply]:
        """Read the reply to a whole message: if the connection dies now, the outcome is unknown."""
        try:
            return (yield from self._read())
        except (ConnectionLost, SMTPTimeout) as exc:
            if isinstance(exc, DeliveryUnknown):
                raise
            raise delivery_unknown(exc) from exc

    # ---- the Net::SMTP face -------------------------------------------------------------
    def _failure(self, exc: SMTPError) -> None:
        """Record what went wrong as ``code()``/``message()``; close on transport errors."""
        if isinstance(exc, ReplyError):
            self._last_reply = exc.reply
        elif isinstance(exc, SMTPTimeout):
            self._last_reply = pseudo_reply(DEFAULT_REPLY_CODE, f"[netsmtp] Timeout: {exc}")
        elif isinstance(exc, DeliveryUnknown):
            self._last_reply = pseudo_reply(DEFAULT_REPLY_CODE, f"[netsmtp] Delivery unknown: {exc}")
        elif isinstance(exc, ConnectionLost):
            self._last_reply = pseudo_reply(DEFAULT_REPLY_CODE, f"[netsmtp] Connection closed: {exc}")
        elif isinstance(exc, ProtocolError | TLSError):
            kind = "Protocol error" if isinstance(exc, ProtocolError) else "TLS error"
            self._last_reply = pseudo_reply(DEFAULT_REPLY_CODE, f"[netsmtp] {kind}: {exc}")
        elif isinstance(exc, SASLError):
            if exc.reply is not None and not exc.reply.is_positive:
                # We cancelled the exchange ("*") and the server agreed: still in step.
                self._last_reply = pseudo_reply(exc.reply.code, f"[netsmtp] AUTH cancelled: {exc}")
                return
            # After a 2xx the server thinks we are logged in, but it did not prove itself.
            self._last_reply = pseudo_reply(
                DEFAULT_REPLY_CODE, f"[netsmtp] AUTH failed: {exc}; connection closed"
            )
        if not isinstance(exc, ReplyError | SendError):  # the server said no: still usable
            self._session.close(f" ({exc})")
            self._close_transport()

    def _close_transport(self) -> None:  # pragma: no cover - every driver overrides it
        raise NotImplementedError

    def _settle(self, exc: SMTPError, failure: F) -> F:
        """After a failed operation: record, close when needed, raise or return ``failure``."""
        self._failure(exc)
        if self._session.closed:
            self._close_transport()
        if self._options.raise_errors or failure is RAISE:
            raise exc
        return failure
