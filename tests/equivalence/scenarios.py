"""The netsmtp side of the equivalence harness: the scenarios of driver.pl, with netsmtp.SMTP.

Each scenario does, call for call, what its Perl twin in ``driver.pl`` does with Net::SMTP,
against a recording server playing the same :class:`~tests.equivalence.recorder.Profile`.
The harness (``test_equivalence.py``) compares the bytes the two clients sent. Where they
may differ, the scenario lists each difference as a :class:`Diff`: the exact bytes Net::SMTP
sent and the exact bytes netsmtp sends instead, with the SPEC Part A rule that decides it.
Any other difference fails the test, and so does a listed one that no longer happens.
The table in ``docs/net-smtp-differences.md`` is this list in prose.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import netsmtp
from tests.equivalence.recorder import FULL_EHLO, Profile

HELLO = "client.example"


@dataclass
class Env:
    """What a scenario needs: the recording server's address and its CA."""

    host: str  # "127.0.0.1:port"
    port: int
    cafile: str
    context: ssl.SSLContext  # verifies the recording server's certificate
    default_hello: str  # netsmtp's own default EHLO name on this machine (SPEC A12)
    clients: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class Diff:
    """One allowed difference: Net::SMTP sent ``perl``, netsmtp sends ``netsmtp`` instead."""

    rule: str  # the SPEC Part A rule deciding it (plus the SECURITY.md item where it applies)
    why: str
    perl: bytes
    netsmtp: bytes | Callable[[Env], bytes] = b""
    count: int = 1  # how many times ``perl`` occurs in Net::SMTP's bytes


@dataclass
class Scenario:
    name: str
    covers: str  # the manual's methods and options exercised
    run: Callable[[Env], None]
    profile: Profile
    implicit_tls: bool
    diffs: tuple[Diff, ...]


SCENARIOS: dict[str, Scenario] = {}


def scenario(
    covers: str, profile: Profile | None = None, implicit_tls: bool = False, diffs: tuple[Diff, ...] = ()
) -> Callable[[Callable[[Env], None]], Callable[[Env], None]]:
    def register(run: Callable[[Env], None]) -> Callable[[Env], None]:
        SCENARIOS[run.__name__] = Scenario(
            run.__name__, covers, run, profile or Profile(), implicit_tls, diffs
        )
        return run

    return register


def smtp(env: Env, **options: Any) -> netsmtp.SMTP:
    """``Net::SMTP->new($host, Hello => 'client.example', Timeout => 10, ...)``."""
    if "hello" not in options and "Hello" not in options:
        options["Hello"] = HELLO
    if "timeout" not in options and "Timeout" not in options:
        options["Timeout"] = 10
    host = options.pop("host", env.host)
    client = netsmtp.SMTP(host, **options) if host is not None else netsmtp.SMTP(**options)
    env.clients.append(client)
    return client


def raises(exc: type[BaseException], func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Where Net::SMTP sends something Part A forbids, netsmtp must raise instead."""
    try:
        func(*args, **kwargs)
    except exc:
        return
    raise AssertionError(f"{getattr(func, '__name__', func)}{args} did not raise {exc.__name__}")


def transaction(s: netsmtp.SMTP) -> None:
    assert s.mail("a@example.org")
    assert s.to("b@example.net")


def without(*keywords: str) -> tuple[str, ...]:
    return tuple(line for line in FULL_EHLO if line.split(" ", 1)[0] not in keywords)


# ---- new() and its options ---------------------------------------------------------------------
@scenario("new($host, Hello, Timeout), banner, domain, quit")
def new_hello_quit(env: Env) -> None:
    s = smtp(env)
    assert s.banner() == "mx.example.org ESMTP ready"
    assert s.domain() == "mx.example.org"
    s.quit()


def _default_hello(env: Env) -> bytes:
    return b"EHLO " + env.default_hello.encode() + b"\r\n"


@scenario(
    "new($host) without Hello",
    diffs=(
        Diff(
            "A12",
            "the default EHLO name is the local FQDN or an address literal, not localhost.localdomain",
            b"EHLO localhost.localdomain\r\n",
            _default_hello,
        ),
    ),
)
def new_default_hello(env: Env) -> None:
    s = netsmtp.SMTP(env.host, timeout=10)
    env.clients.append(s)
    s.quit()


@scenario("new(Host => $name, Port => $port), host")
def new_host_port_options(env: Env) -> None:
    s = smtp(env, host=None, Host="127.0.0.1", Port=env.port)
    assert s.host() == "127.0.0.1"
    s.quit()


@scenario("new(Host => [...]): a refused host, then the next")
def new_host_list(env: Env) -> None:
    s = smtp(env, host=["127.0.0.1:1", env.host])
    assert s.host() == env.host
    s.quit()


@scenario("new(SendHello => 0), hello($domain)")
def new_sendhello_off(env: Env) -> None:
    s = smtp(env, SendHello=False)
    assert s.hello("late.example") == "mx.example.org"
    s.quit()


@scenario("new(LocalAddr, Domain/Family, Debug, Timeout), command/response")
def new_socket_options(env: Env) -> None:
    s = smtp(env, LocalAddr="127.0.0.1", Domain=socket.AF_INET, Debug=1, Timeout=30)
    assert s.command("NOOP").response() == netsmtp.CMD_OK
    s.quit()


@scenario("new(SSL => 1, SSL_* options) — implicit TLS", implicit_tls=True)
def ssl_implicit(env: Env) -> None:
    s = smtp(env, SSL=True, ssl_context=env.context)
    transaction(s)
    assert s.data("Subject: implicit TLS\n\nhello\n")
    s.quit()


@scenario("starttls(SSL_* options), supports")
def starttls(env: Env) -> None:
    s = smtp(env)
    assert s.starttls(ssl_context=env.context)
    assert s.supports("STARTTLS") is None
    transaction(s)
    assert s.data("Subject: STARTTLS\n\nhello\n")
    s.quit()


@scenario(
    "starttls when not advertised",
    Profile(ehlo=without("STARTTLS")),
    diffs=(Diff("A6", "STARTTLS is not sent when it is not advertised (false, code 500)", b"STARTTLS\r\n"),),
)
def starttls_not_advertised(env: Env) -> None:
    s = smtp(env)
    assert s.starttls(ssl_context=env.context) is False
    assert s.code() == 500
    s.quit()


# ---- hello() -----------------------------------------------------------------------------------
@scenario(
    "hello: EHLO refused with 5xx, HELO; supports; mail options without ESMTP",
    Profile(replies={"EHLO": ["502 5.5.2 EHLO not understood"]}),
)
def hello_helo_fallback(env: Env) -> None:
    s = smtp(env)
    assert s.supports("SIZE") is None
    assert s.mail("a@example.org", Size=100)  # warns and drops, as Net::SMTP
    s.quit()


@scenario("hello($domain) again")
def hello_again(env: Env) -> None:
    s = smtp(env)
    assert s.hello("second.example") == "mx.example.org"
    s.quit()


@scenario(
    "hello: EHLO refused with 4xx, no HELO; new fails", Profile(replies={"EHLO": ["421 4.3.2 go away"]})
)
def hello_4xx_refused(env: Env) -> None:
    raises(netsmtp.GreetingError, smtp, env)


@scenario(
    "a multi-line greeting: banner, domain",
    Profile(banner=("220-first.example.org ESMTP", "220-second line", "220 third")),
)
def multiline_greeting(env: Env) -> None:
    s = smtp(env)
    assert s.banner() == "first.example.org ESMTP"
    assert s.domain() == "first.example.org"
    s.quit()


@scenario(
    "the EHLO greeting line is not a capability",
    Profile(ehlo=("size.example.org Hello client", "8BITMIME", "HELP")),
    diffs=(
        Diff(
            "A3",
            "capabilities come from the EHLO lines after the first: a server named size.* offers no SIZE",
            b"MAIL FROM:<a@example.org> SIZE=100\r\n",
            b"MAIL FROM:<a@example.org>\r\n",
        ),
    ),
)
def greeting_line_keyword(env: Env) -> None:
    s = smtp(env)
    assert s.mail("a@example.org", Size=100)
    s.reset()
    s.quit()


# ---- mail() and its options --------------------------------------------------------------------
@scenario("mail(Size, Return => FULL, Bits => 8), reset")
def mail_size_return_bits8(env: Env) -> None:
    s = smtp(env)
    assert s.mail("a@example.org", Size=1234, Return="FULL", Bits="8")
    s.reset()
    s.quit()


@scenario("mail(Return => HDRS, Bits => 7, ENVID, AUTH, XVERP => 1)")
def mail_hdrs_bits7_envid_auth_xverp(env: Env) -> None:
    s = smtp(env)
    assert s.mail("a@example.org", Return="HDRS", Bits="7", ENVID="PRE+2Bencoded", AUTH="sub+40x", XVERP=True)
    s.reset()
    s.quit()


@scenario(
    "mail(Envelope) xtext-encoded by the library",
    diffs=(
        Diff(
            "A8",
            "Envelope is xtext over the UTF-8 bytes (Net::SMTP encodes characters: +E9)",
            b"ENVID=caf+E9\r\n",
            b"ENVID=caf+C3+A9\r\n",
        ),
    ),
)
def mail_envelope_xtext(env: Env) -> None:
    s = smtp(env)
    s.mail("a@example.org", Envelope="id=+ x\x7f")
    s.reset()
    s.mail("b@example.org", Envelope="café")
    s.reset()
    s.quit()


@scenario("mail(Transaction, AUTH => '')")
def mail_transaction_auth_empty(env: Env) -> None:
    s = smtp(env)
    s.mail("a@example.org", Transaction="tx@id", AUTH="")
    s.reset()
    s.quit()


@scenario(
    "mail options the server does not advertise: warned about and dropped",
    Profile(ehlo=("mx.example.org", "HELP")),
)
def mail_options_not_advertised(env: Env) -> None:
    s = smtp(env)
    assert s.mail(
        "a@example.org",
        Size=10,
        Return="FULL",
        Bits="8",
        Envelope="x",
        Transaction="t@x",
        AUTH="u",
        XVERP=True,
    )
    s.reset()
    s.quit()


@scenario(
    "mail(XVERP => 0)",
    diffs=(Diff("A8", "xverp is a bool: False sends nothing", b" XVERP\r\n", b"\r\n"),),
)
def mail_xverp_zero(env: Env) -> None:
    s = smtp(env)
    s.mail("a@example.org", XVERP=False)
    s.reset()
    s.quit()


@scenario(
    "mail(Envelope and ENVID)",
    diffs=(
        Diff(
            "A8",
            "parameters never go out twice: Envelope with ENVID is a ValueError, nothing sent",
            b"MAIL FROM:<a@example.org> ENVID=x ENVID=y\r\n",
        ),
    ),
)
def mail_envelope_and_envid(env: Env) -> None:
    s = smtp(env)
    raises(ValueError, s.mail, "a@example.org", Envelope="x", ENVID="y")
    s.reset()
    s.quit()


@scenario(
    "mail(Size => '123abc', Return => 'whatever', Bits => '8bit')",
    diffs=(
        Diff(
            "A8",
            "size must be an int (Net::SMTP truncates '123abc' to 123)",
            b"MAIL FROM:<a@example.org> SIZE=123\r\n",
        ),
        Diff(
            "A8",
            "ret must be FULL or HDRS (Net::SMTP sends HDRS for anything else)",
            b"MAIL FROM:<b@example.org> RET=HDRS\r\n",
        ),
        Diff(
            "A8",
            "bits must be 7, 8 or binary (Net::SMTP sends BODY=7BIT for '8bit')",
            b"MAIL FROM:<c@example.org> BODY=7BIT\r\n",
        ),
    ),
)
def mail_loose_values(env: Env) -> None:
    s = smtp(env)
    raises(TypeError, s.mail, "a@example.org", Size="123abc")
    s.reset()
    raises(ValueError, s.mail, "b@example.org", Return="whatever")
    s.reset()
    raises(ValueError, s.mail, "c@example.org", Bits="8bit")
    s.reset()
    s.quit()


@scenario("send, send_or_mail, send_and_mail, reset")
def send_soml_saml(env: Env) -> None:
    s = smtp(env)
    assert s.send("a@example.org")
    s.reset()
    assert s.send_or_mail("b@example.org")
    s.reset()
    assert s.send_and_mail("c@example.org")
    s.reset()
    s.quit()


# ---- BDAT --------------------------------------------------------------------------------------
@scenario("mail(Bits => 'binary'), bdat, bdatlast")
def mail_binary_bdat(env: Env) -> None:
    s = smtp(env)
    assert s.mail("a@example.org", Bits="binary")
    assert s.to("b@example.net")
    assert s.bdat(b"hello\n.")
    assert s.bdatlast(b"end\r\n")
    s.quit()


@scenario(
    "data() after a BINARYMIME transaction",
    diffs=(
        Diff(
            "A11",
            "chunking ends with the transaction: data() works in the next one "
            "(Net::SMTP refuses data() for the rest of the session)",
            b"RCPT TO:<d@example.net>\r\nQUIT\r\n",
            b"RCPT TO:<d@example.net>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n",
        ),
    ),
)
def chunking_mode_sticks(env: Env) -> None:
    s = smtp(env)
    s.mail("a@example.org", Bits="binary")
    s.to("b@example.net")
    s.bdatlast(b"one\r\n")
    s.mail("c@example.org")
    s.to("d@example.net")
    assert s.data("x\n")
    s.quit()


@scenario(
    "bdat, bdatlast without Bits => 'binary'",
    diffs=(
        Diff(
            "A11",
            "bdat works whenever CHUNKING is advertised (Net::SMTP warns and sends nothing)",
            b"RCPT TO:<b@example.net>\r\nRSET\r\n",
            b"RCPT TO:<b@example.net>\r\nBDAT 5\r\nchunkBDAT 4 LAST\r\nlastRSET\r\n",
        ),
    ),
)
def bdat_without_binary(env: Env) -> None:
    s = smtp(env)
    transaction(s)
    assert s.bdat(b"chunk")
    assert s.bdatlast(b"last")
    s.reset()
    s.quit()


# ---- recipient() -------------------------------------------------------------------------------
@scenario("to, cc, bcc, recipient, to() with nothing, data(\\@lines)")
def recipient_aliases(env: Env) -> None:
    s = smtp(env)
    s.mail("a@example.org")
    assert s.to("b@example.net")
    assert s.cc("c@example.net", "d@example.net")
    assert s.bcc("e@example.net")
    assert s.recipient("f@example.net")
    assert s.to()
    assert s.data(["Subject: aliases\n", "\n", "body\n"])
    s.quit()


@scenario("recipient(..., { SkipBad => 1 })")
def recipient_skipbad(env: Env) -> None:
    s = smtp(env)
    s.mail("a@example.org")
    good = ["good1@example.net", "good2@example.net"]
    assert s.recipient("good1@example.net", "bad1@example.net", "good2@example.net", SkipBad=True) == good
    s.reset()
    s.quit()


@scenario("recipient stops at the first refusal")
def recipient_first_failure_stops(env: Env) -> None:
    s = smtp(env)
    s.mail("a@example.org")
    assert s.to("good@example.net", "bad@example.net", "never@example.net") is False
    s.reset()
    s.quit()


@scenario("recipient(..., { Notify, ORcpt })")
def recipient_notify_orcpt(env: Env) -> None:
    s = smtp(env)
    s.mail("a@example.org")
    s.to("a@example.net", "b@example.net", Notify=["SUCCESS", "FAILURE"], ORcpt="rfc822;orig+40example.com")
    s.to("c@example.net", Notify=["NEVER"])
    s.to("d@example.net", Notify=["delay"])
    s.reset()
    s.quit()


@scenario("recipient DSN options the server does not advertise", Profile(ehlo=without("DSN")))
def recipient_dsn_not_advertised(env: Env) -> None:
    s = smtp(env)
    s.mail("a@example.org")
    s.to("a@example.net", Notify=["SUCCESS"], ORcpt="rfc822;x")
    s.reset()
    s.quit()


# ---- addresses (Part B §13) --------------------------------------------------------------------
@scenario(
    "address extraction (DWIM), as Net::SMTP",
    diffs=(
        Diff(
            "A9 (A2)",
            "an address with CR or LF is a ValueError (Net::SMTP extracts <...> and drops the rest)",
            b"RCPT TO:<c@example.com>\r\n",
        ),
    ),
)
def addresses_dwim(env: Env) -> None:
    s = smtp(env)
    s.mail("Joe User <joe@example.com>")
    s.to("  user@example.com  ")
    s.to('"funny user"@example.com')
    s.to(" <x@example.com> ")
    s.to("no angle, <but@example.com>")
    s.to("<a@example.com> <b@example.com>")
    s.to('"Joe" <joe@example.com> <other@example.com>')
    raises(ValueError, s.to, "<c@example.com>\n")  # A2/A9: an LF is refused, not dropped
    s.reset()
    s.mail("")
    s.reset()
    s.mail(None)
    s.reset()
    s.quit()


_JUNK = "A9 (SECURITY CI-10)"
_JUNK_WHY = "no unquoted space or angle bracket reaches a path: ValueError, nothing sent"


@scenario(
    "address extraction of junk",
    diffs=(
        Diff(_JUNK, _JUNK_WHY, b"RCPT TO:<joe@example.com (Joe)>\r\n"),
        Diff(_JUNK, _JUNK_WHY, b"RCPT TO:<a <b>\r\n"),
        Diff(_JUNK, _JUNK_WHY, b"RCPT TO:<<a>\r\n"),
        Diff(_JUNK, _JUNK_WHY, b"RCPT TO:<funny user@example.com>\r\n"),
    ),
)
def addresses_dwim_junk(env: Env) -> None:
    s = smtp(env)
    s.mail("a@example.org")
    for junk in ("joe@example.com (Joe)", "a <b", "<<a>>", "funny user@example.com"):
        raises(ValueError, s.to, junk)
    s.reset()
    s.quit()


@scenario("new(ExactAddresses => 1) with valid paths")
def addresses_exact(env: Env) -> None:
    s = smtp(env, ExactAddresses=True)
    s.mail("<a@example.org>")
    s.to("b@example.net")
    s.to(" <c@example.net> ")
    s.to('"funny user"@example.com')
    s.reset()
    s.mail("")
    s.reset()
    s.quit()


@scenario(
    "new(ExactAddresses => 1) with what is not a path",
    diffs=(
        Diff(
            "A9", "with exact_addresses the text must be a valid path", b"RCPT TO:<Joe <joe@example.com>>\r\n"
        ),
        Diff(
            "A9", "with exact_addresses the text must be a valid path", b"RCPT TO:<  user@example.com  >\r\n"
        ),
    ),
)
def addresses_exact_invalid(env: Env) -> None:
    s = smtp(env, ExactAddresses=True)
    s.mail("a@example.org")
    raises(ValueError, s.to, "Joe <joe@example.com>")
    raises(ValueError, s.to, "  user@example.com  ")
    s.reset()
    s.quit()


# ---- data(), datasend(), dataend(), rawdatasend(), datafh() ------------------------------------
@scenario("data(@lines)")
def data_list(env: Env) -> None:
    s = smtp(env)
    transaction(s)
    assert s.data(["Subject: list\n", "\n", "line1\n", ".line2\n"])
    s.quit()


@scenario("data(\\@lines) with dots")
def data_arrayref_dots(env: Env) -> None:
    s = smtp(env)
    transaction(s)
    assert s.data(["Subject: dots\n\n", ".\n", "..\n", ".a\n", "b.\n"])
    s.quit()


@scenario(
    "data refused (554 to DATA): nothing of the message is sent", Profile(replies={"DATA": ["554 5.5.1 no"]})
)
def data_refused(env: Env) -> None:
    s = smtp(env)
    transaction(s)
    assert s.data("never sent\n") is False
    s.quit()


@scenario("data, datasend across chunks (CR|LF split, dots), dataend")
def datasend_chunks(env: Env) -> None:
    s = smtp(env)
    transaction(s)
    s.data()
    for chunk in ("a\r", "\nb", ".c\n", "x\r\n", "\n.y"):
        s.datasend(chunk)
    assert s.dataend()
    s.quit()


@scenario(
    "datasend with bare CRs",
    diffs=(
        Diff(
            "A1",
            "every bare CR becomes CRLF (no CR or LF outside a CRLF on the wire)",
            b"a\rb\r\nc\r\r\n.\r\n",
            b"a\r\nb\r\nc\r\n.\r\n",
        ),
    ),
)
def datasend_bare_cr(env: Env) -> None:
    s = smtp(env)
    transaction(s)
    s.data()
    s.datasend("a\rb\n")
    s.datasend("c\r")
    s.dataend()
    s.quit()


@scenario("datasend: CRLF split before a dot, a lone dot at the end")
def datasend_splits(env: Env) -> None:
    s = smtp(env)
    transaction(s)
    s.data()
    for chunk in ("line\r", "\n.dot\n", "end\n", "."):
        s.datasend(chunk)
    s.dataend()
    s.quit()


@scenario("datasend(), datasend(\\@list), datasend(@list), dataend twice")
def datasend_lists(env: Env) -> None:
    s = smtp(env)
    transaction(s)
    s.data()
    s.datasend(b"")
    s.datasend(["a\n", ".b\n"])
    s.datasend(["c\n", ".d\n"])
    assert s.dataend()
    assert s.dataend()  # harmless, sends nothing
    s.quit()


@scenario("rawdatasend inside a message")
def rawdatasend(env: Env) -> None:
    s = smtp(env)
    transaction(s)
    s.data()
    s.datasend("x\n")
    s.rawdatasend("raw\r\n..not stuffed\r\n")
    s.dataend()
    s.quit()


@scenario(
    "rawdatasend of a partial line, then dataend",
    diffs=(
        Diff(
            "A1",
            "dataend completes a trailing partial line, raw or not (Net::SMTP sends 'partial.')",
            b"partial.\r\n",
            b"partial\r\n.\r\n",
        ),
    ),
)
def rawdatasend_partial(env: Env) -> None:
    s = smtp(env, Timeout=1)
    transaction(s)
    s.data()
    s.rawdatasend("partial")
    s.dataend()
    s.quit()


@scenario("datafh (netsmtp: datafile), print, close")
def datafh(env: Env) -> None:
    s = smtp(env)
    transaction(s)
    f = s.datafile()
    assert f is not None
    f.write(b"line1\n")
    f.write(b".line2\n")
    f.close()
    assert f.accepted
    s.quit()


@scenario(
    "a command in the middle of DATA",
    diffs=(
        Diff(
            "A10",
            "a command in the data phase raises UsageError and sends nothing; quit() then closes "
            "without committing the partial message (Net::SMTP sends the dot first)",
            b"partial\r\n.\r\nRSET\r\nQUIT\r\n",
            b"partial",
        ),
    ),
)
def data_phase_command(env: Env) -> None:
    s = smtp(env)
    transaction(s)
    s.data()
    s.datasend("partial")
    raises(netsmtp.UsageError, s.reset)
    assert s.quit() is False


# ---- other commands ----------------------------------------------------------------------------
@scenario("expand, verify, help")
def expand_verify_help(env: Env) -> None:
    s = smtp(env)
    assert s.expand("list") == ["first <first@example.org>", "second <second@example.org>"]
    assert s.verify("user@example.org")
    assert s.verify("Joe <joe@example.org>")
    assert s.help() == "2.0.0 Commands: EHLO MAIL RCPT DATA\n2.0.0 End of HELP info"
    assert s.help("MAIL")
    s.quit()


@scenario("etrn")
def etrn(env: Env) -> None:
    s = smtp(env)
    assert s.etrn("example.org")
    assert s.etrn("@example.net")
    s.quit()


@scenario("etrn when not advertised", Profile(ehlo=without("ETRN")))
def etrn_not_advertised(env: Env) -> None:
    s = smtp(env)
    assert s.etrn("example.org") is False
    assert s.code() == 500
    s.quit()


@scenario("command(@parts)->response, code, message")
def command_response(env: Env) -> None:
    s = smtp(env)
    assert s.command("NOOP").response() == netsmtp.CMD_OK
    assert s.command("XTEST", "a b", "c").response() == netsmtp.CMD_ERROR
    assert s.code() == 500
    assert s.command("HELP").response() == netsmtp.CMD_OK
    s.quit()


@scenario(
    "CR or LF in a command argument",
    diffs=(
        Diff(
            "A2",
            "an LF in a command argument is a ValueError (Net::SMTP turns it into a space)",
            b"NOOP c d\r\n",
        ),
        Diff(
            "A2",
            "a CR in an address is a ValueError (Net::SMTP sends it)",
            b"MAIL FROM:<x\r@example.org>\r\n",
        ),
    ),
)
def command_injection(env: Env) -> None:
    s = smtp(env)
    raises(ValueError, s.command, "NOOP", "c\nd")
    raises(ValueError, s.mail, "x\r@example.org")
    s.reset()
    s.quit()


@scenario(
    "a command line over 512 octets",
    diffs=(
        Diff(
            "A2",
            "command lines longer than RFC 5321 allows are a ValueError",
            b"VRFY " + b"x" * 600 + b"\r\n",
        ),
    ),
)
def long_command_line(env: Env) -> None:
    s = smtp(env)
    raises(ValueError, s.verify, "x" * 600)
    s.quit()


@scenario(
    "Timeout: a reply that comes too late",
    Profile(delays={"VRFY": 1.5}),
    diffs=(
        Diff(
            "A5",
            "a timeout closes the connection, so QUIT is never sent to a session out of step "
            "(Net::SMTP reads the late VRFY reply as QUIT's)",
            b"VRFY slow@example.org\r\nQUIT\r\n",
            b"VRFY slow@example.org\r\n",
        ),
    ),
)
def timeout_closes(env: Env) -> None:
    s = smtp(env, Timeout=1)
    assert s.verify("slow@example.org") is False
    assert s.code() == 421
    assert s.quit() is False


@scenario("quit refused (5xx): QUIT sent, connection closed", Profile(replies={"QUIT": ["554 5.0.0 no"]}))
def quit_refused(env: Env) -> None:
    s = smtp(env)
    assert s.quit() is False  # A13: the truth of the reply (Net::SMTP says true)


# ---- auth() ------------------------------------------------------------------------------------
@scenario("auth($user, $pass) choosing among PLAIN LOGIN CRAM-MD5")
def auth_default(env: Env) -> None:
    s = smtp(env)
    assert s.auth("user", "secret")
    s.quit()


@scenario(
    "auth($user, $pass) with PLAIN",
    Profile(ehlo=(*without("AUTH"), "AUTH PLAIN")),
    diffs=(
        Diff(
            "A7",
            "PLAIN is sent with an empty authorization identity (Net::SMTP repeats the user)",
            b"AUTH PLAIN dXNlcgB1c2VyAHNlY3JldA==\r\n",
            b"AUTH PLAIN AHVzZXIAc2VjcmV0\r\n",
        ),
    ),
)
def auth_plain(env: Env) -> None:
    s = smtp(env)
    assert s.auth("user", "secret")
    s.quit()


@scenario("auth($user, $pass) with LOGIN", Profile(ehlo=(*without("AUTH"), "AUTH LOGIN")))
def auth_login(env: Env) -> None:
    s = smtp(env)
    assert s.auth("user", "secret")
    s.quit()


@scenario("auth($sasl) with a mechanism chosen (netsmtp: mechanism=)")
def auth_sasl_object(env: Env) -> None:
    s = smtp(env)
    assert s.auth("user", "secret", "LOGIN")
    s.quit()


@scenario("auth refused (535)", Profile(auth_ok=False))
def auth_bad_password(env: Env) -> None:
    s = smtp(env)
    assert s.auth("user", "wrong") is False
    assert s.code() == 535
    s.quit()


@scenario("auth when AUTH is not advertised", Profile(ehlo=without("AUTH")))
def auth_not_advertised(env: Env) -> None:
    s = smtp(env)
    assert s.auth("user", "secret") is False
    assert s.code() == 500
    s.quit()


@scenario(
    "starttls, then auth",
    Profile(ehlo=without("AUTH"), ehlo_tls=(*without("AUTH", "STARTTLS"), "AUTH CRAM-MD5")),
)
def auth_after_starttls(env: Env) -> None:
    s = smtp(env)
    assert s.starttls(ssl_context=env.context)
    assert s.auth("user", "secret")
    s.mail("a@example.org")
    s.quit()
