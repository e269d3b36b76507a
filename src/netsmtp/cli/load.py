"""``netsmtp send --count N``: N messages as fast as the server takes them, then a summary.

One session carries every message (it is set up again after a transport failure). The
transcript covers the set-up and the first message; a progress bar follows on a terminal.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, TextIO

from .. import ReplyError, SendError
from . import deliver, exitcodes
from .message import Outgoing
from .session import QuitAfter, Session, Settings, StageFailure
from .transcript import Transcript

BAR_WIDTH = 30


@dataclass
class LoadResult:
    count: int
    sent: int = 0
    partial: int = 0
    elapsed: float = 0.0
    failures: Counter[str] = field(default_factory=Counter)
    first_error: str | None = None
    first_code: int | None = None
    aborted: str | None = None

    @property
    def failed(self) -> int:
        return self.count - self.sent

    @property
    def rate(self) -> float:
        return self.sent / self.elapsed if self.elapsed > 0 else 0.0

    def exit_code(self) -> int:
        if self.sent == self.count and not self.partial:
            return exitcodes.OK
        if self.sent == 0 and self.first_code is not None:
            return self.first_code
        return exitcodes.PARTIAL

    def summary(self) -> str:
        text = (
            f"sent {self.sent} of {self.count} messages in {self.elapsed:.3f} s: "
            f"{self.rate:.1f} messages/s, {self.failed} failed"
        )
        if self.failures:
            text += " (" + ", ".join(f"{stage}: {n}" for stage, n in self.failures.items()) + ")"
        if self.partial:
            text += f", {self.partial} with some recipients refused"
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "sent": self.sent,
            "failed": self.failed,
            "partial": self.partial,
            "elapsed": round(self.elapsed, 4),
            "messages_per_second": round(self.rate, 2),
            "failures": dict(self.failures),
            "first_error": self.first_error,
            "aborted": self.aborted,
        }


class Progress:
    """A one-line progress bar on a terminal; nothing elsewhere."""

    def __init__(self, total: int, stream: TextIO | None) -> None:
        self.total = total
        self.stream = stream
        self.started = time.monotonic()
        self.shown = 0.0

    def update(self, done: int, failed: int, force: bool = False) -> None:
        if self.stream is None:
            return
        now = time.monotonic()
        if not force and now - self.shown < 0.1:
            return
        self.shown = now
        filled = BAR_WIDTH * done // self.total
        rate = done / (now - self.started) if now > self.started else 0.0
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        self.stream.write(
            f"\r{done:>{len(str(self.total))}}/{self.total} [{bar}] {rate:8.1f} msg/s  {failed} failed"
        )
        self.stream.flush()

    def finish(self) -> None:
        if self.stream is not None:
            self.stream.write("\n")
            self.stream.flush()


def run(
    settings: Settings, outgoing: Outgoing, transcript: Transcript, count: int, bar: TextIO | None
) -> LoadResult:
    result = LoadResult(count)
    progress = Progress(count, bar)
    session: Session | None = None
    started = time.monotonic()
    try:
        for index in range(count):
            if index == 1:
                transcript.enabled = False  # the first message shows the way; the rest is a number
                progress.started = time.monotonic()
            try:
                if session is None:
                    session = Session(settings, transcript)
                    session.open()
                assert session.smtp is not None
                outcome = deliver.send(session.smtp, outgoing, transcript, outgoing.renew())
                result.sent += 1
                result.partial += bool(outcome.refused)
            except QuitAfter:  # pragma: no cover - --quit-after and --count are exclusive
                break
            except StageFailure as failure:
                result.failures[failure.stage] += 1
                if result.first_error is None:
                    result.first_error = f"{failure.stage}: {failure}"
                    result.first_code = failure.code
                if failure.stage in ("connect", "tls", "ehlo", "auth"):
                    result.failures[failure.stage] += count - index - 1
                    result.aborted = f"the session could not be set up: {failure}"
                    break
                if not isinstance(failure.__cause__, SendError | ReplyError) and session is not None:
                    session.close()  # the connection broke: the next message sets up a new one
                    session = None
            progress.update(index + 1, sum(result.failures.values()))
    finally:
        result.elapsed = time.monotonic() - started
        transcript.enabled = True
        if session is not None:
            transcript.enabled = False
            session.close()
            transcript.enabled = True
        progress.update(
            result.sent + sum(result.failures.values()), sum(result.failures.values()), force=True
        )
        progress.finish()
    return result
