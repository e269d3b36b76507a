"""The C SMTP sink the benchmarks run against, and what it must report afterwards.

Shared by ``async_vs_aiosmtplib.py`` and ``throughput.py``:

* :func:`build_tools` compiles ``../shared/bench/sink.c`` (or ``$NETSMTP_SINK_C``) and a
  small FNV-1a helper into a work directory (``cc -O2 -pthread``; ``$CC`` picks another
  compiler);
* :class:`Sink` starts one sink on a free loopback port (``-d`` latency per reply batch,
  ``-x`` extensions), reads its statistics file, and stops it;
* :func:`expected_stats` / :func:`expected_stats_of_file` compute what the sink must count
  for a set of messages: messages, bytes and its order-independent combination of each
  message's FNV-1a hash. The sink hashes the bytes it *received* after dot-unstuffing, so a
  client that delivered every message unchanged, whether by DATA or by BDAT, matches.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent

FNV_OFFSET = 1469598103934665603
FNV_PRIME = 1099511628211
GOLDEN = 0x9E3779B97F4A7C15
MASK = (1 << 64) - 1

# What the sink advertises by default (sink.c), and the same without CHUNKING (and without
# BINARYMIME, which needs it): a server where send_message falls back to pipelined DATA.
DEFAULT_EXTENSIONS = "PIPELINING,CHUNKING,8BITMIME,BINARYMIME,SIZE,SMTPUTF8,DSN,ENHANCEDSTATUSCODES,AUTH"
NO_CHUNKING = "PIPELINING,8BITMIME,SIZE,SMTPUTF8,DSN,ENHANCEDSTATUSCODES,AUTH"

# FNV-1a of a whole file, in C: 64 MB in Python's byte loop would take most of a minute.
_FNV_C = r"""
#include <stdint.h>
#include <stdio.h>
int main(int argc, char **argv) {
    if (argc != 2) return 2;
    FILE *f = fopen(argv[1], "rb");
    if (!f) { perror(argv[1]); return 1; }
    static unsigned char buf[1 << 16];
    uint64_t h = 1469598103934665603ULL, n = 0;
    size_t r;
    while ((r = fread(buf, 1, sizeof buf, f)) > 0) {
        for (size_t i = 0; i < r; i++) { h ^= buf[i]; h *= 1099511628211ULL; }
        n += r;
    }
    fclose(f);
    printf("%016llx %llu\n", (unsigned long long)h, (unsigned long long)n);
    return 0;
}
"""


# ---- what the sink must report --------------------------------------------------------------
def fnv1a(data: bytes) -> int:
    """FNV-1a (64 bit) of ``data``, as the sink computes it per message (small data only)."""
    h = FNV_OFFSET
    for byte in data:
        h = ((h ^ byte) * FNV_PRIME) & MASK
    return h


def combine(hashes: Iterable[tuple[int, int]]) -> dict[str, int]:
    """The sink's totals for messages given as ``(fnv1a, length)`` pairs."""
    combined = FNV_OFFSET
    count = total = 0
    for h, length in hashes:
        combined ^= (h * GOLDEN + length) & MASK
        count += 1
        total += length
    return {"messages": count, "bytes": total, "fnv1a": combined}


def expected_stats(messages: Iterable[bytes]) -> dict[str, int]:
    """messages, bytes and fnv1a the sink must report after receiving ``messages``."""
    return combine((fnv1a(m), len(m)) for m in messages)


# ---- building ---------------------------------------------------------------------------------
def sink_source() -> Path:
    given = os.environ.get("NETSMTP_SINK_C")
    path = Path(given) if given else HERE.parent.parent / "shared" / "bench" / "sink.c"
    if not path.is_file():
        raise SystemExit(f"sink.c not found at {path}: set NETSMTP_SINK_C to its path")
    return path


def _compile(source: Path, binary: Path) -> Path:
    cc = os.environ.get("CC", "cc")
    if shutil.which(cc) is None:
        raise SystemExit(f"no C compiler ({cc}) to build {source.name}")
    subprocess.run([cc, "-O2", "-pthread", "-o", str(binary), str(source)], check=True)
    return binary


def build_sink(workdir: Path) -> Path:
    """Compile the sink into ``workdir``; returns the binary."""
    return _compile(sink_source(), workdir / "sink")


@dataclass(frozen=True)
class Tools:
    sink: Path
    fnv: Path

    def stats_of_file(self, path: Path) -> dict[str, int]:
        """What the sink must report after receiving the file at ``path`` as one message."""
        out = subprocess.run([str(self.fnv), str(path)], capture_output=True, text=True, check=True)
        digest, length = out.stdout.split()
        return combine([(int(digest, 16), int(length))])


def build_tools(workdir: Path) -> Tools:
    """The sink and the FNV-1a helper, compiled into ``workdir``."""
    fnv_source = workdir / "fnv1a.c"
    fnv_source.write_text(_FNV_C)
    return Tools(build_sink(workdir), _compile(fnv_source, workdir / "fnv1a"))


# ---- running ------------------------------------------------------------------------------------
class Sink:
    """One sink process on a free loopback port; ``stats()`` reads its statistics file."""

    def __init__(
        self, binary: Path, workdir: Path, delay_ms: int, tag: str, extensions: str | None = None
    ) -> None:
        self.stats_path = workdir / f"stats-{tag}"
        self.stats_path.unlink(missing_ok=True)
        args = [str(binary), "-p", "0", "-s", str(self.stats_path)]
        if delay_ms:
            args += ["-d", str(delay_ms)]
        if extensions is not None:
            args += ["-x", extensions]
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        first = self.process.stdout.readline().split()
        if len(first) != 2 or first[0] != "port":
            self.stop()
            raise SystemExit(f"the sink did not start: {first!r}")
        self.port = int(first[1])

    def stats(self) -> dict[str, int]:
        if not self.stats_path.exists():
            return {}
        stats: dict[str, int] = {}
        for line in self.stats_path.read_text().splitlines():
            key, value = line.split()
            stats[key] = int(value, 16) if key == "fnv1a" else int(value)
        return stats

    def wait_for(self, messages: int, timeout: float = 5.0) -> dict[str, int]:
        """The stats once they count ``messages`` (the sink writes them after the QUIT)."""
        deadline = time.monotonic() + timeout
        while (stats := self.stats()).get("messages", -1) < messages and time.monotonic() < deadline:
            time.sleep(0.01)
        return stats

    def final_stats(self, messages: int, timeout: float = 2.0) -> dict[str, int]:
        """Wait (briefly) for ``messages``, then stop the sink: its last word is the SIGTERM's."""
        self.wait_for(messages, timeout)
        self.stop()
        return self.stats()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(5)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
