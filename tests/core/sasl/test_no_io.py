"""The SASL package is sans-IO: no sockets, TLS, event loops or clocks (see _core/__init__)."""

from __future__ import annotations

import ast
from pathlib import Path

import netsmtp._core.sasl

FORBIDDEN = {"socket", "ssl", "asyncio", "selectors", "time", "threading", "subprocess"}


def test_no_io_imports() -> None:
    package = Path(netsmtp._core.sasl.__file__).parent
    modules = sorted(package.glob("*.py"))
    assert len(modules) >= 8
    for path in modules:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN, f"{path.name} imports {name}"


def test_modules_stay_small() -> None:
    package = Path(netsmtp._core.sasl.__file__).parent
    for path in package.glob("*.py"):
        assert len(path.read_text(encoding="utf-8").splitlines()) <= 300, path.name
