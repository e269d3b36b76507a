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
        if type(part) is not str or "\r" in part or "\n" in part or "\x00" in part:
            check_argument(part, "command argument")  # raises, saying why (or a str subclass)
    line = " ".join(parts).encode()  # UTF-8 (naming it costs a look-up of the codec name)
    # Defence in depth: the encoded form is what goes out. (Octets as ints: "b'\\r' in line"
    # first tries the needle as an int, and pays for the TypeError.)
    if 13 in line or 10 in line or 0 in line:  # pragma: no cover - impossible after the str check
        raise ValueError("command line contains CR, LF or NUL")
    if len(line) + 2 > limit:
        raise ValueError(f"command line of {len(line) + 2} octets exceeds the limit of {limit}")
    return line + b"\r\n"


# verb_of() for the commonest lines, found by their first five octets: a verb and its space
# (what follows cannot change the verb), or the whole of a line without arguments.
_VERB_PREFIXES = {
    verb.encode() + b" ": verb for verb in ("MAIL", "RCPT", "BDAT", "EHLO", "HELO", "LHLO", "VRFY", "AUTH")
}
_BARE_VERBS = {verb.encode() + b"\r\n": verb for verb in ("DATA", "QUIT", "RSET", "NOOP")}


def verb_of(line: bytes) -> str:
    """The command verb of an encoded line, for pairing replies and for messages."""
    verb = _VERB_PREFIXES.get(line[:5]) or _BARE_VERBS.get(line)
    if verb is not None:
        return verb
    return line.split(b" ", 1)[0].split(b":", 1)[0].strip().decode("ascii", "replace").upper()
