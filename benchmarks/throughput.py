#!/usr/bin/env python3
"""Throughput: netsmtp against smtplib, aiosmtplib and Perl's Net::SMTP, on the C sink.

    python benchmarks/throughput.py            # the full run (a few minutes)
    python benchmarks/throughput.py --quick    # a smoke run (well under a minute)
    python benchmarks/throughput.py -r 5 --only netsmtp,smtplib --scenario small

Every client runs in its own process against a fresh sink (``../shared/bench/sink.c``,
built with ``cc -O2 -pthread``), round robin over ``--runs`` rounds, every other round in
reverse order; the best run is shown. Ratio targets are judged on the median over rounds of
the two clients' ratio in the same round, printed with its 95% bootstrap interval.
Scenarios:

``small``   2,000 messages of about 330 bytes to 2 recipients, no added latency;
``latency`` 150 such messages with 2 ms per reply batch at the sink (``-d 2``), a network;
``big``     one 64 MB message (2^20-byte MB) to 2 recipients, from bytes in memory, and for
            netsmtp also from a file (streamed).

Clients: netsmtp's blocking ``mail``/``to``/``data`` loop, its blocking and asyncio
``send_message`` (asyncio and uvloop; one row against a sink without CHUNKING, where it
pipelines MAIL, RCPT and DATA and sends the body after the 354), ``smtplib.sendmail``,
``aiosmtplib.SMTP.sendmail`` and Perl's Net::SMTP (``net_smtp.pl``). After each run the
sink's statistics must show every message, every byte and the FNV-1a hash of the original
bytes (the sink hashes what it received, after dot-unstuffing): a run that did not deliver
everything is marked FAILED.

Columns: messages/s and MB/s from the wall clock (connect to the end of QUIT, in the
child); round trips per message from the sink's count of reply batches (the greeting,
EHLO and QUIT included); CPU seconds of the client process (user + system) over the same
span; peak RSS of the client process (``ru_maxrss``, or VmHWM for Perl); ``ratio``:
messages/s relative to smtplib in the same scenario.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _sink import NO_CHUNKING, Sink, Tools, build_tools, expected_stats

HERE = Path(__file__).resolve().parent
SENDER = "bench@example.org"
RECIPIENTS = ["sink1@example.net", "sink2@example.net"]
HELLO = "bench.example.org"
MB = 1 << 20
BASELINE = "smtplib sendmail"


# ---- the messages ---------------------------------------------------------------------------------
def message(n: int) -> bytes:
    """A small message (about 330 bytes), CRLF line endings, one line starting with a dot."""
    return (
        f"From: <{SENDER}>\r\n"
        f"To: <{RECIPIENTS[0]}>, <{RECIPIENTS[1]}>\r\n"
        f"Subject: benchmark message {n}\r\n"
        f"Message-ID: <{n}.bench@example.org>\r\n"
        "\r\n"
        f"This is message number {n} of the benchmark.\r\n"
        "It is small, as most mail is: a few short lines of text.\r\n"
        ".And one line starts with a dot, which DATA must stuff.\r\n"
    ).encode()


def write_records(path: Path, messages: list[bytes]) -> None:
    """The messages as ``<length>\\n<bytes>`` records: what every child reads before timing."""
    with path.open("wb") as out:
        for m in messages:
            out.write(b"%d\n" % len(m))
            out.write(m)


def read_records(path: Path) -> list[bytes]:
    data = path.read_bytes()
    messages, pos = [], 0
    while pos < len(data):
        nl = data.index(b"\n", pos)
        length = int(data[pos:nl])
        messages.append(data[nl + 1 : nl + 1 + length])
        pos = nl + 1 + length
    return messages


def write_big(path: Path, size: int) -> None:
    """A text message of exactly ``size`` octets: 76-octet CRLF lines, one in 40 starting
    with a dot (and some with two), so that DATA clients really dot-stuff."""
    head = (
        f"From: <{SENDER}>\r\nTo: <{RECIPIENTS[0]}>, <{RECIPIENTS[1]}>\r\n"
        "Subject: one big message\r\nMessage-ID: <big.bench@example.org>\r\n\r\n"
    ).encode()
    lines = []
    for i in range(4000):
        text = f"Line {i:06d} of a block: the quick brown fox jumps over the lazy dog {i * 7919 % 99991:05d}"
        if i % 40 == 0:
            text = "." + text[1:]
        elif i % 40 == 20:
            text = ".." + text[2:]
        lines.append(text[:74].encode() + b"\r\n")
    block = b"".join(lines)
    blocks, left = divmod(size - len(head), len(block))
    if left < 2 and blocks:  # the message must end with a whole line: at least a CRLF
        blocks, left = blocks - 1, left + len(block)
    tail = block[:left]
    tail = tail[: tail.rfind(b"\r\n") + 2]  # whole lines only (none: b"")
    pad = left - len(tail)  # complete the size with one more line of x's
    if pad == 1:
        tail = tail[:-2] + b"x\r\n"  # (a line of its own would need two octets)
    elif pad:
        tail += b"x" * (pad - 2) + b"\r\n"
    with path.open("wb") as out:
        out.write(head)
        for _ in range(blocks):
            out.write(block)
        out.write(tail)
    if path.stat().st_size != size:  # pragma: no cover - a bug in the generator
        raise SystemExit(f"generated {path.stat().st_size} octets, not {size}")


# ---- the clients (each runs in a child process) -----------------------------------------------
# Each factory imports its client's modules (outside the timed span) and returns the loop.
Runner = Callable[[int, list[Any]], Any]


def _refused(who: str, n: int, detail: object) -> SystemExit:
    return SystemExit(f"{who}: message {n} refused: {detail}")


def netsmtp_loop(skip_bad: bool = False) -> Runner:
    """Net::SMTP's calls. With ``skip_bad`` every address is tried, so ``to()`` pipelines its
    RCPTs (the sink offers PIPELINING): 4 round trips per message instead of 5."""
    from netsmtp import SMTP

    def run(port: int, messages: list[Any]) -> None:
        smtp = SMTP(f"127.0.0.1:{port}", hello=HELLO, timeout=30)
        for n, msg in enumerate(messages):
            if not (
                smtp.mail(SENDER)
                and (smtp.to(*RECIPIENTS, skip_bad=True) == RECIPIENTS if skip_bad else smtp.to(*RECIPIENTS))
                and smtp.data(msg)
            ):
                raise _refused("netsmtp", n, f"{smtp.code()} {smtp.message()}")
        if not smtp.quit():
            raise SystemExit(f"netsmtp: QUIT refused: {smtp.code()} {smtp.message()}")

    return run


def netsmtp_send() -> Runner:
    from netsmtp import SMTP

    def run(port: int, messages: list[Any]) -> None:
        smtp = SMTP(f"127.0.0.1:{port}", hello=HELLO, timeout=30, raise_errors=True)
        for n, msg in enumerate(messages):
            result = smtp.send_message(msg, SENDER, RECIPIENTS)
            if len(result.accepted) != len(RECIPIENTS):
                raise _refused("netsmtp", n, result)
        smtp.quit()

    return run


def netsmtp_async_send() -> Runner:
    from netsmtp import AsyncSMTP

    async def run(port: int, messages: list[Any]) -> None:
        smtp = AsyncSMTP(f"127.0.0.1:{port}", hello=HELLO, timeout=30, raise_errors=True)
        await smtp.connect()
        for n, msg in enumerate(messages):
            result = await smtp.send_message(msg, SENDER, RECIPIENTS)
            if len(result.accepted) != len(RECIPIENTS):
                raise _refused("netsmtp", n, result)
        await smtp.quit()

    return run


def smtplib_sendmail() -> Runner:
    import smtplib

    def run(port: int, messages: list[Any]) -> None:
        smtp = smtplib.SMTP("127.0.0.1", port, local_hostname=HELLO, timeout=30)
        for n, msg in enumerate(messages):
            refused = smtp.sendmail(SENDER, RECIPIENTS, msg)  # raises when nobody got it
            if refused:
                raise _refused("smtplib", n, refused)
        smtp.quit()

    return run


def aiosmtplib_sendmail() -> Runner:
    import aiosmtplib

    async def run(port: int, messages: list[Any]) -> None:
        smtp = aiosmtplib.SMTP(
            hostname="127.0.0.1", port=port, local_hostname=HELLO, timeout=30, use_tls=False, start_tls=False
        )
        await smtp.connect()
        for n, msg in enumerate(messages):
            refused, _reply = await smtp.sendmail(SENDER, RECIPIENTS, msg)  # raises when nobody got it
            if refused:
                raise _refused("aiosmtplib", n, refused)
        await smtp.quit()

    return run


RUNNERS: dict[str, Callable[[], Runner]] = {
    "netsmtp_loop": netsmtp_loop,
    "netsmtp_loop_skip_bad": lambda: netsmtp_loop(skip_bad=True),
    "netsmtp_send": netsmtp_send,
    "netsmtp_async_send": netsmtp_async_send,
    "smtplib": smtplib_sendmail,
    "aiosmtplib": aiosmtplib_sendmail,
}


def child(spec: dict[str, Any]) -> dict[str, float]:
    """Run one client as ``spec`` says; wall and CPU seconds from connect to the end of QUIT."""
    import asyncio
    import resource

    runner = RUNNERS[spec["runner"]]()
    path = Path(spec["path"])
    handle = None
    if spec["source"] == "records":
        messages: list[Any] = read_records(path)
    elif spec["source"] == "bytes":
        messages = [path.read_bytes()]
    else:  # "file": streamed by the client
        handle = path.open("rb")
        messages = [handle]
    if asyncio.iscoroutinefunction(runner):
        loop_factory = None
        if spec["loop"] == "uvloop":
            import uvloop

            loop_factory = uvloop.new_event_loop
        with asyncio.Runner(loop_factory=loop_factory) as run:
            run.run(asyncio.sleep(0))
            wall, cpu = time.perf_counter(), time.process_time()
            run.run(runner(spec["port"], messages))
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    else:
        wall, cpu = time.perf_counter(), time.process_time()
        runner(spec["port"], messages)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if handle is not None:
        handle.close()
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {"wall": wall, "cpu": cpu, "maxrss_kb": maxrss}


# ---- what is measured -------------------------------------------------------------------------
@dataclass(frozen=True)
class Client:
    name: str
    runner: str  # a RUNNERS key, or "perl"
    loop: str = "-"  # asyncio | uvloop for the async clients
    from_file: bool = False  # big scenario: stream the message from its file
    extensions: str | None = None  # the sink's -x (None: its default, CHUNKING included)
    big_only: bool = False
    small_only: bool = False  # not run in the big scenario (it would only repeat another row)


CLIENTS = [
    Client("netsmtp mail/to/data", "netsmtp_loop"),
    Client("netsmtp mail/to(skip_bad)/data", "netsmtp_loop_skip_bad", small_only=True),
    Client("netsmtp send_message", "netsmtp_send"),
    Client("netsmtp send_message, file", "netsmtp_send", from_file=True, big_only=True),
    Client("netsmtp send_message, DATA", "netsmtp_send", extensions=NO_CHUNKING),
    Client(
        "netsmtp send_message, DATA, file",
        "netsmtp_send",
        from_file=True,
        extensions=NO_CHUNKING,
        big_only=True,
    ),
    Client("netsmtp async send_message", "netsmtp_async_send", "asyncio"),
    Client(
        "netsmtp async send_message, file", "netsmtp_async_send", "asyncio", from_file=True, big_only=True
    ),
    Client("netsmtp async send_message (uvloop)", "netsmtp_async_send", "uvloop"),
    Client(BASELINE, "smtplib"),
    Client("aiosmtplib sendmail", "aiosmtplib", "asyncio"),
    Client("aiosmtplib sendmail (uvloop)", "aiosmtplib", "uvloop"),
    Client("Net::SMTP (Perl)", "perl"),
]


@dataclass
class Scenario:
    key: str
    title: str
    delay_ms: int
    path: Path  # the records file, or the big message
    big: bool
    count: int  # messages per run
    size: int  # octets per run
    expected: dict[str, int]


@dataclass
class Row:
    client: Client
    runs: list[dict[str, Any]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def best(self) -> dict[str, Any] | None:
        return min(self.runs, key=lambda r: r["wall"]) if self.runs else None


def run_once(scenario: Scenario, client: Client, tools: Tools, workdir: Path, tag: str) -> Row:
    """One run of ``client`` in ``scenario``: a fresh sink, one child, the sink's verdict."""
    row = Row(client)
    sink = Sink(tools.sink, workdir, scenario.delay_ms, tag, client.extensions)
    try:
        if client.runner == "perl":
            mode = ["--whole", str(scenario.path)] if scenario.big else [str(scenario.path)]
            command = ["perl", str(HERE / "net_smtp.pl"), str(sink.port), *mode, SENDER, *RECIPIENTS]
        else:
            source = "records" if not scenario.big else ("file" if client.from_file else "bytes")
            spec = {
                "runner": client.runner,
                "loop": client.loop,
                "port": sink.port,
                "path": str(scenario.path),
                "source": source,
            }
            command = [sys.executable, __file__, "--child", json.dumps(spec)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
        except subprocess.TimeoutExpired:
            row.failures.append("timed out")
            return row
        stats = sink.final_stats(scenario.count)
    finally:
        sink.stop()
    if done.returncode != 0:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        row.failures.append(f"exit {done.returncode}: {last[0][:200]}")
        return row
    got = {key: stats.get(key) for key in scenario.expected}
    if got != scenario.expected:
        row.failures.append(f"the sink got {got}, expected {scenario.expected}")
        return row
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    measured["roundtrips"] = stats["roundtrips"]
    row.runs.append(measured)
    return row


def make_scenarios(args: argparse.Namespace, tools: Tools, workdir: Path) -> list[Scenario]:
    scenarios = []
    small_count, latency_count = (200, 30) if args.quick else (2000, 150)
    big_size = (8 if args.quick else 64) * MB
    if "small" in args.scenario or "latency" in args.scenario:
        messages = [message(n) for n in range(max(small_count, latency_count))]
        for key, count, delay in (("small", small_count, 0), ("latency", latency_count, 2)):
            if key not in args.scenario:
                continue
            path = workdir / f"{key}.records"
            write_records(path, messages[:count])
            title = f"{count:,} messages x {len(RECIPIENTS)} recipients, {delay} ms per reply batch"
            size = sum(len(m) for m in messages[:count])
            scenarios.append(
                Scenario(key, title, delay, path, False, count, size, expected_stats(messages[:count]))
            )
    if "big" in args.scenario:
        path = workdir / "big.eml"
        write_big(path, big_size)
        title = f"one {big_size // MB} MB message x {len(RECIPIENTS)} recipients, 0 ms"
        scenarios.append(Scenario("big", title, 0, path, True, 1, big_size, tools.stats_of_file(path)))
    return scenarios


# ---- the report ------------------------------------------------------------------------------------
def rate(scenario: Scenario, row: Row) -> float | None:
    best = row.best
    return None if best is None or row.failures else scenario.count / best["wall"]


def table(scenarios: list[Scenario], rows: dict[str, dict[str, Row]]) -> str:
    header = f"{'client':<38} {'msgs/s':>9} {'RT/msg':>7} {'MB/s':>8} {'CPU s':>7} {'RSS MB':>7} {'ratio':>6}"
    out = [header, "-" * len(header)]
    for scenario in scenarios:
        out.append(f"[{scenario.key}] {scenario.title}")
        base_row = rows[scenario.key].get(BASELINE)
        base = rate(scenario, base_row) if base_row else None
        for name, row in rows[scenario.key].items():
            best = row.best
            if row.failures or best is None:
                out.append(f"  {name:<36} FAILED: {row.failures[0] if row.failures else 'no run'}")
                continue
            per_second = scenario.count / best["wall"]
            ratio = f"{per_second / base:6.2f}" if base else f"{'-':>6}"
            out.append(
                f"  {name:<36} {per_second:>9,.1f} {best['roundtrips'] / scenario.count:>7.2f}"
                f" {scenario.size / MB / best['wall']:>8.1f} {best['cpu']:>7.2f}"
                f" {best['maxrss_kb'] / 1024:>7.1f} {ratio}"
            )
    return "\n".join(out)


def median_interval(values: list[float], resamples: int = 4000) -> tuple[float, float]:
    """A 95% bootstrap interval for the median of ``values`` (fixed seed: the same figures
    give the same interval). With few rounds it is wide, which is the point: a ratio whose
    interval holds 1 has not shown a difference."""
    draw = random.Random(5).choices
    medians = sorted(statistics.median(draw(values, k=len(values))) for _ in range(resamples))
    return medians[int(resamples * 0.025)], medians[int(resamples * 0.975) - 1]


def targets(scenarios: list[Scenario], rows: dict[str, dict[str, Row]]) -> list[str]:
    """Issue 5's targets, each with its numbers (only those the scenarios run allow)."""
    by_key = {s.key: s for s in scenarios}
    lines = []

    def value(key: str, name: str, what: str) -> float | None:
        scenario, row = by_key.get(key), rows.get(key, {}).get(name)
        if scenario is None or row is None or row.failures or row.best is None:
            return None
        best = row.best
        if what == "rate":
            return scenario.count / best["wall"]
        if what == "rt":
            return float(best["roundtrips"]) / scenario.count
        return best["maxrss_kb"] / 1024  # "rss", MB

    def check(label: str, got: float | None, limit: float, at_least: bool, unit: str = "x") -> None:
        if got is None:
            lines.append(f"  [ -- ] {label}: not measured")
            return
        ok = got >= limit if at_least else got <= limit
        sign = ">=" if at_least else "<="
        verdict = " ok " if ok else "MISS"
        lines.append(f"  [{verdict}] {label}: {got:.2f}{unit} (target {sign} {limit:g}{unit})")

    def ratio(key: str, name: str, base: str) -> float | None:
        a, b = value(key, name, "rate"), value(key, base, "rate")
        return a / b if a is not None and b else None

    def paired(key: str, name: str, base: str) -> list[float] | None:
        """Per round, name's rate / base's rate: the clients of a round run back to back,
        so a slow spell of the machine hits both."""
        a, b = rows.get(key, {}).get(name), rows.get(key, {}).get(base)
        if a is None or b is None or a.failures or b.failures or not a.runs or len(a.runs) != len(b.runs):
            return None
        return [y["wall"] / x["wall"] for x, y in zip(a.runs, b.runs, strict=True)]

    def check_ratio(label: str, key: str, name: str, base: str, limit: float) -> None:
        """A rate ratio: judged on the paired median, shown with its 95% interval and the
        best-of ratio beside it."""
        best, ratios = ratio(key, name, base), paired(key, name, base)
        if best is None or not ratios:
            lines.append(f"  [ -- ] {label}: not measured")
            return
        median = statistics.median(ratios)
        low, high = median_interval(ratios)
        verdict = " ok " if median >= limit else "MISS"
        lines.append(
            f"  [{verdict}] {label}: {median:.2f}x median of {len(ratios)} paired rounds"
            f" (95% {low:.2f}-{high:.2f}), {best:.2f}x best against best (target >= {limit:g}x)"
        )

    check_ratio("send_message / smtplib, msgs/s, 0 ms", "small", "netsmtp send_message", BASELINE, 2.5)
    check("send_message round trips per message, CHUNKING, 2 ms",
          value("latency", "netsmtp send_message", "rt"), 1.05, False, "")  # fmt: skip
    check("send_message round trips per message, DATA, 2 ms",
          value("latency", "netsmtp send_message, DATA", "rt"), 2.05, False, "")  # fmt: skip
    check_ratio("64 MB send_message / smtplib, MB/s", "big", "netsmtp send_message", BASELINE, 3)
    if "big" in by_key:
        size = by_key["big"].size / MB
        if size >= 64:  # below that, the interpreter's own ~25 MB dominate: not a fair test
            check(f"{size:g} MB from bytes: peak RSS", value("big", "netsmtp send_message", "rss"),
                  1.5 * size, False, " MB")  # fmt: skip
        else:
            lines.append(f"  [ -- ] {size:g} MB from bytes: peak RSS: judged on the 64 MB message only")
        check(f"{size:g} MB from a file: peak RSS", value("big", "netsmtp send_message, file", "rss"), 64,
              False, " MB")  # fmt: skip
    check_ratio("mail/to/data loop / smtplib, msgs/s, 0 ms", "small", "netsmtp mail/to/data", BASELINE, 1)
    check_ratio("async send_message / aiosmtplib, msgs/s, 0 ms", "small", "netsmtp async send_message",
                "aiosmtplib sendmail", 2)  # fmt: skip
    return lines


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}; load average {load}"
    )


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        print(json.dumps(child(json.loads(argv[1]))))
        return 0
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run: fewer and smaller messages, 1 run")
    parser.add_argument("-r", "--runs", type=int, help="runs per client, round robin; the best is shown (3)")
    parser.add_argument(
        "--scenario", default="small,latency,big", help="comma-separated: small, latency, big (all)"
    )
    parser.add_argument("--only", help="comma-separated substrings: run only the clients whose name has one")
    parser.add_argument("--json", metavar="FILE", help="also write every run's figures to FILE")
    args = parser.parse_args(argv)
    args.scenario = set(args.scenario.split(","))
    runs = args.runs or (1 if args.quick else 3)
    only = args.only.split(",") if args.only else None

    print(f"machine: {machine()}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="netsmtp-bench-") as tmp:
        workdir = Path(tmp)
        tools = build_tools(workdir)
        scenarios = make_scenarios(args, tools, workdir)
        rows: dict[str, dict[str, Row]] = {}
        for scenario in scenarios:
            clients = [c for c in CLIENTS if not (c.small_only if scenario.big else c.big_only)]
            if only:
                clients = [c for c in clients if any(o in c.name for o in only) or c.name == BASELINE]
            rows[scenario.key] = {c.name: Row(c) for c in clients}
            for run in range(runs):  # round robin: a busy moment does not hit one client only
                # Odd rounds run the clients in reverse order (ABBA): a client's place in the
                # round (after which process, on a warm or a cold machine) then cancels out of
                # the paired ratios. An A/A run, smtplib against itself, showed that place
                # alone worth 2-4%.
                for c in clients if run % 2 == 0 else clients[::-1]:
                    if c.runner == "perl" and run > 0 and not scenario.big:
                        continue  # Net::SMTP is slow (Nagle); one run is enough to place it
                    tag = f"{scenario.key}-{c.runner}-{c.loop}-{run}"
                    once = run_once(scenario, c, tools, workdir, tag)
                    row = rows[scenario.key][c.name]
                    row.runs += once.runs
                    row.failures += once.failures
                    shown = f"{scenario.count / once.runs[0]['wall']:,.1f} msgs/s" if once.runs else "FAILED"
                    print(f"  {scenario.key} run {run + 1}: {c.name}: {shown}", file=sys.stderr)

    print(f"\nnetsmtp throughput, best of {runs} run(s) per client; {machine()}")
    print(table(scenarios, rows))
    print("\nTargets (issue 5):")
    print("\n".join(targets(scenarios, rows)))
    if args.json:
        dump = {
            s.key: {name: {"runs": r.runs, "failures": r.failures} for name, r in rows[s.key].items()}
            for s in scenarios
        }
        Path(args.json).write_text(json.dumps({"machine": machine(), "results": dump}, indent=2))
    failed = any(r.failures for per in rows.values() for r in per.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
