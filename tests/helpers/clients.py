"""Run one test suite against both clients: SMTP, and AsyncSMTP behind a blocking proxy.

``make_client(kind, host, **options)`` returns an object with SMTP's blocking API:

* ``"sync"``: a real :class:`netsmtp.SMTP`;
* ``"asyncio"`` / ``"uvloop"``: a :class:`AsyncProxy` around a real :class:`netsmtp.AsyncSMTP`
  running on an event loop in a background thread. Every method call is executed *in the
  loop's thread* (coroutines awaited there), so the async client is exercised exactly as an
  application would use it; only the test's own waiting is blocking.

The proxy adds no behaviour: results, exceptions and warnings are the async client's own.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import threading
import warnings
from collections.abc import Callable, Coroutine
from typing import Any

import netsmtp

KINDS = ("sync", "asyncio", "uvloop")
RUN_TIMEOUT = 60.0


LOOP_KINDS = ("asyncio", "uvloop")


def run_loop(kind: str, coro: Coroutine[Any, Any, Any]) -> Any:
    """``asyncio.run(coro)`` on the default loop or on uvloop: for tests that use AsyncSMTP natively."""
    if kind == "uvloop":
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(coro)
    return asyncio.run(coro)


class LoopThread:
    """An event loop (asyncio or uvloop) running forever in a daemon thread."""

    def __init__(self, kind: str = "asyncio") -> None:
        if kind == "uvloop":
            import uvloop

            self.loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
        else:
            self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def call(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``func`` in the loop's thread; await its result if it is a coroutine.

        Warnings raised there are re-raised here, so ``pytest.warns`` sees them.
        """

        async def runner() -> tuple[Any, list[warnings.WarningMessage]]:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result = func(*args, **kwargs)
                if inspect.isawaitable(result):
                    result = await result
            return result, caught

        future: concurrent.futures.Future[Any] = asyncio.run_coroutine_threadsafe(runner(), self.loop)
        try:
            result, caught = future.result(RUN_TIMEOUT)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise
        for w in caught:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return result

    def submit(self, coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future[Any]:
        """Start ``coro`` on the loop without waiting (for cancellation tests)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def stop(self) -> None:
        async def shutdown() -> None:
            await asyncio.sleep(0)

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


class Loops:
    """One LoopThread per loop kind, started on first use, stopped at the end of the session."""

    def __init__(self) -> None:
        self._threads: dict[str, LoopThread] = {}

    def get(self, kind: str) -> LoopThread | None:
        if kind == "sync":
            return None
        if kind not in self._threads:
            self._threads[kind] = LoopThread(kind)
        return self._threads[kind]

    def stop(self) -> None:
        for thread in self._threads.values():
            thread.stop()
        self._threads.clear()


class AsyncProxy:
    """SMTP's blocking API over an AsyncSMTP (or AsyncLMTP) that runs on a LoopThread."""

    def __init__(self, runner: LoopThread, client: Any) -> None:
        self._runner = runner
        self._client = client

    @property
    def client(self) -> Any:
        """The real async client (for tests that need it directly)."""
        return self._client

    def _wrap(self, value: Any) -> Any:
        if value is self._client:
            return self  # command() returns the client for .response() chaining
        if isinstance(value, netsmtp.AsyncDataFile):
            return AsyncFileProxy(self._runner, value)
        return value

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if callable(attr):

            def call(*args: Any, **kwargs: Any) -> Any:
                return self._wrap(self._runner.call(attr, *args, **kwargs))

            return call
        return attr

    def __enter__(self) -> AsyncProxy:
        self._runner.call(self._client.__aenter__)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._runner.call(self._client.__aexit__, *exc)


class AsyncFileProxy:
    """DataFile's blocking API over an AsyncDataFile."""

    def __init__(self, runner: LoopThread, file: Any) -> None:
        self._runner = runner
        self._file = file

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._file, name)
        if callable(attr):
            return lambda *a, **k: self._runner.call(attr, *a, **k)
        return attr

    def __enter__(self) -> AsyncFileProxy:
        return self

    def __exit__(self, *exc: Any) -> None:
        self._runner.call(self._file.__aexit__, *exc)


def make_client(
    kind: str, runner: LoopThread | None, host: Any = None, /, *, cls: str | type = "SMTP", **options: Any
) -> Any:
    """Connect a client of ``kind`` ("sync", "asyncio", "uvloop") exactly as a user would.

    ``cls`` names the class ("SMTP", "LMTP": the async twin is "Async" + name) or is a
    class of the right kind itself (a subclass of SMTP, or of AsyncSMTP). ``host`` is
    positional only, so ``host=...`` among the options is passed on as the option.
    """
    if kind == "sync":
        sync_cls = getattr(netsmtp, cls) if isinstance(cls, str) else cls
        return sync_cls(host, **options) if host is not None else sync_cls(**options)
    assert runner is not None
    async_cls = getattr(netsmtp, "Async" + cls) if isinstance(cls, str) else cls
    client = async_cls(host, **options) if host is not None else async_cls(**options)
    proxy = AsyncProxy(runner, client)
    runner.call(client.connect)
    return proxy
