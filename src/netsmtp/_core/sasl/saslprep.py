"""SASLprep (RFC 4013): the stringprep profile SCRAM applies to user names and passwords.

Implemented on the standard library's :mod:`stringprep` tables, which are those of
RFC 3454 (Unicode 3.2); normalisation uses the matching ``unicodedata.ucd_3_2_0`` so the
result is the one RFC 4013 defines, whatever Unicode version Python ships.

Steps (RFC 4013 §2, RFC 3454 §§3-7):

1. Map: non-ASCII spaces (table C.1.2) to SPACE; "commonly mapped to nothing" (B.1)
   removed.
2. Normalise with NFKC (RFC 3454 §4, Unicode 3.2).
3. Prohibit: C.1.2, C.2.1, C.2.2, C.3, C.4, C.5, C.6, C.7, C.8, C.9 (RFC 4013 §2.3).
4. Bidirectional check (RFC 3454 §6): a string with any RandALCat character (D.1) has
   no LCat character (D.2) and starts and ends with RandALCat.
5. Unassigned code points (A.1) are refused for stored strings (passwords) and allowed
   for queries (RFC 4013 §2.5; RFC 5802 §5.1 treats the user name as a query).

Failures raise ``ValueError`` naming the position and the rule, never the text itself
(it is usually a password).
"""

from __future__ import annotations

import stringprep
import unicodedata

_PROHIBITED = (
    (stringprep.in_table_c12, "non-ASCII space"),
    (stringprep.in_table_c21, "ASCII control character"),
    (stringprep.in_table_c22, "non-ASCII control character"),
    (stringprep.in_table_c3, "private use character"),
    (stringprep.in_table_c4, "non-character code point"),
    (stringprep.in_table_c5, "surrogate code point"),
    (stringprep.in_table_c6, "character inappropriate for plain text"),
    (stringprep.in_table_c7, "character inappropriate for canonical representation"),
    (stringprep.in_table_c8, "character that changes display properties"),
    (stringprep.in_table_c9, "tagging character"),
)


def saslprep(text: str, *, allow_unassigned: bool = False) -> str:
    """Prepare ``text`` with SASLprep (RFC 4013); raise ``ValueError`` if it is prohibited.

    ``allow_unassigned`` selects the "query" variant (RFC 3454 §7): unassigned code points
    pass through. The default is the "stored string" variant used for passwords.
    """
    if not isinstance(text, str):
        raise TypeError(f"SASLprep needs a str, not {type(text).__name__}")
    if text.isascii() and all(0x20 <= ord(ch) < 0x7F for ch in text):
        return text  # printable ASCII is unchanged by every step: the common case

    # 1. Mapping (RFC 4013 §2.1).
    mapped = "".join(
        " " if stringprep.in_table_c12(ch) else ch for ch in text if not stringprep.in_table_b1(ch)
    )
    # 2. Normalisation (RFC 4013 §2.2).
    prepared = unicodedata.ucd_3_2_0.normalize("NFKC", mapped)

    # 3. and 5. Prohibited output and unassigned code points (RFC 4013 §§2.3, 2.5).
    for index, ch in enumerate(prepared):
        for in_table, what in _PROHIBITED:
            if in_table(ch):
                raise ValueError(f"SASLprep: prohibited {what} at position {index}")
        if not allow_unassigned and stringprep.in_table_a1(ch):
            raise ValueError(f"SASLprep: unassigned code point at position {index}")

    # 4. Bidirectional characters (RFC 4013 §2.4, RFC 3454 §6).
    if any(stringprep.in_table_d1(ch) for ch in prepared):
        if any(stringprep.in_table_d2(ch) for ch in prepared):
            raise ValueError("SASLprep: mixes right-to-left and left-to-right characters")
        if not (stringprep.in_table_d1(prepared[0]) and stringprep.in_table_d1(prepared[-1])):
            raise ValueError("SASLprep: right-to-left text must start and end with a right-to-left character")
    return prepared
