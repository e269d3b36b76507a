"""The constructor: host forms, host lists, greeting and EHLO/HELO, configuration, options."""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path
from typing import Any

import pytest

import netsmtp
from netsmtp import ConnectError, GreetingError, SMTPTimeout
from tests.client.support import EHLO, HELLO, Connect, greet, have_ipv6_loopback, refused_port, serve_quit
from tests.helpers.scripted import Peer, ScriptedServer, ehlo_lines


def plain_session(p: Peer) -> None:
    greet(p, "SIZE 1000", "8BITMIME")
    serve_quit(p)


# ---- host forms -----------------------------------------------------------------------------
def test_host_with_port(scripted: type[ScriptedServer], connect: Connect) -> None:
    server = scripted(plain_session)
    smtp = connect(server)
    assert smtp.host() == f"127.0.0.1:{server.port}"
    assert smtp.banner() == "test.example ESMTP ready"
    assert smtp.domain() == "test.example"
    assert smtp.code() == 250
    assert smtp.extensions == {"SIZE": "1000", "8BITMIME": ""}
    assert smtp.quit() is True
    server.join()
    assert server.received == EHLO + b"QUIT\r\n"


def test_port_option_and_host_without_port(scripted: type[ScriptedServer], connect: Connect) -> None:
    server = scripted(plain_session)
    smtp = connect("127.0.0.1", port=server.port)
    assert smtp.host() == "127.0.0.1"
    assert smtp.quit() is True
    server.join()


def test_port_inside_host_string_wins(scripted: type[ScriptedServer], connect: Connect) -> None:
    server = scripted(plain_session)
    smtp = connect(server, port=refused_port())
    assert smtp.quit() is True
    server.join()


def test_host_as_keyword_option(scripted: type[ScriptedServer], connect: Connect) -> None:
    server = scripted(plain_session)
    smtp = connect(None, host=server.host)
    assert smtp.host() == server.host
    assert smtp.quit() is True
    server.join()


def test_host_given_twice_is_a_type_error(make: Connect) -> None:
    with pytest.raises(TypeError):
        make("127.0.0.1:1", host="127.0.0.1:2")


def test_host_list_first_refused_second_works(scripted: type[ScriptedServer], connect: Connect) -> None:
    server = scripted(plain_session)
    dead = f"127.0.0.1:{refused_port()}"
    smtp = connect([dead, server.host])
    assert smtp.host() == server.host
    assert smtp.quit() is True
    server.join()
    assert server.received == EHLO + b"QUIT\r\n"


@pytest.mark.skipif(not have_ipv6_loopback(), reason="this machine has no IPv6 loopback (::1)")
def test_ipv6_literal_with_port(scripted: type[ScriptedServer], connect: Connect) -> None:
    server = scripted(plain_session, family=socket.AF_INET6)
    assert server.host == f"[::1]:{server.port}"
    smtp = connect(server.host)
    assert smtp.host() == f"[::1]:{server.port}"
    assert smtp.quit() is True
    server.join()
    assert server.received == EHLO + b"QUIT\r\n"


@pytest.mark.skipif(not have_ipv6_loopback(), reason="this machine has no IPv6 loopback (::1)")
def test_bare_ipv6_literal_uses_port_option(scripted: type[ScriptedServer], connect: Connect) -> None:
    server = scripted(plain_session, family=socket.AF_INET6)
    smtp = connect("::1", port=server.port)
    assert smtp.quit() is True
    server.join()


# ---- greeting ---------------------------------------------------------------------------------
def test_multiline_greeting_banner_and_domain(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        p.reply("220-first.example.org ESMTP", "220-second line", "220 third")
        p.expect(EHLO)
        p.reply(*ehlo_lines())
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.banner() == "first.example.org ESMTP"
    assert smtp.domain() == "first.example.org"
    assert smtp.quit() is True
    server.join()


def test_banner_without_text(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        p.send("220\r\n")
        p.expect(EHLO)
        p.reply(*ehlo_lines())
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.banner() is None
    assert smtp.domain() is None
    assert smtp.quit() is True
    server.join()


@pytest.mark.parametrize("greeting", ["554 5.3.2 no service for you", "421 4.3.2 busy"])
def test_bad_greeting_raises_greeting_error_and_closes(
    scripted: type[ScriptedServer], greeting: str, make: Connect
) -> None:
    def script(p: Peer) -> None:
        p.send(greeting + "\r\n")
        assert p.at_eof(), "the client must close after a refused greeting"

    server = scripted(script)
    with pytest.raises(GreetingError) as info:
        make(server.host, hello=HELLO, timeout=2)
    server.join()
    assert server.received == b""  # no EHLO, and no QUIT either
    reply = info.value.reply
    assert reply is not None
    assert reply.code == int(greeting[:3])
    assert reply.text == greeting[4:]
    assert isinstance(info.value, ConnectError)
    assert len(info.value.attempts) == 1
    assert info.value.attempts[0][0].startswith(server.host)


def test_bad_greeting_tries_next_host(scripted: type[ScriptedServer], connect: Connect) -> None:
    def refuse(p: Peer) -> None:
        p.send("554 5.3.2 not here\r\n")
        assert p.at_eof()

    first = scripted(refuse)
    second = scripted(plain_session)
    smtp = connect([first.host, second.host])
    assert smtp.host() == second.host
    assert smtp.banner() == "test.example ESMTP ready"
    assert smtp.quit() is True
    first.join()
    second.join()
    assert first.received == b""
    assert second.received == EHLO + b"QUIT\r\n"


def test_every_greeting_refused_lists_all_attempts(scripted: type[ScriptedServer], make: Connect) -> None:
    def refuse(p: Peer) -> None:
        p.send("554 go away\r\n")
        assert p.at_eof()

    first = scripted(refuse)
    second = scripted(refuse)
    dead = f"127.0.0.1:{refused_port()}"
    with pytest.raises(GreetingError) as info:
        make([first.host, dead, second.host], hello=HELLO, timeout=2)
    first.join()
    second.join()
    attempts = info.value.attempts
    assert [a[0].split(" ")[0] for a in attempts] == [first.host, dead, second.host]
    assert info.value.reply is not None and info.value.reply.code == 554
    for host in (first.host, dead, second.host):
        assert host in str(info.value)


def test_greeting_timeout_raises_smtp_timeout(scripted: type[ScriptedServer], make: Connect) -> None:
    def script(p: Peer) -> None:
        assert p.at_eof(wait=3), "the client must close after the greeting timed out"

    server = scripted(script)
    started = time.monotonic()
    with pytest.raises(SMTPTimeout) as info:
        make(server.host, hello=HELLO, timeout=0.4)
    elapsed = time.monotonic() - started
    server.join()
    assert 0.3 < elapsed < 1.5
    assert isinstance(info.value, TimeoutError)
    # It is also a ConnectError: no host could be reached, and it says why for each one.
    assert isinstance(info.value, ConnectError)
    assert len(info.value.attempts) == 1


def test_garbage_greeting_is_a_connect_failure(scripted: type[ScriptedServer], make: Connect) -> None:
    def script(p: Peer) -> None:
        p.send("hello there\r\n")
        assert p.at_eof()

    server = scripted(script)
    with pytest.raises(ConnectError) as info:
        make(server.host, hello=HELLO, timeout=2)
    server.join()
    assert server.received == b""
    assert "ProtocolError" in str(info.value)


def test_server_closes_before_greeting(scripted: type[ScriptedServer], make: Connect) -> None:
    server = scripted(lambda p: p.close())
    with pytest.raises(ConnectError):
        make(server.host, hello=HELLO, timeout=2)
    server.join()


# ---- EHLO / HELO at connect -------------------------------------------------------------------
def test_ehlo_5xx_falls_back_to_helo(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        p.send("220 old.example SMTP\r\n")
        p.expect(EHLO)
        p.reply("502 5.5.1 EHLO not implemented")
        p.expect(f"HELO {HELLO}")
        p.reply("250 old.example")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.code() == 250
    assert smtp.extensions == {}
    assert smtp.supports("SIZE") is None
    assert smtp.quit() is True
    server.join()
    assert server.received == EHLO + f"HELO {HELLO}\r\n".encode() + b"QUIT\r\n"


def test_ehlo_421_does_not_fall_back(scripted: type[ScriptedServer], make: Connect) -> None:
    def script(p: Peer) -> None:
        p.send("220 test.example\r\n")
        p.expect(EHLO)
        p.reply("421 4.3.2 shutting down")
        assert p.at_eof()

    server = scripted(script)
    with pytest.raises(GreetingError) as info:
        make(server.host, hello=HELLO, timeout=2)
    server.join()
    assert server.received == EHLO
    assert info.value.reply is not None
    assert info.value.reply.code == 421
    assert info.value.reply.text == "4.3.2 shutting down"


def test_ehlo_450_does_not_fall_back(scripted: type[ScriptedServer], make: Connect) -> None:
    def script(p: Peer) -> None:
        p.send("220 test.example\r\n")
        p.expect(EHLO)
        p.reply("450 later")
        assert p.at_eof()

    server = scripted(script)
    with pytest.raises(GreetingError) as info:
        make(server.host, hello=HELLO, timeout=2)
    server.join()
    assert server.received == EHLO
    assert info.value.reply is not None and info.value.reply.code == 450


def test_ehlo_and_helo_refused(scripted: type[ScriptedServer], make: Connect) -> None:
    def script(p: Peer) -> None:
        p.send("220 test.example\r\n")
        p.expect(EHLO)
        p.reply("500 5.5.2 what?")
        p.expect(f"HELO {HELLO}")
        p.reply("550 5.7.1 no thanks")
        assert p.at_eof()

    server = scripted(script)
    with pytest.raises(GreetingError) as info:
        make(server.host, hello=HELLO, timeout=2)
    server.join()
    assert server.received == EHLO + f"HELO {HELLO}\r\n".encode()
    assert info.value.reply is not None
    assert info.value.reply.code == 550
    assert info.value.reply.text == "5.7.1 no thanks"
    assert "550" in str(info.value)


def test_send_hello_false_sends_nothing(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        p.send("220 test.example ESMTP\r\n")
        p.expect("EHLO later.test")
        p.reply(*ehlo_lines("SIZE 5"))
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server, send_hello=False)
    assert server.received == b""
    assert smtp.code() == 220
    assert smtp.extensions == {}
    assert smtp.supports("SIZE") is None
    assert smtp.hello("later.test") == "test.example"
    assert smtp.supports("SIZE") == "5"
    assert smtp.quit() is True
    server.join()


def test_hello_again_and_helo_fallback_empties_extensions(
    scripted: type[ScriptedServer], connect: Connect
) -> None:
    def script(p: Peer) -> None:
        greet(p, "SIZE 5", "DSN")
        p.expect("EHLO second.test")
        p.reply("502 no")
        p.expect("HELO second.test")
        p.reply("250")  # no text: hello() still returns something true
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.extensions == {"SIZE": "5", "DSN": ""}
    assert smtp.hello("second.test") == " "
    assert smtp.extensions == {}
    assert smtp.quit() is True
    server.join()


# ---- failures to connect ------------------------------------------------------------------
def test_connect_error_lists_each_attempt(make: Connect) -> None:
    hosts = [f"127.0.0.1:{refused_port()}", f"127.0.0.1:{refused_port()}"]
    with pytest.raises(ConnectError) as info:
        make(hosts, hello=HELLO, timeout=2)
    assert not isinstance(info.value, GreetingError)
    assert isinstance(info.value, ConnectionError)
    attempts = info.value.attempts
    assert len(attempts) == 2
    for (where, why), host in zip(attempts, hosts, strict=True):
        assert where.startswith(host)
        assert "refused" in why.lower()
        assert host in str(info.value)


# ---- configuration ----------------------------------------------------------------------------
@pytest.fixture
def no_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.delenv("NETSMTP_HOSTS", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    return tmp_path


def test_hosts_from_environment(
    scripted: type[ScriptedServer], connect: Connect, no_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = scripted(plain_session)
    monkeypatch.setenv("NETSMTP_HOSTS", f" 127.0.0.1:{refused_port()} , {server.host} ")
    smtp = connect()
    assert smtp.host() == server.host
    assert smtp.quit() is True
    server.join()


def test_hosts_from_config_file(scripted: type[ScriptedServer], connect: Connect, no_config: Path) -> None:
    server = scripted(plain_session)
    (no_config / "netsmtp").mkdir()
    (no_config / "netsmtp" / "config.toml").write_text(f'smtp_hosts = ["{server.host}"]\n')
    smtp = connect()
    assert smtp.host() == server.host
    assert smtp.quit() is True
    server.join()


def test_config_file_single_string(scripted: type[ScriptedServer], connect: Connect, no_config: Path) -> None:
    server = scripted(plain_session)
    (no_config / "netsmtp").mkdir()
    (no_config / "netsmtp" / "config.toml").write_text(f'smtp_hosts = "{server.host}"\n')
    smtp = connect()
    assert smtp.host() == server.host
    assert smtp.quit() is True
    server.join()


def test_environment_wins_over_config_file(
    scripted: type[ScriptedServer], connect: Connect, no_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = scripted(plain_session)
    (no_config / "netsmtp").mkdir()
    (no_config / "netsmtp" / "config.toml").write_text(f'smtp_hosts = ["127.0.0.1:{refused_port()}"]\n')
    monkeypatch.setenv("NETSMTP_HOSTS", server.host)
    smtp = connect()
    assert smtp.host() == server.host
    assert smtp.quit() is True
    server.join()


def test_nothing_configured_says_how_to_configure(no_config: Path, make: Connect) -> None:
    with pytest.raises(ConnectError) as info:
        make(hello=HELLO)
    text = str(info.value)
    assert "NETSMTP_HOSTS" in text
    assert str(no_config / "netsmtp" / "config.toml") in text
    assert "smtp_hosts" in text


def test_malformed_config_file_is_reported(no_config: Path, make: Connect) -> None:
    (no_config / "netsmtp").mkdir()
    (no_config / "netsmtp" / "config.toml").write_text("smtp_hosts = [\n")
    with pytest.raises(ValueError, match=r"config\.toml"):
        make(hello=HELLO)


# ---- options --------------------------------------------------------------------------------
@pytest.mark.parametrize("option", ["bogus", "hostname", "Timeout_", "SSL_verify_mode"])
def test_unknown_option_is_a_type_error(option: str, make: Connect) -> None:
    with pytest.raises(TypeError, match=option):
        make(f"127.0.0.1:{refused_port()}", **{option: 1})


def test_option_given_in_both_spellings_is_a_type_error(make: Connect) -> None:
    with pytest.raises(TypeError):
        make(f"127.0.0.1:{refused_port()}", timeout=1, Timeout=2)


def test_perl_spellings(
    scripted: type[ScriptedServer], capsys: pytest.CaptureFixture[str], make: Connect
) -> None:
    def script(p: Peer) -> None:
        p.send("220 test.example\r\n")
        p.expect("EHLO perl.test")
        p.reply(*ehlo_lines("SIZE 9"))
        p.expect("MAIL FROM:<a@example.org>")
        p.reply("250 ok")
        serve_quit(p)

    server = scripted(script)
    smtp = make(
        Host="127.0.0.1", Port=server.port, Hello="perl.test", Timeout=1, Debug=1, ExactAddresses=True
    )
    try:
        assert smtp.host() == "127.0.0.1"
        assert smtp.debug() == 1
        with pytest.raises(ValueError):
            smtp.mail("Joe <a@example.org>")  # ExactAddresses: no extraction
        assert smtp.mail("a@example.org") is True
        assert smtp.quit() is True
    finally:
        smtp.close()
    server.join()
    err = capsys.readouterr().err
    assert "SMTP>>> EHLO perl.test\n" in err
    assert server.received == b"EHLO perl.test\r\nMAIL FROM:<a@example.org>\r\nQUIT\r\n"


def test_perl_spelling_send_hello(scripted: type[ScriptedServer], make: Connect) -> None:
    def script(p: Peer) -> None:
        p.send("220 test.example\r\n")
        serve_quit(p)

    server = scripted(script)
    smtp = make(server.host, SendHello=0, Timeout=1)
    assert smtp.quit() is True
    server.join()
    assert server.received == b"QUIT\r\n"


def test_perl_spelling_timeout_applies(scripted: type[ScriptedServer], make: Connect) -> None:
    def script(p: Peer) -> None:
        greet(p)
        p.expect("NOOP")
        assert p.at_eof(wait=3)

    server = scripted(script)
    smtp = make(server.host, Hello=HELLO, Timeout=0.3)
    started = time.monotonic()
    assert smtp.noop() is False
    assert time.monotonic() - started < 1.0
    assert smtp.code() == 421
    server.join()


def test_local_addr_and_port(scripted: type[ScriptedServer], connect: Connect) -> None:
    seen: list[tuple[str, int]] = []

    def script(p: Peer) -> None:
        seen.append(p.sock.getpeername()[:2])
        plain_session(p)

    server = scripted(script)
    local_port = refused_port()
    smtp = connect(server, local_addr="127.0.0.1", local_port=local_port)
    assert smtp.quit() is True
    server.join()
    assert seen == [("127.0.0.1", local_port)]


def test_local_addr_perl_spelling(scripted: type[ScriptedServer], connect: Connect) -> None:
    seen: list[tuple[str, int]] = []

    def script(p: Peer) -> None:
        seen.append(p.sock.getpeername()[:2])
        plain_session(p)

    server = scripted(script)
    local_port = refused_port()
    smtp = connect(server, LocalAddr="127.0.0.1", LocalPort=local_port)
    assert smtp.quit() is True
    server.join()
    assert seen == [("127.0.0.1", local_port)]


@pytest.mark.parametrize("spelling", ["family", "Family", "Domain"])
def test_family_inet(scripted: type[ScriptedServer], connect: Connect, spelling: str) -> None:
    server = scripted(plain_session)
    smtp = connect(f"localhost:{server.port}", **{spelling: socket.AF_INET})
    assert smtp.host() == f"localhost:{server.port}"
    assert smtp.quit() is True
    server.join()


def test_family_inet6_cannot_reach_an_ipv4_literal(make: Connect) -> None:
    with pytest.raises(ConnectError) as info:
        make(f"127.0.0.1:{refused_port()}", hello=HELLO, timeout=1, family=socket.AF_INET6)
    assert len(info.value.attempts) == 1


def test_bad_family_is_rejected(make: Connect) -> None:
    with pytest.raises(ValueError):
        make("127.0.0.1:1", family=socket.AF_UNIX)


@pytest.mark.parametrize("hello", ["a\r\nMAIL FROM:<x>", "a\nb", "a\x00", "two words"])
def test_bad_hello_option_is_rejected_before_connecting(
    scripted: type[ScriptedServer], hello: str, make: Connect
) -> None:
    server = scripted(plain_session)
    with pytest.raises(ValueError):
        make(server.host, hello=hello, timeout=1)
    server.close()
    assert server.received == b""


# ---- the default hello name (SPEC A12) -----------------------------------------------------
_DOTTED = re.compile(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")


def ehlo_name(server: ScriptedServer) -> str:
    line = server.received.split(b"\r\n", 1)[0].decode()
    assert line.startswith("EHLO ")
    return line[5:]


def test_default_hello_is_fqdn_or_address_literal(scripted: type[ScriptedServer], make: Connect) -> None:
    def script(p: Peer) -> None:
        p.greet_ehlo()
        serve_quit(p)

    server = scripted(script)
    with make(server.host, timeout=2):
        pass
    server.join()
    name = ehlo_name(server)
    assert name == "[127.0.0.1]" or _DOTTED.fullmatch(name), name


def test_default_hello_without_fqdn_is_local_address_literal(
    scripted: type[ScriptedServer], monkeypatch: pytest.MonkeyPatch, make: Connect
) -> None:
    monkeypatch.setattr(netsmtp._hostname, "_fqdn", lambda: "localhost")

    def script(p: Peer) -> None:
        p.greet_ehlo()
        serve_quit(p)

    server = scripted(script)
    with make(server.host, timeout=2):
        pass
    server.join()
    assert ehlo_name(server) == "[127.0.0.1]"


def test_default_hello_uses_dotted_fqdn(
    scripted: type[ScriptedServer], monkeypatch: pytest.MonkeyPatch, make: Connect
) -> None:
    monkeypatch.setattr(netsmtp._hostname, "_fqdn", lambda: "client.example.org")

    def script(p: Peer) -> None:
        p.greet_ehlo()
        serve_quit(p)

    server = scripted(script)
    with make(server.host, timeout=2, hello=""):  # a false hello means the default (Net::SMTP)
        pass
    server.join()
    assert ehlo_name(server) == "client.example.org"


@pytest.mark.skipif(not have_ipv6_loopback(), reason="this machine has no IPv6 loopback (::1)")
def test_default_hello_ipv6_literal(
    scripted: type[ScriptedServer], monkeypatch: pytest.MonkeyPatch, make: Connect
) -> None:
    monkeypatch.setattr(netsmtp._hostname, "_fqdn", lambda: "localhost")

    def script(p: Peer) -> None:
        p.greet_ehlo()
        serve_quit(p)

    server = scripted(script, family=socket.AF_INET6)
    with make(server.host, timeout=2):
        pass
    server.join()
    assert ehlo_name(server) == "[IPv6:::1]"


def test_can_ssl_and_can_inet6(client_class: type[Any]) -> None:
    assert client_class.can_ssl() is True
    assert client_class.can_inet6() is socket.has_ipv6


# ---- name resolution (faked, so no DNS is needed) ---------------------------------------------
@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[tuple[str, int]]]:
    """Names ending in ``.test`` resolve through this table (missing: "not known")."""
    table: dict[str, list[tuple[str, int]]] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host: str, port: int, *args: object, **kwargs: object) -> list[tuple[object, ...]]:
        if not str(host).endswith(".test"):
            return real(host, port, *args, **kwargs)  # type: ignore[arg-type]
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", addr) for addr in table[host]]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table


def test_unresolvable_host_is_listed(fake_dns: dict[str, list[tuple[str, int]]], make: Connect) -> None:
    with pytest.raises(ConnectError) as info:
        make(["nowhere.test", f"127.0.0.1:{refused_port()}"], hello=HELLO, timeout=1)
    assert info.value.attempts[0] == (
        "nowhere.test",
        "cannot resolve 'nowhere.test': Name or service not known",
    )
    assert len(info.value.attempts) == 2


def test_unresolvable_host_then_next(
    scripted: type[ScriptedServer], connect: Connect, fake_dns: dict[str, list[tuple[str, int]]]
) -> None:
    server = scripted(plain_session)
    smtp = connect(["nowhere.test", server.host])
    assert smtp.host() == server.host
    assert smtp.quit() is True
    server.join()


def test_every_address_of_a_name_is_tried(
    scripted: type[ScriptedServer], connect: Connect, fake_dns: dict[str, list[tuple[str, int]]]
) -> None:
    def refuse(p: Peer) -> None:
        p.send("421 4.3.2 this address is busy\r\n")
        p.read_to_eof()

    busy = scripted(refuse)
    server = scripted(plain_session)
    fake_dns["mx.test"] = [
        ("127.0.0.1", refused_port()),
        ("127.0.0.1", busy.port),
        ("127.0.0.1", server.port),
    ]
    smtp = connect("mx.test")
    assert smtp.host() == "mx.test"
    assert smtp.quit() is True
    busy.join()
    server.join()
    assert busy.received == b""
    assert server.received == EHLO + b"QUIT\r\n"
