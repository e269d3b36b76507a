"""Hypothesis properties of xtext (RFC 3461 §4) and of the parameters that carry it
(SECURITY CI-04, CI-06), beyond tests/core/test_xtext.py.

* ``xtext()`` of anything is printable ASCII without space or ``=``, and ``+`` only as
  ``+HH`` with upper-case hex: it can never end a parameter or start another.
* ``is_xtext`` agrees with an independent reading of the grammar, octet by octet.
* Raw (``envelope``) and encoded (``envid``) inputs give the same ENVID, encoded once.
* An ORCPT value decodes back to what was encoded.
"""

from __future__ import annotations

import warnings

from hypothesis import given, settings
from hypothesis import strategies as st

from netsmtp import ExtensionWarning, xtext
from netsmtp._core.xtext import is_xtext, xtext_decode
from tests.fuzz.memory import MemorySMTP

HEX = "0123456789ABCDEF"
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)  # a str xtext() can encode
ANY = st.one_of(st.binary(max_size=60), TEXT)


def grammar(value: str) -> bool:
    """xtext = *( xchar / hexchar ), read by hand (RFC 3461 §4)."""
    i = 0
    while i < len(value):
        ch = value[i]
        if ch == "+":
            if len(value) - i < 3 or value[i + 1] not in HEX or value[i + 2] not in HEX:
                return False
            i += 3
        elif "!" <= ch <= "~" and ch != "=":
            i += 1
        else:
            return False
    return True


@settings(max_examples=500)
@given(ANY)
def test_encoding_is_always_safe(value: str | bytes) -> None:
    encoded = xtext(value)
    assert all("!" <= ch <= "~" for ch in encoded)
    assert "=" not in encoded
    assert grammar(encoded)
    assert is_xtext(encoded)
    raw = value.encode("utf-8") if isinstance(value, str) else value
    assert xtext_decode(encoded) == raw


@settings(max_examples=500)
@given(st.one_of(st.text(max_size=20), st.text(st.sampled_from("+=AbF0 9!~\x7f\x00é"), max_size=12)))
def test_is_xtext_is_the_grammar(value: str) -> None:
    assert is_xtext(value) == grammar(value)


@settings(max_examples=200, deadline=None)
@given(TEXT)
def test_envelope_and_envid_give_one_encoding(raw: str) -> None:
    lines = []
    for options in ({"envelope": raw}, {"envid": xtext(raw)}):
        smtp = MemorySMTP()
        smtp.take()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExtensionWarning)
            smtp.mail("a@example.org", **options)
        lines.append(smtp.take())
    assert lines[0] == lines[1]
    envid = lines[0].split(b"ENVID=", 1)[1].split(b" ", 1)[0].rstrip(b"\r\n")
    assert xtext_decode(envid.decode()) == raw.encode("utf-8")


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=40))
def test_orcpt_round_trip(address: bytes) -> None:
    smtp = MemorySMTP()
    smtp.take()
    smtp.mail("a@example.org")
    smtp.take()
    smtp.recipient("b@example.org", orcpt="rfc822;" + xtext(address))
    line = smtp.take()
    value = line.split(b"ORCPT=rfc822;", 1)[1].rstrip(b"\r\n")
    assert b" " not in value
    assert xtext_decode(value.decode()) == address
