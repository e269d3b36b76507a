"""The asyncio driver: carries out an operation's requests on an asyncio transport.

Cancellation is safe by construction: a cancelled operation may have written half a
command or be between a command and its reply, so the connection is closed before the
``CancelledError`` propagates — never left desynchronised.

One operation at a time: a call made while another is still running on the same object
(``asyncio.gather(smtp.noop(), smtp.verify(x))``) raises ``UsageError`` and writes
nothing; the running one carries on. Interleaved, the two would write their commands and
then read each other's replies.
"""

from __future__ import annotations

import asyncio
import contextlib
import warnings
from typing import Any, TypeVar

from ._backends.aio import AsyncStream, resolve
from ._client.requests import Close, Flow, Open, ReadReply, Request, Resolve, StartTLS, Write
from ._client.state import ClientState
from ._exceptions import ConnectionLost, SMTPError, UsageError

T = TypeVar("T")
F = TypeVar("F")


class AsyncDriver(ClientState):
    """Runs operation generators with asyncio."""

    _stream: AsyncStream | None = None
    _busy = False

    async def _drive(self, flow: Flow[T]) -> T:
        if self._busy:
            flow.close()
            raise UsageError(
                "another operation is still running on this connection: await it before the next call"
            )
        self._busy = True
        # As in the blocking driver: one send() per request, and a request's failure thrown
        # back in at its yield (outside the except block: no implicit context).
        send, execute = flow.send, self._execute
        try:
            self._transcript.refresh()
            request = send(None)
            while True:
                try:
                    result = await execute(request)
                except SMTPError as exc:
                    error = exc
                else:
                    request = send(result)
                    continue
                request = flow.throw(error)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        except asyncio.CancelledError:
            self._session.close(" (operation cancelled)")
            self._close_transport()
            flow.close()
            raise
        finally:
            self._busy = False

    async def _run(self, flow: Flow[T], failure: F) -> T | F:
        """Run a public operation with Net::SMTP's conventions (false on failure)."""
        try:
            return await self._drive(flow)
        except SMTPError as exc:
            return self._settle(exc, failure)

    async def _execute(self, request: Request) -> Any:
        timeout = self._options.timeout
        if isinstance(request, ReadReply):  # the commonest first
            if request.write:
                await (self._stream or self._live()).write(request.write, timeout)
            return await self._read_reply(request.timeout if request.timeout is not None else timeout)
        if isinstance(request, Write):
            await (self._stream or self._live()).write(request.data, timeout)
            return None
        if isinstance(request, Resolve):
            return await resolve(request.host, request.port, request.family)
        if isinstance(request, Open):
            self._close_transport()
            self._stream = await AsyncStream.open(request.family, request.sockaddr, request.local, timeout)
            self._local_address = self._stream.local_address
            return None
        if isinstance(request, StartTLS):
            self._stream = await self._live().start_tls(request.context, request.server_hostname, timeout)
            return None
        if isinstance(request, Close):
            self._close_transport()
            return None
        raise AssertionError(f"unknown request {request!r}")  # pragma: no cover

    def _pending_input(self) -> bytes:
        stream = self._stream
        return stream.take_buffered() if stream is not None else b""

    def _live(self) -> AsyncStream:
        if self._stream is None:
            raise ConnectionLost("the connection is closed")
        return self._stream

    async def _read_reply(self, timeout: float | None) -> Any:
        # One deadline for the whole reply (SECURITY MS-08), as in the blocking driver.
        session = self._session
        result = session.next_reply()
        if result is not None:  # already received (pipelined replies): no clock, no read
            return result
        deadline = None if timeout is None else asyncio.get_running_loop().time() + timeout
        while result is None:
            data = await (self._stream or self._live()).read(deadline)
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
        if self._stream is not None:
            warnings.warn(f"unclosed {type(self).__name__} connection", ResourceWarning, stacklevel=1)
            with contextlib.suppress(Exception):
                self._close_transport()
