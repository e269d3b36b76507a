"""Message data for DATA and BDAT (RFC 5321 §4.5.2, RFC 3030; SPEC A1, A11).

:class:`DataEncoder` makes arbitrary bytes safe for the DATA phase, incrementally:
every bare LF, bare CR and CRLF becomes CRLF, and a ``.`` that starts a line is doubled,
correctly across any split between chunks (a chunk may end in the middle of a CRLF).
Line endings are normalised *before* dots are stuffed, so ``a\\r.\\rb`` cannot become an
end-of-data marker (SECURITY SM-07). The output therefore never holds a CR or LF outside
a CRLF, and ``CRLF.CRLF`` only at the end.

Lines longer than ``max_line_length`` octets (998 by default: 1000 with the CRLF, RFC 5321
§4.5.3.1.6, the duplicated leading dot not counted) raise ``ValueError`` before any byte of
the chunk that completes them is returned (SECURITY SM-10); ``None`` lifts the limit.

The work is done with ``bytes.replace`` passes, which run at memory speed; the line check
jumps from line end to line end with ``rfind`` over windows of the limit's size, so text
with short lines costs one step per ~1000 octets.
"""

from __future__ import annotations

from collections.abc import Iterator

END_OF_DATA = b".\r\n"
MAX_LINE_LENGTH = 998  # octets, without the CRLF (RFC 5321 §4.5.3.1.6)


def _open_line(data: bytes, start: int, carry: int) -> int:
    """The length of the line still open at the end of ``data`` (no line end after ``start``:
    the line began at ``start``, or ``carry`` octets before ``data`` when ``start`` is 0)."""
    cut = max(data.rfind(b"\n", start), data.rfind(b"\r", start))
    if cut >= 0:
        return len(data) - cut - 1
    return len(data) - start + (carry if start == 0 else 0)


def check_line_length(data: bytes, limit: int, carry: int = 0) -> int:
    """Check that no line of ``data`` is longer than ``limit`` octets; return the length of
    the line still open at its end.

    ``carry`` is the length of the line already open before ``data`` (from earlier chunks).
    Line ends are those of the DATA encoder: CRLF, a lone LF, a lone CR. Raises
    ``ValueError`` for a longer line.
    """
    n = len(data)
    room = limit - carry  # what the line open at ``start`` may still take
    start = 0
    while n - start > room:
        # Jump to the last line end within the next ``room + 1`` octets: every line before
        # it is shorter than the window. An LF is looked for first (one ``rfind`` per window
        # for LF and CRLF text); a lone CR counts too. None at all: this line is too long.
        end = start + room + 1
        cut = data.rfind(b"\n", start, end)
        if cut < 0:
            cut = data.rfind(b"\r", start, end)
            if cut < 0:
                raise ValueError(
                    f"a message line is longer than {limit} octets (RFC 5321 §4.5.3.1.6: 1000 with "
                    "the CRLF); wrap it (or encode the body), or pass max_line_length=None to send it anyway"
                )
        start = cut + 1
        room = limit
    return _open_line(data, start, carry)


class DataEncoder:
    """Incremental CRLF normaliser and dot-stuffer for one message."""

    __slots__ = ("_at_line_start", "_line", "_pending_cr", "bytes_in", "max_line_length")

    def __init__(self, max_line_length: int | None = MAX_LINE_LENGTH) -> None:
        self._at_line_start = True
        self._pending_cr = False  # the last chunk ended in CR: is it half of a CRLF?
        self._line = 0  # octets of the line still open (for the length limit)
        self.bytes_in = 0
        self.max_line_length = max_line_length

    @property
    def at_line_start(self) -> bool:
        return self._at_line_start and not self._pending_cr

    def encode(self, chunk: bytes) -> bytes:
        """Return the wire form of ``chunk`` given everything encoded before it."""
        if not chunk:
            return b""
        if self.max_line_length is not None:  # first: a refused chunk changes nothing
            self._line = check_line_length(chunk, self.max_line_length, self._line)
        self.bytes_in += len(chunk)
        prefix = b""
        if self._pending_cr:
            # Whatever follows, that CR ends a line: with this LF it is a CRLF, alone it
            # becomes one (A1: no bare CR on the wire).
            prefix = b"\r\n"
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
            self._pending_cr = False
            self._at_line_start = True
        if chunk.endswith(b"\r"):
            chunk = chunk[:-1]
            self._pending_cr = True
        crlf = chunk.count(b"\r\n")
        if crlf == chunk.count(b"\n") == chunk.count(b"\r"):
            # No bare CR or LF (the usual case): the passes below would give the same bytes
            # back. Counting costs no copy; only the dots are left to stuff.
            if crlf and chunk.find(b"\n.") >= 0:
                chunk = chunk.replace(b"\n.", b"\n..")
        else:
            if 13 in chunk:  # CR (an int needle: a bytes one costs a failed int conversion first)
                chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            if 10 in chunk:  # LF
                chunk = chunk.replace(b"\n", b"\r\n")
                if chunk.find(b"\n.") >= 0:
                    chunk = chunk.replace(b"\n.", b"\n..")
        if chunk:
            if self._at_line_start and chunk[:1] == b".":
                chunk = b"." + chunk
            self._at_line_start = chunk.endswith(b"\n")
        return prefix + chunk if prefix else chunk

    def encode_blocks(self, chunk: bytes, size: int) -> Iterator[bytes]:
        """:meth:`encode` of ``chunk``, ``size`` octets of it at a time: a large chunk is
        never held twice (its dot-stuffed copy would double what a 64 MB message costs).
        The whole chunk is checked first, before any block is returned: a refused chunk
        changes nothing, as with :meth:`encode`."""
        if self.max_line_length is not None:
            check_line_length(chunk, self.max_line_length, self._line)
        return self._blocks(chunk, size)

    def _blocks(self, chunk: bytes, size: int) -> Iterator[bytes]:
        view = memoryview(chunk)
        for start in range(0, len(view), size):
            yield self.encode(bytes(view[start : start + size]))

    def raw(self, raw: bytes) -> bytes:
        """Wire form of bytes sent unchanged (``rawdatasend``): a pending CR is completed
        first, and the line state follows the raw bytes so the end marker stays right."""
        prefix = b""
        if self._pending_cr:
            prefix, self._pending_cr, self._at_line_start = b"\r\n", False, True
        if raw:
            # Only a CRLF ends a line for the receiver: after raw bytes ending in a bare LF
            # (or CR), finish() must still add one, or ``\n.\r\n`` would not end the data.
            self._at_line_start = raw.endswith(b"\r\n")
            self.bytes_in += len(raw)
            # Raw bytes are the caller's business (never refused), but they move the line on.
            self._line = _open_line(raw, 0, 0 if prefix else self._line)
        elif prefix:
            self._line = 0
        return prefix + raw

    def finish(self) -> bytes:
        """The bytes that end the message: a CRLF if a line is open, then ``.CRLF``."""
        tail = b"\r\n" + END_OF_DATA if self._pending_cr or not self._at_line_start else END_OF_DATA
        self._pending_cr = False
        self._at_line_start = True
        self._line = 0
        return tail


def encode_message(message: bytes) -> bytes:
    """The whole DATA payload of ``message``, end marker included."""
    encoder = DataEncoder()
    return encoder.encode(message) + encoder.finish()


def unstuff(wire: bytes) -> bytes:
    """What a receiver recovers from a DATA payload (without the end marker).

    Used by tests and by the scripted servers: removes one leading dot from each line.
    """
    if wire.endswith(b"\r\n.\r\n"):
        wire = wire[:-3]
    elif wire == END_OF_DATA:
        return b""
    lines = wire.split(b"\r\n")
    return b"\r\n".join(line[1:] if line.startswith(b".") else line for line in lines)


def bdat_frame(chunk: bytes, last: bool) -> bytes:
    """``BDAT <n> [LAST]`` followed by the chunk, unchanged (RFC 3030 §2)."""
    return bdat_line(len(chunk), last) + chunk


def bdat_line(size: int, last: bool) -> bytes:
    """The command line ``BDAT <size> [LAST]``: the ``size`` octets of the chunk follow it."""
    return b"BDAT %d LAST\r\n" % size if last else b"BDAT %d\r\n" % size
