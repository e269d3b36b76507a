"""The sans-IO core imports no I/O (DESIGN.md: "A test must enforce that the core imports no I/O").

Two checks: a static one (every ``import`` statement of every ``_core`` module, read with
``ast``) and a dynamic one (importing the whole core in a fresh interpreter loads none of
the forbidden modules, even indirectly through the standard library).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import netsmtp._core

FORBIDDEN = frozenset({"socket", "ssl", "asyncio", "selectors", "time"})
# Inside the package, the core may only reach the exceptions module.
ALLOWED_NETSMTP = frozenset({"netsmtp._core", "netsmtp._exceptions"})

CORE_DIR = Path(netsmtp._core.__file__).parent
# Every module of the core, sub-packages included.
CORE_FILES = sorted(CORE_DIR.rglob("*.py"))


def _module_name(path: Path) -> str:
    parts = ["netsmtp", "_core", *path.relative_to(CORE_DIR).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package_of(path: Path) -> str:
    name = _module_name(path)
    return name if path.name == "__init__.py" else name.rsplit(".", 1)[0]


CORE_MODULES = sorted(_module_name(p) for p in CORE_FILES)


def test_the_core_has_the_expected_modules() -> None:
    # Guards the parametrisation below: a glob that finds nothing would make it vacuous.
    names = {p.stem for p in CORE_FILES}
    assert {
        "__init__",
        "reply",
        "capabilities",
        "commands",
        "address",
        "xtext",
        "data",
        "parameters",
        "session",
    } <= names
    assert "netsmtp._core.reply" in CORE_MODULES
    assert "netsmtp._core" in CORE_MODULES


def _imports(source: str, package: str) -> list[str]:
    """Absolute names of every module imported by ``source`` (a module of ``package``)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if not node.level:
                found.append(node.module or "")
                continue
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            if node.module:
                found.append(f"{base}.{node.module}")
            else:  # from . import x
                found.extend(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and (
            (isinstance(node.func, ast.Name) and node.func.id == "__import__")
            or (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
        ):
            # Dynamic imports would dodge the static check: forbid them outright.
            found.append("<dynamic import>")
    return found


def _imported_modules(path: Path) -> list[str]:
    return _imports(path.read_text(encoding="utf-8"), _package_of(path))


@pytest.mark.parametrize(
    ("source", "package", "names"),
    [
        ("import socket", "netsmtp._core", ["socket"]),
        ("import os.path, time", "netsmtp._core", ["os.path", "time"]),
        ("from ssl import SSLContext", "netsmtp._core", ["ssl"]),
        ("from .reply import Reply", "netsmtp._core", ["netsmtp._core.reply"]),
        ("from .. import _smtp", "netsmtp._core", ["netsmtp._smtp"]),
        ("from .._exceptions import E", "netsmtp._core", ["netsmtp._exceptions"]),
        ("from ..._tls import x", "netsmtp._core.sasl", ["netsmtp._tls"]),
        ("from .base import x", "netsmtp._core.sasl", ["netsmtp._core.sasl.base"]),
        ("def f():\n    import asyncio", "netsmtp._core", ["asyncio"]),  # nested imports too
        ("importlib.import_module('socket')", "netsmtp._core", ["<dynamic import>"]),
        ("__import__('ssl')", "netsmtp._core", ["<dynamic import>"]),
    ],
)
def test_import_resolution_of_the_helper(source: str, package: str, names: list[str]) -> None:
    # The resolver itself must be right, or the main test proves nothing.
    assert _imports(source, package) == names


def test_module_names() -> None:
    assert _module_name(CORE_DIR / "__init__.py") == "netsmtp._core"
    assert _package_of(CORE_DIR / "__init__.py") == "netsmtp._core"
    assert _module_name(CORE_DIR / "reply.py") == "netsmtp._core.reply"
    assert _package_of(CORE_DIR / "reply.py") == "netsmtp._core"
    assert _package_of(CORE_DIR / "sub" / "__init__.py") == "netsmtp._core.sub"
    assert _package_of(CORE_DIR / "sub" / "m.py") == "netsmtp._core.sub"


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: p.name)
def test_core_module_imports_no_io(path: Path) -> None:
    for name in _imported_modules(path):
        assert name != "<dynamic import>", f"{path.name} imports dynamically"
        top = name.split(".")[0]
        assert top not in FORBIDDEN, f"{path.name} imports {name}"
        if top == "netsmtp":
            assert any(name == ok or name.startswith(ok + ".") for ok in ALLOWED_NETSMTP), (
                f"{path.name} imports {name}, outside the core"
            )


# Run in a fresh interpreter, with a bare stand-in for the ``netsmtp`` package so that its
# ``__init__`` (which pulls in the clients and their sockets) is not what gets measured.
_PROBE = """
import importlib, json, sys, types
sys.path.insert(0, {src!r})
before = set(sys.modules)
package = types.ModuleType("netsmtp")
package.__path__ = [{pkg!r}]
sys.modules["netsmtp"] = package
held = {{}}
for name in {modules!r}:
    module = importlib.import_module(name)
    # Also catch a module the interpreter had loaded already (``time`` is built in):
    # no core module may hold a reference to a forbidden module.
    held[name] = sorted(
        value.__name__ for value in vars(module).values() if isinstance(value, types.ModuleType)
    )
print(json.dumps({{"loaded": sorted(set(sys.modules) - before), "held": held}}))
"""


def test_importing_the_core_loads_no_io_module() -> None:
    code = _PROBE.format(src=str(CORE_DIR.parent.parent), pkg=str(CORE_DIR.parent), modules=CORE_MODULES)
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code], check=True, capture_output=True, text=True
    ).stdout
    report = json.loads(out)
    loaded = set(report["loaded"])
    assert "netsmtp._core.session" in loaded  # the import really happened
    assert not loaded & FORBIDDEN, sorted(loaded & FORBIDDEN)
    netsmtp_modules = {m for m in loaded if m.startswith("netsmtp.")}
    assert netsmtp_modules - {m for m in loaded if m.startswith("netsmtp._core")} == {"netsmtp._exceptions"}
    for name, held in report["held"].items():
        assert not {h.split(".")[0] for h in held} & FORBIDDEN, (name, held)
    assert "re" in report["held"]["netsmtp._core.reply"]  # the probe sees real references
