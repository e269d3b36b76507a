"""Reading delivered messages back from a server's Maildir, exactly.

Every server delivers one file per recipient into ``<maildir>/new/`` (a Maildir rename, so a
visible file is complete) and prepends its own trace headers: Postfix ``Return-Path``,
``X-Original-To``, ``Delivered-To``, ``Received``; Exim ``Return-path``, ``Envelope-to``,
``Delivery-date``, ``Received``; OpenSMTPD ``Return-Path``, ``Delivered-To``, ``Received``;
aiosmtpd ``Return-Path``, ``Delivered-To``, ``X-Test-*``. The MTAs store LF line ends,
aiosmtpd keeps CRLF.

A test message starts with a unique first line (its Message-ID). :func:`wait_for` finds the
files whose own header block holds that line, checks that what comes before it is nothing
but those trace headers, and returns the rest, which the test compares byte for byte with
what it sent (both with CRLF turned into LF).
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

TRACE_HEADERS = frozenset(
    {
        "return-path",
        "x-original-to",
        "delivered-to",
        "envelope-to",
        "delivery-date",
        "received",
        "x-test-mail-options",
        "x-test-rcpt-options",
        "x-test-session",
    }
)
_HEADER = re.compile(rb"([!-9;-~]+):")


def normalise(data: bytes) -> bytes:
    """Line endings as the MTAs store them: every CRLF becomes LF."""
    return data.replace(b"\r\n", b"\n")


@dataclass
class Delivered:
    path: Path
    trace: bytes  # the server's own headers (LF line ends)
    message: bytes  # everything after them (LF line ends)

    def header(self, name: str) -> str | None:
        """The value of one trace header (first occurrence), unfolded."""
        unfolded = re.sub(rb"\n[ \t]+", b" ", self.trace)
        m = re.search(rb"^" + re.escape(name.encode()) + rb":[ \t]*(.*)$", unfolded, re.M | re.I)
        return m.group(1).decode("utf-8", "replace").strip() if m else None

    @property
    def recipient(self) -> str | None:
        """The envelope recipient this copy was delivered to."""
        value = self.header("Delivered-To") or self.header("Envelope-to")
        return value.strip("<>") if value else None


def marker() -> str:
    return uuid.uuid4().hex


def message_id(mark: str) -> bytes:
    """The first line of a test message: finding it finds the message."""
    return f"Message-ID: <{mark}@netsmtp.test>".encode()


def _split(data: bytes, first_line: bytes) -> Delivered | None:
    text = normalise(data)
    if text.startswith(first_line + b"\n"):
        at = 0
    else:
        at = text.find(b"\n" + first_line + b"\n")
        if at < 0:
            return None
        at += 1
    trace = text[:at]
    if b"\n\n" in trace:  # the line is inside a body (a bounce or DSN quoting the message)
        return None
    for line in trace.splitlines():
        if line[:1] in (b" ", b"\t"):
            continue
        m = _HEADER.match(line)
        if m is None or m.group(1).decode().lower() not in TRACE_HEADERS:
            raise AssertionError(f"not a trace header before the message: {line!r}")
    return Delivered(Path(), trace, text[at:])


def scan(maildir: str | Path, first_line: bytes) -> list[Delivered]:
    """Every delivered file whose top header block holds ``first_line``."""
    found = []
    new = Path(maildir) / "new"
    for path in sorted(new.iterdir()) if new.is_dir() else []:
        with path.open("rb") as f:
            head = f.read(16384)
            if first_line not in head:
                continue
            data = head + f.read()
        delivered = _split(data, first_line)
        if delivered is not None:
            delivered.path = path
            found.append(delivered)
    return found


def wait_for(maildir: str | Path, first_line: bytes, count: int, timeout: float = 30.0) -> list[Delivered]:
    """Wait until ``count`` copies of the message are delivered; then make sure no more come."""
    deadline = time.monotonic() + timeout
    while True:
        found = scan(maildir, first_line)
        if len(found) >= count or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if len(found) == count:
        time.sleep(0.3)  # a copy too many (a recipient that should have been refused)?
        found = scan(maildir, first_line)
    assert len(found) == count, f"{len(found)} copies of {first_line!r} in {maildir}, expected {count}"
    return found


def reports_for(maildir: str | Path, recipient: str, mark: str, timeout: float = 30.0) -> list[bytes]:
    """Delivery reports (DSNs) sent to ``recipient`` about the message marked ``mark``."""
    deadline = time.monotonic() + timeout
    needle = mark.encode()
    while True:
        reports = []
        new = Path(maildir) / "new"
        for path in sorted(new.iterdir()) if new.is_dir() else []:
            with path.open("rb") as f:
                data = normalise(f.read(65536))  # reports are small; skip the 20 MB messages
            head, _, body = data.partition(b"\n\n")
            if needle in body and _has_recipient(head, recipient) and b"delivery-status" in data.lower():
                reports.append(data)
        if reports or time.monotonic() > deadline:
            return reports
        time.sleep(0.1)


def _has_recipient(head: bytes, recipient: str) -> bool:
    pattern = rb"^(?:Delivered-To|Envelope-to):[ \t]*<?" + re.escape(recipient.encode()) + rb">?[ \t]*$"
    return re.search(pattern, head, re.M | re.I) is not None
