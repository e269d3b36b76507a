"""Helpers for the SECURITY.md catalogue tests (ST-, SD-, TL-, AU-, RS-).

Server-side steps for the scripted server, byte-capture views (plaintext / inside TLS),
a small PKI on top of the test CA (expired, not-yet-valid, self-signed, wrong-CA, partial
wildcard and IP-as-DNS-name leaves), and the open-descriptor checks of SECURITY H5.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import gc
import ipaddress
import os
import ssl
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from tests.helpers.scripted import Peer, ScriptedServer, ehlo_lines

HELLO = "client.test"
EHLO = f"EHLO {HELLO}\r\n".encode()
HELO = f"HELO {HELLO}\r\n".encode()
STARTTLS = b"STARTTLS\r\n"
QUIT = b"QUIT\r\n"
TLS_HANDSHAKE = 0x16  # first byte of a TLS handshake record (the ClientHello)


# ---- server-side steps ------------------------------------------------------------------------
def greet(p: Peer, *capabilities: str, name: str = "test.example") -> None:
    """Greet, expect the client's EHLO, answer it with ``capabilities``."""
    p.send(f"220 {name} ESMTP ready\r\n")
    p.expect(EHLO)
    p.reply(*ehlo_lines(*capabilities, name=name))


def accept_starttls(p: Peer, *before: str) -> None:
    """Greet advertising ``before`` + STARTTLS, accept STARTTLS with 220, handshake."""
    greet(p, *before, "STARTTLS")
    p.expect("STARTTLS")
    p.reply("220 2.0.0 Ready to start TLS")
    p.starttls()


def serve_quit(p: Peer) -> None:
    """The client sends QUIT (and nothing else), gets 221 and closes."""
    p.expect("QUIT")
    p.reply("221 2.0.0 bye")
    assert p.at_eof(), "the client did not close after QUIT"


def quit_or_eof(p: Peer) -> None:
    """The client may send QUIT (answered) and then must close; nothing else may come."""
    line = p.readline()
    if line:
        assert line == QUIT, f"the client sent {line!r}; only QUIT was allowed"
        p.reply("221 2.0.0 bye")
        assert p.at_eof(), "the client did not close after QUIT"


def closed_silently(p: Peer, wait: float = 2.0) -> None:
    """The client closes within ``wait`` seconds without sending one more byte."""
    rest = p.read_to_eof(wait)
    assert rest == b"", f"the client sent {rest!r} before closing"


def assert_quiet(p: Peer, wait: float = 0.15) -> None:
    """Nothing more arrives for ``wait`` seconds: the client waits for our reply."""
    assert not p.buffer, f"the client sent {p.buffer!r} without waiting for the reply"
    p.sock.settimeout(wait)
    try:
        data = p.sock.recv(1024)
    except TimeoutError:
        return
    finally:
        p.sock.settimeout(p.server.io_timeout)
    raise AssertionError(f"the client sent {data!r} without waiting for the reply")


def peek(p: Peer, n: int, wait: float = 2.0) -> bytes:
    """The next ``n`` bytes from the client, left unread in the socket (MSG_PEEK)."""
    import socket

    assert not p.buffer, f"already buffered: {p.buffer!r}"
    p.sock.settimeout(wait)
    deadline = time.monotonic() + wait
    try:
        while True:
            data = p.sock.recv(n, socket.MSG_PEEK)
            if len(data) >= n or not data or time.monotonic() > deadline:
                return data
            time.sleep(0.005)
    finally:
        p.sock.settimeout(p.server.io_timeout)


def failed_handshake(p: Peer) -> None:
    """The server's half of a TLS handshake the client is expected to abort."""
    with contextlib.suppress(ssl.SSLError, OSError):
        p.starttls()
        p.read_to_eof()


def steps(*parts: Callable[[Peer], Any]) -> Callable[[Peer], None]:
    def run(p: Peer) -> None:
        for part in parts:
            part(p)

    return run


# ---- what the client wrote -----------------------------------------------------------------------
def plain_part(server: ScriptedServer) -> bytes:
    """Every byte the client wrote in plaintext."""
    return b"".join(data for tls, data in server.segments if not tls)


def tls_part(server: ScriptedServer) -> bytes:
    """Every byte the client wrote inside TLS (decrypted)."""
    return b"".join(data for tls, data in server.segments if tls)


def tls_records(data: bytes) -> list[tuple[int, int]]:
    """``(content type, length)`` of each TLS record in ``data``; AssertionError if ``data``
    is not a sequence of whole TLS records."""
    records = []
    rest = data
    while rest:
        assert len(rest) >= 5 and rest[1] == 3, f"not a TLS record: {rest[:16]!r}"
        length = int.from_bytes(rest[3:5], "big")
        assert len(rest) >= 5 + length, "a truncated TLS record"
        records.append((rest[0], length))
        rest = rest[5 + length :]
    return records


def b64(data: str | bytes) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def secret_forms(*secrets: str | bytes) -> list[str]:
    """Each secret as text and as base64 (whole), for the leak checks."""
    forms: list[str] = []
    for secret in secrets:
        raw = secret.encode() if isinstance(secret, str) else secret
        forms.append(raw.decode("latin-1"))
        forms.append(base64.b64encode(raw).decode())
    return forms


# ---- certificates --------------------------------------------------------------------------------
Key = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


class Issuer:
    """A CA that signs whatever leaf a test needs; ``Issuer.from_trustme(ca)`` signs with the
    test CA (the one the client trusts), ``Issuer()`` is a fresh CA nobody trusts."""

    def __init__(self, key: Key | None = None, cert: x509.Certificate | None = None) -> None:
        if key is None or cert is None:
            key = ec.generate_private_key(ec.SECP256R1())
            name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "netsmtp untrusted test CA")])
            now = datetime.datetime.now(datetime.UTC)
            cert = (
                x509.CertificateBuilder()
                .subject_name(name)
                .issuer_name(name)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=30))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(
                    x509.KeyUsage(
                        digital_signature=True,
                        content_commitment=False,
                        key_encipherment=False,
                        data_encipherment=False,
                        key_agreement=False,
                        key_cert_sign=True,
                        crl_sign=True,
                        encipher_only=False,
                        decipher_only=False,
                    ),
                    critical=True,
                )
                .sign(key, hashes.SHA256())
            )
        self.key = key
        self.cert = cert

    @classmethod
    def from_trustme(cls, ca: trustme.CA) -> Issuer:
        key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
        return cls(key, x509.load_pem_x509_certificate(ca.cert_pem.bytes()))

    def issue(
        self,
        *,
        dns: Iterable[str] = (),
        ips: Iterable[str] = (),
        dns_literal: Iterable[str] = (),
        not_before: datetime.datetime | None = None,
        not_after: datetime.datetime | None = None,
        self_signed: bool = False,
        rsa_key: bool = False,
    ) -> tuple[bytes, bytes]:
        """A server leaf ``(cert chain PEM, key PEM)``.

        ``dns`` names go in as DNS SANs (wildcards kept as written), ``ips`` as IP SANs,
        ``dns_literal`` as DNS SANs whatever they look like (an IP written as a DNS name).
        ``self_signed``: signed by its own key, no CA at all.
        """
        key: Key = (
            rsa.generate_private_key(65537, 2048) if rsa_key else ec.generate_private_key(ec.SECP256R1())
        )
        now = datetime.datetime.now(datetime.UTC)
        names: list[x509.GeneralName] = [x509.DNSName(n) for n in (*dns, *dns_literal)]
        names += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        first = next(iter([*dns, *dns_literal, *ips]), "leaf")
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, first)])
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject if self_signed else self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or now - datetime.timedelta(days=1))
            .not_valid_after(not_after or now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        )
        cert = builder.sign(key if self_signed else self.key, hashes.SHA256())
        chain = cert.public_bytes(serialization.Encoding.PEM)
        if not self_signed:
            chain += self.cert.public_bytes(serialization.Encoding.PEM)
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return chain, key_pem


def server_context(
    chain: bytes,
    key: bytes,
    *,
    sni: list[str | None] | None = None,
    configure: Callable[[ssl.SSLContext], None] | None = None,
) -> ssl.SSLContext:
    """A server context presenting ``chain``; ``sni`` collects each ClientHello's server_name."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    with tempfile.TemporaryDirectory() as tmp:
        cert_file, key_file = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
        with open(cert_file, "wb") as f:
            f.write(chain)
        with open(key_file, "wb") as f:
            f.write(key)
        context.load_cert_chain(cert_file, key_file)
    if sni is not None:

        def record(_sock: Any, name: str | None, _ctx: Any) -> None:
            sni.append(name)

        context.sni_callback = record
    if configure is not None:
        configure(context)
    return context


def insecure_context() -> ssl.SSLContext:
    """A client context that checks nothing (what a caller does to 'make TLS work')."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


# ---- descriptors (SECURITY H5) --------------------------------------------------------------------
HAVE_PROC_FD = os.path.isdir("/proc/self/fd")


def open_fds() -> dict[int, str]:
    """This process's open descriptors and what each points to."""
    fds: dict[int, str] = {}
    for entry in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            fds[int(entry)] = os.readlink(f"/proc/self/fd/{entry}")
    return fds


def new_fds(before: dict[int, str]) -> dict[int, str]:
    """Descriptors open now that were not open (with the same target) in ``before``."""
    return {fd: target for fd, target in open_fds().items() if before.get(fd) != target}


def assert_no_fd_leak(before: dict[int, str], wait: float = 2.0) -> None:
    """No descriptor opened since ``before`` is still open (after gc), and the count did not
    grow. Waits up to ``wait`` seconds: an asyncio transport closes its socket on the next
    loop iteration after ``abort()``."""
    deadline = time.monotonic() + wait
    while True:
        gc.collect()
        extra = new_fds(before)
        if not extra and len(open_fds()) <= len(before):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"descriptors leaked: {extra} ({len(before)} before, {len(open_fds())} now)")
        time.sleep(0.02)


_warmed: set[int] = set()


def warm_up(runner: Any) -> None:
    """Let an event loop make its one-time descriptors before anything is counted: uvloop
    (libuv) opens a /dev/null descriptor of its own the first time a transport is aborted.
    ``runner`` is a :class:`tests.helpers.clients.LoopThread` (None: nothing to do)."""
    if runner is None or id(runner) in _warmed:
        return
    import netsmtp

    def script(p: Peer) -> None:
        p.send(b"554 not now\r\n")
        p.read_to_eof()

    with ScriptedServer(script) as server:
        with contextlib.suppress(netsmtp.ConnectError):
            runner.call(netsmtp.AsyncSMTP(server.host, hello=HELLO, timeout=2).connect)
        server.join()
    _warmed.add(id(runner))


@contextlib.contextmanager
def no_fd_leak(*servers: ScriptedServer) -> Iterator[dict[int, str]]:
    """Snapshot the descriptors, run the block, stop ``servers`` (their threads hold sockets
    of their own), then check that nothing opened in the block is still open."""
    gc.collect()
    before = open_fds()
    yield before
    for server in servers:
        server.join()
        server.close()
    assert_no_fd_leak(before)
