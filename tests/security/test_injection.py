"""SECURITY.md §4: CRLF and command injection through command arguments (CI-01 .. CI-13).

Each bad argument must raise ``ValueError`` (or, where SPEC Part A says so, ``TypeError`` or
a local refusal) before one byte of its command is written, and the session must stay
usable: every script below ends with a correct command the server does answer, and the
bytes after EHLO are compared exactly.
"""

from __future__ import annotations

import ast
import base64
import contextlib
import pathlib
import warnings
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import netsmtp
from netsmtp import ExtensionWarning, NotSupportedError, xtext
from netsmtp._core.address import to_path
from netsmtp._core.commands import encode_line
from netsmtp._core.parameters import mail_parameters
from netsmtp._core.xtext import xtext_decode
from tests.helpers.scripted import Peer, ScriptedServer
from tests.security._hostile_support import (
    EHLO,
    HELLO,
    MAIL,
    QUIT,
    RCPT,
    RECIPIENT,
    SENDER,
    after_ehlo,
    greet,
    serve_quit,
)

Scripted = type[ScriptedServer]


def answering(*expected: bytes, caps: tuple[str, ...] = ()) -> Any:
    """Greet; expect exactly ``expected`` (each answered 250); then QUIT."""

    def script(p: Peer) -> None:
        greet(p, *caps)
        for line in expected:
            p.expect(line)
            p.reply("250 2.0.0 ok")
        serve_quit(p)

    return script


# ---- CI-01: control characters in the reverse-path ---------------------------------------------------------
CONTROL_PATHS = [
    "a@example.org\r\nRCPT TO:<x@evil>",
    "a@example.org\nRCPT TO:<x@evil>",
    "a@example.org\rRCPT TO:<x@evil>",
    "a@example.org\x00RCPT TO:<x@evil>",
    "a@example.org\x0bRCPT",
    "a@example.org\x7f",
    "a@exa\rmple.org",
]


@pytest.mark.parametrize("exact", [False, True], ids=["dwim", "exact"])
@pytest.mark.parametrize("bad", CONTROL_PATHS)
def test_CI_01_controls_in_the_reverse_path(
    scripted: Scripted, sec_connect: Any, bad: str, exact: bool
) -> None:
    server = scripted(answering(MAIL))
    smtp = sec_connect(server, exact_addresses=exact)
    for method in (smtp.mail, smtp.send, smtp.send_or_mail, smtp.send_and_mail):
        with pytest.raises(ValueError, match="control character"):
            method(bad)
    with pytest.raises(ValueError, match="control character"):
        smtp.send_message(b"Subject: x\r\n\r\nhi\r\n", bad, [RECIPIENT])
    assert smtp.mail(SENDER) is True  # still usable
    assert smtp.quit() is True
    server.join()
    assert after_ehlo(server.received) == MAIL + QUIT


# ---- CI-02: RCPT, VRFY, EXPN, and every recipient validated before the first RCPT --------------------------
@pytest.mark.parametrize("bad", CONTROL_PATHS)
def test_CI_02_controls_in_recipients(scripted: Scripted, sec_connect: Any, bad: str) -> None:
    server = scripted(answering(MAIL, RCPT))
    smtp = sec_connect(server)
    assert smtp.mail(SENDER) is True
    with pytest.raises(ValueError, match="control character"):
        smtp.to(bad)
    # the bad one last: nothing of the batch is written, not even the good RCPTs before it
    with pytest.raises(ValueError, match="control character"):
        smtp.to(RECIPIENT, "c@example.org", bad)
    with pytest.raises(ValueError, match="control character"):
        smtp.recipient([RECIPIENT, bad], skip_bad=True)
    with pytest.raises(ValueError, match="control character"):
        smtp.send_message(b"Subject: x\r\n\r\nhi\r\n", SENDER, [RECIPIENT, bad])
    assert smtp.to(RECIPIENT) is True
    assert smtp.quit() is True
    server.join()
    assert after_ehlo(server.received) == MAIL + RCPT + QUIT


LINE_BREAKERS = ["x\r\nRSET", "x\nRSET", "x\rRSET", "x\x00RSET"]


@pytest.mark.parametrize("bad", LINE_BREAKERS)
def test_CI_02_vrfy_and_expn(scripted: Scripted, sec_connect: Any, bad: str) -> None:
    # SPEC A9: VRFY and EXPN arguments are sent as given, refused when they hold CR, LF or
    # NUL (what can end a command line); other controls are not line breaks.
    server = scripted(answering(b"VRFY x\x0bRSET\r\n", b"EXPN x\x7f\r\n"))
    smtp = sec_connect(server)
    for method in (smtp.verify, smtp.expand):
        with pytest.raises(ValueError, match="CR, LF or NUL"):
            method(bad)
    assert smtp.verify("x\x0bRSET") is True
    assert smtp.expand("x\x7f") == ["2.0.0 ok"]
    assert smtp.quit() is True
    server.join()


# ---- CI-03: the EHLO/HELO name -----------------------------------------------------------------------------
BAD_HELLO = "client.example\r\nMAIL FROM:<x>"


def test_CI_03_hello_name_refused_by_the_constructor(scripted: Scripted, sec_make: Any) -> None:
    def script(p: Peer) -> None:  # pragma: no cover - the client must not even connect
        raise AssertionError("the client connected")

    server = scripted(script, io_timeout=0.5)
    for name in (BAD_HELLO, "client.example\nMAIL", "client\x00", "two words"):
        with pytest.raises(ValueError, match="hello"):
            sec_make(server, hello=name)
    server.close()
    server.thread.join(5)
    assert server.errors == []
    assert server.received == b""


def test_CI_03_hello_name_refused_by_hello(scripted: Scripted, sec_connect: Any) -> None:
    def script(p: Peer) -> None:
        p.send("220 test.example ESMTP ready\r\n")
        line = p.readline()
        assert line.startswith(b"EHLO "), line
        p.reply("250 test.example")
        serve_quit(p)

    server = scripted(script)
    smtp = sec_connect(server, send_hello=False, hello=None)
    for name in (BAD_HELLO, "a\rb", "a\nb", "a\x00b"):
        with pytest.raises(ValueError):
            smtp.hello(name)
    assert smtp.hello("") == "test.example"  # empty: the default name
    assert smtp.quit() is True
    server.join()
    first = server.received.split(b"\r\n")[0]
    name = first.removeprefix(b"EHLO ")
    assert name and b" " not in name and all(0x21 <= c < 0x7F for c in name), first
    assert server.received == first + b"\r\n" + QUIT


@pytest.mark.parametrize("hello", ["", None])
def test_CI_03_empty_hello_falls_back_to_a_valid_default(
    scripted: Scripted, sec_make: Any, hello: Any
) -> None:
    seen: list[bytes] = []

    def script(p: Peer) -> None:
        p.send("220 test.example ESMTP ready\r\n")
        seen.append(p.readline())
        p.reply("250 test.example")
        serve_quit(p)

    server = scripted(script)
    smtp = sec_make(server, hello=hello, timeout=2)
    assert smtp.quit() is True
    server.join()
    [line] = seen
    name = line.removeprefix(b"EHLO ").removesuffix(b"\r\n")
    assert line.startswith(b"EHLO ") and name, line
    assert b"." in name or name.startswith(b"["), name  # a FQDN or an address literal
    assert all(0x21 <= c < 0x7F for c in name), name


# ---- CI-04: parameter-value injection ----------------------------------------------------------------------
def test_CI_04_parameter_values(scripted: Scripted, sec_connect: Any) -> None:
    caps = ("DSN", "SIZE", "AUTH PLAIN", "8BITMIME")
    server = scripted(answering(MAIL, RCPT, caps=caps))
    smtp = sec_connect(server)
    for options in (
        {"envid": "X-OPTION\nBad"},
        {"envid": "x NOTIFY=NEVER"},
        {"auth": "X-OPTION\nBad"},
        {"auth": "<> SIZE=1"},
        {"ret": "FULL\r\nRSET"},
        {"bits": "8\r\nRSET"},
        {"transaction": "a@b>\r\nRSET"},
    ):
        with pytest.raises(ValueError):
            smtp.mail(SENDER, **options)
    # SPEC A8 types the options: a SIZE that is not an int, or an option netsmtp does not know
    # (flask-mail#189's free-form "X-OPTION\nBad"), is a TypeError; either way nothing is sent.
    with pytest.raises(TypeError, match="size"):
        smtp.mail(SENDER, size="10 RET=FULL")
    with pytest.raises(TypeError, match="unexpected option"):
        smtp.mail(SENDER, **{"X-OPTION\nBad": True})
    assert smtp.mail(SENDER) is True
    for orcpt in ("rfc822;x@y NOTIFY=NEVER", "rfc822;x@y\r\nRSET", "rfc822;x@y\nRSET"):
        with pytest.raises(ValueError, match="orcpt"):
            smtp.to(RECIPIENT, orcpt=orcpt)
    with pytest.raises(ValueError, match="notify"):
        smtp.to(RECIPIENT, notify=["SUCCESS\r\nRSET"])
    assert smtp.to(RECIPIENT) is True
    assert smtp.quit() is True
    server.join()
    assert after_ehlo(server.received) == MAIL + RCPT + QUIT


# ---- CI-05: an unadvertised extension parameter ------------------------------------------------------------
def test_CI_05_unadvertised_options_are_dropped_with_a_warning(scripted: Scripted, sec_connect: Any) -> None:
    """netsmtp's default is Net::SMTP's compat behaviour: warn and drop, never send anyway."""
    server = scripted(answering(MAIL, RCPT, caps=("SIZE",)))
    smtp = sec_connect(server)
    with pytest.warns(ExtensionWarning, match="DSN"):
        assert smtp.mail(SENDER, ret="FULL", envelope="id-1") is True
    with pytest.warns(ExtensionWarning, match="DSN"):
        assert smtp.to(RECIPIENT, notify=["SUCCESS", "FAILURE"], orcpt="rfc822;b@example.org") is True
    assert smtp.quit() is True
    server.join()
    assert after_ehlo(server.received) == MAIL + RCPT + QUIT


def test_CI_05_options_that_cannot_be_dropped_fail_before_mail(scripted: Scripted, sec_connect: Any) -> None:
    """The strict part: dropping REQUIRETLS or SMTPUTF8 would change what the message
    means, so the command fails (code 555) and is not sent."""
    server = scripted(answering(MAIL, caps=("SIZE", "8BITMIME")))
    smtp = sec_connect(server)
    for options in ({"requiretls": True}, {"smtputf8": True}):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert smtp.mail(SENDER, **options) is False
        assert smtp.code() == 555
    with pytest.raises(NotSupportedError, match="REQUIRETLS"):
        smtp.send_message(b"Subject: x\r\n\r\nhi\r\n", SENDER, [RECIPIENT], requiretls=True)
    assert smtp.mail(SENDER) is True
    assert smtp.quit() is True
    server.join()
    assert after_ehlo(server.received) == MAIL + QUIT


# ---- CI-06: xtext ------------------------------------------------------------------------------------------
def test_CI_06_xtext() -> None:
    assert xtext("a+b=c d\xe9") == "a+2Bb+3Dc+20d+C3+A9"  # over the UTF-8 bytes
    assert xtext_decode("a+2Bb+3Dc+20d+C3+A9") == "a+b=c d\xe9".encode()
    caps = netsmtp._core.capabilities.Capabilities.from_ehlo(("mx", "DSN"))
    assert mail_parameters({"envid": "a+2Bb+3Dc"}, caps, "<a@b>").params == ["ENVID=a+2Bb+3Dc"]  # unchanged
    for bad in ("+2", "+2b", "a b", "a=b"):
        with pytest.raises(ValueError, match="xtext"):
            mail_parameters({"envid": bad}, caps, "<a@b>")


def test_CI_06_xtext_on_the_wire(scripted: Scripted, sec_connect: Any) -> None:
    expected = (
        b"MAIL FROM:<a@example.org> ENVID=a+2Bb+3Dc+20d+C3+A9\r\n",
        b"MAIL FROM:<a@example.org> ENVID=a+2Bb\r\n",
        b"RCPT TO:<b@example.org> ORCPT=rfc822;b+2Bx@example.org\r\n",
    )
    server = scripted(answering(*expected, caps=("DSN",)))
    smtp = sec_connect(server)
    assert smtp.mail(SENDER, envelope="a+b=c d\xe9") is True  # raw: encoded once, by netsmtp
    for bad in ("+2", "+2b"):
        with pytest.raises(ValueError, match="xtext"):
            smtp.mail(SENDER, envid=bad)
    assert smtp.mail(SENDER, envid="a+2Bb") is True  # already encoded: sent unchanged
    assert smtp.to(RECIPIENT, orcpt="rfc822;" + xtext("b+x@example.org")) is True
    assert smtp.quit() is True
    server.join()


# ---- CI-07: length limits ----------------------------------------------------------------------------------
def domain(octets: int) -> str:
    """A valid domain of exactly ``octets`` octets (labels of at most 63)."""
    text = (("d" * 62 + ".") * 5)[:octets]
    return text[:-2] + "dd" if text.endswith(".") or text[-2:-1] == "." else text


def test_CI_07_length_limits(scripted: Scripted, sec_connect: Any) -> None:
    local_64 = "l" * 64 + "@example.org"
    fits = "a@" + domain(252)  # 254 octets: 256 with the brackets, the most a path can hold
    ok = (f"MAIL FROM:<{local_64}>\r\n".encode(), f"MAIL FROM:<{fits}>\r\n".encode())
    server = scripted(answering(*ok, caps=("CHECKPOINT",)))
    smtp = sec_connect(server)
    assert len(domain(255)) == 255 and len(domain(256)) == 256 and len(fits) == 254
    for bad in (
        "l" * 65 + "@example.org",  # local part over 64
        "a@" + domain(255),  # a 255-octet domain is fine in DNS, but no path can hold it
        "a@" + domain(256),
        "aa@" + domain(252),  # path of 257 octets
    ):
        with pytest.raises(ValueError, match="longer"):
            smtp.mail(bad)
    # a MAIL line over 512 octets with no extension that raises the limit (CHECKPOINT does not)
    with pytest.raises(ValueError, match="512"):
        smtp.mail(fits, transaction=fits)
    with pytest.raises(ValueError, match="512"):
        smtp.verify("v" * 600)
    for line in ok:
        assert smtp.mail(line[11:-3].decode()) is True
    assert smtp.quit() is True
    server.join()


# ---- CI-08: an AUTH initial response too long for the line -------------------------------------------------
@pytest.mark.parametrize("length", [600, 10])
def test_CI_08_initial_response_moves_after_334(scripted: Scripted, sec_connect: Any, length: int) -> None:
    password = "p" * length
    response = base64.b64encode(b"\0tim\0" + password.encode())

    def script(p: Peer) -> None:
        greet(p, "AUTH PLAIN")
        if length > 300:
            p.expect("AUTH PLAIN")  # no initial response: the line would pass 512 octets
            p.reply("334 ")
            p.expect(response)  # the response on its own line
        else:
            p.expect(b"AUTH PLAIN " + response)
        p.reply("235 2.7.0 ok")
        serve_quit(p)

    server = scripted(script)
    smtp = sec_connect(server)  # the scripted server is a loopback peer: PLAIN is allowed
    assert smtp.auth("tim", password) is True
    assert smtp.quit() is True
    server.join()


# ---- CI-09: quoted local parts -----------------------------------------------------------------------------
@pytest.mark.parametrize("exact", [False, True], ids=["dwim", "exact"])
def test_CI_09_quoted_local_part(scripted: Scripted, sec_connect: Any, exact: bool) -> None:
    server = scripted(answering(b'MAIL FROM:<"john doe"@example.org>\r\n'))
    smtp = sec_connect(server, exact_addresses=exact)
    for bad in (
        '"a\r\nRCPT TO:<x>"@example.org',
        '"a\\\r"@example.org',
        '"a\\\n"@example.org',
        '"a\x00"@x.org',
    ):
        with pytest.raises(ValueError, match="control character"):
            smtp.mail(bad)
    assert smtp.mail('"john doe"@example.org') is True
    assert smtp.quit() is True
    server.join()


# ---- CI-10: an address with junk around it -----------------------------------------------------------------
def test_CI_10_junk_around_an_address(scripted: Scripted, sec_connect: Any) -> None:
    server = scripted(answering(MAIL), connections=2)
    exact = sec_connect(server, exact_addresses=True)
    for bad in ("<a@example.org> SIZE=1", "a@example.org>", "a b@example.org"):
        with pytest.raises(ValueError):
            exact.mail(bad)
    assert exact.mail(SENDER) is True
    assert exact.quit() is True
    # The default is Net::SMTP's extraction (SPEC A9), which the catalogue allows as the
    # compat mode: the first <...> is the address, the junk after it is never sent, and an
    # unquoted space or a stray bracket is still refused.
    dwim = sec_connect(server)
    for bad in ("a@example.org>", "a b@example.org", "<a b@example.org>"):
        with pytest.raises(ValueError):
            dwim.mail(bad)
    assert dwim.mail("<a@example.org> SIZE=1") is True
    assert dwim.quit() is True
    server.join()
    assert server.received == (EHLO + MAIL + QUIT) * 2


# ---- CI-11: non-ASCII addresses without SMTPUTF8 -----------------------------------------------------------
def test_CI_11_non_ascii_without_smtputf8(scripted: Scripted, sec_connect: Any) -> None:
    server = scripted(answering(b"MAIL FROM:<sender@xn--4cab6c.se>\r\n", MAIL, caps=("8BITMIME",)))
    smtp = sec_connect(server)
    assert smtp.mail("Avsändaren@example.org") is False  # refused before MAIL
    assert smtp.code() == 555
    assert "SMTPUTF8" in smtp.message()
    with pytest.raises(NotSupportedError, match="SMTPUTF8"):
        smtp.send_message(b"Subject: x\r\n\r\nhi\r\n", "Avsändaren@example.org", [RECIPIENT])
    assert smtp.mail("sender@åäö.se") is True  # an ASCII local part: the domain as an A-label
    assert smtp.mail(SENDER) is True
    assert smtp.to("Åsa@example.org") is False
    assert smtp.code() == 555
    assert smtp.quit() is True
    server.join()


def test_CI_11_non_ascii_with_smtputf8(scripted: Scripted, sec_connect: Any) -> None:
    mail = "MAIL FROM:<Avsändaren@example.org> SMTPUTF8\r\n".encode()
    rcpt = "RCPT TO:<Åsa@exämple.org>\r\n".encode()
    server = scripted(answering(mail, rcpt, caps=("8BITMIME", "SMTPUTF8")))
    smtp = sec_connect(server)
    assert smtp.mail("Avsändaren@example.org") is True
    assert smtp.to("Åsa@exämple.org") is True
    assert smtp.quit() is True
    server.join()


# ---- CI-12: checks happen after encoding -------------------------------------------------------------------
def only_final_crlf(line: bytes) -> bool:
    return line.endswith(b"\r\n") and b"\r" not in line[:-2] and b"\n" not in line[:-2]


@settings(max_examples=300)
@given(st.text(alphabet=st.characters(codec=None), max_size=30))
def test_CI_12_every_command_is_checked_after_encoding(text: str) -> None:
    """Any str, surrogates, U+0085, U+2028 and CJK such as U+760D included: building a
    command raises ValueError (UnicodeEncodeError is one) or gives one line."""
    builders = [
        lambda: encode_line("VRFY", text),
        lambda: encode_line(text),
        lambda: encode_line(f"MAIL FROM:{to_path(text)}"),
        lambda: encode_line(f"RCPT TO:{to_path(text, exact=True)}"),
        lambda: encode_line("MAIL FROM:<a@b>" + mail_parameters({"envelope": text}, CAPS, "<a@b>").text),
        lambda: encode_line("MAIL FROM:<a@b>" + mail_parameters({"auth": text}, CAPS, "<a@b>").text),
    ]
    for build in builders:
        try:
            line = build()
        except ValueError:
            continue
        assert only_final_crlf(line), line


CAPS = netsmtp._core.capabilities.Capabilities.from_ehlo(("mx", "DSN", "AUTH PLAIN"))
TRICKY = ["\u760d", "\u760a", "\x85", "\u2028", "\u2029", "\x0b", "\x0c", "\x1c", "\ud800", "\udc0d"]


@pytest.mark.parametrize("char", TRICKY, ids=[f"U+{ord(c):04X}" for c in TRICKY])
def test_CI_12_tricky_text_on_the_wire(scripted: Scripted, sec_connect: Any, char: str) -> None:
    """The same through a live client: whatever goes out is one line per command."""
    server = scripted(lambda p: (greet(p, "SMTPUTF8", "8BITMIME"), _answer_all(p)))
    smtp = sec_connect(server)
    for call in (
        lambda: smtp.verify(f"x{char}y"),
        lambda: smtp.mail(f"x{char}y@example.org"),
        lambda: smtp.to(f"x{char}y@example.org"),
        lambda: smtp.hello(f"x{char}y.example"),
        lambda: smtp.command("NOOP", f"x{char}y"),
    ):
        with contextlib.suppress(ValueError):
            call()
    assert smtp.quit() is True
    server.join()
    lines = server.received.split(b"\r\n")
    assert lines[-1] == b""
    assert not any(b"\r" in line or b"\n" in line for line in lines), lines


def _answer_all(p: Peer) -> None:
    while line := p.readline():
        if line == QUIT:
            p.reply("221 2.0.0 bye")
            return
        p.reply("250 2.0.0 ok")


def test_CI_12_no_splitlines_on_protocol_text() -> None:
    """``str.splitlines`` splits on \\x0b, \\x0c, \\x1c-\\x1e, \\x85 and \\u2028 too: no code
    path may use it on protocol lines. The one use in the package is on bytes (a header
    block), whose splitlines knows only CR and LF."""
    root = pathlib.Path(netsmtp.__file__).parent
    uses = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and node.attr == "splitlines":
                uses.append((path.relative_to(root).as_posix(), ast.unparse(node.value)))
    assert uses == [("_message.py", "header_block")]
    assert "a\x85b".splitlines() == ["a", "b"] and b"a\x85b".splitlines() == [b"a\x85b"]  # why it matters


# ---- CI-13: server-supplied tokens never reach a command ---------------------------------------------------
LONG_NAME = "A" * 5000


@pytest.mark.parametrize("with_login", [False, True])
def test_CI_13_odd_mechanisms_are_never_echoed(
    scripted: Scripted, sec_connect: Any, with_login: bool
) -> None:
    def script(p: Peer) -> None:
        greet(p, "AUTH PLAIN X-FOO\x01BAR", f"AUTH {LONG_NAME}{' LOGIN' if with_login else ''}")
        if with_login:
            p.expect("AUTH LOGIN")
            p.reply("334 VXNlcm5hbWU6")
            p.expect(base64.b64encode(b"tim"))
            p.reply("334 UGFzc3dvcmQ6")
            p.expect(base64.b64encode(b"secret"))
            p.reply("235 2.7.0 ok")
        serve_quit(p)

    server = scripted(script)
    smtp = sec_connect(server)
    # the line with a control character is ignored whole; the long name is kept, never used
    assert smtp.supports("AUTH") == LONG_NAME + (" LOGIN" if with_login else "")
    if not with_login:
        assert smtp.auth("tim", "secret") is False  # nothing usable: refused, nothing sent
        assert "no" in smtp.message().lower()
        assert smtp.auth("tim", "secret", mechanism="PLAIN") is False  # on the ignored line only
        for name in (LONG_NAME, "X-FOO\x01BAR"):  # not netsmtp's: a caller's mistake
            with pytest.raises(ValueError, match="SASL mechanism"):
                smtp.auth("tim", "secret", mechanism=name)
    else:
        assert smtp.auth("tim", "secret") is True
    assert smtp.quit() is True
    server.join()
    sent = after_ehlo(server.received)
    assert b"AAAA" not in sent and b"X-FOO" not in sent
    assert sent.startswith(b"AUTH LOGIN\r\n") if with_login else sent == QUIT
    assert HELLO.encode() in server.received[: len(EHLO)]
