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
from dataclasses import dataclass
from typing import Any, BinaryIO

# Files and streams are sent in pieces of this size (bounded memory, few system calls).
CHUNK = 1024 * 1024
MAX_HEADER_BLOCK = 1024 * 1024

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_BCC = re.compile(rb"(?:resent-)?bcc[ \t]*:", re.I)


@dataclass(frozen=True, slots=True)
class PreparedMessage:
    """What a send needs: who from, who to, and the bytes (in memory or as a stream)."""

    sender: str
    recipients: tuple[str, ...]
    payload: tuple[bytes | memoryview, ...] | None  # the message in memory, in parts (no copies)
    stream: Iterable[bytes] | None  # otherwise its chunks, read lazily
    size: int | None  # octets, when known before sending
    eight_bit: bool | None  # any octet >= 0x80 (None: unknown, streamed)

    @property
    def international(self) -> bool:
        return not all(a.isascii() for a in (self.sender, *self.recipients))

    def chunks(self) -> Iterator[bytes]:
        """The message in pieces of at most CHUNK octets (memory stays bounded)."""
        if self.payload is not None:
            for part in self.payload:
                view = memoryview(part)
                for start in range(0, len(view), CHUNK):
                    yield bytes(view[start : start + CHUNK])
        elif self.stream is not None:
            yield from self.stream

    def in_one_piece(self) -> bytes | None:
        """The whole message as one bytes object, if it already is one (no copy)."""
        if self.payload is not None and len(self.payload) == 1 and isinstance(self.payload[0], bytes):
            return self.payload[0]
        return None


def header_end(raw: bytes) -> int:
    """Where the header block (blank line included) ends; the whole text if there is no body."""
    m = _HEADER_END.search(raw, 0, MAX_HEADER_BLOCK)
    return m.end() if m is not None else min(len(raw), MAX_HEADER_BLOCK)


def strip_bcc(header_block: bytes) -> bytes:
    """Remove every ``Bcc:``/``Resent-Bcc:`` field (with its folded lines) from a header block."""
    if not _BCC.search(header_block):
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


def envelope_from_headers(msg: email.message.Message) -> tuple[str, list[str]]:
    """The envelope sender and recipients that the message's headers name."""
    resent = msg.get_all("Resent-Date")
    if resent is None:
        prefix = ""
    elif len(resent) == 1:
        prefix = "Resent-"
    else:
        raise ValueError("the message has more than one Resent- header block; give the envelope")
    sender_field = msg[prefix + "Sender"] if (prefix + "Sender") in msg else msg[prefix + "From"]
    senders = email.utils.getaddresses([str(sender_field)]) if sender_field is not None else []
    sender = senders[0][1] if senders else ""
    fields = [str(f) for name in ("To", "Cc", "Bcc") for f in msg.get_all(prefix + name, [])]
    recipients = [addr for _name, addr in email.utils.getaddresses(fields) if addr]
    return sender, recipients


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
    buffered = b""
    for chunk in stream:
        buffered += chunk
        if _HEADER_END.search(buffered) or len(buffered) > MAX_HEADER_BLOCK:
            break
    end = header_end(buffered)
    body = buffered[end:]
    return buffered[:end], itertools.chain([body] if body else [], stream)


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
    """Work out the envelope and the payload of ``msg`` (see the module docstring)."""
    recipients: list[str] | None
    if isinstance(to_addrs, str):
        recipients = [to_addrs]
    elif to_addrs is not None:
        recipients = list(to_addrs)
    else:
        recipients = None

    if isinstance(msg, email.message.Message):
        if from_addr is None or recipients is None:
            sender, found = envelope_from_headers(msg)
            from_addr = sender if from_addr is None else from_addr
            recipients = found if recipients is None else recipients
        copy_ = copy.copy(msg)
        del copy_["Bcc"]
        del copy_["Resent-Bcc"]
        international = not all(a.isascii() for a in (from_addr, *recipients))
        return _in_memory(from_addr, recipients, _serialise(copy_, international))

    if isinstance(msg, str):
        msg = msg.encode("utf-8")
    if isinstance(msg, bytearray | memoryview):
        msg = bytes(msg)
    if isinstance(msg, bytes):
        end = header_end(msg)
        head = msg[:end]
        if from_addr is None or recipients is None:
            sender, found = envelope_from_headers(email.parser.BytesHeaderParser().parsebytes(head))
            from_addr = sender if from_addr is None else from_addr
            recipients = found if recipients is None else recipients
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
        sender, found = envelope_from_headers(email.parser.BytesHeaderParser().parsebytes(head))
        from_addr = sender if from_addr is None else from_addr
        recipients = found if recipients is None else recipients
    stripped = strip_bcc(head)
    if size is not None:
        size -= len(head) - len(stripped)
    stream = itertools.chain([stripped] if stripped else [], rest)
    return PreparedMessage(from_addr, tuple(recipients), None, stream, size, None)
