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
import os
import socket
import ssl
from typing import Any, cast

from .._exceptions import ConnectError, ConnectionLost, ProtocolError, SMTPTimeout, TLSError

HIGH_WATER = 1024 * 1024
HANDSHAKE_BACKSTOP = 86400.0  # timeout=None means no limit; the loop insists on one


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

    @property
    def write_blocked(self) -> bool:
        """True while the transport holds more than its high-water mark (flow control)."""
        return self._paused and not self.eof

    async def drain(self) -> None:
        if self.write_blocked:
            self._writer = asyncio.get_running_loop().create_future()
            try:
                await self._writer
            finally:
                self._writer = None


async def resolve(host: str, port: int, family: int) -> list[tuple[int, tuple[Any, ...]]]:
    # socket.getaddrinfo in a worker thread, as asyncio's own loop.getaddrinfo does, and not
    # the loop's method: uvloop resolves through libuv instead, and the blocking client, the
    # default loop and uvloop must see the same addresses, in the same order, with the same
    # errors (SPEC A13: every address is tried in the resolver's order).
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.run_in_executor(
            None, socket.getaddrinfo, host, port, family, socket.SOCK_STREAM, socket.IPPROTO_TCP
        )
    except socket.gaierror as exc:
        raise ConnectError(f"cannot resolve {host!r}: {exc.strerror}") from exc
    except UnicodeError as exc:
        raise ConnectError(f"cannot resolve {host!r}: {exc}") from exc
    return [(info[0], info[4]) for info in infos]


def _reason(exc: OSError) -> str:
    """The OS's words, as the blocking client reports them ("Connection refused"): asyncio's
    sock_connect puts "Connect call failed (address)" where strerror usually is."""
    if exc.errno:
        return os.strerror(exc.errno)
    return exc.strerror or str(exc)


class AsyncStream:
    """A connected transport, plain or TLS, with bounded waits.

    ``open()`` only connects the socket; the asyncio transport is made on first use: by the
    first read or write, or by the handshake of implicit TLS. Until then nothing is read
    (transports read eagerly), so, as with the blocking client, an implicit-TLS handshake
    meets the server's very first bytes: a server answering in plaintext fails it
    (TLSError) instead of leaving them in the buffer.
    """

    def __init__(
        self,
        transport: asyncio.Transport | None,
        protocol: _SMTPProtocol | None,
        sock: socket.socket | None = None,
    ) -> None:
        self._transport = transport
        self._protocol = protocol
        self._sock = sock  # connected, not attached to a transport yet

    @property
    def transport(self) -> asyncio.Transport:
        if self._transport is None:
            raise ConnectionLost("the connection is not set up")
        return self._transport

    @property
    def protocol(self) -> _SMTPProtocol:
        if self._protocol is None:
            raise ConnectionLost("the connection is not set up")
        return self._protocol

    async def _attach(self) -> None:
        """Wrap the connected socket in a plain transport (on its first read or write)."""
        if self._transport is not None:
            return
        sock, self._sock = self._sock, None
        if sock is None:
            raise ConnectionLost("the connection is closed")
        loop = asyncio.get_running_loop()
        try:
            transport, protocol = await loop.create_connection(_SMTPProtocol, sock=sock)
        except OSError as exc:
            sock.close()
            raise ConnectionLost(f"connection failed: {_reason(exc)}") from exc
        except BaseException:
            sock.close()
            raise
        self._transport, self._protocol = transport, protocol

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
        except TimeoutError as exc:
            sock.close()
            raise SMTPTimeout(f"connect timed out after {timeout} s") from exc
        except OSError as exc:
            sock.close()
            raise ConnectError(_reason(exc)) from exc
        except BaseException:
            sock.close()
            raise
        return cls(None, None, sock)

    @property
    def local_address(self) -> str | None:
        if self._sock is not None:
            name = self._sock.getsockname()
        else:
            name = self.transport.get_extra_info("sockname")
        return str(name[0]) if name and isinstance(name, tuple) else None

    async def read(self, deadline: float | None) -> bytes:
        """Everything received so far (at least one byte), or b"" at EOF."""
        await self._attach()
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

    def take_buffered(self) -> bytes:
        """What the protocol has received and nobody read yet, without waiting (b"" if
        nothing): no system call, the loop has already delivered it."""
        protocol = self._protocol
        if protocol is None or not protocol.buffer:
            return b""
        data = bytes(protocol.buffer)
        protocol.buffer.clear()
        self.transport.resume_reading()
        return data

    async def write(self, data: bytes | memoryview, timeout: float | None) -> None:
        await self._attach()
        if self.transport.is_closing():
            raise ConnectionLost("write failed: the connection is closed")
        self.transport.write(data)
        if self.protocol.write_blocked:  # most writes are not: no timer to arm and cancel
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
        loop = asyncio.get_running_loop()
        # The handshake is bounded here, as every other wait: the loop's own
        # ssl_handshake_timeout aborts with a ConnectionAbortedError (a TLSError, not the
        # SMTPTimeout the blocking client raises), so it is only a backstop.
        backstop = HANDSHAKE_BACKSTOP if timeout is None else timeout + 60
        sock, self._sock = self._sock, None
        handed_over = False
        try:
            async with asyncio.timeout(timeout):
                if sock is not None:  # implicit TLS: the handshake is the first thing on the socket
                    transport, protocol = await loop.create_connection(
                        _SMTPProtocol,
                        sock=sock,
                        ssl=context,
                        server_hostname=server_hostname,
                        ssl_handshake_timeout=backstop,
                    )
                    handed_over = True
                    return AsyncStream(transport, protocol)
                if self.protocol.buffer:
                    raise ProtocolError("unread bytes from the server before the TLS handshake (injection?)")
                upgraded = await loop.start_tls(
                    self.transport,
                    self.protocol,
                    context,
                    server_hostname=server_hostname,
                    ssl_handshake_timeout=backstop,
                )
        except TimeoutError as exc:
            raise SMTPTimeout("TLS handshake timed out") from exc
        except (ssl.SSLError, ssl.CertificateError) as exc:
            raise TLSError(f"TLS handshake failed: {exc}") from exc
        except (OSError, ConnectionError, ValueError) as exc:
            raise TLSError(f"TLS handshake failed: {exc}") from exc
        finally:
            if sock is not None and not handed_over:
                sock.close()  # a failed (or cancelled) implicit-TLS handshake
        if upgraded is None:  # pragma: no cover - only for a closed transport
            raise TLSError("TLS handshake failed: the connection closed")
        return AsyncStream(upgraded, self.protocol)

    def tls_info(self) -> tuple[str | None, tuple[str, str, int] | None]:
        if self._transport is None:
            return None, None
        ssl_object = self._transport.get_extra_info("ssl_object")
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
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()
        if self._transport is not None:
            with contextlib.suppress(Exception):
                self._transport.abort()
