"""SECURITY.md §6, TLS configuration (TL-01..TL-09).

The client trusts the test CA only (``client_context``) unless a test says otherwise; leaves
are made by :class:`tests.security._support.Issuer`: for the test CA, for a CA nobody trusts,
self-signed, expired, not yet valid, with wildcards. Servers listen on 127.0.0.1; a name such
as ``smtp.test`` is reached with ``server_hostname=`` (the pinned-IP case), which is what the
client verifies and sends as SNI.

Every test runs against SMTP and AsyncSMTP (asyncio and uvloop), over implicit TLS and,
where it matters, STARTTLS.
"""

from __future__ import annotations

import contextlib
import datetime
import itertools
import socket
import ssl
import warnings
from collections.abc import Callable
from typing import Any

import pytest
import trustme

from netsmtp import AuthPolicyError, ConnectError, TLSError
from netsmtp._tls import default_context
from tests.helpers.scripted import Peer, ScriptedServer, ehlo_lines
from tests.security._support import (
    EHLO,
    STARTTLS,
    Issuer,
    greet,
    insecure_context,
    plain_part,
    server_context,
    tls_part,
    tls_records,
)
from tests.security.conftest import SecConnect

MODES = ["implicit", "starttls"]


def honest_or_refused(p: Peer) -> None:
    """After the handshake: a normal session. If the handshake fails (what the tests
    expect), nothing more; a client that accepted would have its EHLO recorded as TLS."""
    try:
        p.starttls()
    except (ssl.SSLError, OSError):
        return
    with contextlib.suppress(OSError):
        greet(p, "AUTH PLAIN")
        p.read_to_eof()


def tls_server(
    scripted: type[ScriptedServer], mode: str, context: ssl.SSLContext, connections: int = 1
) -> Any:
    """A server presenting ``context``'s certificate, by implicit TLS or after STARTTLS; a
    handshake that fails ends the connection."""

    def script(p: Peer) -> None:
        if mode == "implicit":
            honest_or_refused(p)
            return
        greet(p, "STARTTLS", "AUTH PLAIN")
        p.expect("STARTTLS")
        p.reply("220 2.0.0 Ready")
        try:
            p.starttls()
        except (ssl.SSLError, OSError):
            return
        with contextlib.suppress(OSError):
            p.expect(EHLO)
            p.reply(*ehlo_lines("AUTH PLAIN"))
            p.read_to_eof()

    return scripted(script, tls_context=context, connections=connections)


def attempt(
    connect: SecConnect,
    server: ScriptedServer | str,
    mode: str,
    context: ssl.SSLContext | None,
    **options: Any,
) -> Any:
    """Connect and secure: returns the client (TLS on), or the exception raised."""
    try:
        if mode == "implicit":
            smtp = connect(server, ssl=True, ssl_context=context, raise_errors=True, **options)
        else:
            smtp = connect(server, raise_errors=True, **options)
            smtp.starttls(context)
    except (ConnectError, TLSError) as exc:
        return exc
    return smtp


def assert_refused(outcome: Any, server: ScriptedServer, *why: str) -> None:
    """The handshake was refused with one of ``why`` in the message, and nothing ever went
    inside TLS (no EHLO, no AUTH)."""
    assert isinstance(outcome, ConnectError | TLSError), f"the handshake was accepted: {outcome!r}"
    text = str(outcome)
    assert "TLS" in text, text
    assert any(w in text for w in why), text
    server.join()
    assert tls_part(server) == b""
    assert plain_part(server) in (b"", EHLO + STARTTLS)


def assert_accepted(outcome: Any) -> None:
    assert not isinstance(outcome, BaseException), f"refused: {outcome}"
    assert outcome.tls_active is True
    outcome.close()


# ---- TL-01 ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_TL_01_untrusted_self_signed_certificate(
    scripted: type[ScriptedServer], sec_connect: SecConnect, client_context: ssl.SSLContext, mode: str
) -> None:
    """A self-signed certificate for the right name: refused during the handshake."""
    leaf = Issuer().issue(dns=["smtp.test"], ips=["127.0.0.1"], self_signed=True)
    server = tls_server(scripted, mode, server_context(*leaf))
    outcome = attempt(sec_connect, server, mode, client_context)
    assert_refused(outcome, server, "self-signed certificate", "certificate verify failed")


# ---- TL-02 ----------------------------------------------------------------------------------------
NAME_CASES = [
    (["other.test"], "smtp.test", False),
    (["*.example.test"], "smtp.example.test", True),
    (["*.example.test"], "a.smtp.example.test", False),  # a wildcard covers one label only
    (["*mtp.example.test"], "smtp.example.test", False),  # partial wildcards are refused
    (["s*.example.test"], "smtp.example.test", False),
    (["*.test"], "smtp.test", False),  # OpenSSL: no wildcard directly under a top-level label
    (["smtp.test"], "smtp.test", True),
]


@pytest.mark.parametrize("case", NAME_CASES, ids=[f"{c[0][0]}-{c[1]}" for c in NAME_CASES])
def test_TL_02_wrong_hostname_and_wildcards(
    scripted: type[ScriptedServer],
    sec_connect: SecConnect,
    client_context: ssl.SSLContext,
    ca: trustme.CA,
    case: tuple[list[str], str, bool],
) -> None:
    """Only a certificate for the name asked (RFC 6125: a wildcard only as the whole leftmost
    label) is accepted, whatever CA signed it."""
    names, host, ok = case
    leaf = Issuer.from_trustme(ca).issue(dns=names)
    server = tls_server(scripted, "implicit", server_context(*leaf))
    outcome = attempt(sec_connect, server, "implicit", client_context, server_hostname=host)
    if ok:
        assert_accepted(outcome)
        server.join()
    else:
        assert_refused(outcome, server, "Hostname mismatch", "doesn't match")


@pytest.mark.parametrize("mode", ["starttls"])
def test_TL_02_wrong_hostname_starttls(
    scripted: type[ScriptedServer],
    sec_connect: SecConnect,
    client_context: ssl.SSLContext,
    ca: trustme.CA,
    mode: str,
) -> None:
    leaf = Issuer.from_trustme(ca).issue(dns=["other.test"])
    server = tls_server(scripted, mode, server_context(*leaf))
    outcome = attempt(sec_connect, server, mode, client_context, server_hostname="smtp.test")
    assert_refused(outcome, server, "Hostname mismatch")


# ---- TL-03 ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_TL_03_chain_checked_not_just_the_name(
    scripted: type[ScriptedServer], sec_connect: SecConnect, client_context: ssl.SSLContext, mode: str
) -> None:
    """Ruby HackerOne 980249: the right SAN, signed by a CA the client does not trust."""
    leaf = Issuer().issue(dns=["smtp.test"], ips=["127.0.0.1"])
    server = tls_server(scripted, mode, server_context(*leaf))
    outcome = attempt(sec_connect, server, mode, client_context, server_hostname="smtp.test")
    assert_refused(outcome, server, "unable to get local issuer certificate", "certificate verify failed")


# ---- TL-04 ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_TL_04_sni(
    scripted: type[ScriptedServer],
    sec_connect: SecConnect,
    client_context: ssl.SSLContext,
    ca: trustme.CA,
    mode: str,
) -> None:
    """The ClientHello's server_name, recorded by the server's sni_callback:

    * by host name (``localhost``): SNI is the name, and it is what is verified;
    * by IP literal: no SNI at all, and verification uses an IP SAN (a DNS SAN spelling
      "127.0.0.1" does not count);
    * ``server_hostname="smtp.test"`` while connecting to 127.0.0.1: SNI and verification
      use the override (the pinned-IP case).
    """
    issuer = Issuer.from_trustme(ca)

    def run(leaf: tuple[bytes, bytes], host: str | None, **options: Any) -> tuple[Any, list[str | None]]:
        sni: list[str | None] = []
        server = tls_server(scripted, mode, server_context(*leaf, sni=sni))
        where = f"{host}:{server.port}" if host else server
        outcome = attempt(sec_connect, where, mode, client_context, **options)
        if not isinstance(outcome, BaseException):
            assert_accepted(outcome)
            outcome = "accepted"
        server.join()
        return outcome, sni

    assert run(issuer.issue(dns=["localhost"]), "localhost", family=socket.AF_INET) == (
        "accepted",
        ["localhost"],
    )
    assert run(issuer.issue(ips=["127.0.0.1"]), None) == ("accepted", [None])
    outcome, sni = run(issuer.issue(dns_literal=["127.0.0.1"]), None)
    assert isinstance(outcome, ConnectError | TLSError), "an IP literal matched a DNS SAN"
    assert sni == [None]
    assert run(issuer.issue(dns=["smtp.test"]), None, server_hostname="smtp.test") == (
        "accepted",
        ["smtp.test"],
    )


# ---- TL-05 ----------------------------------------------------------------------------------------
def _legacy_only(context: ssl.SSLContext) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("DEFAULT:@SECLEVEL=0")


def _opt_in(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.TLSv1
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


def _legacy_possible() -> bool:
    """Can this OpenSSL negotiate TLS 1.0/1.1 at all (with SECLEVEL=0)?"""
    if not (ssl.HAS_TLSv1 or ssl.HAS_TLSv1_1):
        return False
    try:
        _legacy_only(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))
    except (ssl.SSLError, ValueError):
        return False
    return True


def _pinned(version: ssl.TLSVersion) -> Callable[[ssl.SSLContext], None]:
    def configure(context: ssl.SSLContext) -> None:
        context.minimum_version = context.maximum_version = version

    return configure


@pytest.mark.parametrize("mode", MODES)
def test_TL_05_protocol_floor(
    scripted: type[ScriptedServer],
    sec_connect: SecConnect,
    client_context: ssl.SSLContext,
    ca: trustme.CA,
    mode: str,
) -> None:
    """A server doing only TLS 1.0/1.1 is refused by default (netsmtp's own context and
    Python's default one); a caller's context can opt in. TLS 1.2 and 1.3 are offered.

    The floor itself is a property of the context: ``netsmtp._tls.default_context()`` pins
    ``minimum_version`` to TLS 1.2 whatever the system's OpenSSL configuration says. When this
    OpenSSL cannot speak TLS 1.0/1.1 at all, only that (and the 1.2/1.3 part) is checked.
    """
    floor = default_context()
    assert floor.minimum_version == ssl.TLSVersion.TLSv1_2
    assert floor.maximum_version in (ssl.TLSVersion.MAXIMUM_SUPPORTED, ssl.TLSVersion.TLSv1_3)
    issuer = Issuer.from_trustme(ca)
    leaf = issuer.issue(dns=["smtp.test"], ips=["127.0.0.1"], rsa_key=True)

    if _legacy_possible():
        server = tls_server(scripted, mode, server_context(*leaf, configure=_legacy_only), connections=3)
        # netsmtp's default context (ssl_context=None) and Python's default: both refuse.
        for context in (None, client_context):
            outcome = attempt(sec_connect, server, mode, context)
            assert isinstance(outcome, ConnectError | TLSError), f"TLS 1.0/1.1 accepted: {outcome!r}"
            assert "version" in str(outcome).lower() or "protocol" in str(outcome).lower(), outcome
        # The opt-in: the caller's own context with a lower floor.
        outcome = attempt(sec_connect, server, mode, _opt_in(ca))
        assert not isinstance(outcome, BaseException), outcome
        assert outcome.tls_version in ("TLSv1", "TLSv1.1")
        outcome.close()
        server.join()
    else:  # pragma: no cover - depends on the OpenSSL build
        assert not ssl.HAS_TLSv1_1 or floor.minimum_version > ssl.TLSVersion.TLSv1_1

    # TLS 1.2 and TLS 1.3 are both offered by the default floor.
    trusting = default_context()
    ca.configure_trust(trusting)
    for version, name in ((ssl.TLSVersion.TLSv1_2, "TLSv1.2"), (ssl.TLSVersion.TLSv1_3, "TLSv1.3")):
        server = tls_server(scripted, mode, server_context(*leaf, configure=_pinned(version)))
        outcome = attempt(sec_connect, server, mode, trusting)
        assert not isinstance(outcome, BaseException), outcome
        assert outcome.tls_version == name
        outcome.close()
        server.join()


# ---- TL-06 ----------------------------------------------------------------------------------------
NOW = datetime.datetime.now(datetime.UTC)


DAY = datetime.timedelta(days=1)
VALIDITY = {
    "expired": (NOW - 30 * DAY, NOW - DAY, "certificate has expired"),
    "not-yet-valid": (NOW + DAY, NOW + 30 * DAY, "certificate is not yet valid"),
}


@pytest.mark.parametrize("case", list(itertools.product(MODES, VALIDITY)), ids="-".join)
def test_TL_06_expired_or_not_yet_valid(
    scripted: type[ScriptedServer],
    sec_connect: SecConnect,
    client_context: ssl.SSLContext,
    ca: trustme.CA,
    case: tuple[str, str],
) -> None:
    """A certificate outside its validity period, from the trusted CA, for the right name."""
    mode, validity = case
    not_before, not_after, why = VALIDITY[validity]
    leaf = Issuer.from_trustme(ca).issue(ips=["127.0.0.1"], not_before=not_before, not_after=not_after)
    server = tls_server(scripted, mode, server_context(*leaf))
    outcome = attempt(sec_connect, server, mode, client_context)
    assert_refused(outcome, server, why)


# ---- TL-07 ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_TL_07_insecure_override_lasts_one_connection(
    scripted: type[ScriptedServer], sec_connect: SecConnect, mode: str, sec_remote: None
) -> None:
    """Geary CVE-2020-24661: "verify off" for connection 1 (where, AU-02, AUTH PLAIN is still
    refused), the same factory with the default for connection 2: the self-signed
    certificate fails again. No context is changed by the client, and the shared default
    context cannot be tainted: one whose checks were switched off is not used again."""
    leaf = Issuer().issue(ips=["127.0.0.1"], self_signed=True)
    server = tls_server(scripted, mode, server_context(*leaf), connections=3)
    insecure = insecure_context()

    def open_client(context: ssl.SSLContext | None) -> Any:
        return attempt(sec_connect, server, mode, context)

    first = open_client(insecure)
    assert not isinstance(first, BaseException), first
    assert first.tls_active is True
    with pytest.raises(AuthPolicyError):  # unverified TLS does not count as TLS for AUTH
        first.auth("tim", "tanstaaftanstaaf", mechanism="PLAIN")
    first.close()
    assert (insecure.verify_mode, insecure.check_hostname) == (ssl.CERT_NONE, False)

    second = open_client(None)
    assert isinstance(second, ConnectError | TLSError), "the insecure setting outlived its connection"
    assert "certificate verify failed" in str(second)
    # The default context is shared (loading the CA bundle per connection cost 20-80 ms),
    # so it must not be taintable: one whose checks were switched off is never used again.
    shared = default_context()
    assert (shared.verify_mode, shared.check_hostname) == (ssl.CERT_REQUIRED, True)
    shared.check_hostname = False
    shared.verify_mode = ssl.CERT_NONE
    fresh = default_context()
    assert fresh is not shared
    assert (fresh.verify_mode, fresh.check_hostname) == (ssl.CERT_REQUIRED, True)
    third = open_client(None)
    assert isinstance(third, ConnectError | TLSError), "a tainted default context was used"
    assert "certificate verify failed" in str(third)
    server.join()


# ---- TL-08 ----------------------------------------------------------------------------------------
def test_TL_08_implicit_tls_port_answering_in_plaintext(
    scripted: type[ScriptedServer], sec_connect: SecConnect, client_context: ssl.SSLContext
) -> None:
    """``220 hi`` in clear on the "SSL" port: a handshake error, no fallback to plaintext SMTP,
    and nothing written after the ClientHello (but perhaps a TLS alert)."""

    def script(p: Peer) -> None:
        p.send("220 hi\r\n")
        p.read_to_eof()

    server = scripted(script)
    outcome = attempt(sec_connect, server, "implicit", client_context)
    assert isinstance(outcome, ConnectError), outcome
    assert "TLSError" in str(outcome)
    server.join()
    records = tls_records(server.received)
    assert records[0][0] == 0x16  # the ClientHello
    assert all(kind == 0x15 for kind, _ in records[1:])  # at most an alert after it
    assert b"EHLO" not in server.received and b"HELO" not in server.received


# ---- TL-09 ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_TL_09_the_default_constructor_verifies(
    scripted: type[ScriptedServer], sec_make: SecConnect, mode: str
) -> None:
    """A bare ``SMTP(host)`` + ``starttls()`` (and ``SMTP(host, ssl=True)``) rejects TL-01's
    self-signed certificate: unlike smtplib, and like Net::SMTP over IO::Socket::SSL."""
    leaf = Issuer().issue(dns=["localhost"], ips=["127.0.0.1"], self_signed=True)
    server = tls_server(scripted, mode, server_context(*leaf))
    if mode == "implicit":
        with pytest.raises(ConnectError, match="certificate verify failed"):
            sec_make(server, ssl=True, hello="client.test")
    else:
        smtp = sec_make(server, hello="client.test")
        assert smtp.starttls() is False
        assert "certificate verify failed" in smtp.message()
        assert smtp.tls_active is False
    server.join()
    assert tls_part(server) == b""


def test_TL_09_default_context_properties() -> None:
    context = default_context()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
