"""AUTH against a real Postfix 3.7 with Cyrus SASL (sasldb): every mechanism it offers.

PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-1 and SCRAM-SHA-256, each with the good and a bad
password, after STARTTLS verified against the server's certificate and on implicit TLS;
the default choice; AUTH hidden until STARTTLS on the submission port; the plaintext
policy with a real server; and an authenticated message delivered to the Maildir. Both
clients. How the server is found (or started) is in :mod:`tests.interop.servers`.
"""

from __future__ import annotations

import ssl
import time
import uuid
from pathlib import Path

import pytest

from tests.auth.conftest import Connect
from tests.interop.servers import Server, ServerPool, require

Postfix = Server

MECHANISMS = ["PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256"]


@pytest.fixture
def postfix(server_pool: ServerPool) -> Postfix:
    return require(server_pool, "postfix")


@pytest.fixture
def context(postfix: Postfix) -> ssl.SSLContext:
    """A verifying context that trusts the server's own certificate and nothing else."""
    return ssl.create_default_context(cafile=postfix.cafile)


@pytest.mark.parametrize("mechanism", MECHANISMS)
@pytest.mark.parametrize("good", [True, False], ids=["good", "bad"])
def test_starttls(
    postfix: Postfix, connect: Connect, context: ssl.SSLContext, mechanism: str, good: bool
) -> None:
    smtp = connect(postfix.starttls, ssl_context=context)
    assert smtp.starttls() is True
    assert mechanism in smtp.supports("AUTH").split()
    password = postfix.password if good else postfix.password + "x"
    assert smtp.auth(postfix.user, password, mechanism) is good
    if good:
        assert smtp.code() == 235
    else:
        assert smtp.code() == 535
        assert smtp.noop() is True  # a refusal leaves the session usable
    assert smtp.quit() is True


@pytest.mark.parametrize("mechanism", MECHANISMS)
@pytest.mark.parametrize("good", [True, False], ids=["good", "bad"])
def test_implicit_tls(
    postfix: Postfix, connect: Connect, context: ssl.SSLContext, mechanism: str, good: bool
) -> None:
    smtp = connect(postfix.smtps, ssl=True, ssl_context=context)
    password = postfix.password if good else "not the password"
    assert smtp.auth(postfix.user, password, mechanism) is good
    assert smtp.code() == (235 if good else 535)
    assert smtp.quit() is True


def test_default_is_scram_sha_256(
    postfix: Postfix, connect: Connect, context: ssl.SSLContext, capsys: pytest.CaptureFixture[str]
) -> None:
    smtp = connect(postfix.starttls, ssl_context=context, debug=1)
    assert smtp.starttls() is True
    assert smtp.auth(postfix.user, postfix.password) is True
    smtp.quit()
    err = capsys.readouterr().err
    assert ">>> AUTH SCRAM-SHA-256 <redacted>" in err
    assert postfix.password not in err


def test_submission_offers_auth_only_after_starttls(
    postfix: Postfix, connect: Connect, context: ssl.SSLContext
) -> None:
    if postfix.submission is None:
        pytest.skip("no submission port given (NETSMTP_TEST_POSTFIX_SUBMISSION)")
    smtp = connect(postfix.submission, ssl_context=context)
    assert smtp.auth(postfix.user, postfix.password) is False
    assert smtp.code() == 500  # not advertised: nothing sent
    assert smtp.starttls() is True
    assert smtp.auth(postfix.user, postfix.password) is True
    smtp.quit()


@pytest.mark.usefixtures("remote")
def test_plaintext_policy_with_a_real_server(postfix: Postfix, connect: Connect) -> None:
    # Postfix offers AUTH before TLS on its main port; seen as a remote host, the
    # clear-text mechanisms are refused locally and SCRAM (which keeps the password) runs.
    smtp = connect(postfix.starttls)
    assert smtp.auth(postfix.user, postfix.password, "PLAIN") is False
    assert smtp.code() == 530
    assert smtp.auth(postfix.user, postfix.password, "LOGIN PLAIN") is False
    assert smtp.auth(postfix.user, postfix.password) is True
    smtp.quit()


def test_second_auth_is_refused_locally(postfix: Postfix, connect: Connect, context: ssl.SSLContext) -> None:
    from netsmtp import UsageError

    smtp = connect(postfix.smtps, ssl=True, ssl_context=context)
    assert smtp.auth(postfix.user, postfix.password) is True
    with pytest.raises(UsageError):
        smtp.auth(postfix.user, postfix.password)
    smtp.quit()


def test_authenticated_message_is_delivered(
    postfix: Postfix, connect: Connect, context: ssl.SSLContext
) -> None:
    marker = f"<{uuid.uuid4().hex}@netsmtp.test>"
    smtp = connect(postfix.submission or postfix.starttls, ssl_context=context)
    assert smtp.starttls() is True
    assert smtp.auth(postfix.user, postfix.password, "SCRAM-SHA-256") is True
    assert smtp.mail("me@example.org") is True
    assert smtp.to("you@example.net") is True
    assert smtp.data(f"Message-ID: {marker}\r\nSubject: auth\r\n\r\nhello\r\n") is True
    smtp.quit()
    new = Path(postfix.maildir) / "new"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for path in new.glob("*") if new.is_dir() else []:
            text = path.read_text(errors="replace")
            if marker in text:
                # Postfix records an authenticated TLS submission as ESMTPSA.
                assert "with ESMTPSA" in text
                return
        time.sleep(0.1)
    pytest.fail(f"the message {marker} did not reach {new}")
