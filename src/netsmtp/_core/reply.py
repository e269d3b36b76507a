"""SMTP replies and the incremental reply parser (RFC 5321 §4.2, SPEC A4).

The parser is strict about grammar and bounded in memory: a reply line is three digits
(``[2-5][0-5][0-9]``) followed by a space, a hyphen or the end of the line; every line of
a multi-line reply carries the same code; line length, line count and total size are
capped. Anything else raises :class:`ProtocolError`, after which the parser refuses
further input (the connection must be closed, never re-read).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .._exceptions import ProtocolError

MAX_LINE_LENGTH = 8192
MAX_LINES = 1000
MAX_REPLY_SIZE = 1024 * 1024

# RFC 3463 enhanced status code at the start of the text: class.subject.detail
# (ASCII digits only: ``\d`` would also take e.g. Arabic-Indic digits)
_ENHANCED = re.compile(r"([245])\.([0-9]{1,3})\.([0-9]{1,3})(?=\s|$)")


# One-line replies repeat ("250 2.1.5 Ok" to every RCPT): a Reply is immutable, so the one
# made for a line is reused for the same line, from a small table emptied when full.
_REPLIES: dict[bytes, Reply] = {}
_REPLIES_MAX = 256
_CACHED_LENGTH = 200


def _decode(raw: bytes) -> str:
    # Replies are ASCII by RFC 5321, UTF-8 under SMTPUTF8; anything else is decoded
    # leniently so a hostile byte can never raise (SECURITY MS-07).
    try:
        return raw.decode()  # UTF-8 (naming it costs a look-up of the codec name)
    except UnicodeDecodeError:
        return raw.decode("latin-1")


@dataclass(frozen=True, slots=True)
class Reply:
    """One server reply: a code and its text lines (no code, no separator, no line ending).

    ``code`` is the reply code as an ``int``; ``lines`` the text of each line;
    ``enhanced_status`` the RFC 3463 status code at the start of the text (``"5.1.1"``)
    when the server sent one, else None. ``str(reply)`` is ``"250 text"``.
    """

    code: int
    lines: tuple[str, ...] = ("",)
    enhanced_status: str | None = field(default=None, compare=False)

    @classmethod
    def from_lines(cls, code: int, lines: tuple[str, ...]) -> Reply:
        status = None
        if lines and lines[0][:1] in ("2", "4", "5"):
            m = _ENHANCED.match(lines[0])
            if m and m.group(1) == str(code)[0]:
                status = m.group(0)
        return cls(code, lines, status)

    @property
    def text(self) -> str:
        """All lines joined with newlines."""
        return "\n".join(self.lines)

    @property
    def status(self) -> int:
        """The first digit of the code (Net::Cmd's status)."""
        return self.code // 100

    @property
    def is_positive(self) -> bool:
        """2xx: done."""
        return 200 <= self.code < 300

    @property
    def is_intermediate(self) -> bool:
        """3xx: go on (354 after DATA, 334 during AUTH)."""
        return 300 <= self.code < 400

    @property
    def is_transient(self) -> bool:
        """4xx: try again later."""
        return 400 <= self.code < 500

    @property
    def is_permanent(self) -> bool:
        """5xx: do not retry as is."""
        return 500 <= self.code < 600

    def __str__(self) -> str:
        return f"{self.code} {self.text}"


class ReplyParser:
    """Turns received bytes into :class:`Reply` objects, one at a time.

    ``feed(data)`` buffers bytes; ``next_reply()`` returns the next complete reply, or
    ``None`` when more bytes are needed. Lines end at LF (a CR before it is dropped; a
    bare CR is not a line end). ``raw_lines`` of the reply being read are kept for the
    transcript.
    """

    def __init__(
        self,
        max_line_length: int = MAX_LINE_LENGTH,
        max_lines: int = MAX_LINES,
        max_reply_size: int = MAX_REPLY_SIZE,
    ) -> None:
        self._buffer = bytearray()
        self._scan_from = 0  # bytes of _buffer already known to hold no LF
        self._code: bytes | None = None
        self._lines: list[str] = []
        self._raw: list[bytes] = []
        self._size = 0
        self._broken = False
        self.max_line_length = max_line_length
        self.max_lines = max_lines
        self.max_reply_size = max_reply_size
        self._completed_raw: list[bytes] = []

    @property
    def buffered(self) -> int:
        """Bytes received but not yet consumed by a complete reply."""
        return len(self._buffer)

    @property
    def in_reply(self) -> bool:
        """True while a multi-line reply has started but not ended."""
        return self._code is not None

    def feed(self, data: bytes) -> None:
        if self._broken:
            raise ProtocolError("the reply stream is broken; the connection must be closed")
        self._buffer += data

    def _fail(self, why: str) -> ProtocolError:
        self._broken = True
        self._buffer.clear()
        return ProtocolError(why)

    def next_reply(self) -> Reply | None:
        if self._broken:
            raise ProtocolError("the reply stream is broken; the connection must be closed")
        buffer = self._buffer
        if not buffer:  # nothing received: no reply can be complete
            return None
        if self._code is None:
            # Fast path for the commonest case, a whole one-line reply ("250 ok\r\n"): the
            # same checks as _line(), without the multi-line bookkeeping. A line met before
            # passed them already: its Reply is in the table.
            nl = buffer.find(b"\n", 4, self.max_line_length + 1)
            # (within every cap, as _line() would find it: the reply size counts its LF)
            if 0 < nl < self.max_reply_size and self.max_lines > 0:
                end = nl - 1 if buffer[nl - 1] == 13 else nl
                raw = bytes(buffer[:end])
                reply = _REPLIES.get(raw)
                if reply is None and (
                    end > 3
                    and raw[3] == 32
                    and 50 <= raw[0] <= 53
                    and 48 <= raw[1] <= 53
                    and 48 <= raw[2] <= 57
                ):
                    reply = Reply.from_lines(int(raw[:3]), (_decode(raw[4:]),))
                    if end <= _CACHED_LENGTH:
                        if len(_REPLIES) >= _REPLIES_MAX:
                            _REPLIES.clear()
                        _REPLIES[raw] = reply
                if reply is not None:
                    del buffer[: nl + 1]
                    self._scan_from = 0
                    self._completed_raw = [raw]
                    return reply
        while True:
            nl = self._buffer.find(b"\n", self._scan_from)
            if nl < 0:
                if len(self._buffer) > self.max_line_length:
                    raise self._fail(f"reply line longer than {self.max_line_length} bytes")
                self._scan_from = len(self._buffer)
                return None
            if nl > self.max_line_length:
                raise self._fail(f"reply line longer than {self.max_line_length} bytes")
            raw = bytes(self._buffer[:nl])
            del self._buffer[: nl + 1]
            self._scan_from = 0
            self._size += nl + 1
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            reply = self._line(raw)
            if reply is not None:
                return reply

    def _line(self, raw: bytes) -> Reply | None:
        code = raw[:3]
        # [2-5][0-5][0-9] then a space, a hyphen or the end (RFC 5321 §4.2), checked by hand:
        # this runs for every line of every reply.
        if (
            len(code) != 3
            or not (50 <= code[0] <= 53 and 48 <= code[1] <= 53 and 48 <= code[2] <= 57)
            or (len(raw) > 3 and raw[3] not in (32, 45))
        ):
            raise self._fail(f"malformed reply line {raw[:80]!r}")
        if self._code is not None and code != self._code:
            raise self._fail(
                f"multi-line reply changed its code from {self._code.decode()} to {code.decode()}"
            )
        self._code = code
        self._lines.append(_decode(raw[4:]))
        self._raw.append(raw)
        if len(self._lines) > self.max_lines:
            raise self._fail(f"reply longer than {self.max_lines} lines")
        if self._size > self.max_reply_size:
            raise self._fail(f"reply larger than {self.max_reply_size} bytes")
        if len(raw) > 3 and raw[3] == 45:  # "-": more lines follow
            return None
        reply = Reply.from_lines(int(code), tuple(self._lines))
        self._completed_raw = self._raw
        self._code, self._lines, self._raw, self._size = None, [], [], 0
        return reply

    @property
    def completed_raw_lines(self) -> list[str]:
        """The raw lines (code included) of the last complete reply, for the transcript."""
        return [_decode(raw) for raw in self._completed_raw]
