"""TLS: implicit (SMTPS) and STARTTLS, verification, host names, injection, failures."""

from __future__ import annotations

import contextlib
import socket
import ssl
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import trustme

from netsmtp import (
    ConnectError,
    ExtensionWarning,
    ProtocolError,
    ReplyError,
    SMTPTimeout,
    TLSError,
    UsageError,
)
from tests.client.support import EHLO, HELLO, Connect, greet, have_ipv6_loopback, refused_port, serve_quit
from tests.helpers.aiosmtpd_server import RunningServer
from tests.helpers.scripted import Peer, ScriptedServer, ehlo_lines


def plain_part(server: ScriptedServer) -> bytes:
    return b"".join(data for tls, data in server.segments if not tls)


def tls_part(server: ScriptedServer) -> bytes:
    return b"".join(data for tls, data in server.segments if tls)


def server_context_for(ca: trustme.CA, *names: str, sni: list[str | None] | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    if sni is not None:
        context.sni_callback = lambda _sock, name, _ctx: sni.append(name)  # type: ignore[assignment,misc]
    return context


def starttls_then(after: Callable[[Peer], None], *pre: str) -> Callable[[Peer], None]:
    """Greet advertising STARTTLS, accept it with 220, handshake, then run ``after``."""

    def script(p: Peer) -> None:
        greet(p, *pre, "STARTTLS")
        p.expect("STARTTLS")
        p.reply("220 2.0.0 Ready to start TLS")
        p.starttls()
        after(p)

    return script


def failed_handshake(p: Peer) -> None:
    """The server's half of a handshake the client is expected to abort."""
    with contextlib.suppress(ssl.SSLError, OSError):
        p.starttls()
        p.read_to_eof()


def starttls_failing(p: Peer) -> None:
    """Greet advertising STARTTLS, accept it, then a handshake the client must abort."""
    greet(p, "STARTTLS")
    p.expect("STARTTLS")
    p.reply("220 2.0.0 Ready to start TLS")
    failed_handshake(p)


# ---- implicit TLS -------------------------------------------------------------------------------
def test_implicit_tls(
    scripted: type[ScriptedServer], connect: Connect, client_context: ssl.SSLContext
) -> None:
    def script(p: Peer) -> None:
        assert p.tls
        greet(p, "AUTH PLAIN")
        serve_quit(p)

    server = scripted(script, implicit_tls=True)
    smtp = connect(server, ssl=True, ssl_context=client_context)
    assert smtp.tls_active is True
    assert smtp.tls_version in ("TLSv1.2", "TLSv1.3")
    assert smtp.cipher is not None
    assert smtp.banner() == "test.example ESMTP ready"
    assert smtp.supports("AUTH") == "PLAIN"
    with pytest.raises(UsageError):
        smtp.starttls()
    assert smtp.quit() is True
    server.join()
    assert plain_part(server) == b""
    assert tls_part(server) == EHLO + b"QUIT\r\n"


def test_implicit_tls_perl_spelling(
    scripted: type[ScriptedServer], connect: Connect, client_context: ssl.SSLContext
) -> None:
    server = scripted(lambda p: (greet(p), serve_quit(p)), implicit_tls=True)
    smtp = connect(server, SSL=1, ssl_context=client_context)
    assert smtp.tls_active is True
    assert smtp.quit() is True
    server.join()


def test_implicit_tls_against_aiosmtpd(
    aiosmtpd_server: RunningServer, connect: Connect, client_context: ssl.SSLContext
) -> None:
    smtp = connect(aiosmtpd_server.smtps_address, ssl=True, ssl_context=client_context)
    assert smtp.tls_active is True
    assert smtp.noop() is True
    assert smtp.quit() is True


def _nobody_listens(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.parametrize(("ssl_on", "port"), [(True, 465), (False, 25)])
def test_default_ports(ssl_on: bool, port: int, make: Connect) -> None:
    if not _nobody_listens(port):
        pytest.skip(f"something listens on 127.0.0.1:{port}")
    with pytest.raises(ConnectError) as info:
        make("127.0.0.1", ssl=ssl_on, hello=HELLO, timeout=1)
    assert info.value.attempts[0][0] == f"127.0.0.1 (127.0.0.1 port {port})"


def test_implicit_tls_default_context_rejects_unknown_ca(
    scripted: type[ScriptedServer], make: Connect
) -> None:
    """TL-09: with no ssl_context the certificate is verified against the system store."""
    server = scripted(failed_handshake)
    with pytest.raises(ConnectError) as info:
        make(server.host, ssl=True, hello=HELLO, timeout=2)
    server.join()
    assert "TLSError" in info.value.attempts[0][1]
    assert "certificate verify failed" in str(info.value)


def test_implicit_tls_failure_tries_next_host(
    scripted: type[ScriptedServer], connect: Connect, ca: trustme.CA, client_context: ssl.SSLContext
) -> None:
    other = trustme.CA()  # a certificate from a CA the client does not trust
    untrusted = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    other.issue_cert("127.0.0.1").configure_cert(untrusted)
    first = scripted(failed_handshake, tls_context=untrusted)
    second = scripted(lambda p: (greet(p), serve_quit(p)), implicit_tls=True)
    smtp = connect([first.host, second.host], ssl=True, ssl_context=client_context)
    assert smtp.host() == second.host
    assert smtp.quit() is True
    first.join()
    second.join()


def test_implicit_tls_port_answering_in_plaintext(
    scripted: type[ScriptedServer], client_context: ssl.SSLContext, make: Connect
) -> None:
    """TL-08: no fallback to plaintext; nothing but the ClientHello is written."""

    def script(p: Peer) -> None:
        p.send("220 plaintext.example ESMTP\r\n")
        p.read_to_eof()

    server = scripted(script)
    with pytest.raises(ConnectError) as info:
        make(server.host, ssl=True, ssl_context=client_context, hello=HELLO, timeout=2)
    server.join()
    assert "TLSError" in str(info.value)
    assert server.received.startswith(b"\x16\x03")  # a TLS handshake record
    assert b"EHLO" not in server.received


def test_implicit_tls_handshake_timeout(
    scripted: type[ScriptedServer], client_context: ssl.SSLContext, make: Connect
) -> None:
    server = scripted(lambda p: p.read_to_eof(wait=3))
    started = time.monotonic()
    with pytest.raises(SMTPTimeout):
        make(server.host, ssl=True, ssl_context=client_context, hello=HELLO, timeout=0.3)
    assert time.monotonic() - started < 1.5
    server.join()


# ---- STARTTLS -----------------------------------------------------------------------------------
def test_starttls_replaces_capabilities(
    scripted: type[ScriptedServer], connect: Connect, client_context: ssl.SSLContext
) -> None:
    """SPEC A6, SECURITY SD-08: after TLS only the post-TLS EHLO counts."""

    def after(p: Peer) -> None:
        p.expect(EHLO)
        p.reply(*ehlo_lines("AUTH SCRAM-SHA-256", name="real.example"))
        p.expect("MAIL FROM:<a@b.example>")
        p.reply("250 ok")
        serve_quit(p)

    server = scripted(starttls_then(after, "SIZE 10", "8BITMIME", "PIPELINING", "AUTH PLAIN"))
    smtp = connect(server)
    assert smtp.supports("SIZE") == "10"
    assert smtp.tls_active is False
    assert smtp.starttls(ssl_context=client_context) is True
    assert smtp.tls_active is True
    assert dict(smtp.extensions) == {"AUTH": "SCRAM-SHA-256"}
    assert smtp.supports("STARTTLS") is None
    assert smtp.code() == 250
    with pytest.warns(ExtensionWarning) as record:  # SIZE and 8BITMIME are gone: both dropped
        assert smtp.mail("a@b.example", size=20, bits="8") is True
    assert len(record) == 2
    assert smtp.quit() is True
    server.join()
    assert plain_part(server) == EHLO + b"STARTTLS\r\n"
    assert tls_part(server) == EHLO + b"MAIL FROM:<a@b.example>\r\nQUIT\r\n"


def test_starttls_uses_hello_given_to_hello(
    scripted: type[ScriptedServer], connect: Connect, client_context: ssl.SSLContext
) -> None:
    def script(p: Peer) -> None:
        p.send("220 test.example\r\n")
        p.expect("EHLO manual.test")
        p.reply(*ehlo_lines("STARTTLS"))
        p.expect("STARTTLS")
        p.reply("220 go")
        p.starttls()
        p.expect("EHLO manual.test")
        p.reply(*ehlo_lines())
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server, send_hello=False)
    assert smtp.hello("manual.test") == "test.example"
    assert smtp.starttls(client_context) is True
    assert smtp.quit() is True
    server.join()


def test_starttls_with_context_from_constructor(
    scripted: type[ScriptedServer], connect: Connect, client_context: ssl.SSLContext
) -> None:
    def after(p: Peer) -> None:
        p.expect(EHLO)
        p.reply(*ehlo_lines())
        serve_quit(p)

    server = scripted(starttls_then(after))
    smtp = connect(server, ssl_context=client_context)
    assert smtp.starttls() is True
    assert smtp.quit() is True
    server.join()


def test_starttls_not_advertised(scripted: type[ScriptedServer], connect: Connect) -> None:
    server = scripted(lambda p: (greet(p, "AUTH PLAIN"), serve_quit(p)))
    smtp = connect(server)
    assert smtp.starttls() is False
    assert smtp.code() == 500
    assert smtp.message() == "Command unknown: 'STARTTLS'"
    assert smtp.quit() is True
    server.join()
    assert server.received == EHLO + b"QUIT\r\n"


@pytest.mark.parametrize("answer", ["454 4.7.0 TLS not available", "502 5.5.1 no", "501 syntax", "530 eh"])
def test_starttls_refused(scripted: type[ScriptedServer], connect: Connect, answer: str) -> None:
    def script(p: Peer) -> None:
        greet(p, "STARTTLS")
        p.expect("STARTTLS")
        p.reply(answer)
        p.expect("NOOP")
        p.reply("250 ok")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.starttls() is False
    assert smtp.code() == int(answer[:3])
    assert smtp.tls_active is False
    assert smtp.noop() is True  # nothing fell back silently, but the session is intact
    assert smtp.quit() is True
    server.join()
    assert server.received == EHLO + b"STARTTLS\r\nNOOP\r\nQUIT\r\n"


def test_starttls_refused_raises(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p, "STARTTLS")
        p.expect("STARTTLS")
        p.reply("454 4.7.0 later")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server, raise_errors=True)
    with pytest.raises(ReplyError) as info:
        smtp.starttls()
    assert info.value.command == "STARTTLS"
    assert info.value.reply.code == 454
    assert smtp.quit() is True
    server.join()


def test_starttls_answered_250_is_a_protocol_error(scripted: type[ScriptedServer], connect: Connect) -> None:
    """SD-04: only 220 starts TLS."""

    def script(p: Peer) -> None:
        greet(p, "STARTTLS")
        p.expect("STARTTLS")
        p.reply("250 starting ssl")
        assert p.read_to_eof() == b""

    server = scripted(script)
    smtp = connect(server, raise_errors=True)
    with pytest.raises(ProtocolError):
        smtp.starttls()
    server.join()
    assert server.received == EHLO + b"STARTTLS\r\n"


@pytest.mark.parametrize(
    "injected", [b"250-evil\r\n250 AUTH LOGIN\r\n", b"250-SMTPUTF8 X "], ids=["lines", "fragment"]
)
def test_bytes_injected_after_220(scripted: type[ScriptedServer], connect: Connect, injected: bytes) -> None:
    """ST-01, ST-02: data buffered after the 220 closes the connection before any handshake."""

    def script(p: Peer) -> None:
        greet(p, "PIPELINING", "STARTTLS")
        p.expect("STARTTLS")
        p.send(b"220 Ready\r\n" + injected)
        assert p.read_to_eof() == b""  # no ClientHello, no AUTH: nothing at all

    server = scripted(script)
    smtp = connect(server)
    assert smtp.starttls() is False
    assert smtp.code() == 421
    assert "Protocol error" in smtp.message()
    assert smtp.tls_active is False
    assert smtp.mail("a@b.example") is False
    server.join()
    assert server.received == EHLO + b"STARTTLS\r\n"


def test_bytes_injected_after_220_raise(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p, "STARTTLS")
        p.expect("STARTTLS")
        p.send(b"220 Ready\r\n250 AUTH LOGIN\r\n")
        p.read_to_eof()

    server = scripted(script)
    smtp = connect(server, raise_errors=True)
    with pytest.raises(ProtocolError, match="injection"):
        smtp.starttls()
    server.join()


def test_late_injection_breaks_the_handshake(
    scripted: type[ScriptedServer], connect: Connect, client_context: ssl.SSLContext
) -> None:
    """ST-03: plaintext arriving during the handshake fails it; no fallback, nothing sent."""

    def script(p: Peer) -> None:
        greet(p, "STARTTLS")
        p.expect("STARTTLS")
        p.send(b"220 Ready\r\n")
        p.sleep(0.03)
        p.send(b"250 AUTH LOGIN\r\n")
        with contextlib.suppress(OSError):
            p.read_to_eof()

    server = scripted(script)
    smtp = connect(server, raise_errors=True)
    with pytest.raises((TLSError, SMTPTimeout, ProtocolError)):
        smtp.starttls(client_context)
    assert smtp.tls_active is False
    server.join()
    rest = server.received[len(EHLO + b"STARTTLS\r\n") :]
    assert rest == b"" or rest.startswith(b"\x16\x03")  # only a ClientHello ever follows STARTTLS
    assert b"AUTH" not in rest and b"EHLO" not in rest


def test_starttls_default_context_rejects_test_ca(scripted: type[ScriptedServer], connect: Connect) -> None:
    """TL-09, SD-07: the default context verifies; a failed handshake closes the connection."""
    server = scripted(starttls_failing)
    smtp = connect(server)
    assert smtp.starttls() is False
    assert smtp.code() == 421
    assert "TLS error" in smtp.message()
    assert smtp.tls_active is False
    assert smtp.mail("a@b.example") is False  # nothing is written, in clear or otherwise
    server.join()
    assert plain_part(server).startswith(EHLO + b"STARTTLS\r\n")
    assert b"MAIL" not in server.received


def test_starttls_default_context_raises_tls_error(scripted: type[ScriptedServer], connect: Connect) -> None:
    server = scripted(starttls_failing)
    smtp = connect(server, raise_errors=True)
    with pytest.raises(TLSError, match="certificate verify failed"):
        smtp.starttls()
    server.join()


def test_starttls_wrong_host_name(
    scripted: type[ScriptedServer], connect: Connect, client_context: ssl.SSLContext
) -> None:
    server = scripted(starttls_failing)
    smtp = connect(server, raise_errors=True)
    with pytest.raises(TLSError, match=r"other\.test"):
        smtp.starttls(client_context, server_hostname="other.test")
    assert smtp.tls_active is False
    server.join()


def test_implicit_tls_wrong_host_name(
    scripted: type[ScriptedServer], client_context: ssl.SSLContext, make: Connect
) -> None:
    server = scripted(failed_handshake)
    with pytest.raises(ConnectError, match=r"other\.test"):
        make(server.host, ssl=True, ssl_context=client_context, server_hostname="other.test", timeout=2)
    server.join()


def test_server_hostname_override_starttls(
    scripted: type[ScriptedServer], connect: Connect, ca: trustme.CA, client_context: ssl.SSLContext
) -> None:
    """TL-04: connecting to 127.0.0.1 but verifying (and sending SNI) for smtp.test."""
    sni: list[str | None] = []
    context = server_context_for(ca, "smtp.test", sni=sni)

    def after(p: Peer) -> None:
        p.expect(EHLO)
        p.reply(*ehlo_lines())
        serve_quit(p)

    # Without the override the certificate (for smtp.test only) does not match 127.0.0.1.
    refused = scripted(starttls_failing, tls_context=context)
    smtp = connect(refused)
    assert smtp.starttls(client_context) is False
    refused.join()
    assert sni == [None]  # an IP literal is never sent as SNI

    sni.clear()
    server = scripted(starttls_then(after), tls_context=context)
    smtp = connect(server)
    assert smtp.starttls(client_context, server_hostname="smtp.test") is True
    assert smtp.quit() is True
    server.join()
    assert sni == ["smtp.test"]


def test_server_hostname_option_implicit_tls(
    scripted: type[ScriptedServer], connect: Connect, ca: trustme.CA, client_context: ssl.SSLContext
) -> None:
    sni: list[str | None] = []
    context = server_context_for(ca, "smtp.test", sni=sni)
    server = scripted(lambda p: (greet(p), serve_quit(p)), tls_context=context, implicit_tls=True)
    smtp = connect(server, ssl=True, ssl_context=client_context, server_hostname="smtp.test")
    assert smtp.tls_active is True
    assert smtp.quit() is True
    server.join()
    assert sni == ["smtp.test"]


def test_server_hostname_option_used_by_starttls(
    scripted: type[ScriptedServer], connect: Connect, ca: trustme.CA, client_context: ssl.SSLContext
) -> None:
    sni: list[str | None] = []
    context = server_context_for(ca, "smtp.test", sni=sni)

    def after(p: Peer) -> None:
        p.expect(EHLO)
        p.reply(*ehlo_lines())
        serve_quit(p)

    server = scripted(starttls_then(after), tls_context=context)
    smtp = connect(server, server_hostname="smtp.test", ssl_context=client_context)
    assert smtp.starttls() is True
    assert smtp.quit() is True
    server.join()
    assert sni == ["smtp.test"]


def test_host_name_is_verified_and_sent_as_sni(
    scripted: type[ScriptedServer], connect: Connect, ca: trustme.CA, client_context: ssl.SSLContext
) -> None:
    sni: list[str | None] = []
    context = server_context_for(ca, "localhost", sni=sni)
    server = scripted(lambda p: (greet(p), serve_quit(p)), tls_context=context, implicit_tls=True)
    smtp = connect(f"localhost:{server.port}", ssl=True, ssl_context=client_context, family=socket.AF_INET)
    assert smtp.quit() is True
    server.join()
    assert sni == ["localhost"]


def test_post_tls_ehlo_refused_closes_without_helo(
    scripted: type[ScriptedServer], connect: Connect, client_context: ssl.SSLContext
) -> None:
    """SPEC A6, SD-09: no HELO fallback that would keep the plaintext capabilities."""

    def after(p: Peer) -> None:
        p.expect(EHLO)
        p.reply("502 5.5.1 no EHLO here")
        assert p.read_to_eof() == b""

    server = scripted(starttls_then(after, "AUTH PLAIN"))
    smtp = connect(server)
    assert smtp.starttls(client_context) is False
    assert smtp.code() == 502
    assert smtp.supports("AUTH") is None  # the plaintext capabilities are gone
    assert smtp.noop() is False
    server.join()
    assert tls_part(server) == EHLO


def test_starttls_twice_is_usage_error(
    scripted: type[ScriptedServer], connect: Connect, client_context: ssl.SSLContext
) -> None:
    """SD-10: STARTTLS advertised again inside TLS is never sent."""

    def after(p: Peer) -> None:
        p.expect(EHLO)
        p.reply(*ehlo_lines("STARTTLS"))
        serve_quit(p)

    server = scripted(starttls_then(after))
    smtp = connect(server)
    assert smtp.starttls(client_context) is True
    with pytest.raises(UsageError):
        smtp.starttls(client_context)
    assert smtp.quit() is True
    server.join()
    assert tls_part(server) == EHLO + b"QUIT\r\n"


def test_starttls_handshake_timeout(
    scripted: type[ScriptedServer], connect: Connect, client_context: ssl.SSLContext
) -> None:
    def script(p: Peer) -> None:
        greet(p, "STARTTLS")
        p.expect("STARTTLS")
        p.reply("220 go")
        p.read_to_eof(wait=3)

    server = scripted(script)
    smtp = connect(server, timeout=0.3)
    started = time.monotonic()
    assert smtp.starttls(client_context) is False
    assert time.monotonic() - started < 1.0
    assert smtp.code() == 421
    assert "Timeout" in smtp.message()
    server.join()


def test_failed_handshake_then_quit_and_close(scripted: type[ScriptedServer], connect: Connect) -> None:
    server = scripted(starttls_failing)
    smtp = connect(server)
    assert smtp.starttls() is False
    assert smtp.quit() is False
    smtp.close()
    server.join()


def test_tls_timeout_applies_inside_tls(
    scripted: type[ScriptedServer], connect: Connect, client_context: ssl.SSLContext
) -> None:
    """Net::SMTP ignores its timeout once in TLS mode; netsmtp does not (SPEC A5)."""

    def script(p: Peer) -> None:
        greet(p)
        p.expect("NOOP")
        p.read_to_eof(wait=3)

    server = scripted(script, implicit_tls=True)
    smtp = connect(server, ssl=True, ssl_context=client_context, timeout=0.3)
    started = time.monotonic()
    assert smtp.noop() is False
    assert time.monotonic() - started < 1.0
    assert "Timeout" in smtp.message()
    server.join()


def test_tls_connection_lost(
    scripted: type[ScriptedServer], connect: Connect, client_context: ssl.SSLContext
) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.expect("NOOP")
        p.close()  # no close_notify

    server = scripted(script, implicit_tls=True)
    smtp = connect(server, ssl=True, ssl_context=client_context)
    assert smtp.noop() is False
    assert smtp.code() == 421
    assert "Connection closed" in smtp.message()
    server.join()


def test_starttls_then_aiosmtpd(
    aiosmtpd_server: RunningServer, connect: Connect, client_context: ssl.SSLContext
) -> None:
    smtp = connect(aiosmtpd_server.address)
    assert smtp.supports("STARTTLS") == ""
    assert smtp.starttls(client_context) is True
    assert smtp.supports("STARTTLS") is None
    assert smtp.tls_active is True
    assert smtp.quit() is True


def test_refused_port_with_tls(make: Connect) -> None:
    with pytest.raises(ConnectError):
        make(f"127.0.0.1:{refused_port()}", ssl=True, timeout=1)


def test_starttls_after_connecting_with_port_option(
    scripted: type[ScriptedServer], connect: Connect, client_context: ssl.SSLContext
) -> None:
    """The host string has no port when the port came from the option; the name is still found."""

    def after(p: Peer) -> None:
        p.expect(EHLO)
        p.reply(*ehlo_lines())
        serve_quit(p)

    server = scripted(starttls_then(after))
    smtp = connect("127.0.0.1", port=server.port)
    assert smtp.host() == "127.0.0.1"
    assert smtp.starttls(client_context) is True
    assert smtp.quit() is True
    server.join()


def test_ssl_context_must_be_a_context(make: Connect) -> None:
    with pytest.raises(TypeError):
        make(f"127.0.0.1:{refused_port()}", ssl=True, ssl_context="insecure")


@pytest.mark.skipif(not have_ipv6_loopback(), reason="this machine has no IPv6 loopback (::1)")
def test_implicit_tls_ipv6_literal(
    scripted: type[ScriptedServer], connect: Connect, client_context: ssl.SSLContext
) -> None:
    """The name verified for "[::1]:port" is the address without brackets (Net::SMTP kept them)."""
    server = scripted(lambda p: (greet(p), serve_quit(p)), implicit_tls=True, family=socket.AF_INET6)
    smtp = connect(server.host, ssl=True, ssl_context=client_context)
    assert smtp.tls_active is True
    assert smtp.quit() is True
    server.join()


def test_default_context_is_made_once_per_trust_store(
    scripted: type[ScriptedServer],
    connect: Connect,
    ca: trustme.CA,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Loading the CA bundle costs 20-80 ms: the default context is kept, but a change of
    SSL_CERT_FILE (which bundle OpenSSL loads) takes effect at the next connection."""
    from netsmtp._tls import default_context

    def after_tls(p: Peer) -> None:
        p.expect(EHLO)
        p.reply(*ehlo_lines())
        serve_quit(p)

    bundle = tmp_path / "test-ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    assert default_context() is default_context()
    trusting = default_context()
    assert trusting.minimum_version == ssl.TLSVersion.TLSv1_2

    server = scripted(starttls_then(after_tls))
    smtp = connect(server)
    assert smtp.starttls() is True  # the default context trusts the test CA now
    assert smtp.quit() is True
    server.join()

    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    assert default_context() is not trusting
    server = scripted(starttls_failing)
    smtp = connect(server)
    assert smtp.starttls() is False
    assert "certificate verify failed" in smtp.message()
    server.join()
