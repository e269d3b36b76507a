"""Command methods against a scripted server: exact bytes, return values, code()/message()."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import pytest

from netsmtp import (
    CMD_ERROR,
    CMD_OK,
    CMD_REJECT,
    ExtensionWarning,
    NotSupportedError,
    ReplyError,
)
from tests.client.support import EHLO, Connect, caller_file, greet, serve_quit
from tests.helpers.scripted import Peer, ScriptedServer

ALL_CAPS = (
    "SIZE 1000000",
    "DSN",
    "8BITMIME",
    "CHECKPOINT",
    "AUTH PLAIN LOGIN",
    "XVERP",
    "SMTPUTF8",
    "REQUIRETLS",
    "BINARYMIME",
    "CHUNKING",
    "ETRN",
)


def exchange(
    *pairs: tuple[str | bytes, str | tuple[str, ...]], caps: tuple[str, ...] = ALL_CAPS
) -> Callable[[Peer], None]:
    """A script: greet with ``caps``, then for each (expected line, reply) pair expect and answer; QUIT."""

    def script(p: Peer) -> None:
        greet(p, *caps)
        for line, answer in pairs:
            p.expect(line)
            p.reply(*((answer,) if isinstance(answer, str) else answer))
        serve_quit(p)

    return script


def session(scripted: type[ScriptedServer], connect: Connect, script: Callable[[Peer], None], **options: Any):
    server = scripted(script)
    return server, connect(server, **options)


def finish(server: ScriptedServer, smtp: Any, expected: bytes) -> None:
    """QUIT, join the server and compare every byte the client wrote after EHLO."""
    assert smtp.quit() is True
    server.join()
    assert server.received == EHLO + expected + b"QUIT\r\n"


# ---- MAIL ---------------------------------------------------------------------------------------
def test_mail_plain(scripted: type[ScriptedServer], connect: Connect) -> None:
    server, smtp = session(scripted, connect, exchange(("MAIL FROM:<a@example.org>", "250 2.1.0 Sender ok")))
    assert smtp.mail("a@example.org") is True
    assert smtp.code() == 250
    assert smtp.message() == "2.1.0 Sender ok"
    assert smtp.last_reply is not None
    assert smtp.last_reply.enhanced_status == "2.1.0"
    finish(server, smtp, b"MAIL FROM:<a@example.org>\r\n")


@pytest.mark.parametrize(
    ("given", "path"),
    [
        ("Joe User <joe@example.com>", "<joe@example.com>"),
        ("  user@example.com  ", "<user@example.com>"),
        ("", "<>"),
        (None, "<>"),
        ("<>", "<>"),
        ('"funny user"@example.com', '<"funny user"@example.com>'),
    ],
)
def test_mail_address_extraction(
    scripted: type[ScriptedServer], connect: Connect, given: str | None, path: str
) -> None:
    server, smtp = session(scripted, connect, exchange((f"MAIL FROM:{path}", "250 ok")))
    assert smtp.mail(given) is True
    finish(server, smtp, f"MAIL FROM:{path}\r\n".encode())


def test_mail_every_option(scripted: type[ScriptedServer], connect: Connect) -> None:
    line = (
        "MAIL FROM:<a@b.example> SIZE=123 RET=FULL BODY=8BITMIME TRANSID=<tx@id.example> "
        "ENVID=id+3D+2B+20x+7F AUTH=<> XVERP SMTPUTF8 REQUIRETLS"
    )
    server, smtp = session(scripted, connect, exchange((line, "250 ok")))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # everything is advertised: no warning
        ok = smtp.mail(
            "a@b.example",
            size=123,
            ret="full",
            bits="8",
            transaction="tx@id.example",
            envelope="id=+ x\x7f",
            xverp=True,
            auth="",
            smtputf8=True,
            requiretls=True,
        )
    assert ok is True
    finish(server, smtp, line.encode() + b"\r\n")


def test_mail_perl_spellings(scripted: type[ScriptedServer], connect: Connect) -> None:
    line = (
        "MAIL FROM:<a@b.example> SIZE=7 RET=HDRS BODY=7BIT TRANSID=<t@x.example> "
        "ENVID=PRE+2Bencoded AUTH=sub+40x XVERP"
    )
    server, smtp = session(scripted, connect, exchange((line, "250 ok")))
    assert (
        smtp.mail(
            "a@b.example",
            Size=7,
            Return="HDRS",
            Bits="7",
            Transaction="t@x.example",
            ENVID="PRE+2Bencoded",
            AUTH="sub+40x",
            XVERP=True,
        )
        is True
    )
    finish(server, smtp, line.encode() + b"\r\n")


def test_mail_bits_binary(scripted: type[ScriptedServer], connect: Connect) -> None:
    line = "MAIL FROM:<a@b.example> BODY=BINARYMIME"
    server, smtp = session(scripted, connect, exchange((line, "250 ok")))
    assert smtp.mail("a@b.example", bits="binary") is True
    finish(server, smtp, line.encode() + b"\r\n")


def test_mail_xverp_false_sends_nothing_extra(scripted: type[ScriptedServer], connect: Connect) -> None:
    server, smtp = session(scripted, connect, exchange(("MAIL FROM:<a@b.example>", "250 ok")))
    assert smtp.mail("a@b.example", xverp=False, size=None) is True
    finish(server, smtp, b"MAIL FROM:<a@b.example>\r\n")


@pytest.mark.parametrize(
    ("options", "dropped"),
    [
        ({"size": 10}, "SIZE"),
        ({"ret": "FULL"}, "DSN"),
        ({"envelope": "x"}, "DSN"),
        ({"envid": "x"}, "DSN"),
        ({"bits": "8"}, "8BITMIME"),
        ({"bits": "binary"}, "BINARYMIME"),
        ({"transaction": "t@x.example"}, "CHECKPOINT"),
        ({"auth": "<>"}, "AUTH"),
        ({"xverp": True}, "XVERP"),
    ],
)
def test_mail_option_dropped_when_not_advertised(
    scripted: type[ScriptedServer], connect: Connect, options: dict[str, Any], dropped: str
) -> None:
    server, smtp = session(
        scripted, connect, exchange(("MAIL FROM:<a@b.example>", "250 ok"), caps=("PIPELINING",))
    )
    with pytest.warns(ExtensionWarning, match=dropped) as record:
        assert smtp.mail("a@b.example", **options) is True
    assert len(record) == 1
    assert record[0].filename == caller_file(smtp, __file__)  # the warning points at the caller's line
    finish(server, smtp, b"MAIL FROM:<a@b.example>\r\n")


def test_mail_options_discarded_without_esmtp(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        p.send("220 old.example\r\n")
        p.expect(EHLO)
        p.reply("500 what")
        p.expect("HELO client.test")
        p.reply("250 old.example")
        p.expect("MAIL FROM:<a@b.example>")
        p.reply("250 ok")
        p.expect("RCPT TO:<c@d.example>")
        p.reply("250 ok")
        serve_quit(p)

    server, smtp = session(scripted, connect, script)
    assert smtp.supports("SIZE") is None  # does not create an EHLO table (Net::SMTP bug)
    with pytest.warns(ExtensionWarning, match="ESMTP not supported"):
        assert smtp.mail("a@b.example", size=10, ret="FULL") is True
    with pytest.warns(ExtensionWarning, match="ESMTP not supported"):
        assert smtp.to("c@d.example", notify=["NEVER"]) is True
    assert smtp.quit() is True
    server.join()


@pytest.mark.parametrize("options", [{"smtputf8": True}, {"requiretls": True}, {"SMTPUTF8": True}])
def test_mail_smtputf8_or_requiretls_not_advertised_fails_without_sending(
    scripted: type[ScriptedServer], connect: Connect, options: dict[str, Any]
) -> None:
    server, smtp = session(scripted, connect, exchange(("NOOP", "250 ok"), caps=("8BITMIME",)))
    assert smtp.mail("a@b.example", **options) is False
    assert smtp.code() == 555
    assert "not advertised" in smtp.message()
    assert smtp.noop() is True  # the connection is fine
    finish(server, smtp, b"NOOP\r\n")


def test_mail_non_ascii_local_part_needs_smtputf8(scripted: type[ScriptedServer], connect: Connect) -> None:
    server, smtp = session(scripted, connect, exchange(caps=("8BITMIME",)), raise_errors=True)
    with pytest.raises(NotSupportedError) as info:
        smtp.mail("Avsändaren@example.org")
    assert info.value.reply.code == 555
    assert info.value.command == "MAIL"
    finish(server, smtp, b"")


def test_mail_non_ascii_with_smtputf8(scripted: type[ScriptedServer], connect: Connect) -> None:
    line = "MAIL FROM:<Avsändaren@example.org> SMTPUTF8"
    server, smtp = session(scripted, connect, exchange((line, "250 ok")))
    assert smtp.mail("Avsändaren@example.org") is True
    finish(server, smtp, line.encode("utf-8") + b"\r\n")


def test_mail_non_ascii_domain_becomes_a_label(scripted: type[ScriptedServer], connect: Connect) -> None:
    line = "MAIL FROM:<sender@xn--4cab6c.se>"
    server, smtp = session(scripted, connect, exchange((line, "250 ok"), caps=("8BITMIME",)))
    assert smtp.mail("sender@åäö.se") is True
    finish(server, smtp, line.encode() + b"\r\n")


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"size": "10 RET=FULL"}, TypeError),
        ({"size": True}, TypeError),
        ({"size": -1}, TypeError),
        ({"xverp": 1}, TypeError),
        ({"ret": "SOME"}, ValueError),
        ({"bits": "16"}, ValueError),
        ({"envid": "+2b"}, ValueError),
        ({"envid": "a b"}, ValueError),
        ({"envelope": "x", "envid": "y"}, ValueError),
        ({"auth": "a\r\nRSET"}, ValueError),
        ({"transaction": "t@x\r\nRSET"}, ValueError),
        ({"X-OPTION": "1"}, TypeError),
        ({"size": 1, "Size": 2}, TypeError),
    ],
)
def test_mail_bad_options_raise_before_sending(
    scripted: type[ScriptedServer], connect: Connect, options: dict[str, Any], error: type[Exception]
) -> None:
    server, smtp = session(scripted, connect, exchange(("NOOP", "250 ok")))
    with pytest.raises(error):
        smtp.mail("a@b.example", **options)
    assert smtp.noop() is True
    finish(server, smtp, b"NOOP\r\n")


def test_mail_refused(scripted: type[ScriptedServer], connect: Connect) -> None:
    server, smtp = session(scripted, connect, exchange(("MAIL FROM:<a@b.example>", "550 5.7.1 not you")))
    assert smtp.mail("a@b.example") is False
    assert smtp.code() == 550
    assert smtp.message() == "5.7.1 not you"
    assert smtp.status() == CMD_ERROR
    assert smtp.ok() is False
    assert smtp.last_reply is not None and smtp.last_reply.is_permanent
    finish(server, smtp, b"MAIL FROM:<a@b.example>\r\n")


def test_mail_refused_raises_with_raise_errors(scripted: type[ScriptedServer], connect: Connect) -> None:
    server, smtp = session(
        scripted,
        connect,
        exchange(("MAIL FROM:<a@b.example>", "451 4.3.0 later"), ("NOOP", "250 ok")),
        raise_errors=True,
    )
    with pytest.raises(ReplyError) as info:
        smtp.mail("a@b.example")
    assert info.value.command == "MAIL"
    assert info.value.reply.code == 451
    assert info.value.reply.text == "4.3.0 later"
    assert info.value.reply.is_transient
    assert smtp.code() == 451
    assert smtp.noop() is True  # a refusal leaves the connection healthy
    finish(server, smtp, b"MAIL FROM:<a@b.example>\r\nNOOP\r\n")


@pytest.mark.parametrize(
    ("method", "verb"), [("send", "SEND"), ("send_or_mail", "SOML"), ("send_and_mail", "SAML")]
)
def test_send_soml_saml(scripted: type[ScriptedServer], connect: Connect, method: str, verb: str) -> None:
    line = f"{verb} FROM:<a@b.example>"
    server, smtp = session(scripted, connect, exchange((line, "250 ok"), (line, "502 no")))
    assert getattr(smtp, method)("Name <a@b.example>") is True
    assert getattr(smtp, method)("a@b.example") is False
    assert smtp.code() == 502
    finish(server, smtp, (line + "\r\n").encode() * 2)


# ---- RCPT ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["recipient", "to", "cc", "bcc"])
def test_recipient_all_accepted(scripted: type[ScriptedServer], connect: Connect, method: str) -> None:
    server, smtp = session(
        scripted,
        connect,
        exchange(("RCPT TO:<u1@x.example>", "250 ok"), ("RCPT TO:<u2@x.example>", "251 forwarding")),
    )
    assert getattr(smtp, method)("u1@x.example", "U Two <u2@x.example>") is True
    assert smtp.code() == 251
    finish(server, smtp, b"RCPT TO:<u1@x.example>\r\nRCPT TO:<u2@x.example>\r\n")


def test_recipient_stops_at_first_refusal(scripted: type[ScriptedServer], connect: Connect) -> None:
    server, smtp = session(
        scripted,
        connect,
        exchange(("RCPT TO:<u1@x.example>", "250 ok"), ("RCPT TO:<u2@x.example>", "550 5.1.1 unknown")),
    )
    assert smtp.to("u1@x.example", "u2@x.example", "u3@x.example") is False
    assert smtp.code() == 550
    assert smtp.message() == "5.1.1 unknown"
    finish(server, smtp, b"RCPT TO:<u1@x.example>\r\nRCPT TO:<u2@x.example>\r\n")


def test_recipient_refusal_raises_with_raise_errors(scripted: type[ScriptedServer], connect: Connect) -> None:
    server, smtp = session(
        scripted, connect, exchange(("RCPT TO:<u1@x.example>", "450 4.2.0 later")), raise_errors=True
    )
    with pytest.raises(ReplyError) as info:
        smtp.to("u1@x.example", "u2@x.example")
    assert info.value.command == "RCPT"
    assert info.value.reply.code == 450
    finish(server, smtp, b"RCPT TO:<u1@x.example>\r\n")


@pytest.mark.parametrize("spelling", ["skip_bad", "SkipBad"])
def test_recipient_skip_bad_returns_accepted_as_given(
    scripted: type[ScriptedServer], connect: Connect, spelling: str
) -> None:
    server, smtp = session(
        scripted,
        connect,
        exchange(
            ("RCPT TO:<u4@x.example>", "250 ok"),
            ("RCPT TO:<bad@x.example>", "550 no"),
            ("RCPT TO:<u5@x.example>", "250 ok"),
            ("RCPT TO:<later@x.example>", "450 later"),
        ),
        raise_errors=True,  # skipped refusals are not errors
    )
    got = smtp.to("U4 <u4@x.example>", "bad@x.example", ["u5@x.example", "later@x.example"], **{spelling: 1})
    assert got == ["U4 <u4@x.example>", "u5@x.example"]
    assert smtp.code() == 450
    finish(
        server,
        smtp,
        b"RCPT TO:<u4@x.example>\r\nRCPT TO:<bad@x.example>\r\nRCPT TO:<u5@x.example>\r\n"
        b"RCPT TO:<later@x.example>\r\n",
    )


def test_recipient_skip_bad_all_refused_is_empty_list(
    scripted: type[ScriptedServer], connect: Connect
) -> None:
    server, smtp = session(scripted, connect, exchange(("RCPT TO:<a@x.example>", "550 no")))
    assert smtp.recipient("a@x.example", skip_bad=True) == []
    finish(server, smtp, b"RCPT TO:<a@x.example>\r\n")


def test_recipient_with_no_addresses(scripted: type[ScriptedServer], connect: Connect) -> None:
    server, smtp = session(scripted, connect, exchange())
    assert smtp.to() is True
    assert smtp.to(skip_bad=True) == []
    finish(server, smtp, b"")


def test_recipient_notify_and_orcpt(scripted: type[ScriptedServer], connect: Connect) -> None:
    params = " NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;u+40x.example"
    server, smtp = session(
        scripted,
        connect,
        exchange(
            (f"RCPT TO:<u4@x.example>{params}", "250 ok"),
            (f"RCPT TO:<u5@x.example>{params}", "250 ok"),
            ("RCPT TO:<u6@x.example> NOTIFY=NEVER", "250 ok"),
            ("RCPT TO:<u7@x.example> NOTIFY=DELAY", "250 ok"),
        ),
    )
    assert smtp.to(
        "u4@x.example", "u5@x.example", notify=["success", "FAILURE"], orcpt="rfc822;u+40x.example"
    )
    assert smtp.to("u6@x.example", Notify=["NEVER"]) is True
    assert smtp.to("u7@x.example", Notify=("DELAY",), SkipBad=True) == ["u7@x.example"]
    finish(
        server,
        smtp,
        f"RCPT TO:<u4@x.example>{params}\r\nRCPT TO:<u5@x.example>{params}\r\n".encode()
        + b"RCPT TO:<u6@x.example> NOTIFY=NEVER\r\nRCPT TO:<u7@x.example> NOTIFY=DELAY\r\n",
    )


def test_recipient_dsn_dropped_when_not_advertised(scripted: type[ScriptedServer], connect: Connect) -> None:
    server, smtp = session(
        scripted, connect, exchange(("RCPT TO:<u@x.example>", "250 ok"), caps=("SIZE 10",))
    )
    with pytest.warns(ExtensionWarning, match="DSN") as record:
        assert smtp.to("u@x.example", notify=["FAILURE"], orcpt="rfc822;u+40x") is True
    assert {w.filename for w in record} == {caller_file(smtp, __file__)}
    finish(server, smtp, b"RCPT TO:<u@x.example>\r\n")


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"notify": "SUCCESS"}, TypeError),
        ({"notify": []}, ValueError),
        ({"notify": ["NEVER", "SUCCESS"]}, ValueError),
        ({"notify": ["SOMETIMES"]}, ValueError),
        ({"orcpt": "rfc822;x@y NOTIFY=NEVER"}, ValueError),
        ({"orcpt": "x@y"}, ValueError),
        ({"orcpt": "rfc822;a\r\nb"}, ValueError),
        ({"bogus": 1}, TypeError),
    ],
)
def test_recipient_bad_options_raise_before_sending(
    scripted: type[ScriptedServer], connect: Connect, options: dict[str, Any], error: type[Exception]
) -> None:
    server, smtp = session(scripted, connect, exchange(("NOOP", "250 ok")))
    with pytest.raises(error):
        smtp.to("u@x.example", **options)
    assert smtp.noop() is True
    finish(server, smtp, b"NOOP\r\n")


def test_recipient_non_ascii_without_smtputf8_sends_nothing(
    scripted: type[ScriptedServer], connect: Connect
) -> None:
    server, smtp = session(scripted, connect, exchange(caps=("8BITMIME",)))
    assert smtp.to("ok@x.example", "Avsändaren@example.org") is False
    assert smtp.code() == 555
    finish(server, smtp, b"")


# ---- other commands -------------------------------------------------------------------------------
def test_reset_noop(scripted: type[ScriptedServer], connect: Connect) -> None:
    server, smtp = session(
        scripted,
        connect,
        exchange(("RSET", "250 2.0.0 flushed"), ("NOOP", "250 2.0.0 ok"), ("RSET", "500 eh?")),
    )
    assert smtp.reset() is True
    assert smtp.noop() is True
    assert smtp.reset() is False
    assert smtp.code() == 500
    finish(server, smtp, b"RSET\r\nNOOP\r\nRSET\r\n")


def test_verify(scripted: type[ScriptedServer], connect: Connect) -> None:
    server, smtp = session(
        scripted,
        connect,
        exchange(
            ("VRFY postmaster", "250 <postmaster@test.example>"),
            ("VRFY Joe User", "252 2.1.5 cannot verify, will accept"),
            ("VRFY nobody", "550 5.1.1 no such user"),
        ),
    )
    assert smtp.verify("postmaster") is True
    assert smtp.verify("Joe User") is True  # sent as given, and 252 counts as success
    assert smtp.verify("nobody") is False
    assert smtp.code() == 550
    finish(server, smtp, b"VRFY postmaster\r\nVRFY Joe User\r\nVRFY nobody\r\n")


def test_expand(scripted: type[ScriptedServer], connect: Connect) -> None:
    server, smtp = session(
        scripted,
        connect,
        exchange(
            ("EXPN staff", ("250-Alice <a@x.example>", "250 Bob <b@x.example>")),
            ("EXPN nobody", "550 5.1.1 no such list"),
        ),
    )
    assert smtp.expand("staff") == ["Alice <a@x.example>", "Bob <b@x.example>"]
    assert smtp.expand("nobody") == []
    assert smtp.code() == 550
    finish(server, smtp, b"EXPN staff\r\nEXPN nobody\r\n")


def test_help(scripted: type[ScriptedServer], connect: Connect) -> None:
    server, smtp = session(
        scripted,
        connect,
        exchange(
            ("HELP", ("214-Commands:", "214 HELO EHLO MAIL")),
            ("HELP MAIL", "214 MAIL FROM:<address>"),
            ("HELP", "502 no help"),
        ),
    )
    assert smtp.help() == "Commands:\nHELO EHLO MAIL"
    assert smtp.help("MAIL") == "MAIL FROM:<address>"
    assert smtp.help() is None
    assert smtp.code() == 502
    finish(server, smtp, b"HELP\r\nHELP MAIL\r\nHELP\r\n")


def test_etrn(scripted: type[ScriptedServer], connect: Connect) -> None:
    server, smtp = session(
        scripted,
        connect,
        exchange(("ETRN example.org", "250 queuing started"), ("ETRN @other.example", "458 unable")),
    )
    assert smtp.etrn("example.org") is True
    assert smtp.etrn("@other.example") is False
    assert smtp.code() == 458
    finish(server, smtp, b"ETRN example.org\r\nETRN @other.example\r\n")


def test_etrn_not_advertised(scripted: type[ScriptedServer], connect: Connect) -> None:
    server, smtp = session(scripted, connect, exchange(caps=("SIZE 10",)))
    assert smtp.etrn("example.org") is False
    assert smtp.code() == 500
    assert smtp.message() == "Command unknown: 'ETRN'"
    finish(server, smtp, b"")


def test_etrn_not_advertised_raises_with_raise_errors(
    scripted: type[ScriptedServer], connect: Connect
) -> None:
    server, smtp = session(scripted, connect, exchange(caps=()), raise_errors=True)
    with pytest.raises(NotSupportedError) as info:
        smtp.etrn("example.org")
    assert info.value.reply.code == 500
    assert info.value.command == "ETRN"
    finish(server, smtp, b"")


# ---- Net::Cmd ---------------------------------------------------------------------------------------
def test_command_response_chain(scripted: type[ScriptedServer], connect: Connect) -> None:
    server, smtp = session(
        scripted,
        connect,
        exchange(
            ("NOOP", "250 2.0.0 fine"),
            ("XFOO a b c", ("550-no", "550 really not")),
            ("VRFY x", "252 maybe"),
        ),
    )
    assert smtp.command("NOOP") is smtp
    assert smtp.response() == CMD_OK
    assert smtp.code() == 250
    assert smtp.message() == "2.0.0 fine"
    assert smtp.command("XFOO", "a b", "c").response() == CMD_ERROR
    assert smtp.code() == 550
    assert smtp.message() == "no\nreally not"
    assert smtp.last_reply is not None
    assert smtp.last_reply.lines == ("no", "really not")
    assert smtp.command("VRFY", "x").response() == CMD_OK
    assert smtp.command() is smtp  # no parts: nothing is sent
    finish(server, smtp, b"NOOP\r\nXFOO a b c\r\nVRFY x\r\n")


def test_command_4xx_status(scripted: type[ScriptedServer], connect: Connect) -> None:
    server, smtp = session(scripted, connect, exchange(("XTEMP", "451 later")))
    assert smtp.command("XTEMP").response() == CMD_REJECT
    assert smtp.status() == CMD_REJECT
    assert smtp.ok() is False
    finish(server, smtp, b"XTEMP\r\n")


def test_command_line_too_long(scripted: type[ScriptedServer], connect: Connect) -> None:
    server, smtp = session(scripted, connect, exchange(("NOOP", "250 ok")))
    with pytest.raises(ValueError):
        smtp.command("XLONG", "a" * 600)
    with pytest.raises(ValueError):
        smtp.mail("a" * 60 + "@" + "b" * 250 + ".example")
    assert smtp.noop() is True
    finish(server, smtp, b"NOOP\r\n")


def test_accessors(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        p.send("220 mx.example.org ESMTP hello\r\n")
        p.expect(EHLO)
        p.reply(
            "250-mx.example.org welcomes STARTTLS and AUTH PLAIN users",
            "250-size 1000",
            "250-8BITMIME",
            "250-AUTH=LOGIN",
            "250 AUTH PLAIN",
        )
        serve_quit(p)

    server, smtp = session(scripted, connect, script)
    assert smtp.banner() == "mx.example.org ESMTP hello"
    assert smtp.domain() == "mx.example.org"
    assert smtp.host() == server.host
    assert smtp.code() == 250
    assert smtp.status() == CMD_OK
    assert smtp.ok() is True
    assert smtp.message().startswith("mx.example.org welcomes")
    assert dict(smtp.extensions) == {"SIZE": "1000", "8BITMIME": "", "AUTH": "LOGIN PLAIN"}
    assert smtp.supports("size") == "1000"
    assert smtp.supports("8BITMIME") == ""
    assert smtp.supports("STARTTLS") is None  # the first EHLO line is not a capability (MS-19)
    assert smtp.supports("MX") is None
    with pytest.raises(TypeError):
        smtp.extensions["X"] = "y"  # type: ignore[index]
    assert smtp.debug() == 0
    finish(server, smtp, b"")


# ---- CR, LF and NUL in arguments: ValueError, nothing written ------------------------------------
BAD = ["a@example.org\r\nRCPT TO:<x@evil>", "a@example.org\nx", "a@exa\rmple.org", "a\x00@example.org"]


@pytest.mark.parametrize("bad", BAD)
def test_control_characters_never_reach_the_wire(
    scripted: type[ScriptedServer], connect: Connect, bad: str
) -> None:
    server, smtp = session(
        scripted,
        connect,
        exchange(("MAIL FROM:<good@example.org>", "250 ok"), ("RCPT TO:<ok@example.org>", "250 ok")),
    )
    calls: list[Callable[[], object]] = [
        lambda: smtp.mail(bad),
        lambda: smtp.mail(f"Name <{bad}>"),
        lambda: smtp.send(bad),
        lambda: smtp.send_or_mail(bad),
        lambda: smtp.send_and_mail(bad),
        lambda: smtp.to(bad),
        lambda: smtp.to("ok@example.org", bad),  # validated before the first RCPT (CI-02)
        lambda: smtp.to("ok@example.org", bad, skip_bad=True),
        lambda: smtp.cc(bad),
        lambda: smtp.bcc(bad),
        lambda: smtp.verify(bad),
        lambda: smtp.expand(bad),
        lambda: smtp.help(bad),
        lambda: smtp.hello(bad),
        lambda: smtp.etrn(bad),
        lambda: smtp.command("NOOP", bad),
        lambda: smtp.command(bad),
        lambda: smtp.mail("good@example.org", transaction=bad),
        lambda: smtp.mail("good@example.org", envid=bad),
        lambda: smtp.mail("good@example.org", auth=bad),
        lambda: smtp.to("ok@example.org", orcpt=f"rfc822;{bad}"),
        lambda: smtp.starttls(server_hostname=bad),
    ]
    for call in calls:
        with pytest.raises(ValueError):
            call()
    # The session is intact: a good transaction goes through, and nothing else was written.
    assert smtp.mail("good@example.org") is True
    assert smtp.to("ok@example.org") is True
    finish(server, smtp, b"MAIL FROM:<good@example.org>\r\nRCPT TO:<ok@example.org>\r\n")


def test_unicode_line_separators_are_not_line_breaks(
    scripted: type[ScriptedServer], connect: Connect
) -> None:
    # U+2028, U+0085 and friends are not CR/LF: they go out as UTF-8 inside the line (CI-12).
    server, smtp = session(scripted, connect, exchange(("VRFY a\u2028b\x85c", "252 ok")))
    assert smtp.verify("a\u2028b\x85c") is True
    finish(server, smtp, "VRFY a\u2028b\x85c\r\n".encode())
