"""Message data for DATA and BDAT (RFC 5321 §4.5.2, RFC 3030; SPEC A1, A11).

:class:`DataEncoder` makes arbitrary bytes safe for the DATA phase, incrementally:
every bare LF, bare CR and CRLF becomes CRLF, and a ``.`` that starts a line is doubled,
correctly across any split between chunks (a chunk may end in the middle of a CRLF).
Line endings are normalised *before* dots are stuffed, so ``a\\r.\\rb`` cannot become an
end-of-data marker (SECURITY SM-07). The output therefore never holds a CR or LF outside
a CRLF, and ``CRLF.CRLF`` only at the end.

The work is done with ``bytes.replace`` passes, which run at memory speed.
"""

from __future__ import annotations

END_OF_DATA = b".\r\n"


class DataEncoder:
    """Incremental CRLF normaliser and dot-stuffer for one message."""

    __slots__ = ("_at_line_start", "_pending_cr", "bytes_in")

    def __init__(self) -> None:
        self._at_line_start = True
        self._pending_cr = False  # the last chunk ended in CR: is it half of a CRLF?
        self.bytes_in = 0

    @property
    def at_line_start(self) -> bool:
        return self._at_line_start and not self._pending_cr

    def encode(self, chunk: bytes) -> bytes:
        """Return the wire form of ``chunk`` given everything encoded before it."""
        if not chunk:
            return b""
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
        if b"\r" in chunk:
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if b"\n" in chunk:
            chunk = chunk.replace(b"\n", b"\r\n")
            if b"\n." in chunk:
                chunk = chunk.replace(b"\n.", b"\n..")
        if chunk:
            if self._at_line_start and chunk[:1] == b".":
                chunk = b"." + chunk
            self._at_line_start = chunk.endswith(b"\n")
        return prefix + chunk if prefix else chunk

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
        return prefix + raw

    def finish(self) -> bytes:
        """The bytes that end the message: a CRLF if a line is open, then ``.CRLF``."""
        tail = b"\r\n" + END_OF_DATA if self._pending_cr or not self._at_line_start else END_OF_DATA
        self._pending_cr = False
        self._at_line_start = True
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
    header = b"BDAT %d LAST\r\n" % len(chunk) if last else b"BDAT %d\r\n" % len(chunk)
    return header + chunk
