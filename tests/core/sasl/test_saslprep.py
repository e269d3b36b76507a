"""SASLprep (RFC 4013), with the examples of its §3 and a cross-check against scramp's."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netsmtp._core.sasl import saslprep


@pytest.mark.parametrize(
    ("given_text", "expected"),
    [
        ("I\u00adX", "IX"),  # 1. SOFT HYPHEN mapped to nothing
        ("user", "user"),  # 2. no transformation
        ("USER", "USER"),  # 3. case preserved, will not match #2
        ("\u00aa", "a"),  # 4. output is NFKC, input in ISO 8859-1
        ("\u2168", "IX"),  # 5. output is NFKC, will match #1
    ],
)
def test_rfc4013_section3_examples(given_text: str, expected: str) -> None:
    assert saslprep(given_text) == expected


@pytest.mark.parametrize(
    "bad",
    [
        "\u0007",  # 6. Error - prohibited character
        "\u0627\u0031",  # 7. Error - bidirectional check
    ],
)
def test_rfc4013_section3_errors(bad: str) -> None:
    with pytest.raises(ValueError):
        saslprep(bad)


def test_mapping_spaces_and_nothing() -> None:
    assert saslprep("a\u00a0b") == "a b"  # C.1.2 non-ASCII space -> SPACE
    assert saslprep("a\u3000b") == "a b"
    assert saslprep("a\u200bb") == "ab"  # ZERO WIDTH SPACE: B.1, mapped to nothing
    assert saslprep("\ufb01") == "fi"  # NFKC ligature


@pytest.mark.parametrize(
    "bad",
    [
        "a\x00b",  # C.2.1
        "a\rb",
        "a\nb",
        "a\x7fb",
        "a\u0085b",  # C.2.2 (NEL)
        "a\ue000b",  # C.3 private use
        "a\ufffeb",  # C.4 non-character
        "a\ufff9b",  # C.6 interlinear annotation anchor
        "a\u2ff0b",  # C.7 ideographic description character
        "a\u200eb",  # C.8 LEFT-TO-RIGHT MARK
        "a\U000e0001b",  # C.9 LANGUAGE TAG
        "\u0627a\u0628",  # RandALCat with LCat inside
        "\u0627\u0628a",  # does not end with RandALCat
    ],
)
def test_prohibited(bad: str) -> None:
    with pytest.raises(ValueError):
        saslprep(bad)


def test_right_to_left_alone_is_fine() -> None:
    assert saslprep("\u0627\u0628") == "\u0627\u0628"
    assert saslprep("\u0627 1 \u0628") == "\u0627 1 \u0628"


def test_unassigned_stored_versus_query() -> None:
    unassigned = "a\u0221"  # unassigned in Unicode 3.2 (table A.1)
    with pytest.raises(ValueError):
        saslprep(unassigned)
    assert saslprep(unassigned, allow_unassigned=True) == unassigned


def test_error_message_hides_the_text() -> None:
    with pytest.raises(ValueError) as info:
        saslprep("secret\x07")
    assert "secret" not in str(info.value)


def test_type_checked() -> None:
    with pytest.raises(TypeError):
        saslprep(b"bytes")  # type: ignore[arg-type]


@given(st.text(max_size=12))
def test_agrees_with_scramp(text: str) -> None:
    """An independent implementation (scramp's) gives the same result or also refuses."""
    from scramp.utils import ScramException  # type: ignore[import-untyped]
    from scramp.utils import saslprep as scramp_saslprep

    try:
        theirs: str | None = scramp_saslprep(text)
    except ScramException:
        theirs = None
    try:
        ours: str | None = saslprep(text)
    except ValueError:
        ours = None
    assert ours == theirs


@given(st.text(max_size=12))
def test_idempotent(text: str) -> None:
    try:
        once = saslprep(text)
    except ValueError:
        return
    assert saslprep(once) == once
