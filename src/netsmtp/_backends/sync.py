"""Blocking sockets and TLS, with netsmtp's errors at the boundary (DESIGN "Streams")."""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import time
from typing import Any

from .._exceptions import ConnectError, ConnectionLost, SMTPTimeout, TLSError

READ_SIZE = 65536

# Plain TCP and Unix sockets run in blocking mode where MSG_DONTWAIT and poll() exist:
# a command is then written with one system call, not two (see PlainStream).
_PLAIN_STREAMS = hasattr(socket, "MSG_DONTWAIT") and hasattr(select, "poll")


def _remaining(deadline: float | None) -> float | None:
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise SMTPTimeout("no reply within the timeout")
    return left


def resolve(host: str, port: int, family: int) -> list[tuple[int, tuple[Any, ...]]]:
    """Every address ``host`` resolves to, in the resolver's order."""
    try:
        infos = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise ConnectError(f"cannot resolve {host!r}: {exc.strerror}") from exc
    except UnicodeError as exc:
        raise ConnectError(f"cannot resolve {host!r}: {exc}") from exc
    return [(info[0], info[4]) for info in infos]


def _close_orphan(exc: BaseException) -> None:
    """Close the SSLSocket that a failed ``wrap_socket`` may leave open.

    ``wrap_socket`` moves the descriptor into a new SSLSocket before the handshake. On a
    socket the server has already reset, ``SSLSocket._create`` probes it with ``recv(1)``
    and lets the ECONNRESET escape without closing that SSLSocket (CPython 3.11 to 3.13):
    the descriptor leaks until the garbage collector finds it. The traceback is the only
    place that still refers to it. ``close()`` is idempotent, so the sockets the other
    failure paths closed already are left as they are.
    """
    tb = exc.__traceback__
    while tb is not None:
        candidate = tb.tb_frame.f_locals.get("self")
        if isinstance(candidate, ssl.SSLSocket):
            with contextlib.suppress(OSError):
                candidate.close()
        tb = tb.tb_next


class SocketStream:
    """A connected socket, plain or TLS."""

    __slots__ = ("_poll", "_timeout", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._timeout: float | None = sock.gettimeout()
        self._poll = select.poll() if hasattr(select, "poll") else None
        if self._poll is not None:
            self._poll.register(sock, select.POLLIN)

    @classmethod
    def open(
        cls,
        family: int,
        sockaddr: tuple[Any, ...],
        local: tuple[str, int] | None,
        timeout: float | None,
    ) -> SocketStream:
        unix = family == getattr(socket, "AF_UNIX", None)
        sock = socket.socket(family, socket.SOCK_STREAM, 0 if unix else socket.IPPROTO_TCP)
        try:
            sock.settimeout(timeout)
            if local is not None:
                sock.bind(local)
            sock.connect(sockaddr[0] if unix else sockaddr)
            # Commands and message batches are written whole; never let Nagle hold the
            # last segment back waiting for an ACK (Net::SMTP's 40 ms stall per message).
            if not unix:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except TimeoutError as exc:
            sock.close()
            raise SMTPTimeout(f"connect timed out after {timeout} s") from exc
        except OSError as exc:
            sock.close()
            raise ConnectError(exc.strerror or str(exc)) from exc
        if cls is SocketStream and _PLAIN_STREAMS:
            return PlainStream(sock)
        return cls(sock)

    @property
    def local_address(self) -> str | None:
        try:
            return str(self.sock.getsockname()[0])
        except (OSError, IndexError):
            return None

    def _set_timeout(self, timeout: float | None) -> None:
        # settimeout() is a system call (ioctl) every time: only make it when the value
        # changes. Reads reuse the full timeout set for the write before them unless part
        # of the reply already arrived and less time is left.
        if timeout != self._timeout:
            self.sock.settimeout(timeout)
            self._timeout = timeout

    def read(self, deadline: float | None) -> bytes:
        left = _remaining(deadline)
        if left != self._timeout and (left is None or self._timeout is None or left < self._timeout - 0.01):
            self._set_timeout(left)
        try:
            return self.sock.recv(READ_SIZE)
        except TimeoutError as exc:
            raise SMTPTimeout("no reply within the timeout") from exc
        except ssl.SSLError as exc:
            raise ConnectionLost(f"TLS error while reading: {exc}") from exc
        except OSError as exc:
            raise ConnectionLost(f"read failed: {exc.strerror or exc}") from exc

    def read_nowait(self) -> bytes:
        """What has already arrived, without waiting: b"" when nothing has (an EOF is left
        for the next read to find). One poll() system call when nothing is there."""
        sock = self.sock
        tls = isinstance(sock, ssl.SSLSocket)
        if not (isinstance(sock, ssl.SSLSocket) and sock.pending()):
            if self._poll is not None:
                if not self._poll.poll(0):
                    return b""
            elif not select.select([sock], [], [], 0)[0]:
                return b""
        try:
            if not tls:
                return sock.recv(READ_SIZE)  # readable: returns at once (data, or b"" at EOF)
            # A readable TLS socket may hold only a record that is not data (a session
            # ticket): read without blocking, then put the timeout back.
            sock.settimeout(0)
            try:
                return sock.recv(READ_SIZE)
            except ssl.SSLWantReadError:
                return b""
            finally:
                sock.settimeout(self._timeout)
        except ssl.SSLError as exc:
            raise ConnectionLost(f"TLS error while reading: {exc}") from exc
        except OSError as exc:
            raise ConnectionLost(f"read failed: {exc.strerror or exc}") from exc

    def write(self, data: bytes | memoryview, timeout: float | None) -> None:
        if timeout != self._timeout:  # (the usual case, checked here: no call)
            self._set_timeout(timeout)
        try:
            self.sock.sendall(data)
        except TimeoutError as exc:
            raise SMTPTimeout("the server did not accept data within the timeout") from exc
        except OSError as exc:
            raise ConnectionLost(f"write failed: {exc.strerror or exc}") from exc

    def start_tls(
        self, context: ssl.SSLContext, server_hostname: str | None, timeout: float | None
    ) -> SocketStream:
        self.sock.settimeout(timeout)
        try:
            wrapped = context.wrap_socket(self.sock, server_hostname=server_hostname)
        except TimeoutError as exc:
            _close_orphan(exc)
            raise SMTPTimeout("TLS handshake timed out") from exc
        except (ssl.SSLError, ssl.CertificateError) as exc:
            _close_orphan(exc)
            raise TLSError(f"TLS handshake failed: {exc}") from exc
        except OSError as exc:
            _close_orphan(exc)
            raise TLSError(f"TLS handshake failed: {exc.strerror or exc}") from exc
        if wrapped.version() is None:
            # On a socket the server already reset, wrap_socket skips the handshake and
            # returns the socket unencrypted: never take that for TLS.
            wrapped.close()
            raise TLSError("TLS handshake failed: the server closed the connection before it")
        return SocketStream(wrapped)

    def tls_info(self) -> tuple[str | None, tuple[str, str, int] | None]:
        if isinstance(self.sock, ssl.SSLSocket):
            return self.sock.version(), self.sock.cipher()
        return None, None

    def peer_certificate(self) -> bytes | None:
        """The server's certificate (DER) while TLS is active: for channel binding."""
        if isinstance(self.sock, ssl.SSLSocket):
            with contextlib.suppress(ValueError, OSError):
                return self.sock.getpeercert(binary_form=True)
        return None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class PlainStream(SocketStream):
    """A plain socket in blocking mode, netsmtp doing the waiting itself.

    The semantics are SocketStream's: one deadline for a whole reply, one for a whole write,
    and a check for early replies that never waits. The cost differs where it is paid
    most: a command is written with one ``send`` (MSG_DONTWAIT: it fits in the socket
    buffer), where a socket with a Python timeout polls first; only a write that does not
    fit waits for room. Reads wait in ``poll()``, which resumes after a signal for what is
    left of the deadline (a kernel receive timeout, SO_RCVTIMEO, would start again: an
    application's 50 ms timer could keep a silent server's read alive for ever). TLS stays
    with SocketStream.
    """

    __slots__ = ()

    def __init__(self, sock: socket.socket) -> None:
        timeout = sock.gettimeout()
        super().__init__(sock)
        sock.settimeout(None)  # blocking: no poll() before each send
        self._timeout = timeout  # (only recorded: every wait here computes its own deadline)

    def _set_timeout(self, timeout: float | None) -> None:
        self._timeout = timeout

    def read(self, deadline: float | None) -> bytes:
        sock, readable = self.sock, self._poll
        assert readable is not None  # (PlainStream is made only where poll() exists)
        while True:
            left = _remaining(deadline)
            try:
                if not readable.poll(None if left is None else left * 1000):
                    continue  # the deadline passed: _remaining() raises
                return sock.recv(READ_SIZE, socket.MSG_DONTWAIT)
            except BlockingIOError:
                continue  # readable, yet nothing to read: wait again
            except OSError as exc:
                raise ConnectionLost(f"read failed: {exc.strerror or exc}") from exc

    def read_nowait(self) -> bytes:
        """SocketStream's check for early replies, for a plain socket only: it runs before
        every command, so it skips the TLS cases (two isinstance checks and their branches)
        and reads with MSG_DONTWAIT (readable yet nothing there is b"", not a wait)."""
        if not self._poll.poll(0):  # type: ignore[union-attr]
            return b""
        try:
            return self.sock.recv(READ_SIZE, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return b""
        except OSError as exc:
            raise ConnectionLost(f"read failed: {exc.strerror or exc}") from exc

    def write(self, data: bytes | memoryview, timeout: float | None) -> None:
        try:
            sent = self.sock.send(data, socket.MSG_DONTWAIT)
        except BlockingIOError:  # the socket buffer is full: not one byte fitted
            sent = 0
        except OSError as exc:
            raise ConnectionLost(f"write failed: {exc.strerror or exc}") from exc
        if sent != len(data):  # else a command, a batch or a small message: the usual case
            self._write_rest(memoryview(data)[sent:], timeout)

    def _write_rest(self, view: memoryview, timeout: float | None) -> None:
        """Write what did not fit at once, waiting for room, within one deadline."""
        sock = self.sock
        deadline = None if timeout is None else time.monotonic() + timeout
        writable = select.poll()
        writable.register(sock, select.POLLOUT)
        while view:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise SMTPTimeout("the server did not accept data within the timeout")
            if not writable.poll(None if left is None else max(1, int(left * 1000) + 1)):
                continue  # (the deadline is checked above)
            try:
                view = view[sock.send(view, socket.MSG_DONTWAIT) :]
            except BlockingIOError:
                continue
            except OSError as exc:
                raise ConnectionLost(f"write failed: {exc.strerror or exc}") from exc
