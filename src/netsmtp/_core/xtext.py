"""xtext (RFC 3461 §4): the encoding of ENVID, ORCPT and AUTH= parameter values."""

from __future__ import annotations

import re

_XTEXT = re.compile(r"(?:[!-*,-<>-~]|\+[0-9A-F]{2})*")


def xtext(value: str | bytes) -> str:
    """Encode ``value`` as xtext: every octet outside ``!``..``~``, and ``+`` and ``=``,
    becomes ``+XX``. A ``str`` is encoded as UTF-8 first (Net::SMTP encodes per character,
    which yields invalid xtext above U+00FF).

    >>> xtext("id=+ x")
    'id+3D+2B+20x'
    """
    raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
    return "".join(chr(b) if 0x21 <= b <= 0x7E and b not in (0x2B, 0x3D) else f"+{b:02X}" for b in raw)


def is_xtext(value: str) -> bool:
    """True when ``value`` is valid xtext (upper-case hex after every ``+``)."""
    return _XTEXT.fullmatch(value) is not None


def xtext_decode(value: str) -> bytes:
    """Decode xtext back to octets; ``ValueError`` when it is not valid xtext."""
    if not is_xtext(value):
        raise ValueError(f"not valid xtext: {value!r}")
    return re.sub(rb"\+([0-9A-F]{2})", lambda m: bytes([int(m.group(1), 16)]), value.encode("ascii"))
