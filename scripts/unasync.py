#!/usr/bin/env python3
"""Generate the blocking client from the asyncio one, or check that they agree.

    python scripts/unasync.py          # rewrite src/netsmtp/_smtp.py (and _lmtp.py)
    python scripts/unasync.py --check  # exit 1 if a generated file is out of date

The protocol lives once in netsmtp._client; the facades differ only in ``async``/``await``
and names, so one is written and the other derived (as encode/httpcore does).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "src" / "netsmtp"
PAIRS = [("_async_smtp.py", "_smtp.py")]

SUBS = [
    (r"\basync def\b", "def"),
    (r"\bawait ", ""),
    (r"\basync with\b", "with"),
    (r"\b__aenter__\b", "__enter__"),
    (r"\b__aexit__\b", "__exit__"),
    (r"\bAsyncSMTP\b", "SMTP"),
    (r"\bAsyncLMTP\b", "LMTP"),
    (r"\bAsyncDataFile\b", "DataFile"),
    (r"\b_AsyncDataFileBase\b", "_DataFileBase"),
    (r"\bAsyncDriver\b", "SyncDriver"),
    (r"\b_async_driver\b", "_sync_driver"),
    (r"\b_async_smtp\b", "_smtp"),
    (
        r"connects when entered with ``with`` \(or on\n    ``connect\(\)``\)",
        "connects at once (the constructor\n    calls ``connect()``)",
    ),
]
SYNC_DOC = '''"""``netsmtp.SMTP``: Perl's Net::SMTP for Python, blocking.

Generated from ``_async_smtp.py``: the same thin methods over the operations written once
in :mod:`netsmtp._client`, run by the blocking driver.
"""'''

HEADER = "# GENERATED from {src} by scripts/unasync.py: edit that file, then run `make unasync`.\n"


def convert(text: str, src: str) -> str:
    for pattern, replacement in SUBS:
        text = re.sub(pattern, replacement, text)
    text = re.sub(r"^(\s*)# SYNC: (.*)$", r"\1\2", text, flags=re.M)
    text = re.sub(r'\A""".*?"""', lambda _: SYNC_DOC, text, count=1, flags=re.S)
    return HEADER.format(src=src) + text


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for src, dst in PAIRS:
        generated = convert((ROOT / src).read_text(), src)
        target = ROOT / dst
        if check:
            if not target.exists() or target.read_text() != generated:
                stale.append(dst)
        else:
            target.write_text(generated)
    if stale:
        print(f"out of date (run `make unasync`): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
