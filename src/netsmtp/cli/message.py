"""The message ``netsmtp send`` sends: composed from options, or read from a file."""

from __future__ import annotations

import getpass
import mimetypes
import re
import socket
import sys
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid
from pathlib import Path

from .._message import prepare

# RFC 5322 §3.6.8: a field name is printable ASCII except the colon.
_FIELD_NAME = re.compile(r"[!-9;-~]+")
DEFAULT_BODY = "This is a test message sent by netsmtp.\n"


class MessageError(ValueError):
    """A message option that cannot be used (exit code 2)."""


@dataclass
class Outgoing:
    """What to send: the message, and the envelope (None: taken from the headers)."""

    message: EmailMessage | bytes
    sender: str | None
    recipients: list[str] | None
    attachments: list[tuple[str, str, int]] = field(default_factory=list)  # name, type, size

    def renew(self) -> EmailMessage | bytes:
        """The message for the next send of a --count run (a fresh Message-ID)."""
        if isinstance(self.message, EmailMessage):
            del self.message["Message-ID"]
            self.message["Message-ID"] = make_msgid(domain=_domain(self.sender))
        return self.message

    def envelope(self) -> tuple[str, list[str]]:
        """Sender and recipients: the options, else the headers (as ``send_message`` reads them)."""
        prepared = prepare(self.message, self.sender, self.recipients)
        return prepared.sender, list(prepared.recipients)


def parse_header(text: str) -> tuple[str, str]:
    """``"Name: value"`` -> (name, value); MessageError for anything that could inject."""
    if any(c in text for c in "\r\n\x00"):
        raise MessageError(f"--header {text!r}: CR, LF and NUL are not allowed (header injection)")
    name, sep, value = text.partition(":")
    name, value = name.strip(), value.strip()
    if not sep or not _FIELD_NAME.fullmatch(name):
        raise MessageError(f"--header {text!r}: expected 'Name: value' with a valid field name")
    return name, value


def _addresses(values: list[str] | None) -> tuple[list[str], list[str]]:
    """(header forms, envelope addresses) of repeatable --to/--cc/--bcc values."""
    shown: list[str] = []
    bare: list[str] = []
    for value in values or []:
        if any(c in value for c in "\r\n\x00"):
            raise MessageError(f"address {value!r}: CR, LF and NUL are not allowed")
        for name, addr in getaddresses([value]):
            if not addr:
                raise MessageError(f"cannot read an address in {value!r}")
            shown.append(f"{name} <{addr}>" if name else addr)
            bare.append(addr)
    return shown, bare


def _read(path: str, what: str) -> bytes:
    try:
        return sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise MessageError(f"{what} {path}: {exc.strerror or exc}") from exc


def _domain(sender: str | None) -> str:
    return sender.rpartition("@")[2] if sender and "@" in sender else "netsmtp.invalid"


def default_sender() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "netsmtp"
    return f"{user}@{socket.getfqdn() or 'localhost'}"


def build(
    *,
    sender: str | None,
    to: list[str] | None,
    cc: list[str] | None,
    bcc: list[str] | None,
    subject: str | None,
    body: str | None,
    body_file: str | None,
    message_file: str | None,
    attach: list[str] | None,
    headers: list[str] | None,
) -> Outgoing:
    """The message and envelope from ``netsmtp send``'s options (MessageError when unusable)."""
    extra = [parse_header(h) for h in headers or []]
    to_shown, to_bare = _addresses(to)
    cc_shown, cc_bare = _addresses(cc)
    _, bcc_bare = _addresses(bcc)
    recipients = to_bare + cc_bare + bcc_bare
    from_shown, from_bare = _addresses([sender] if sender else [])
    if message_file is not None:
        if subject is not None or body is not None or body_file is not None or attach:
            raise MessageError(
                "--message sends a file as it is: no --subject, --body, --body-file or --attach"
            )
        raw = _read(message_file, "--message")
        prefix = b"".join(f"{name}: {value}\r\n".encode() for name, value in extra)
        return Outgoing(prefix + raw, from_bare[0] if from_bare else None, recipients or None)
    if body is not None and body_file is not None:
        raise MessageError("give --body or --body-file, not both")
    if not recipients:
        raise MessageError("no recipient: give --to (or --cc, --bcc), or --message with To: headers")
    envelope_sender = from_bare[0] if from_bare else default_sender()
    msg = EmailMessage()
    msg["From"] = from_shown[0] if from_shown else envelope_sender
    if to_shown:
        msg["To"] = ", ".join(to_shown)
    if cc_shown:
        msg["Cc"] = ", ".join(cc_shown)
    msg["Subject"] = subject if subject is not None else f"netsmtp test {formatdate(localtime=True)}"
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=_domain(envelope_sender))
    for name, value in extra:  # --header replaces a header of the same name
        del msg[name]
        msg[name] = value
    if body_file is not None:
        text = _read(body_file, "--body-file").decode("utf-8", "replace")
    else:
        text = body.replace("\\n", "\n") if body is not None else DEFAULT_BODY
    msg.set_content(text)
    attached: list[tuple[str, str, int]] = []
    for path in attach or []:
        data = _read(path, "--attach")
        ctype, encoding = mimetypes.guess_type(path)
        if ctype is None or encoding is not None:  # unknown, or compressed (.gz): opaque bytes
            ctype = "application/octet-stream"
        maintype, subtype = ctype.split("/", 1)
        filename = Path(path).name
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
        attached.append((filename, ctype, len(data)))
    return Outgoing(msg, envelope_sender, recipients, attached)
