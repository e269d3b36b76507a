#!/usr/bin/env python3
"""AsyncSMTP against aiosmtplib: N small messages over ONE connection to a C SMTP sink.

    python benchmarks/async_vs_aiosmtplib.py                 # 2,000 messages, best of 3
    python benchmarks/async_vs_aiosmtplib.py -n 5000 -r 5 -d 1

The sink (``../shared/bench/sink.c``, or ``$NETSMTP_SINK_C``) is built into a temporary
directory with ``cc -O2 -pthread``. Each client runs in its own process, against a fresh
sink, doing the same low-level loop: connect (EHLO), then for every message MAIL FROM,
RCPT TO, DATA with the message, and QUIT at the end. No pipelining: every client pays the
same round trips (the sink's count is printed), so the figures compare per-command cost.
The sink's statistics must show every message and every byte, with the same FNV-1a hash
the sink computes, or the run fails.

Rows: ``netsmtp.AsyncSMTP`` and ``aiosmtplib`` on the default asyncio loop (the pair the
ratio is about) and on uvloop, plus the blocking ``netsmtp.SMTP`` and the standard library's
``smtplib`` for context. ``ratio`` is messages/s relative to aiosmtplib on asyncio. CPU
seconds are the client process's (user + system) from connect to the end of QUIT.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiosmtplib
import uvloop
from _sink import Sink, build_sink
from _sink import expected_stats as sink_expected_stats

from netsmtp import SMTP, AsyncSMTP

SENDER = "bench@example.org"
RECIPIENT = "sink@example.net"
HELLO = "bench.example.org"


# ---- the messages and what the sink must report ------------------------------------------------
def message(n: int) -> bytes:
    """A small message (about 300 bytes), CRLF line endings, no line starting with a dot."""
    return (
        f"From: <{SENDER}>\r\n"
        f"To: <{RECIPIENT}>\r\n"
        f"Subject: benchmark message {n}\r\n"
        f"Message-ID: <{n}.bench@example.org>\r\n"
        "\r\n"
        f"This is message number {n} of the benchmark.\r\n"
        "It is small, as most mail is: a few short lines of text.\r\n"
        "Nothing in it needs dot-stuffing or any other transformation.\r\n"
    ).encode()


def expected_stats(count: int) -> dict[str, int]:
    """messages, bytes and the sink's order-independent FNV-1a combination for ``count`` messages."""
    return sink_expected_stats(message(n) for n in range(count))


# ---- the clients (each run in a child process) -------------------------------------------------
async def run_netsmtp_async(port: int, count: int) -> None:
    smtp = AsyncSMTP(f"127.0.0.1:{port}", hello=HELLO, timeout=30)
    await smtp.connect()
    for n in range(count):
        if not (await smtp.mail(SENDER) and await smtp.to(RECIPIENT) and await smtp.data(message(n))):
            raise SystemExit(f"netsmtp: message {n} refused: {smtp.code()} {smtp.message()}")
    if not await smtp.quit():
        raise SystemExit(f"netsmtp: QUIT refused: {smtp.code()} {smtp.message()}")


async def run_aiosmtplib(port: int, count: int) -> None:
    smtp = aiosmtplib.SMTP(
        hostname="127.0.0.1", port=port, local_hostname=HELLO, timeout=30, use_tls=False, start_tls=False
    )
    await smtp.connect()  # reads the greeting; EHLO goes with the first command, as in its sendmail()
    await smtp.ehlo()
    for n in range(count):
        await smtp.mail(SENDER)  # each raises SMTPResponseException on a refusal
        await smtp.rcpt(RECIPIENT)
        await smtp.data(message(n))
    await smtp.quit()


def run_netsmtp_sync(port: int, count: int) -> None:
    smtp = SMTP(f"127.0.0.1:{port}", hello=HELLO, timeout=30)
    for n in range(count):
        if not (smtp.mail(SENDER) and smtp.to(RECIPIENT) and smtp.data(message(n))):
            raise SystemExit(f"netsmtp: message {n} refused: {smtp.code()} {smtp.message()}")
    if not smtp.quit():
        raise SystemExit(f"netsmtp: QUIT refused: {smtp.code()} {smtp.message()}")


def run_smtplib(port: int, count: int) -> None:
    smtp = smtplib.SMTP("127.0.0.1", port, local_hostname=HELLO, timeout=30)
    smtp.ehlo()
    for n in range(count):
        for code, reply in (smtp.mail(SENDER), smtp.rcpt(RECIPIENT), smtp.data(message(n))):
            if code >= 400:
                raise SystemExit(f"smtplib: message {n} refused: {code} {reply!r}")
    smtp.quit()


CLIENTS: dict[str, tuple[str, str]] = {
    # name: (runner, loop)
    "netsmtp.AsyncSMTP (asyncio)": ("netsmtp_async", "asyncio"),
    "aiosmtplib (asyncio)": ("aiosmtplib", "asyncio"),
    "netsmtp.AsyncSMTP (uvloop)": ("netsmtp_async", "uvloop"),
    "aiosmtplib (uvloop)": ("aiosmtplib", "uvloop"),
    "netsmtp.SMTP (blocking)": ("netsmtp_sync", "-"),
    "smtplib (blocking)": ("smtplib", "-"),
}
BASELINE = "aiosmtplib (asyncio)"


def child(runner: str, loop: str, port: int, count: int) -> dict[str, float]:
    """Run one client; returns wall and CPU seconds from connect to the end of QUIT."""
    if runner in ("netsmtp_async", "aiosmtplib"):
        main = run_netsmtp_async if runner == "netsmtp_async" else run_aiosmtplib
        loop_factory = uvloop.new_event_loop if loop == "uvloop" else None
        with asyncio.Runner(loop_factory=loop_factory) as run:
            run.run(asyncio.sleep(0))
            wall, cpu = time.perf_counter(), time.process_time()
            run.run(main(port, count))
            return {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}
    sync_main = run_netsmtp_sync if runner == "netsmtp_sync" else run_smtplib
    wall, cpu = time.perf_counter(), time.process_time()
    sync_main(port, count)
    return {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}


def measure(name: str, binary: Path, workdir: Path, args: argparse.Namespace, run: int) -> dict[str, Any]:
    runner, loop = CLIENTS[name]
    sink = Sink(binary, workdir, args.delay_ms, f"{runner}-{loop}-{run}")
    try:
        command = [sys.executable, __file__, "--child", runner, loop, str(sink.port), str(args.messages)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
        if done.returncode != 0:
            raise SystemExit(f"{name} failed:\n{done.stdout}{done.stderr}")
        timing = json.loads(done.stdout.strip().splitlines()[-1])
        stats = sink.wait_for(args.messages)
    finally:
        sink.stop()
    expected = args.expected
    got = {key: stats.get(key) for key in expected}
    if got != expected:
        raise SystemExit(f"{name}: the sink did not get every message and byte: {got} != {expected}")
    return {**timing, "roundtrips": stats["roundtrips"], "commands": stats["commands"]}


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        runner, loop, port, count = argv[1], argv[2], int(argv[3]), int(argv[4])
        print(json.dumps(child(runner, loop, port, count)))
        return 0
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", "--messages", type=int, default=2000, help="messages per run (default 2000)")
    parser.add_argument("-r", "--runs", type=int, default=3, help="runs per client; the best is shown (3)")
    parser.add_argument("-d", "--delay-ms", type=int, default=0, help="the sink's simulated round trip (0)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = parser.parse_args(argv)
    args.expected = expected_stats(args.messages)

    with tempfile.TemporaryDirectory(prefix="netsmtp-bench-") as tmp:
        workdir = Path(tmp)
        binary = build_sink(workdir)
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in CLIENTS}
        for run in range(args.runs):  # round robin: a busy moment does not hit one client only
            for name in CLIENTS:
                runs[name].append(measure(name, binary, workdir, args, run))
                rate = args.messages / runs[name][-1]["wall"]
                print(f"  run {run + 1}: {name}: {rate:,.0f} messages/s", file=sys.stderr)
    results: dict[str, dict[str, Any]] = {}
    for name, measured in runs.items():
        best = dict(min(measured, key=lambda r: r["wall"]))
        best["median_wall"] = statistics.median(r["wall"] for r in measured)
        best["median_cpu"] = statistics.median(r["cpu"] for r in measured)
        results[name] = best

    base = args.messages / results[BASELINE]["wall"]
    print(
        f"\n{args.messages} messages of {args.expected['bytes'] // args.messages} bytes over one connection, "
        f"best of {args.runs}; sink delay {args.delay_ms} ms; {os.cpu_count()} CPUs; "
        f"Python {sys.version.split()[0]}"
    )
    header = (
        f"{'client':<28} {'messages/s':>10} {'(median)':>9} {'CPU s':>6} {'CPU µs/msg':>10}"
        f" {'round trips':>11} {'ratio':>6}"
    )
    print(header)
    print("-" * len(header))
    for name, r in results.items():
        rate = args.messages / r["wall"]
        print(
            f"{name:<28} {rate:>10,.0f} {args.messages / r['median_wall']:>9,.0f} {r['cpu']:>6.2f}"
            f" {r['median_cpu'] / args.messages * 1e6:>10.0f} {r['roundtrips']:>11,} {rate / base:>6.2f}"
        )
    print(
        f"\nmessages/s: best run (and median); CPU s: the best run's; CPU µs/msg: median over runs;"
        f"\nratio: best messages/s relative to {BASELINE}. Every run was checked against the"
        " sink's message count, byte count and hash."
    )
    if args.json:
        summary = {"messages": args.messages, "delay_ms": args.delay_ms, "results": results}
        print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
