"""Hypothesis properties of command building, through the real public methods (SPEC A2, A8,
A9; SECURITY CI-01..CI-13).

Every argument of every method that builds a command line (MAIL and its options, RCPT and
its options, EHLO, VRFY, EXPN, HELP, ETRN, raw ``command()``, AUTH credentials, the
envelope of ``send_message``), drawn from any text (surrogates, U+0085, U+2028, CJK whose
UTF-8 bytes look like nothing special, C0 controls, DEL): either the documented error
(``ValueError``, ``TypeError``, or ``NotSupportedError`` for an extension the server lacks)
with **nothing written**, or CRLF-terminated lines with no CR, LF or NUL inside, one per
command, within the RFC 5321 length limit. The client runs against a server in memory
(:mod:`tests.fuzz.memory`). The SASL mechanisms are also driven directly: ``create()`` with
any credentials either refuses them or yields such lines, and no line's transcript text
shows the secret.
"""

from __future__ import annotations

import base64
import re
import warnings
from collections.abc import Callable
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from netsmtp import ExtensionWarning, NotSupportedError, ProtocolError, Reply, xtext
from netsmtp._core import sasl
from netsmtp._core.commands import DSN_MAIL_EXTRA, DSN_RCPT_EXTRA, MAX_COMMAND_LINE
from netsmtp._core.sasl import REDACTED, AuthExchange, AuthLine, ChannelBinding
from netsmtp._core.xtext import is_xtext
from tests.fuzz.memory import ALL_EXTENSIONS, MemorySMTP, command_lines

DOCUMENTED = (ValueError, TypeError, NotSupportedError)  # UnicodeError is a ValueError
NO_EXTENSIONS: tuple[str, ...] = ()
TRICKY = st.sampled_from(
    [
        *("\r", "\n", "\x00", "\x0b", "\x0c", "\x1c", "\x7f", "\x85", "\u2028", "\u2029"),
        *(
            "\ud800",
            "\udc0a",
            "\udc0d",
            "\u760d",
            "\u010a",
            "\u0a0d",
            " ",
            "<",
            ">",
            '"',
            "\\",
            "@",
            "=",
            "+",
        ),
    ]
)
TEXT = st.text(st.one_of(st.characters(codec=None), TRICKY), max_size=30)
LOCAL = st.one_of(
    st.text(st.sampled_from("abc.+-_=é\u760d"), min_size=1, max_size=70),
    st.builds(lambda t: f'"{t}"', TEXT),
    TEXT,
)
DOMAIN = st.one_of(
    st.sampled_from(["example.org", "åäö.se", "[192.0.2.1]", "[IPv6:2001:db8::1]", "x" * 250 + ".org"]),
    TEXT,
)
ADDRESS = st.one_of(
    st.builds(lambda local, domain: f"{local}@{domain}", LOCAL, DOMAIN),
    st.builds(lambda local, domain, junk: f"{junk}<{local}@{domain}>{junk}", LOCAL, DOMAIN, TEXT),
    TEXT,
    st.sampled_from(["", "<>", "postmaster", "<a@example.org> SIZE=1", "a@example.org>"]),
)
EXTENSIONS = st.sampled_from([ALL_EXTENSIONS, NO_EXTENSIONS])
XTEXT = st.one_of(TEXT.map(lambda t: xtext(t.encode("utf-8", "surrogatepass"))), TEXT)
MAIL_OPTIONS = st.fixed_dictionaries(
    {},
    optional={
        "size": st.one_of(st.integers(-5, 10**30), st.booleans(), TEXT),
        "ret": st.one_of(st.sampled_from(["FULL", "hdrs"]), TEXT, st.integers()),
        "bits": st.one_of(st.sampled_from(["7", "8", "binary", 8]), TEXT),
        "envelope": st.one_of(TEXT, st.binary(max_size=30)),
        "envid": XTEXT,
        "auth": st.one_of(XTEXT, st.just("<>")),
        "xverp": st.one_of(st.booleans(), TEXT),
        "smtputf8": st.booleans(),
        "requiretls": st.booleans(),
        "transaction": ADDRESS,
    },
)
RCPT_OPTIONS = st.fixed_dictionaries(
    {},
    optional={
        "notify": st.one_of(
            st.lists(st.sampled_from(["SUCCESS", "FAILURE", "delay", "NEVER", "x"]), max_size=4), TEXT
        ),
        "orcpt": st.one_of(
            st.builds(lambda t, x: f"{t};{x}", st.sampled_from(["rfc822", "x-y", ""]), XTEXT), TEXT
        ),
    },
)


def attempt(smtp: MemorySMTP, call: Callable[[], Any]) -> list[bytes] | None:
    """Run ``call``: None after a documented error (and then nothing may have been written),
    else the command lines it wrote."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExtensionWarning)
        try:
            call()
        except DOCUMENTED:
            assert smtp.take() == b"", "bytes were written before the error"
            return None
    wire = smtp.take()
    return command_lines(wire) if wire else []


def no_controls(data: bytes) -> bool:
    return re.search(rb"[\x00-\x1f\x7f]", data) is None


@settings(max_examples=500, deadline=None)
@given(ADDRESS, MAIL_OPTIONS, EXTENSIONS)
@example("a@example.org\r\nRCPT TO:<x@evil>", {}, ALL_EXTENSIONS)
@example("a@example.org", {"envelope": "a+b=c d\xe9", "size": 10, "ret": "hdrs"}, ALL_EXTENSIONS)
@example("a@example.org", {"transaction": '"x NOTIFY=NEVER"@y'}, ALL_EXTENSIONS)  # found by this test
@example("Avsändaren@example.org", {}, NO_EXTENSIONS)
def test_mail(address: str, options: dict[str, Any], extensions: tuple[str, ...]) -> None:
    smtp = MemorySMTP(extensions)
    smtp.take()
    lines = attempt(smtp, lambda: smtp.mail(address, **options))
    if lines is None:
        return
    [line] = lines
    assert line.startswith(b"MAIL FROM:<")
    assert len(line) <= MAX_COMMAND_LINE + DSN_MAIL_EXTRA
    path, _, params = line[10:-2].partition(b"> ")
    assert no_controls(path)
    for param in params.split(b" ") if params else []:
        keyword, _, value = param.partition(b"=")
        assert re.fullmatch(rb"[A-Za-z0-9][A-Za-z0-9-]*", keyword), param
        assert re.fullmatch(rb"[\x21-\x3c\x3e-\x7e]*", value), param  # no space, no "=", printable
        if keyword in (b"ENVID", b"AUTH") and value != b"<>":
            assert is_xtext(value.decode())


@settings(max_examples=400, deadline=None)
@given(st.lists(ADDRESS, min_size=1, max_size=4), RCPT_OPTIONS, EXTENSIONS)
@example(["a@example.org", "b@example.org\nDATA"], {}, ALL_EXTENSIONS)
@example(["a@example.org"], {"orcpt": "rfc822;x@y NOTIFY=NEVER"}, ALL_EXTENSIONS)
def test_recipients(addresses: list[str], options: dict[str, Any], extensions: tuple[str, ...]) -> None:
    smtp = MemorySMTP(extensions)
    smtp.take()
    smtp.mail("a@example.org")
    smtp.take()
    # CI-02: the first bad recipient aborts before any RCPT of the call is written.
    lines = attempt(smtp, lambda: smtp.recipient(*addresses, **options))
    if lines is None:
        return
    assert len(lines) == len(addresses)
    for line in lines:
        assert line.startswith(b"RCPT TO:<")
        assert len(line) <= MAX_COMMAND_LINE + DSN_RCPT_EXTRA
        assert no_controls(line[:-2])


ONE_ARGUMENT: dict[str, tuple[str, Callable[[MemorySMTP, str], Any]]] = {
    "hello": ("EHLO ", lambda smtp, arg: smtp.hello(arg)),
    "verify": ("VRFY ", lambda smtp, arg: smtp.verify(arg)),
    "expand": ("EXPN ", lambda smtp, arg: smtp.expand(arg)),
    "help": ("HELP", lambda smtp, arg: smtp.help(arg)),
    "etrn": ("ETRN ", lambda smtp, arg: smtp.etrn(arg)),
}


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(sorted(ONE_ARGUMENT)), TEXT)
@example("hello", "client.example\r\nMAIL FROM:<x>")
@example("verify", "\u760d")
@example("help", "a\u2028b")
def test_one_argument_commands(method: str, argument: str) -> None:
    prefix, call = ONE_ARGUMENT[method]
    smtp = MemorySMTP()
    smtp.take()
    lines = attempt(smtp, lambda: call(smtp, argument))
    if lines is None:
        return
    [line] = lines
    assert len(line) <= MAX_COMMAND_LINE
    if method == "hello" and not argument:
        argument = "client.test"  # an empty name means the default (Net::SMTP)
    expected = prefix + argument
    if method == "help":
        expected = f"HELP {argument}" if argument else "HELP"
    assert line == expected.encode() + b"\r\n"  # sent as given: nothing rewritten


@settings(max_examples=400, deadline=None)
@given(st.lists(TEXT, min_size=1, max_size=5))
def test_raw_command(parts: list[str]) -> None:
    smtp = MemorySMTP()
    smtp.take()
    lines = attempt(smtp, lambda: smtp.command(*parts))
    if lines is None:
        return
    [line] = lines
    assert line == " ".join(parts).encode() + b"\r\n"
    assert len(line) <= MAX_COMMAND_LINE


@settings(max_examples=300, deadline=None)
@given(ADDRESS, st.lists(ADDRESS, min_size=1, max_size=3))
@example("a@example.org", ["b@example.org", "c@x\r\nRCPT TO:<hijack@x>"])
def test_send_message_envelope(sender: str, recipients: list[str]) -> None:
    smtp = MemorySMTP(tuple(e for e in ALL_EXTENSIONS if e != "CHUNKING"))
    smtp.take()
    message = b"Subject: fuzz\r\n\r\n.hello\r\n"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExtensionWarning)
        try:
            smtp.send_message(message, sender, recipients)
        except DOCUMENTED:
            assert smtp.take() == b""
            return
    head, sep, payload = smtp.take().partition(b"DATA\r\n")
    lines = command_lines(head + sep)
    verbs = [line[:4] for line in lines]
    # One RCPT per distinct recipient (send_message drops doubles), then DATA.
    assert verbs == [b"MAIL"] + [b"RCPT"] * (len(verbs) - 2) + [b"DATA"]
    assert 1 <= len(verbs) - 2 <= len(recipients)
    assert payload == b"Subject: fuzz\r\n\r\n..hello\r\n.\r\n"


# ---- AUTH: the client, and every SASL mechanism directly -----------------------------------------
@settings(max_examples=300, deadline=None)
@given(TEXT, TEXT, st.sampled_from(["PLAIN", "LOGIN"]))
@example("user", "pass\r\nMAIL FROM:<x>", "PLAIN")
@example("user", "x" * 600, "PLAIN")  # CI-08: the initial response waits for the 334
@example("user", "\ud800", "LOGIN")  # found by this test: refused only after AUTH LOGIN went out
def test_auth_credentials_through_the_client(user: str, password: str, mechanism: str) -> None:
    smtp = MemorySMTP()
    smtp.take()
    lines = attempt(smtp, lambda: smtp.auth(user, password, mechanism))
    if lines is None:
        return
    assert lines[0].startswith(f"AUTH {mechanism}".encode())
    assert len(lines[0]) <= MAX_COMMAND_LINE
    for line in lines[1:]:
        base64.b64decode(line[:-2], validate=True)


BINDING = ChannelBinding("tls-server-end-point", b"\x01" * 32)
CHALLENGES = st.one_of(
    st.binary(max_size=60).map(lambda b: base64.b64encode(b).decode()),
    st.sampled_from(
        [
            "",
            "=",
            "!!!notbase64",
            "r=abc,s=QSXCR+Q6sek8bf92,i=4096",
            "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+",
        ]
    ),
)


@settings(max_examples=800, deadline=None)
@given(
    st.sampled_from(sasl.names()),
    TEXT,
    st.one_of(TEXT, st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40)),
    st.one_of(st.none(), TEXT),
    st.lists(CHALLENGES, max_size=4),
)
@example("PLAIN", "user", "p\x00ss", None, [])
@example("LOGIN", "user", "secret-password", None, ["VXNlcm5hbWU6", "UGFzc3dvcmQ6"])
def test_every_mechanism_with_any_credentials(
    name: str, user: str, password: str, authzid: str | None, challenges: list[str]
) -> None:
    try:
        mechanism = sasl.create(
            name,
            user,
            password,
            authzid=authzid,
            channel_binding=BINDING if name.endswith("-PLUS") else None,
            host="smtp.example.org",
            port=587,
        )
        exchange = AuthExchange(mechanism)
        line: AuthLine | None = exchange.start()
    except (ValueError, TypeError):
        return
    sent: list[AuthLine] = []
    while line is not None:
        sent.append(line)
        [wire] = command_lines(line.data)
        if line.is_command:
            assert len(wire) <= MAX_COMMAND_LINE
        if len(sent) > len(challenges):
            break
        try:
            line = exchange.receive(Reply(334, (challenges[len(sent) - 1],)))
        except ProtocolError:  # a 334 after the cancel ("*"): the documented end
            assert exchange.cancelled
            break
    # The transcript text never shows the secret, nor its base64 (AU-07).
    secret = password.encode("utf-8", "surrogatepass")
    if len(password) >= 6 and password.isprintable():
        for item in sent:
            assert password not in item.text
            assert base64.b64encode(secret).decode()[:8] not in item.text or REDACTED in item.text
