"""Turning what ``send_message`` is given into an envelope and a payload.

Accepted messages: an ``email.message.Message`` (``EmailMessage`` included), ``bytes``
(or ``str``), a binary file, or an iterable of ``bytes`` chunks. The envelope comes from
the headers when not given, as smtplib does (RFC 5322 §3.6.2, §3.6.6): ``Sender`` else
``From``; ``To``, ``Cc`` and ``Bcc``; the ``Resent-`` fields when the message has one
``Resent-Date``. ``Bcc`` and ``Resent-Bcc`` never reach the server: they are removed from
the header block, byte for byte, without re-serialising anything else.
"""

from __future__ import annotations

import copy
import email.generator
import email.message
import email.parser
import email.policy
import email.utils
import io
import itertools
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any, BinaryIO

# Files and streams are sent in pieces of this size (bounded memory, few system calls).
CHUNK = 1024 * 1024
MAX_HEADER_BLOCK = 1024 * 1024

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_BCC = re.compile(rb"(?:resent-)?bcc[ \t]*:", re.I)
# A line break in a header value that is not folding (followed by a space or tab) would
# start a line of the caller's choosing: a forged header, an early end of the header block
# (SECURITY SM-14). CPython's generator checks this only from 3.11.10/3.12.5 on.
_BARE_NEWLINE = re.compile(r"\r\n(?![ \t])|\r(?![\n \t])|\n(?![ \t])")
_FIELD_NAME = re.compile(r"[\x21-\x39\x3b-\x7e]+")
_UNDECODABLE = re.compile("[\udc80-\udcff]")  # octets that were not UTF-8 (surrogateescape)
_BUFFERS = (bytearray, memoryview)  # (a tuple: "bytearray | memoryview" is built at every test)


@dataclass(slots=True)  # not frozen: one is made per message, and frozen construction is slow
class PreparedMessage:
    """What a send needs: who from, who to, and the bytes (in memory or as a stream).

    Treated as immutable: changed copies are made with ``dataclasses.replace``."""

    sender: str
    recipients: tuple[str, ...]
    payload: tuple[bytes | memoryview, ...] | None  # the message in memory, in parts (no copies)
    stream: Iterable[bytes] | None  # otherwise its chunks, read lazily
    size: int | None  # octets, when known before sending
    eight_bit: bool | None  # any octet >= 0x80 (None: unknown, streamed)

    @property
    def international(self) -> bool:
        try:  # one pass over the joined recipients; a non-str among them fails as it always did
            return not (self.sender.isascii() and "".join(self.recipients).isascii())
        except TypeError:
            return not all(a.isascii() for a in (self.sender, *self.recipients))

    def chunks(self) -> Iterator[bytes]:
        """The message in pieces of at most CHUNK octets (memory stays bounded)."""
        if self.payload is not None:
            for part in self.payload:
                view = memoryview(part)
                for start in range(0, len(view), CHUNK):
                    yield bytes(view[start : start + CHUNK])
        elif self.stream is not None:
            yield from rechunk(self.stream)

    def windows(self) -> Iterator[tuple[bytes, int, int]]:
        """The pieces of :meth:`chunks` as ``(data, start, stop)``: a bytes part of a message
        in memory is described, not copied (``data`` is the part itself)."""
        if self.payload is not None:
            for part in self.payload:
                if isinstance(part, bytes):
                    for start in range(0, len(part), CHUNK):
                        yield part, start, min(start + CHUNK, len(part))
                else:
                    view = memoryview(part)
                    for start in range(0, len(view), CHUNK):
                        chunk = bytes(view[start : start + CHUNK])
                        yield chunk, 0, len(chunk)
        elif self.stream is not None:
            for chunk in rechunk(self.stream):
                yield chunk, 0, len(chunk)

    def in_one_piece(self) -> bytes | None:
        """The whole message as one bytes object, if it already is one (no copy)."""
        if self.payload is not None and len(self.payload) == 1 and isinstance(self.payload[0], bytes):
            return self.payload[0]
        return None


def rechunk(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """The bytes of ``pieces`` in chunks of CHUNK octets (the last one shorter), whatever
    sizes they come in: a generator of lines must not turn into one BDAT (and one reply)
    per line, nor one huge piece into one huge chunk. Holds at most one chunk."""
    buffer = bytearray()
    for piece in pieces:
        if not buffer and len(piece) == CHUNK and isinstance(piece, bytes):
            yield piece  # already the right size (a file read by CHUNK): no copy
            continue
        view = memoryview(piece)
        if buffer:
            room = CHUNK - len(buffer)
            buffer += view[:room]
            view = view[room:]
            if len(buffer) < CHUNK:
                continue
            yield bytes(buffer)
            buffer = bytearray()
        while len(view) >= CHUNK:
            yield bytes(view[:CHUNK])
            view = view[CHUNK:]
        buffer += view
    if buffer:
        yield bytes(buffer)


def header_end(raw: bytes) -> int:
    """Where the header block (blank line included) ends; the whole text if there is no body."""
    # What _HEADER_END.search(raw, 0, MAX_HEADER_BLOCK).end() finds: the first LF followed by
    # an LF or a CRLF ends the block. Two substring searches run at memory speed; the
    # pattern, which starts with an optional CR, is tried at every offset.
    lf_crlf = raw.find(b"\n\r\n", 0, MAX_HEADER_BLOCK)
    lf_lf = raw.find(b"\n\n", 0, lf_crlf + 2 if lf_crlf >= 0 else MAX_HEADER_BLOCK)  # an earlier one
    if lf_crlf < 0 or 0 <= lf_lf < lf_crlf:
        return lf_lf + 2 if lf_lf >= 0 else min(len(raw), MAX_HEADER_BLOCK)
    return lf_crlf + 3


def _has_header_end(raw: bytes | bytearray, start: int = 0) -> bool:
    """True when ``raw[start:]`` holds the end of a header block (``_HEADER_END`` matches)."""
    return raw.find(b"\n\n", start) >= 0 or raw.find(b"\n\r\n", start) >= 0


def strip_bcc(header_block: bytes) -> bytes:
    """Remove every ``Bcc:``/``Resent-Bcc:`` field (with its folded lines) from a header block."""
    # A case-insensitive pattern has no fast prefix scan: look for the letters first.
    if header_block.lower().find(b"bcc") < 0 or not _BCC.search(header_block):
        return header_block
    lines = header_block.splitlines(keepends=True)
    out: list[bytes] = []
    dropping = False
    for line in lines:
        if line[:1] in (b" ", b"\t") and line.strip():
            if not dropping:
                out.append(line)
            continue
        dropping = _BCC.match(line) is not None
        if not dropping:
            out.append(line)
    return b"".join(out)


def check_headers(msg: email.message.Message) -> None:
    """ValueError when a header name or value would inject lines into the message (SM-14)."""
    for part in msg.walk():
        for name, value in part.raw_items():
            if not _FIELD_NAME.fullmatch(name):
                raise ValueError(f"invalid header name {name!r}: the message is not sent")
            if _BARE_NEWLINE.search(str(value)):
                raise ValueError(
                    f"the {name} header contains a line break that is not folding "
                    "(header injection?): the message is not sent"
                )


def parse_header_block(head: bytes) -> email.message.Message:
    """Parse a header block given as bytes; non-ASCII text is read as UTF-8 (RFC 6532).

    (``BytesHeaderParser`` reads it as ASCII and each non-ASCII octet of an address would
    become a U+FFFD in the envelope.)
    """
    return email.parser.HeaderParser().parsestr(head.decode("utf-8", "surrogateescape"))


def envelope_from_headers(
    msg: email.message.Message, sender: str | None = None, recipients: list[str] | None = None
) -> tuple[str, list[str]]:
    """The envelope sender and recipients that the message's headers name (those not given)."""
    resent = msg.get_all("Resent-Date")
    if resent is None:
        prefix = ""
    elif len(resent) == 1:
        prefix = "Resent-"
    else:
        raise ValueError("the message has more than one Resent- header block; give the envelope")
    if sender is None:
        name = prefix + "Sender" if (prefix + "Sender") in msg else prefix + "From"
        senders = email.utils.getaddresses(_field_values(msg, name))
        sender = senders[0][1] if senders else ""
    if recipients is None:
        fields = [value for name in ("To", "Cc", "Bcc") for value in _field_values(msg, prefix + name)]
        recipients = [addr for _name, addr in email.utils.getaddresses(fields) if addr]
    return sender, recipients


def _field_values(msg: email.message.Message, name: str) -> list[str]:
    """Every value of the field ``name``; ValueError when one held octets that are not UTF-8
    (its addresses would come out with U+FFFD in place of them)."""
    for key, value in msg.raw_items():
        if key.lower() == name.lower() and _UNDECODABLE.search(str(value)):
            raise ValueError(f"the {key} header is not valid UTF-8; give from_addr and to_addrs")
    return [str(value) for value in msg.get_all(name, [])]


def _serialise(msg: email.message.Message, international: bool) -> bytes:
    policy = msg.policy.clone(linesep="\r\n")
    if international and isinstance(policy, email.policy.EmailPolicy):
        policy = policy.clone(utf8=True)
    out = io.BytesIO()
    email.generator.BytesGenerator(out, policy=policy).flatten(msg)
    return out.getvalue()


def _in_memory(sender: str, recipients: list[str], payload: bytes) -> PreparedMessage:
    return PreparedMessage(sender, tuple(recipients), (payload,), None, len(payload), not payload.isascii())


def _read_header_block(stream: Iterator[bytes]) -> tuple[bytes, Iterator[bytes]]:
    """Read chunks until the header block is complete; return it and the rest of the stream."""
    # One growing buffer, and each search starts where the last one stopped (less two
    # octets: the end marker may straddle two chunks). Joining and searching the whole of it
    # again per chunk was quadratic: a 900 KB header block in 80-octet chunks took 9 s.
    buffered = bytearray()
    for chunk in stream:
        start = max(len(buffered) - 2, 0)
        buffered += chunk
        if _has_header_end(buffered, start) or len(buffered) > MAX_HEADER_BLOCK:
            break
    data = bytes(buffered)
    end = header_end(data)
    body = data[end:]
    return data[:end], itertools.chain([body] if body else [], stream)


def _file_chunks(fh: BinaryIO) -> Iterator[bytes]:
    while chunk := fh.read(CHUNK):
        yield chunk


def _remaining_size(fh: Any) -> int | None:
    try:
        if fh.seekable():
            return int(os.fstat(fh.fileno()).st_size - fh.tell())
    except (OSError, AttributeError, ValueError):
        pass
    return None


def prepare(msg: Any, from_addr: str | None, to_addrs: str | Iterable[str] | None) -> PreparedMessage:
    """Work out the envelope and the payload of ``msg`` (see the module docstring).

    A recipient named twice gets one RCPT: LMTP answers once per accepted RCPT, and the
    result maps each recipient to one reply.
    """
    prepared = _prepare(msg, from_addr, to_addrs)
    unique = tuple(dict.fromkeys(prepared.recipients))
    if unique != prepared.recipients:
        prepared = replace(prepared, recipients=unique)
    return prepared


def _prepare(msg: Any, from_addr: str | None, to_addrs: str | Iterable[str] | None) -> PreparedMessage:
    recipients: list[str] | None
    if isinstance(to_addrs, str):
        recipients = [to_addrs]
    elif to_addrs is not None:
        recipients = list(to_addrs)
    else:
        recipients = None

    if isinstance(msg, email.message.Message):
        check_headers(msg)
        if from_addr is None or recipients is None:
            from_addr, recipients = envelope_from_headers(msg, from_addr, recipients)
        copy_ = copy.copy(msg)
        del copy_["Bcc"]
        del copy_["Resent-Bcc"]
        international = not all(a.isascii() for a in (from_addr, *recipients))
        return _in_memory(from_addr, recipients, _serialise(copy_, international))

    if isinstance(msg, str):
        msg = msg.encode("utf-8")
    if isinstance(msg, _BUFFERS):
        msg = bytes(msg)
    if isinstance(msg, bytes):
        end = header_end(msg)
        head = msg[:end]
        if from_addr is None or recipients is None:
            from_addr, recipients = envelope_from_headers(parse_header_block(head), from_addr, recipients)
        stripped = strip_bcc(head)
        if stripped is head:
            return _in_memory(from_addr, recipients, msg)
        parts = (stripped, memoryview(msg)[end:])  # the body is not copied
        total = len(stripped) + len(msg) - end
        return PreparedMessage(from_addr, tuple(recipients), parts, None, total, not msg.isascii())

    size: int | None = None
    if hasattr(msg, "read"):
        size = _remaining_size(msg)
        chunks: Iterator[bytes] = _file_chunks(msg)
    elif isinstance(msg, Iterable):
        chunks = (bytes(c) if not isinstance(c, bytes) else c for c in msg)
    else:
        raise TypeError(
            f"send_message() takes an email.message.Message, bytes, a binary file or an iterable "
            f"of bytes, not {type(msg).__name__}"
        )
    head, rest = _read_header_block(chunks)
    if from_addr is None or recipients is None:
        from_addr, recipients = envelope_from_headers(parse_header_block(head), from_addr, recipients)
    stripped = strip_bcc(head)
    if size is not None:
        size -= len(head) - len(stripped)
    stream = itertools.chain([stripped] if stripped else [], rest)
    return PreparedMessage(from_addr, tuple(recipients), None, stream, size, None)
