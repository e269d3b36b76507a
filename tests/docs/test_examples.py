"""Every code example of the documentation (docs/ and README.md) runs against a local server.

See :mod:`tests.docs.examples` for how the examples are found and which substitutions make
``mail.example.org`` a local aiosmtpd; :mod:`tests.docs.docserver` for what that server offers.
A block that cannot run here (a real Google sign-in, a fragment) carries a
``<!-- no-test: why -->`` comment: it is reported as skipped with that reason, and counted in
the summary line; no block is ever left out silently.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .docserver import DocsServers
from .examples import ROOT, Example, all_examples, extract, run

EXAMPLES = all_examples()


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.id for e in EXAMPLES])
def test_example(
    example: Example, docs_servers: DocsServers, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    if example.no_test is not None:
        pytest.skip(f"no-test: {example.no_test}")
    docs_servers.reset()
    run(example, docs_servers, monkeypatch, tmp_path)


def test_every_page_has_runnable_examples_and_marks_have_reasons() -> None:
    pages = {e.path for e in EXAMPLES if e.no_test is None}
    assert "README.md" in pages
    guide = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs" / "guide").glob("*.md"))
    assert guide, "docs/guide has no pages"
    for example in EXAMPLES:
        if example.no_test is not None:
            assert example.no_test.strip(), f"{example.id}: a no-test mark needs a reason"


def test_extraction(tmp_path: Path) -> None:
    page = ROOT / "docs" / "_extract_selftest.md"
    page.write_text(
        "Text\n\n```python\nprint(1)\n```\n\n<!-- no-test: needs a token -->\n\n```python\nx()\n```\n\n"
        '```sh\nnot python\n```\n\n=== "Python"\n\n    ```python\n    if True:\n        pass\n    ```\n',
        encoding="utf-8",
    )
    try:
        found = extract(page)
    finally:
        page.unlink()
    assert [(e.line, e.code, e.no_test) for e in found] == [
        (3, "print(1)\n", None),
        (9, "x()\n", "needs a token"),
        (19, "if True:\n    pass\n", None),
    ]


def test_every_public_name_is_in_the_api_reference() -> None:
    """Each name of ``netsmtp.__all__`` has its entry in docs/reference (a ``:::`` block, or
    for the constants a mention): a new public name cannot be left out of the site."""
    import netsmtp

    reference = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "docs" / "reference").glob("*.md"))
    missing = [
        name
        for name in netsmtp.__all__
        if f"::: netsmtp.{name}\n" not in reference and f"`netsmtp.{name}`" not in reference
    ]
    assert not missing, f"not in docs/reference: {missing}"
