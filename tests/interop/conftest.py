"""Interop tests against real MTAs: the AUTH suite's client fixtures (sync, asyncio, uvloop)."""

from __future__ import annotations

from tests.auth.conftest import auth_loops, connect, kind, remote

__all__ = ["auth_loops", "connect", "kind", "remote"]
