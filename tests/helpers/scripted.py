"""A scripted, byte-exact SMTP server for tests (SECURITY.md H1/H2).

The test gives a *script*: a function that receives a :class:`Peer` and plays the server
side, byte for byte (send exact bytes, read lines, split or merge writes, stall,
half-close, reset, or upgrade the same socket to TLS). Everything the client wrote is
recorded in ``server.received`` (with TLS boundaries in ``server.segments``), so tests
assert on the exact bytes. An assertion failing inside the script is re-raised in the
test by ``server.join()``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable
from typing import Any


class Peer:
    """The server side of one accepted connection."""

    def __init__(self, sock: socket.socket, server: ScriptedServer) -> None:
        self.sock: socket.socket = sock
        self.server = server
        self.buffer = b""
        self.tls = False
        sock.settimeout(server.io_timeout)

    # -- writing ------------------------------------------------------------------------
    def send(self, data: bytes | str) -> None:
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def reply(self, *lines: str) -> None:
        """Send a (multi-line) reply in one write: ``reply("250-a", "250 b")``."""
        self.send("".join(line + "\r\n" for line in lines))

    # -- reading ------------------------------------------------------------------------
    def _fill(self) -> bool:
        try:
            data = self.sock.recv(65536)
        except (ConnectionError, ssl.SSLError, OSError):
            data = b""
        if not data:
            return False
        self.server._record(data, self.tls)
        self.buffer += data
        return True

    def readline(self) -> bytes:
        """One line including its CRLF; b"" at EOF."""
        while b"\n" not in self.buffer:
            if not self._fill():
                line, self.buffer = self.buffer, b""
                return line
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line + b"\n"

    def read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            if not self._fill():
                break
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def read_until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            if not self._fill():
                data, self.buffer = self.buffer, b""
                return data
        data, _, self.buffer = self.buffer.partition(marker)
        return data + marker

    def expect(self, line: bytes | str) -> None:
        """Read one line and assert it is exactly ``line`` (CRLF added when missing)."""
        if isinstance(line, str):
            line = line.encode()
        if not line.endswith(b"\r\n"):
            line += b"\r\n"
        got = self.readline()
        assert got == line, f"server expected {line!r}, got {got!r}"

    def read_data(self) -> bytes:
        """The DATA payload up to and including the end marker."""
        # An empty message is just ".\r\n": look at the first three bytes before deciding,
        # or a lone end marker would be waited on as if it were a message's first line.
        while len(self.buffer) < 3 and self._fill():
            pass
        if self.buffer.startswith(b".\r\n"):
            return self.read(3)
        return self.read_until(b"\r\n.\r\n")

    def read_to_eof(self, wait: float = 2.0) -> bytes:
        """Everything the client still sends until it closes; AssertionError if it does not
        close within ``wait`` seconds."""
        self.sock.settimeout(wait)
        try:
            while True:
                try:
                    data = self.sock.recv(65536)
                except TimeoutError:
                    raise AssertionError(f"the client did not close within {wait} s") from None
                except (ConnectionError, ssl.SSLError, OSError):
                    data = b""
                if not data:
                    break
                self.server._record(data, self.tls)
                self.buffer += data
        finally:
            self.sock.settimeout(self.server.io_timeout)
        rest, self.buffer = self.buffer, b""
        return rest

    def at_eof(self, wait: float = 2.0) -> bool:
        """True if the client closed (EOF or reset) within ``wait`` seconds without sending
        anything more; False if it sent bytes or was still connected when ``wait`` ran out."""
        if self.buffer:
            return False
        self.sock.settimeout(wait)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return False  # still open: that is not an EOF
        except (ConnectionError, ssl.SSLError, OSError):
            return True
        finally:
            self.sock.settimeout(self.server.io_timeout)
        if data:
            self.server._record(data, self.tls)
            self.buffer += data
            return False
        return True

    # -- connection control --------------------------------------------------------------
    def starttls(self) -> None:
        assert not self.buffer, f"client sent {self.buffer!r} before the TLS handshake"
        context = self.server.tls_context
        assert context is not None, "the server has no TLS context"
        self.sock = context.wrap_socket(self.sock, server_side=True)
        self.tls = True

    def close(self) -> None:
        self.sock.close()

    def reset(self) -> None:
        """Close with RST (SO_LINGER 0)."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def half_close(self) -> None:
        self.sock.shutdown(socket.SHUT_WR)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    # -- a common opening ----------------------------------------------------------------
    def greet_ehlo(self, *capabilities: str, banner: str = "220 test.example ESMTP ready") -> bytes:
        """Greet, read the EHLO, answer with ``capabilities``; returns the EHLO line."""
        self.send(banner + "\r\n")
        line = self.readline()
        assert line.startswith(b"EHLO "), line
        self.reply(*ehlo_lines(*capabilities))
        return line


def ehlo_lines(*capabilities: str, name: str = "test.example") -> list[str]:
    items = [name, *capabilities]
    return [f"250{'-' if i < len(items) - 1 else ' '}{item}" for i, item in enumerate(items)]


Script = Callable[[Peer], Any]


class ScriptedServer:
    """Listens on a loopback port and runs ``script`` on each accepted connection."""

    def __init__(
        self,
        script: Script,
        *,
        connections: int = 1,
        tls_context: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
        family: int = socket.AF_INET,
        io_timeout: float = 10.0,
        unix_path: str | None = None,
    ) -> None:
        self.script = script
        self.connections = connections
        self.tls_context = tls_context
        self.implicit_tls = implicit_tls
        self.io_timeout = io_timeout
        self.received = b""
        self.segments: list[tuple[bool, bytes]] = []
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()
        self.unix_path = unix_path
        if unix_path is not None:
            # A Unix socket (LMTP servers listen on these): ``host`` is the path itself.
            self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.listener.bind(unix_path)
            self.port: int = 0
            self.host = unix_path
        else:
            self.listener = socket.socket(family, socket.SOCK_STREAM)
            self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.listener.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
            self.port = self.listener.getsockname()[1]
            self.host = f"[::1]:{self.port}" if family == socket.AF_INET6 else f"127.0.0.1:{self.port}"
        self.listener.listen(8)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _record(self, data: bytes, tls: bool) -> None:
        with self._lock:
            self.received += data
            self.segments.append((tls, data))

    def _serve(self) -> None:
        try:
            for _ in range(self.connections):
                try:  # close() may have shut the listener already
                    self.listener.settimeout(self.io_timeout)
                    sock, _addr = self.listener.accept()
                except OSError:
                    return
                peer = Peer(sock, self)
                try:
                    if self.implicit_tls:
                        peer.starttls()
                    self.script(peer)
                except BaseException as exc:
                    self.errors.append(exc)
                finally:
                    with contextlib.suppress(OSError):
                        peer.sock.close()
        finally:
            self.listener.close()

    def join(self, timeout: float = 10.0) -> None:
        """Wait for the script to finish; re-raise the first error it hit."""
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise AssertionError("the scripted server did not finish")
        if self.errors:
            raise self.errors[0]

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.close()
        if self.unix_path is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.unix_path)

    def __enter__(self) -> ScriptedServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
