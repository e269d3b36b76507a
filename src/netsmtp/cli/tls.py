"""TLS for the command line: contexts from --cafile/--insecure, and what the handshake gave.

``netsmtp.SMTP`` does the handshakes; the command line only needs to *see* the result
(protocol, cipher, the server's certificate). ``SMTP`` has no public accessor for the
peer certificate, so :class:`HandshakeRecorder` uses the documented
``SSLContext.sslsocket_class`` hook: every socket wrapped by the context records what its
handshake produced.
"""

from __future__ import annotations

import ssl
import sys
from dataclasses import dataclass
from typing import Any

from .certinfo import CertInfo, parse_certificate

INSECURE_WARNING = (
    "netsmtp: WARNING: --insecure: the server's certificate and name are NOT checked. "
    "Anyone on the path can read and change this session, passwords included."
)


@dataclass
class Handshake:
    version: str | None
    cipher: tuple[str, str, int] | None
    certificate: CertInfo | None
    verified: bool

    def summary(self) -> str:
        parts = [self.version or "TLS"]
        if self.cipher:
            parts.append(f"{self.cipher[0]} ({self.cipher[2]} bits)")
        text = ", ".join(parts)
        cert = self.certificate
        if cert is not None:
            who = f"CN={cert.common_name}" if cert.common_name else cert.subject
            names = f" for {', '.join(cert.names)}" if cert.names else ""
            expires = f", expires {cert.not_after:%Y-%m-%d}" if cert.not_after else ""
            text += f"; certificate {who}{names}{expires}"
        text += "; verified" if self.verified else "; NOT VERIFIED (--insecure)"
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "cipher": self.cipher[0] if self.cipher else None,
            "bits": self.cipher[2] if self.cipher else None,
            "verified": self.verified,
            "certificate": self.certificate.as_dict() if self.certificate else None,
        }


class HandshakeRecorder:
    """Attach to a context; :attr:`last` is the latest completed handshake through it."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self.last: Handshake | None = None
        recorder = self
        verified = context.verify_mode != ssl.CERT_NONE

        class RecordingSocket(ssl.SSLSocket):
            def do_handshake(self, block: bool = False) -> None:
                super().do_handshake(block)
                recorder._record(self, verified)

        context.sslsocket_class = RecordingSocket

    def _record(self, sock: ssl.SSLSocket, verified: bool) -> None:
        der = sock.getpeercert(binary_form=True)
        cert: CertInfo | None = None
        if der:
            try:
                cert = parse_certificate(der)
            except ValueError:
                cert = None
        self.last = Handshake(sock.version(), sock.cipher(), cert, verified)


def make_context(cafile: str | None = None, insecure: bool = False) -> ssl.SSLContext:
    """A client context: verified against the system store, or only ``cafile``; or not at all."""
    context = ssl.create_default_context(cafile=cafile)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def unverified_context() -> ssl.SSLContext:
    """For looking at a certificate that failed verification; never for sending."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def warn_insecure() -> None:
    print(INSECURE_WARNING, file=sys.stderr, flush=True)
