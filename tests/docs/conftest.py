"""The docs servers (one set per test session) and the examples' tally in pytest's summary."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import trustme

from .docserver import DocsServers, start
from .examples import all_examples


@pytest.fixture(scope="session")
def docs_servers(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocsServers]:
    servers = start(ca, str(tmp_path_factory.mktemp("docs-servers")))
    try:
        yield servers
    finally:
        servers.stop()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """One line: how many documentation examples ran, and which are marked no-test and why."""
    ran = [
        r for r in terminalreporter.stats.get("passed", []) if "test_examples.py::test_example[" in r.nodeid
    ]
    if not ran and not any(
        "test_examples.py::test_example[" in r.nodeid
        for key in ("failed", "skipped", "error")
        for r in terminalreporter.stats.get(key, [])
    ):
        return  # the docs tests were not part of this run
    examples = all_examples()
    marked = [e for e in examples if e.no_test is not None]
    terminalreporter.write_sep("-", "documentation examples")
    terminalreporter.write_line(
        f"{len(examples)} examples: {len(ran)} ran and passed, {len(marked)} marked no-test"
    )
    for example in marked:
        terminalreporter.write_line(f"  no-test {example.id}: {example.no_test}")
