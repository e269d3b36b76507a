"""Command lines: validation and encoding (RFC 5321 §4.1, §4.5.3.1.4; SPEC A2).

Every argument is checked before any byte is produced: CR, LF or NUL anywhere raises
``ValueError``, and so does a line longer than the limit (512 octets with CRLF, raised
by the DSN extension for MAIL and RCPT). The check runs on the encoded bytes, so no
Unicode trick can smuggle a line break (SECURITY CI-12).
"""

from __future__ import annotations

MAX_COMMAND_LINE = 512
# RFC 3461 §5: ENVID/RET may add 100 octets to MAIL, NOTIFY/ORCPT 500 to RCPT.
DSN_MAIL_EXTRA = 100
DSN_RCPT_EXTRA = 500

_FORBIDDEN = (b"\r", b"\n", b"\x00")


def check_argument(value: str, what: str = "argument") -> str:
    """Return ``value`` if it can be part of a command line, else raise ``ValueError``."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    if "\r" in value or "\n" in value or "\x00" in value:
        raise ValueError(f"{what} contains CR, LF or NUL: {value!r}")
    return value


def encode_line(*parts: str, limit: int = MAX_COMMAND_LINE) -> bytes:
    """Join ``parts`` with spaces, encode as UTF-8 and add CRLF; validate first."""
    for part in parts:
        check_argument(part, "command argument")
    line = " ".join(parts).encode("utf-8")
    for bad in _FORBIDDEN:  # defence in depth: the encoded form is what goes out
        if bad in line:  # pragma: no cover - impossible after the str check
            raise ValueError("command line contains CR, LF or NUL")
    if len(line) + 2 > limit:
        raise ValueError(f"command line of {len(line) + 2} octets exceeds the limit of {limit}")
    return line + b"\r\n"


def verb_of(line: bytes) -> str:
    """The command verb of an encoded line, for pairing replies and for messages."""
    return line.split(b" ", 1)[0].split(b":", 1)[0].strip().decode("ascii", "replace").upper()
