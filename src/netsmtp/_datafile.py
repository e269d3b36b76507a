"""What the blocking and asyncio DataFile classes share that involves no I/O."""

from __future__ import annotations

import io
import warnings
from typing import Self


class _DataFileBase(io.RawIOBase):
    """A write-only binary file; its I/O methods come from the generated DataFile."""

    accepted: bool | None

    def writable(self) -> bool:
        return True

    def _mark_closed(self) -> None:
        io.RawIOBase.close(self)

    def __del__(self) -> None:
        # io.IOBase's finalizer would call close(), which ends the message: an unclosed
        # DataFile dropped by an exception would commit half a message (SPEC A10). A
        # finalizer does no network I/O; the message stays open, and is abandoned by the
        # next close() or quit() on the connection unless the caller ends it with dataend().
        _finalize_unclosed(self)


def _finalize_unclosed(file: _DataFileBase | _AsyncDataFileBase) -> None:
    if not file.closed:
        warnings.warn(
            "DataFile was never closed: the message was not ended (close() ends it)",
            ResourceWarning,
            stacklevel=3,
        )
        file.accepted = False
        file._mark_closed()


class _AsyncDataFileBase:
    """The asyncio twin: ``await f.write(...)``, ``await f.close()``, ``async with``."""

    accepted: bool | None

    def __init__(self) -> None:
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def writable(self) -> bool:
        return True

    def _mark_closed(self) -> None:
        self._closed = True

    def __del__(self) -> None:
        # As the blocking DataFile: warn, and never end the message from a finalizer.
        _finalize_unclosed(self)

    async def __aenter__(self) -> Self:
        return self
