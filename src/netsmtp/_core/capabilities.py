"""The EHLO capability table (RFC 5321 §4.1.1.1, SPEC A3).

Only lines 2..n of the EHLO reply are capability lines; the first is the server's
greeting and is never parsed (SECURITY MS-19). A keyword is ``[A-Za-z0-9][A-Za-z0-9-]*``,
stored upper-cased; its parameters follow a space, or the legacy ``=`` of ``AUTH=``.
``AUTH`` and ``AUTH=`` lists are merged. Lines that do not fit the grammar are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

_LINE = re.compile(r"([A-Za-z0-9][A-Za-z0-9-]*)(?:([ =])(.*))?")
# A control character other than TAB (a CR above all) has no place in a capability line;
# such a line does not fit the grammar and is ignored, so CR never leaks into a value.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# A sane ceiling for SIZE: anything larger is treated as "no limit we can enforce".
_MAX_SIZE = 2**63 - 1


class Capabilities(Mapping[str, str]):
    """Read-only mapping of EHLO keyword (upper case) to its parameter string."""

    __slots__ = ("_size_limit", "_table")

    def __init__(self, table: dict[str, str] | None = None) -> None:
        self._table: dict[str, str] = dict(table or {})
        self._size_limit = _parse_size(self._table.get("SIZE", ""))  # read before every message

    @classmethod
    def from_ehlo(cls, lines: tuple[str, ...]) -> Capabilities:
        """The table of an EHLO reply's text lines; the first (the server's greeting) is skipped."""
        table: dict[str, str] = {}
        for line in lines[1:]:
            # Trailing white space, a stray CR (``250-SIZE 100\r\r\n``) included, is noise.
            text = line.rstrip(" \t\r")
            m = _LINE.fullmatch(text)
            if m is None or _CONTROL.search(text):
                continue
            key = m.group(1).upper()
            value = (m.group(3) or "").strip(" \t")
            if key == "AUTH" and key in table:
                # Mechanism names are case-insensitive (RFC 4954 §3): merge without doubles.
                merged = table[key].split()
                seen = {w.upper() for w in merged}
                for word in value.split():
                    if word.upper() not in seen:
                        merged.append(word)
                        seen.add(word.upper())
                value = " ".join(merged)
            table[key] = value
        return cls(table)

    def __getitem__(self, key: str) -> str:
        return self._table[key.upper()]

    def __contains__(self, key: object) -> bool:
        if type(key) is str and key in self._table:  # the usual upper-case spelling: one look-up
            return True
        return isinstance(key, str) and key.upper() in self._table

    def __iter__(self) -> Iterator[str]:
        return iter(self._table)

    def __len__(self) -> int:
        return len(self._table)

    def __repr__(self) -> str:
        return f"Capabilities({self._table!r})"

    @property
    def auth_mechanisms(self) -> tuple[str, ...]:
        """The AUTH mechanisms advertised, upper-cased, in the server's order."""
        return tuple(w.upper() for w in self._table.get("AUTH", "").split())

    @property
    def size_limit(self) -> int | None:
        """The SIZE limit in octets, or None when there is none (absent, 0 or unparsable)."""
        return self._size_limit


def _parse_size(text: str) -> int | None:
    """The SIZE parameter's limit in octets, or None (absent, 0 or unparsable)."""
    value = text.split()
    if not value or not value[0].isdigit() or not value[0].isascii():
        return None
    digits = value[0].lstrip("0")
    if not digits:
        return None  # SIZE 0: no fixed limit (RFC 1870 §4)
    # Never int() an unbounded digit string (CPython refuses past 4300 digits); clamp
    # everything above the ceiling to it, whatever its number of digits.
    return _MAX_SIZE if len(digits) > 19 else min(int(digits), _MAX_SIZE)
