"""The public methods that need no I/O, shared as they are by every client class."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from typing import Any

from .._core.reply import Reply
from .state import DEFAULT_REPLY_CODE, ClientState


class Accessors(ClientState):
    """banner, domain, host, supports, extensions, the Net::Cmd status methods, close()."""

    _stream: Any

    def close(self) -> None:
        """Drop the connection without QUIT (abandons a message being sent). Idempotent."""
        self._session.close(" (closed by the caller)")
        self._close_transport()

    def banner(self) -> str | None:
        """The greeting's first line of text (no code), or None."""
        greeting = self._session.greeting
        return greeting.lines[0] if greeting is not None and greeting.lines[0] else None

    def domain(self) -> str | None:
        """The server's name: the first word of the banner, or None."""
        words = (self.banner() or "").split()
        return words[0] if words else None

    def host(self) -> str | None:
        """The host string that was connected (as given, with its port if it had one)."""
        return self._connected_host

    def supports(self, keyword: str) -> str | None:
        """The EHLO keyword's parameters (``""`` when it has none), or None if not advertised."""
        caps = self._session.capabilities
        return caps.get(keyword.upper()) if caps is not None else None

    @property
    def extensions(self) -> Mapping[str, str]:
        """The EHLO capability table (empty after a HELO fallback)."""
        caps = self._session.capabilities
        return caps if caps is not None else {}

    @property
    def last_reply(self) -> Reply | None:
        """The last reply read (or made up locally for a failure), or None."""
        return self._last_reply

    @property
    def tls_active(self) -> bool:
        """True once the connection is encrypted (implicit TLS or a completed STARTTLS)."""
        return self._session.tls_active and not self._session.closed

    @property
    def tls_version(self) -> str | None:
        """``"TLSv1.3"`` and the like while TLS is active, else None."""
        return self._stream.tls_info()[0] if self._stream is not None else None

    @property
    def cipher(self) -> tuple[str, str, int] | None:
        """The negotiated cipher ``(name, protocol, bits)`` while TLS is active, else None."""
        return self._stream.tls_info()[1] if self._stream is not None else None

    def peer_certificate(self) -> bytes | None:
        """The server's certificate (DER bytes) while TLS is active, else None.

        ``ssl.DER_cert_to_PEM_cert()`` turns it into PEM; ``cryptography`` can parse it.
        """
        return self._stream.peer_certificate() if self._stream is not None else None

    @staticmethod
    def can_ssl() -> bool:
        """Net::SMTP's ``can_ssl``: TLS support is always there (the ``ssl`` module)."""
        return True

    @staticmethod
    def can_inet6() -> bool:
        """Net::SMTP's ``can_inet6``: True when Python was built with IPv6 support."""
        return socket.has_ipv6

    # ---- Net::Cmd ---------------------------------------------------------------------------
    def code(self) -> int:
        """The last reply code (421 when there has been none)."""
        return self._last_reply.code if self._last_reply is not None else DEFAULT_REPLY_CODE

    def message(self) -> str:
        """The last reply's text, lines joined with newlines."""
        return self._last_reply.text if self._last_reply is not None else ""

    def status(self) -> int:
        """The first digit of :meth:`code` (compare with the ``CMD_*`` constants)."""
        return self.code() // 100

    def ok(self) -> bool:
        """Net::Cmd's ``ok``: ``0 < code() < 400``."""
        return 0 < self.code() < 400

    def debug(self, level: int | None = None) -> int:
        """Set the transcript level (non-zero: lines on stderr); return the previous one."""
        previous = self._transcript.level
        if level is not None:
            self._transcript.level = int(level)
        return previous
