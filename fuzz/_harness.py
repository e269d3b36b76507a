"""What the fuzz targets share: input decoding, and a runner with or without atheris.

With atheris installed (``pip install atheris``; Linux x86-64 wheels for CPython 3.11),
``run()`` hands the target to libFuzzer: coverage-guided, every libFuzzer flag works
(``-max_total_time=``, ``-runs=``, ``-dict=``, ``-jobs=``, a corpus directory). Without it
(or with ``--random``), a plain loop feeds the target mutated seeds and random bytes; it
understands ``-max_total_time=``, ``-runs=``, ``-seed=``, ``-dict=`` and corpus
directories, and, like libFuzzer, runs a file given as argument once (to reproduce a
crash). Either way a failing input is written to ``crash-<sha1>`` and the exit code is
non-zero.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

Target = Callable[[bytes], None]

_RANDOM = "--random" in sys.argv
try:
    if _RANDOM:
        raise ImportError("--random: atheris not used")
    import atheris  # type: ignore[import-untyped,import-not-found,unused-ignore]
except ImportError:
    atheris = None


def instrumented() -> contextlib.AbstractContextManager[Any]:
    """Wrap the imports of the code under test: libFuzzer then sees its branches."""
    if atheris is None:
        return contextlib.nullcontext()
    context: contextlib.AbstractContextManager[Any] = atheris.instrument_imports(include=["netsmtp"])
    return context


class Input:
    """Reads structure (numbers, flags, slices) from the front of the fuzzer's bytes.

    The same decoding runs under atheris and in the fallback loop, so a crash file found
    by one reproduces with the other. Past the end, numbers read as their minimum.
    """

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def byte(self) -> int:
        if self.pos >= len(self.data):
            return 0
        self.pos += 1
        return self.data[self.pos - 1]

    def int_in_range(self, low: int, high: int) -> int:
        value = self.byte() << 8 | self.byte()
        return low + value % (high - low + 1)

    def flag(self) -> bool:
        return bool(self.byte() & 1)

    def take(self, n: int) -> bytes:
        piece = self.data[self.pos : self.pos + n]
        self.pos += len(piece)
        return piece

    def rest(self) -> bytes:
        return self.take(len(self.data) - self.pos)


def _options(args: list[str]) -> tuple[dict[str, str], list[str]]:
    flags: dict[str, str] = {}
    paths: list[str] = []
    for arg in args:
        if arg.startswith("-") and "=" in arg:
            key, _, value = arg.lstrip("-").partition("=")
            flags[key] = value
        elif not arg.startswith("-"):
            paths.append(arg)
    return flags, paths


def _dictionary(path: str | None) -> list[bytes]:
    """Tokens of a libFuzzer dictionary file (``name="value"`` or ``"value"`` lines)."""
    if not path:
        return []
    tokens = []
    for raw_line in Path(path).read_text().splitlines():
        line = raw_line.strip()
        if not line or line.startswith("#") or '"' not in line:
            continue
        literal = line[line.index('"') + 1 : line.rindex('"')]
        tokens.append(literal.encode("latin-1").decode("unicode_escape").encode("latin-1"))
    return tokens


def _mutations(rng: random.Random, seeds: list[bytes], tokens: list[bytes]) -> Iterator[bytes]:
    while True:
        data = bytearray(rng.choice(seeds)) if seeds and rng.random() < 0.7 else bytearray()
        for _ in range(rng.randint(1, 8)):
            where = rng.randint(0, len(data))
            choice = rng.random()
            if choice < 0.35 and tokens:
                data[where:where] = rng.choice(tokens)
            elif choice < 0.6:
                data[where:where] = rng.randbytes(rng.randint(1, 16))
            elif choice < 0.75 and data:
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
            elif choice < 0.9 and data:
                del data[where : where + rng.randint(1, 8)]
            elif data:
                start = rng.randrange(len(data))
                data[where:where] = data[start : start + rng.randint(1, 32)]
        yield bytes(data[:4096])


def _crash(target: Target, data: bytes, prefix: str) -> None:
    try:
        target(data)
    except Exception:
        name = f"{prefix}crash-{hashlib.sha1(data, usedforsecurity=False).hexdigest()}"
        Path(name).write_bytes(data)
        traceback.print_exc()
        print(f"== failing input ({len(data)} bytes) written to {name}: {data[:200]!r}", file=sys.stderr)
        sys.exit(1)


def _fallback(target: Target, args: list[str]) -> None:
    flags, paths = _options(args)
    prefix = flags.get("artifact_prefix", "")
    files = [p for p in paths if os.path.isfile(p)]
    if files:  # reproduce: run each file once
        for path in files:
            _crash(target, Path(path).read_bytes(), prefix)
        print(f"== ran {len(files)} input(s): no failure")
        return
    seeds = [f.read_bytes() for p in paths for f in sorted(Path(p).iterdir()) if f.is_file()]
    rng = random.Random(int(flags["seed"]) if "seed" in flags else None)  # noqa: S311 - test inputs
    limit = float(flags.get("max_total_time", "10"))
    runs = int(flags.get("runs", "-1"))
    started = time.monotonic()
    count = 0
    for seed in seeds:
        _crash(target, seed, prefix)
    for data in _mutations(rng, seeds, _dictionary(flags.get("dict"))):
        if runs >= 0 and count >= runs:
            break
        if count % 256 == 0 and time.monotonic() - started > limit:
            break
        _crash(target, data, prefix)
        count += 1
    took = time.monotonic() - started
    print(f"== fallback fuzzing (no atheris): {count} inputs in {took:.1f} s, no failure")


def run(target: Target) -> None:
    """Fuzz ``target`` with the command line's options (see the module docstring)."""
    args = [a for a in sys.argv[1:] if a != "--random"]
    if atheris is None:
        _fallback(target, args)
        return
    atheris.Setup([sys.argv[0], *args], target)
    atheris.Fuzz()
