"""AUTH against Exim, OpenSMTPD and aiosmtpd: every mechanism each one offers.

Each mechanism with the good and a bad password, after STARTTLS verified against the
server's certificate and on implicit TLS, with both clients. The advertised lists are
pinned, so a server that starts offering something new is noticed. Postfix (Cyrus SASL,
SCRAM included) has its own module, ``test_postfix_auth.py``.
"""

from __future__ import annotations

import ssl
from typing import Any

import pytest

from tests.interop.conftest import OpenClient
from tests.interop.servers import Server, ServerPool, require

# What each server offers (EHLO after TLS), in its own order.
OFFERED = {
    "exim": ["PLAIN", "LOGIN", "CRAM-MD5"],
    "opensmtpd": ["PLAIN", "LOGIN"],
    "aiosmtpd": ["CRAM-MD5", "LOGIN", "PLAIN", "SCRAM-SHA-256"],
}
CASES = [(name, mech) for name, mechs in OFFERED.items() for mech in mechs]


@pytest.fixture
def auth_server(request: pytest.FixtureRequest, server_pool: ServerPool) -> Server:
    return require(server_pool, request.param)


def _login(smtp: Any, server: Server, mechanism: str, good: bool) -> None:
    assert smtp.supports("AUTH").split() == OFFERED[server.name]
    password = server.password if good else server.password + "-wrong"
    assert smtp.auth(server.user, password, mechanism) is good
    if good:
        assert smtp.code() == 235
        # an authenticated session can send
        assert smtp.mail("sender@example.org") is True
        assert smtp.reset() is True
    else:
        assert smtp.code() == 535
        assert smtp.noop() is True  # a refusal leaves the session usable
    assert smtp.quit() is True


@pytest.mark.parametrize(("auth_server", "mechanism"), CASES, indirect=["auth_server"])
@pytest.mark.parametrize("good", [True, False], ids=["good", "bad"])
def test_after_starttls(auth_server: Server, open_client: OpenClient, mechanism: str, good: bool) -> None:
    context = ssl.create_default_context(cafile=auth_server.cafile)
    smtp = open_client(auth_server.starttls, ssl_context=context)
    assert smtp.starttls() is True
    _login(smtp, auth_server, mechanism, good)


@pytest.mark.parametrize(("auth_server", "mechanism"), CASES, indirect=["auth_server"])
@pytest.mark.parametrize("good", [True, False], ids=["good", "bad"])
def test_implicit_tls(auth_server: Server, open_client: OpenClient, mechanism: str, good: bool) -> None:
    context = ssl.create_default_context(cafile=auth_server.cafile)
    smtp = open_client(auth_server.smtps, ssl=True, ssl_context=context)
    _login(smtp, auth_server, mechanism, good)


@pytest.mark.parametrize(
    ("auth_server", "chosen"),
    [("exim", "CRAM-MD5"), ("opensmtpd", "PLAIN"), ("aiosmtpd", "SCRAM-SHA-256")],
    indirect=["auth_server"],
)
def test_default_choice(
    auth_server: Server, open_client: OpenClient, chosen: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """With no mechanism named, netsmtp's order picks the strongest offered; no secret shown."""
    context = ssl.create_default_context(cafile=auth_server.cafile)
    smtp = open_client(auth_server.smtps, ssl=True, ssl_context=context, debug=1)
    assert smtp.auth(auth_server.user, auth_server.password) is True
    smtp.quit()
    err = capsys.readouterr().err
    assert f">>> AUTH {chosen}" in err
    assert auth_server.password not in err


@pytest.mark.parametrize("auth_server", ["opensmtpd"], indirect=True)
def test_opensmtpd_offers_auth_only_inside_tls(auth_server: Server, open_client: OpenClient) -> None:
    smtp = open_client(auth_server.starttls)
    assert smtp.supports("AUTH") is None
    assert smtp.auth(auth_server.user, auth_server.password) is False
    assert smtp.code() == 500  # not advertised: nothing sent
    assert smtp.noop() is True
    smtp.quit()
