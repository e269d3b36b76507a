"""TLS defaults (SPEC A6): verify the certificate and the host name, TLS 1.2 or newer."""

from __future__ import annotations

import os
import ssl

from ._hosts import is_ip_literal

# The default context, made once per trust-store setting: loading the system's CA bundle
# takes 20 to 80 ms, which every connection paid. Contexts are safe to share between
# threads and connections. This one is never handed to callers; should anything reach it
# and switch verification off, it is not used again (checked at every use).
_contexts: dict[tuple[str | None, str | None], ssl.SSLContext] = {}  # (one entry at most)


def default_context() -> ssl.SSLContext:
    """``ssl.create_default_context()`` with the floor pinned at TLS 1.2.

    The same context is returned while ``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` (which
    choose the CA bundle OpenSSL loads) keep their values; a change makes a new one.
    """
    key = (os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
    context = _contexts.get(key)
    if context is None or not _untouched(context):  # (SECURITY TL-07: a weakened one is dropped)
        context = ssl.create_default_context()
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        _contexts.clear()
        _contexts[key] = context
    return context


def _untouched(context: ssl.SSLContext) -> bool:
    """The shared default still verifies as made: nobody switched its checks off."""
    return (
        context.verify_mode == ssl.CERT_REQUIRED
        and context.check_hostname
        and context.minimum_version >= ssl.TLSVersion.TLSv1_2
    )


def verifies(context: ssl.SSLContext) -> bool:
    """True when ``context`` checks both the certificate chain and the host name."""
    return context.verify_mode != ssl.CERT_NONE and context.check_hostname


def verify_name(host: str, override: str | None) -> str:
    """The name checked against the certificate (and sent as SNI unless it is an IP)."""
    name = override or host
    return name.strip("[]")


def sends_sni(name: str) -> bool:
    return not is_ip_literal(name)
