"""asyncio transport for AsyncSMTP: a small Protocol with an explicit buffer.

Streams (``asyncio.StreamReader``) read ahead eagerly and hide what they hold; an SMTP
client must know exactly which bytes it has received when STARTTLS succeeds, or injected
plaintext survives the upgrade (SECURITY ST-01/ST-07). This protocol keeps one buffer,
handed whole to the sans-IO parser on every read, and refuses to start TLS while any
unread byte is buffered.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from typing import Any, cast

from .._exceptions import ConnectError, ConnectionLost, ProtocolError, SMTPTimeout, TLSError

HIGH_WATER = 1024 * 1024


class _SMTPProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = bytearray()
        self.eof = False
        self.error: BaseException | None = None
        self.transport: asyncio.Transport | None = None
        self._reader: asyncio.Future[None] | None = None
        self._writer: asyncio.Future[None] | None = None
        self._paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, only look-alikes.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > HIGH_WATER and self.transport is not None:
            self.transport.pause_reading()  # back-pressure; resumed when the buffer is taken
        self._wake_reader()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake_reader()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.error = exc
        self._wake_reader()
        if self._writer is not None and not self._writer.done():
            self._writer.set_result(None)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        if self._writer is not None and not self._writer.done():
            self._writer.set_result(None)

    def _wake_reader(self) -> None:
        if self._reader is not None and not self._reader.done():
            self._reader.set_result(None)

    async def wait_readable(self) -> None:
        if self.buffer or self.eof:
            return
        self._reader = asyncio.get_running_loop().create_future()
        try:
            await self._reader
        finally:
            self._reader = None

    async def drain(self) -> None:
        if self._paused and not self.eof:
            self._writer = asyncio.get_running_loop().create_future()
            try:
                await self._writer
            finally:
                self._writer = None


async def resolve(host: str, port: int, family: int) -> list[tuple[int, tuple[Any, ...]]]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(
            host, port, family=family, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except socket.gaierror as exc:
        raise ConnectError(f"cannot resolve {host!r}: {exc.strerror}") from exc
    except UnicodeError as exc:
        raise ConnectError(f"cannot resolve {host!r}: {exc}") from exc
    return [(info[0], info[4]) for info in infos]


class AsyncStream:
    """A connected transport, plain or TLS, with bounded waits."""

    def __init__(self, transport: asyncio.Transport, protocol: _SMTPProtocol) -> None:
        self.transport = transport
        self.protocol = protocol

    @classmethod
    async def open(
        cls,
        family: int,
        sockaddr: tuple[Any, ...],
        local: tuple[str, int] | None,
        timeout: float | None,
    ) -> AsyncStream:
        loop = asyncio.get_running_loop()
        unix = family == getattr(socket, "AF_UNIX", None)
        sock = socket.socket(family, socket.SOCK_STREAM, 0 if unix else socket.IPPROTO_TCP)
        try:
            sock.setblocking(False)
            if local is not None:
                sock.bind(local)
            async with asyncio.timeout(timeout):
                await loop.sock_connect(sock, sockaddr[0] if unix else sockaddr)
            if not unix:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            transport, protocol = await loop.create_connection(_SMTPProtocol, sock=sock)
        except TimeoutError as exc:
            sock.close()
            raise SMTPTimeout(f"connect timed out after {timeout} s") from exc
        except OSError as exc:
            sock.close()
            raise ConnectError(exc.strerror or str(exc)) from exc
        except BaseException:
            sock.close()
            raise
        return cls(transport, protocol)

    @property
    def local_address(self) -> str | None:
        name = self.transport.get_extra_info("sockname")
        return str(name[0]) if name else None

    async def read(self, deadline: float | None) -> bytes:
        """Everything received so far (at least one byte), or b"" at EOF."""
        protocol = self.protocol
        if not protocol.buffer and not protocol.eof:
            try:
                async with asyncio.timeout_at(deadline):
                    await protocol.wait_readable()
            except TimeoutError as exc:
                raise SMTPTimeout("no reply within the timeout") from exc
        if protocol.buffer:
            data = bytes(protocol.buffer)
            protocol.buffer.clear()
            self.transport.resume_reading()
            return data
        if protocol.error is not None:
            raise ConnectionLost(f"read failed: {protocol.error}") from protocol.error
        return b""

    async def write(self, data: bytes, timeout: float | None) -> None:
        if self.transport.is_closing():
            raise ConnectionLost("write failed: the connection is closed")
        self.transport.write(data)
        try:
            async with asyncio.timeout(timeout):
                await self.protocol.drain()
        except TimeoutError as exc:
            raise SMTPTimeout("the server did not accept data within the timeout") from exc
        if self.protocol.error is not None:
            raise ConnectionLost(f"write failed: {self.protocol.error}") from self.protocol.error

    async def start_tls(
        self, context: ssl.SSLContext, server_hostname: str | None, timeout: float | None
    ) -> AsyncStream:
        if self.protocol.buffer:
            raise ProtocolError("unread bytes from the server before the TLS handshake (injection?)")
        loop = asyncio.get_running_loop()
        try:
            transport = await loop.start_tls(
                self.transport,
                self.protocol,
                context,
                server_hostname=server_hostname,
                ssl_handshake_timeout=timeout,
            )
        except TimeoutError as exc:
            raise SMTPTimeout("TLS handshake timed out") from exc
        except (ssl.SSLError, ssl.CertificateError) as exc:
            raise TLSError(f"TLS handshake failed: {exc}") from exc
        except (OSError, ConnectionError) as exc:
            raise TLSError(f"TLS handshake failed: {exc}") from exc
        if transport is None:  # pragma: no cover - only for a closed transport
            raise TLSError("TLS handshake failed: the connection closed")
        return AsyncStream(transport, self.protocol)

    def tls_info(self) -> tuple[str | None, tuple[str, str, int] | None]:
        ssl_object = self.transport.get_extra_info("ssl_object")
        if ssl_object is None:
            return None, None
        return ssl_object.version(), ssl_object.cipher()

    def peer_certificate(self) -> bytes | None:
        """The server's certificate (DER) while TLS is active: for channel binding."""
        try:
            ssl_object = self.transport.get_extra_info("ssl_object")
        except ConnectionLost:  # not set up, or closed
            return None
        if ssl_object is None:
            return None
        with contextlib.suppress(ValueError, OSError):
            der = ssl_object.getpeercert(binary_form=True)
            return der if isinstance(der, bytes) else None
        return None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.transport.abort()
