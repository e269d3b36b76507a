"""Addresses to RFC 5321 paths (SPEC A9, Part B §13; SECURITY CI-01, CI-07, CI-09, CI-10, CI-11)."""

from __future__ import annotations

import pytest

from netsmtp._core.address import ascii_domain, needs_smtputf8, to_path

# Rows of SPEC Part B §13, in its order: (input, DWIM result, exact result). A result of
# ValueError marks where netsmtp deliberately differs from Net::SMTP; the comment names
# the Part A rule (and SECURITY test) that decides it and what Net::SMTP sends instead.
PART_B_13 = [
    ("user@example.com", "<user@example.com>", "<user@example.com>"),
    # exact: Net::SMTP `<  user@example.com  >`; A9 exact mode: must already be a valid
    # path or mailbox, and unquoted spaces are never sent (CI-10).
    ("  user@example.com  ", "<user@example.com>", ValueError),
    # exact: Net::SMTP `<Joe User <joe@example.com>>`; A9 exact + CI-10 (space, nested <>).
    ("Joe User <joe@example.com>", "<joe@example.com>", ValueError),
    # exact: Net::SMTP sends the whole text in brackets; A9 exact + CI-10.
    ('"Joe" <joe@example.com> <other@x>', "<joe@example.com>", ValueError),
    ("<>", "<>", "<>"),
    ("", "<>", "<>"),
    (None, "<>", "<>"),
    # exact: Net::SMTP `<no angle, <but@here>>`; A9 exact + CI-10.
    ("no angle, <but@here>", "<but@here>", ValueError),
    ('"funny user"@domain', '<"funny user"@domain>', '<"funny user"@domain>'),
    (" <x@y> ", "<x@y>", "<x@y>"),
    # Net::SMTP `<a <b>` in both modes; A9 (the result is checked: no unquoted space or
    # angle bracket) and CI-10 ("must never let an unquoted space ... through").
    ("a <b", ValueError, ValueError),
    # Net::SMTP `<joe@example.com (Joe)>` in both modes; A9 + CI-10 (unquoted space).
    ("joe@example.com (Joe)", ValueError, ValueError),
    # Net::SMTP `<a@b>` in both modes (the LF is outside the brackets); A9: "CR/LF
    # rejected, not turned into spaces"; A2 and CI-01: no CR, LF or NUL anywhere.
    ("<a@b>\n", ValueError, ValueError),
    # Net::SMTP `<a b>` / `<x <a b>>` (LF -> space in command()); A9 + A2 + CI-01.
    ("x <a\nb>", ValueError, ValueError),
    # exact: Net::SMTP `<a> <b>`; A9 exact + CI-10. DWIM keeps the first <...> as Part B.
    ("<a> <b>", "<a>", ValueError),
    # Net::SMTP `<<a>` / `<<a>>`; A9 (an angle bracket inside the path) + CI-10.
    ("<<a>>", ValueError, ValueError),
]


@pytest.mark.parametrize(("text", "dwim", "exact"), PART_B_13)
def test_part_b_13_dwim(text: str | None, dwim: object, exact: object) -> None:
    if dwim is ValueError:
        with pytest.raises(ValueError):
            to_path(text)
    else:
        assert to_path(text) == dwim


@pytest.mark.parametrize(("text", "dwim", "exact"), PART_B_13)
def test_part_b_13_exact(text: str | None, dwim: object, exact: object) -> None:
    if exact is ValueError:
        with pytest.raises(ValueError):
            to_path(text, exact=True)
    else:
        assert to_path(text, exact=True) == exact


@pytest.mark.parametrize("exact", [False, True])
@pytest.mark.parametrize(
    "text",
    [
        "a@example.org\r\nRCPT TO:<x@evil>",  # CI-01
        "a@example.org\nRCPT TO:<x@evil>",
        "a@example.org\r",
        "a@exa\rmple.org",
        "a\x00@example.org",
        "a\x0b@example.org",
        "a\x7f@example.org",
        "a@example.org\t",
        "<a@example.org>\x00",  # outside the brackets too: nothing is ever dropped
        "\x1b[31m<a@example.org>",
        '"a\r\nRCPT TO:<x>"@example.org',  # CI-09
        '"a\\\r"@example.org',
    ],
)
def test_control_characters_raise(text: str, exact: bool) -> None:
    with pytest.raises(ValueError, match="control character"):
        to_path(text, exact=exact)


@pytest.mark.parametrize(
    "text",
    [
        "a@example.org>",  # CI-10
        "a b@example.org",
        "a\u00a0b@example.org",  # a non-ASCII space is still a space
        "a\u2028b@example.org",
        '"unterminated@example.org',
        "a@example.org<",
        "<a@example.org",
        "Joe <a@b",
    ],
)
def test_dwim_rejects_junk(text: str) -> None:
    with pytest.raises(ValueError, match="unquoted space, quote or angle bracket"):
        to_path(text)


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("<a@example.org> SIZE=1", "<a@example.org>"),  # CI-10: DWIM keeps only the <...>
        ("Joe <joe@example.com>", "<joe@example.com>"),
        ('"Joe <x@y>" <real@z>', "<x@y>"),  # the first <...>, as Net::SMTP
        ('"a b"@x', '<"a b"@x>'),
        ('"a \\" b"@x', '<"a \\" b"@x>'),
        ("a@b@c", "<a@b@c>"),  # DWIM does not check the mailbox grammar
        ("postmaster", "<postmaster>"),
        ("a@example.org\u00a0", "<a@example.org>"),  # trimmed like any white space
    ],
)
def test_dwim_accepts(text: str, path: str) -> None:
    assert to_path(text) == path


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("a.b@example.org", "<a.b@example.org>"),
        ("<a@example.org>", "<a@example.org>"),
        ("  <a@example.org>  ", "<a@example.org>"),
        ("user@[192.0.2.1]", "<user@[192.0.2.1]>"),
        ("user@[IPv6:2001:db8::1]", "<user@[IPv6:2001:db8::1]>"),
        ("postmaster", "<postmaster>"),
        ("<Postmaster>", "<Postmaster>"),
        ("Avsändaren@example.org", "<Avsändaren@example.org>"),  # CI-11 (SMTPUTF8 decides)
        ("sender@åäö.se", "<sender@åäö.se>"),
        ('"john doe"@example.org', '<"john doe"@example.org>'),  # CI-09
        ('"a\\"b"@example.org', '<"a\\"b"@example.org>'),
        ('""@example.org', '<""@example.org>'),
        ("!#$%&'*+/=?^_`{|}~-@x", "<!#$%&'*+/=?^_`{|}~-@x>"),
        ("a@b-c.d", "<a@b-c.d>"),
        ("a@localhost", "<a@localhost>"),
    ],
)
def test_exact_accepts(text: str, path: str) -> None:
    assert to_path(text, exact=True) == path


@pytest.mark.parametrize(
    "text",
    [
        "a..b@example.org",
        ".a@example.org",
        "a.@example.org",
        "a@",
        "@example.org",
        "a@b@c",
        "a@-b.c",
        "a@b-.c",
        "a@b..c",
        "a@.b",
        "a",
        "<a>",
        "<@a,@b:user@c>",  # source routes are not accepted
        "a@[1.2.3.4",
        'a"b@c',
        '"a"b"@c',
        '"a\\é"@c',  # quoted-pair is ASCII only
        "a b@c",
        "a@b>",
        "<postmaster@>",
    ],
)
def test_exact_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not an RFC 5321 mailbox"):
        to_path(text, exact=True)


@pytest.mark.parametrize("value", [b"a@b", 5, ["a@b"]])
def test_non_str_is_a_type_error(value: object) -> None:
    with pytest.raises(TypeError, match="must be a str"):
        to_path(value)  # type: ignore[arg-type]


# ---- CI-07 lengths ----------------------------------------------------------------------------
@pytest.mark.parametrize("exact", [False, True])
def test_local_part_64_ok_65_not(exact: bool) -> None:
    assert to_path("a" * 64 + "@example.org", exact=exact) == "<" + "a" * 64 + "@example.org>"
    with pytest.raises(ValueError, match="local part longer than 64"):
        to_path("a" * 65 + "@example.org", exact=exact)


def test_local_part_counts_octets() -> None:
    assert to_path("é" * 32 + "@x") == "<" + "é" * 32 + "@x>"  # 64 octets
    with pytest.raises(ValueError, match="local part"):
        to_path("é" * 32 + "a@x")


def _domain(octets: int) -> str:
    """A syntactically valid domain of exactly ``octets`` octets (labels of <= 63)."""
    domain = (("d" * 63 + ".") * 5)[:octets]
    if domain.endswith("."):
        domain = domain[:-3] + ".dd"
    return domain


@pytest.mark.parametrize("exact", [False, True])
def test_path_limit_256_octets_with_brackets(exact: bool) -> None:
    inner = "a@" + _domain(252)
    assert len(inner) == 254
    assert len(to_path(inner, exact=exact)) == 256
    longer = "a@" + _domain(253)
    assert len(longer) == 255
    with pytest.raises(ValueError, match="256 octets"):
        to_path(longer, exact=exact)


@pytest.mark.parametrize("exact", [False, True])
def test_domain_of_255_and_256_octets(exact: bool) -> None:
    # CI-07 says a 255-octet domain is accepted, but no such mailbox fits RFC 5321's
    # 256-octet path (§4.5.3.1.3: local part, "@" and brackets come on top): the path
    # rule rejects it. 256 octets is over every limit.
    for size in (255, 256):
        domain = _domain(size)
        assert len(domain) == size
        with pytest.raises(ValueError):
            to_path("a@" + domain, exact=exact)


def test_path_without_at_is_limited_too() -> None:
    assert to_path("p" * 254) == "<" + "p" * 254 + ">"
    with pytest.raises(ValueError):
        to_path("p" * 255)


# ---- SMTPUTF8 and IDNA (CI-11) --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "needed"),
    [
        ("<a@example.org>", False),
        ("<>", False),
        ("<Avsändaren@example.org>", True),
        ("<sender@åäö.se>", True),
        ('<"é"@x>', True),
    ],
)
def test_needs_smtputf8(path: str, needed: bool) -> None:
    assert needs_smtputf8(path) is needed


@pytest.mark.parametrize(
    ("path", "result"),
    [
        ("<sender@åäö.se>", "<sender@xn--4cab6c.se>"),
        ("<sender@bücher.example>", "<sender@xn--bcher-kva.example>"),
        ("<a@example.org>", "<a@example.org>"),  # already ASCII
        ("<Avsändaren@åäö.se>", "<Avsändaren@åäö.se>"),  # the local part needs SMTPUTF8 anyway
        ("<>", "<>"),
        ("<postmaster>", "<postmaster>"),
        ("<a@[IPv6:2001:db8::1]>", "<a@[IPv6:2001:db8::1]>"),
        ("<a@" + "é" * 70 + ".se>", "<a@" + "é" * 70 + ".se>"),  # IDNA refuses a 64+ label: unchanged
    ],
)
def test_ascii_domain(path: str, result: str) -> None:
    assert ascii_domain(path) == result


def test_ascii_domain_result_needs_no_smtputf8() -> None:
    path = ascii_domain(to_path("sender@åäö.se"))
    assert path == "<sender@xn--4cab6c.se>"
    assert not needs_smtputf8(path)
