"""Turning caller-supplied addresses into RFC 5321 paths (SPEC A9, Part B §13).

Default ("DWIM", as Net::SMTP): the first ``<...>`` in the text if there is one, else
the trimmed text, wrapped in ``<>``. With ``exact=True`` the text must already be a valid
path or mailbox. Either way the result is then checked: no control characters, no
unquoted space or angle bracket, RFC 5321 length limits (local part 64, domain 255,
path 256 octets), so what reaches the wire is one well-formed path.
"""

from __future__ import annotations

import re

_DWIM_BRACKETS = re.compile(r"<[^>]*>", re.S)
_EXACT_BRACKETS = re.compile(r"\s*(<.*>)\s*", re.S)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# RFC 5321 §4.1.2 with RFC 6531's UTF-8 extension: dot-string or quoted-string local part
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff]"
_DOT_STRING = rf"{_ATEXT}+(?:\.{_ATEXT}+)*"
_QUOTED = r'"(?:[\x20\x21\x23-\x5b\x5d-\x7e\u0080-\U0010ffff]|\\[\x20-\x7e])*"'
_LOCAL = rf"(?:{_DOT_STRING}|{_QUOTED})"
_LABEL = r"[A-Za-z0-9\u0080-\U0010ffff](?:[A-Za-z0-9\-\u0080-\U0010ffff]*[A-Za-z0-9\u0080-\U0010ffff])?"
_DOMAIN = rf"{_LABEL}(?:\.{_LABEL})*"
_LITERAL = r"\[[\x21-\x5a\x5e-\x7e]+\]"
_MAILBOX = re.compile(rf"({_LOCAL})@({_DOMAIN}|{_LITERAL})")
_POSTMASTER = re.compile(r"postmaster", re.I)
# What DWIM mode lets through: no unquoted white space or brackets anywhere.
_LOOSE = re.compile(r'(?:[^\s<>"]|"(?:[^"\\]|\\.)*")*')


def _check_controls(text: str) -> None:
    if _CONTROL.search(text):
        raise ValueError(f"address contains a control character (CR, LF, NUL ...): {text!r}")


def _check_lengths(inner: str) -> None:
    if len(inner.encode("utf-8")) > 254:
        raise ValueError(f"address longer than RFC 5321 allows (256 octets with brackets): {inner!r}")
    local, at, domain = inner.rpartition("@")
    if at:
        if len(local.encode("utf-8")) > 64:
            raise ValueError(f"local part longer than 64 octets: {inner!r}")
        if len(domain.encode("utf-8")) > 255:
            raise ValueError(f"domain longer than 255 octets: {inner!r}")


# to_path() is a pure function of its arguments, and the same addresses come back message
# after message (a sender, a list's members): its results are kept, for addresses short
# enough to be valid, in a table that is emptied when full. Failures are never kept.
_PATHS: dict[tuple[str, bool], str] = {}
_PATHS_MAX = 1024
_CACHED_LENGTH = 320


def to_path(address: str | None, exact: bool = False) -> str:
    """Return ``<...>`` for ``address`` or raise ``ValueError`` (nothing is ever sent)."""
    if type(address) is not str or len(address) > _CACHED_LENGTH:  # str subclasses: no shortcut
        return _to_path(address, exact)
    key = (address, bool(exact))
    path = _PATHS.get(key)
    if path is None:
        path = _to_path(address, exact)
        if len(_PATHS) >= _PATHS_MAX:
            _PATHS.clear()
        _PATHS[key] = path
    return path


def _to_path(address: str | None, exact: bool) -> str:
    text = "" if address is None else address
    if not isinstance(text, str):
        raise TypeError(f"an address must be a str, not {type(address).__name__}")
    _check_controls(text)
    if exact:
        m = _EXACT_BRACKETS.fullmatch(text)
        inner = m.group(1)[1:-1] if m else text
        if inner and not (_MAILBOX.fullmatch(inner) or _POSTMASTER.fullmatch(inner)):
            raise ValueError(f"not an RFC 5321 mailbox: {text!r}")
    else:
        m2 = _DWIM_BRACKETS.search(text)
        inner = m2.group(0)[1:-1] if m2 else text.strip()
        if not _LOOSE.fullmatch(inner):
            raise ValueError(f"address has an unquoted space, quote or angle bracket: {text!r}")
    _check_lengths(inner)
    return f"<{inner}>"


def needs_smtputf8(path: str) -> bool:
    """True when the path has non-ASCII characters in a place only SMTPUTF8 allows."""
    return not path.isascii()


def ascii_domain(path: str) -> str:
    """Turn a non-ASCII domain into its A-label form when the local part is ASCII.

    ``<sender@åäö.se>`` becomes ``<sender@xn--4cab6c.se>``, so it needs no SMTPUTF8.
    """
    inner = path[1:-1]
    local, at, domain = inner.rpartition("@")
    if not at or not local.isascii() or domain.isascii() or domain.startswith("["):
        return path
    try:
        encoded = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return path
    return f"<{local}@{encoded}>"
