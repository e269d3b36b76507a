"""A Griffe extension for the docs site: netsmtp's reST-flavoured docstrings as Markdown.

The docstrings are written for ``help()`` and IDEs, in the reStructuredText habits of the
standard library (``:class:`Reply```, ``text::`` before a literal block, definition lists).
mkdocstrings renders Markdown, so before rendering:

* ``:class:`X``` / ``:func:`` / ``:exc:`` become a link to the API reference when ``X`` is a
  public name of ``netsmtp`` (``netsmtp.X``), else inline code; ``:meth:`m``` becomes ``m()``;
  ``~a.b.C`` shows ``C``;
* a paragraph ending in ``::`` ends in ``:`` (the indented block after it is code in
  Markdown too);
* a definition-list term (a line of inline code followed by a more indented line) becomes a
  Markdown definition list (the ``def_list`` extension);
* a doctest (``>>>`` lines and their output) becomes a ``pycon`` code block, not a quote.

Used by mkdocs.yml (``extensions: [scripts/griffe_rst.py]``); the source is not changed.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?P<role>class|func|meth|attr|data|exc|mod|obj):`(?P<target>[^`]+)`")
_DEF_TERM = re.compile(r"^(?P<indent> *)(?P<term>``[^`]+``(?: [^ ].*)?)$")


def _public_names() -> set[str]:
    import netsmtp  # noqa: PLC0415 - the package being documented

    return set(netsmtp.__all__)


class RstToMarkdown(griffe.Extension):
    """Rewrite each docstring once, when its object is loaded."""

    def __init__(self) -> None:
        super().__init__()
        self.public = _public_names()

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = self.convert(obj.docstring.value)

    def convert(self, text: str) -> str:
        text = _ROLE.sub(self._role, text)
        text = re.sub(r"(\S)::$", r"\1:", text, flags=re.M)
        return _doctests(_definition_lists(text))

    def _role(self, match: re.Match[str]) -> str:
        role, target = match.group("role"), match.group("target")
        shown = target.lstrip("~")
        if target.startswith("~"):
            shown = shown.rsplit(".", 1)[-1]
        name = target.lstrip("~").removeprefix("netsmtp.")
        if role in ("meth", "func"):
            shown += "()"
        if role in ("class", "exc", "func", "data", "obj") and name in self.public:
            return f"[`{shown}`][netsmtp.{name}]"
        return f"`{shown}`"


def _definition_lists(text: str) -> str:
    """``term`` on its own line, the definition indented below it: a Markdown definition list."""
    lines = text.split("\n")
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        term = _DEF_TERM.match(line)
        following = lines[index + 1] if index + 1 < len(lines) else ""
        depth = len(term.group("indent")) if term is not None else 0
        if (
            term is not None
            and following.strip()
            and len(following) - len(following.lstrip(" ")) >= depth + 4
        ):
            if out and out[-1].strip():
                out.append("")
            out.append(line)
            out.append(" " * depth + ":   " + following.strip())
            index += 2
            continue
        out.append(line)
        index += 1
    return "\n".join(out)


def _doctests(text: str) -> str:
    """Fence each doctest: from a ``>>>`` line to the next blank line."""
    out: list[str] = []
    fence: str | None = None  # the indented fence of the doctest being read
    for line in text.split("\n"):
        stripped = line.lstrip(" ")
        if fence is None and stripped.startswith(">>>"):
            fence = line[: len(line) - len(stripped)] + "```"
            out.append(fence + "pycon")
        elif fence is not None and not stripped:
            out.append(fence)
            fence = None
        out.append(line)
    if fence is not None:
        out.append(fence)
    return "\n".join(out)
