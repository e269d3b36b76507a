"""TLS defaults (SPEC A6): verify the certificate and the host name, TLS 1.2 or newer."""

from __future__ import annotations

import ssl

from ._hosts import is_ip_literal


def default_context() -> ssl.SSLContext:
    """``ssl.create_default_context()`` with the floor pinned at TLS 1.2."""
    context = ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def verifies(context: ssl.SSLContext) -> bool:
    """True when ``context`` checks both the certificate chain and the host name."""
    return context.verify_mode != ssl.CERT_NONE and context.check_hostname


def verify_name(host: str, override: str | None) -> str:
    """The name checked against the certificate (and sent as SNI unless it is an IP)."""
    name = override or host
    return name.strip("[]")


def sends_sni(name: str) -> bool:
    return not is_ip_literal(name)
