"""The SMTP session state machine: what may be sent now, and which reply answers what.

The rules, all in one place (in the manner of h11):

* Every command sent is queued as "awaiting a reply"; every reply parsed is paired with
  the oldest queued command. A reply with nothing queued is unsolicited: ProtocolError.
  This queue is what makes pipelining (RFC 2920) safe: replies are matched, never guessed.
* GREETING -> READY on a 2xx greeting.
* EHLO/LHLO 2xx replaces the capability table; HELO 2xx empties it (SPEC A3).
* STARTTLS 220 -> TLS_PENDING. Any byte already received after that 220 is an injection
  attempt (SPEC A6, SECURITY ST-01): ProtocolError. After the handshake the parser is
  new and the capability table is forgotten until the next EHLO.
* DATA 354 -> DATA: only message bytes and the end marker may be sent (SPEC A10).
* The reply to the end marker, BDAT LAST or RSET ends the mail transaction.
* 421 to anything, a protocol error, QUIT or EOF -> CLOSED: nothing more is sent.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Iterator

from .._exceptions import ConnectionLost, ProtocolError, UsageError
from .capabilities import Capabilities
from .commands import verb_of
from .data import MAX_LINE_LENGTH, DataEncoder, bdat_frame, bdat_line
from .reply import Reply, ReplyParser

GREETING = "<greeting>"
END_OF_DATA = "<end of data>"
# The commands whose reply may change more than "open or closed" (see Session._apply).
_TRANSITIONS = frozenset({GREETING, "EHLO", "LHLO", "HELO", "STARTTLS", "DATA", "QUIT"})


class State(enum.Enum):
    GREETING = "greeting"
    READY = "ready"
    TLS_PENDING = "tls-pending"
    DATA = "data"
    CLOSED = "closed"


# The states as module globals: in Python 3.11 each ``State.X`` is a descriptor call, and
# these tests run for every command and every reply.
_GREETING, _READY, _TLS_PENDING, _DATA, _CLOSED = (
    State.GREETING,
    State.READY,
    State.TLS_PENDING,
    State.DATA,
    State.CLOSED,
)


class Session:
    """Sans-IO SMTP client session: feed it bytes, ask it for bytes, read replies."""

    def __init__(
        self, parser: ReplyParser | None = None, max_line_length: int | None = MAX_LINE_LENGTH
    ) -> None:
        self.parser = parser or ReplyParser()
        self.max_line_length = max_line_length  # of message lines, for each DataEncoder (SM-10)
        self.state = _GREETING
        self.awaiting: deque[str] = deque([GREETING])
        self.capabilities: Capabilities | None = None
        self.tls_active = False
        self.greeting: Reply | None = None
        self.encoder: DataEncoder | None = None
        self.closed_reason = ""

    # ---- sending -------------------------------------------------------------------
    def _check_can_send(self) -> None:
        if self.state is _CLOSED:
            raise ConnectionLost(f"the connection is closed{self.closed_reason}")
        if self.state is _DATA:
            raise UsageError("a message is being sent: finish it with dataend() or abandon it with close()")
        if self.state is _TLS_PENDING:
            raise UsageError("the TLS handshake must come next")
        if not self.awaiting and self.parser.buffered:
            # Bytes that arrived while no reply was awaited answer nothing; pairing them
            # with the command about to go out would shift every later reply by one
            # (SECURITY MS-15, MS-20). With replies awaited (pipelining) they are legitimate.
            self.close(" (unsolicited reply)")
            raise ProtocolError(
                "the server sent data that answers no command (unsolicited reply); connection closed"
            )

    def command(self, line: bytes, label: str | None = None) -> bytes:
        """Register an encoded command line as sent; return the bytes to write.

        The reply is paired with ``label``, by default the line's verb. A line that is not
        a command, such as an AUTH continuation (base64), must be given its label: its
        text could spell a verb (a LOGIN password ``AB-`` goes out as ``QUIt``).
        """
        awaiting = self.awaiting
        if self.state is not _READY or not (awaiting or not self.parser._buffer):
            self._check_can_send()  # (READY, and nothing unsolicited buffered: nothing to check)
        awaiting.append(verb_of(line) if label is None else label)
        return line

    def expect_reply(self, label: str = "?") -> None:
        """Await one more reply without sending (Net::Cmd's bare ``response()``)."""
        if self.state is _CLOSED:
            raise ConnectionLost(f"the connection is closed{self.closed_reason}")
        self.awaiting.append(label)

    def data(self, chunk: bytes) -> bytes:
        """Encode message bytes for the DATA phase."""
        if self.state is not _DATA or self.encoder is None:
            raise UsageError("no message is being sent: call data() first and wait for its 354")
        return self.encoder.encode(chunk)

    def data_blocks(self, chunk: bytes, size: int) -> Iterator[bytes]:
        """:meth:`data` for a large chunk: encoded ``size`` octets at a time, all of it
        checked first (DataEncoder.encode_blocks)."""
        if self.state is not _DATA or self.encoder is None:
            raise UsageError("no message is being sent: call data() first and wait for its 354")
        return self.encoder.encode_blocks(chunk, size)

    def raw_data(self, chunk: bytes) -> bytes:
        if self.state is not _DATA or self.encoder is None:
            raise UsageError("rawdatasend() is only for the DATA phase: call data() first")
        return self.encoder.raw(chunk)

    def end_data(self, replies: int = 1) -> bytes:
        """The end marker; ``replies`` is how many replies it earns (LMTP: one per recipient)."""
        if self.state is not _DATA or self.encoder is None:
            raise UsageError("no message is being sent")
        tail = self.encoder.finish()
        self.encoder = None
        self.state = _READY
        self.awaiting.extend([END_OF_DATA] * replies)
        return tail

    def bdat(self, chunk: bytes, last: bool) -> bytes:
        self._check_can_send()
        self.awaiting.append("BDAT LAST" if last else "BDAT")
        return bdat_frame(chunk, last)

    def bdat_command(self, size: int, last: bool) -> bytes:
        """As :meth:`bdat`, but only the command line is returned: the caller writes the
        ``size`` octets of the chunk after it (a large chunk is not copied into a frame)."""
        self._check_can_send()
        self.awaiting.append("BDAT LAST" if last else "BDAT")
        return bdat_line(size, last)

    # ---- receiving -----------------------------------------------------------------
    def receive_data(self, data: bytes) -> None:
        if data and self.state is _TLS_PENDING:
            # Nothing may arrive in plaintext between the 220 to STARTTLS and the handshake:
            # those bytes would otherwise be dropped silently, or worse, read (SPEC A6).
            self.close(" (data injected after the STARTTLS reply)")
            raise ProtocolError(
                "the server sent data after its 220 reply to STARTTLS "
                "(possible command injection); connection closed"
            )
        self.parser.feed(data)

    def next_reply(self) -> tuple[str, Reply] | None:
        """The next complete reply and the command it answers, or None if more bytes are needed."""
        parser = self.parser
        if not parser._buffer and not parser._broken:  # nothing received (the usual first ask)
            return None
        try:
            reply = parser.next_reply()
        except ProtocolError as exc:
            self.close(f" (protocol error: {exc})")
            raise
        if reply is None:
            return None
        if not self.awaiting:
            self.close(" (unsolicited reply)")
            raise ProtocolError(f"unsolicited reply from the server: {reply}")
        verb = self.awaiting.popleft()
        if verb in _TRANSITIONS or reply.code in (421, 221):  # else _apply() changes nothing
            self._apply(verb, reply)
        return verb, reply

    def _apply(self, verb: str, reply: Reply) -> None:
        if verb not in _TRANSITIONS:  # MAIL, RCPT, BDAT, end of data...: only a closing reply counts
            if reply.code in (421, 221):
                self.close(f" (the server said {reply.code}: closing)")
            return
        ok = reply.is_positive
        if verb == GREETING:
            self.greeting = reply
            if ok:
                self.state = _READY
        elif verb in ("EHLO", "LHLO") and ok:
            self.capabilities = Capabilities.from_ehlo(reply.lines)
        elif verb == "HELO" and ok:
            self.capabilities = None
        elif verb == "STARTTLS" and reply.code == 220:
            if self.parser.buffered or self.awaiting:
                self.close(" (data injected after the STARTTLS reply)")
                raise ProtocolError(
                    "the server sent data after its 220 reply to STARTTLS "
                    "(possible command injection); connection closed"
                )
            self.state = _TLS_PENDING
        elif verb == "STARTTLS" and ok:
            # RFC 3207 §4: the answer that starts TLS is 220; any other 2xx would have us
            # handshake with a server that did not agree to it (SECURITY SD-04).
            self.close(" (bad STARTTLS reply)")
            raise ProtocolError(f"STARTTLS answered {reply.code}, not 220; connection closed")
        elif verb == "DATA" and reply.code == 354:
            self.state = _DATA
            self.encoder = DataEncoder(self.max_line_length)
        elif verb == "DATA" and (reply.is_intermediate or ok):
            self.close(" (bad DATA reply)")
            raise ProtocolError(f"DATA answered {reply.code}, not 354; connection closed")
        if verb == "QUIT":
            self.close(" (after QUIT)")
        elif reply.code in (421, 221):
            # 421: service closing; 221: closing channel, whatever it answers (SECURITY SD-03)
            self.close(f" (the server said {reply.code}: closing)")

    # ---- transitions driven by the I/O layer ------------------------------------------
    def tls_established(self) -> None:
        """The handshake succeeded: forget everything learnt in plaintext."""
        if self.state is not _TLS_PENDING:
            raise UsageError("no STARTTLS was accepted")
        self.parser = ReplyParser(
            self.parser.max_line_length, self.parser.max_lines, self.parser.max_reply_size
        )
        self.capabilities = None
        self.tls_active = True
        self.state = _READY

    def implicit_tls(self) -> None:
        """TLS was set up before the first byte (SMTPS)."""
        self.tls_active = True

    def close(self, reason: str = "") -> None:
        if self.state is not _CLOSED:
            self.state = _CLOSED
            self.closed_reason = reason
        self.encoder = None
        self.awaiting.clear()

    @property
    def closed(self) -> bool:
        return self.state is _CLOSED
