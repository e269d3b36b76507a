"""The blocking driver: carries out an operation's requests on a socket."""

from __future__ import annotations

import time
import warnings
from typing import Any, TypeVar

from ._backends.sync import SocketStream, resolve
from ._client.requests import Close, Flow, Open, ReadReply, Request, Resolve, StartTLS, Write
from ._client.state import ClientState
from ._exceptions import ConnectionLost, SMTPError

T = TypeVar("T")
F = TypeVar("F")


class SyncDriver(ClientState):
    """Runs operation generators with blocking I/O."""

    _stream: SocketStream | None = None

    def _drive(self, flow: Flow[T]) -> T:
        # Every operation runs through this loop: one send() per request, and a request's
        # failure thrown back in at its yield (outside the except block: no implicit context).
        send, execute = flow.send, self._execute
        self._transcript.refresh()
        try:
            request = send(None)
            while True:
                try:
                    result = execute(request)
                except SMTPError as exc:
                    error = exc
                else:
                    request = send(result)
                    continue
                request = flow.throw(error)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]

    def _run(self, flow: Flow[T], failure: F) -> T | F:
        """Run a public operation with Net::SMTP's conventions (false on failure)."""
        try:
            return self._drive(flow)
        except SMTPError as exc:
            return self._settle(exc, failure)

    def _execute(self, request: Request) -> Any:
        timeout = self._options.timeout
        if isinstance(request, ReadReply):  # the commonest first
            if request.write:
                (self._stream or self._live()).write(request.write, timeout)
            return self._read_reply(request.timeout if request.timeout is not None else timeout)
        if isinstance(request, Write):
            (self._stream or self._live()).write(request.data, timeout)
            return None
        if isinstance(request, Resolve):
            return resolve(request.host, request.port, request.family)
        if isinstance(request, Open):
            self._close_transport()
            self._stream = SocketStream.open(request.family, request.sockaddr, request.local, timeout)
            self._local_address = self._stream.local_address
            return None
        if isinstance(request, StartTLS):
            self._stream = self._live().start_tls(request.context, request.server_hostname, timeout)
            return None
        if isinstance(request, Close):
            self._close_transport()
            return None
        raise AssertionError(f"unknown request {request!r}")  # pragma: no cover

    def _pending_input(self) -> bytes:
        stream = self._stream
        return stream.read_nowait() if stream is not None else b""

    def _live(self) -> SocketStream:
        if self._stream is None:
            raise ConnectionLost("the connection is closed")
        return self._stream

    def _read_reply(self, timeout: float | None) -> Any:
        # One deadline for the whole reply, not per recv(): a server that trickles one
        # byte at a time cannot hold us past the timeout (SECURITY MS-08).
        session = self._session
        result = session.next_reply()
        if result is not None:  # already received (pipelined replies): no clock, no read
            return result
        deadline = None if timeout is None else time.monotonic() + timeout
        while result is None:
            data = (self._stream or self._live()).read(deadline)
            if not data:
                session.close(" (closed by the server)")
                raise ConnectionLost("the server closed the connection")
            session.receive_data(data)
            result = session.next_reply()
        return result

    def _close_transport(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.close()

    def __del__(self) -> None:
        # No network I/O from a finalizer (no QUIT): just release the socket, loudly.
        if self._stream is not None:
            warnings.warn(f"unclosed {type(self).__name__} connection", ResourceWarning, stacklevel=1)
            self._close_transport()
