"""A readable, timed protocol transcript, built from the ``netsmtp.transcript`` logger.

The client already logs every line it sends and receives (secrets replaced by
``<redacted>``); this handler only formats them::

    [  0.004] S: 220 mail.example.org ESMTP
    [  0.004] C: EHLO me.example.org
    [  0.031] * TLS: TLSv1.3, TLS_AES_256_GCM_SHA384 (256 bits); certificate ...; verified

``C:`` is the client, ``S:`` the server, ``*`` a note from the command line. Message data
is cut to its first lines unless ``verbose``; control characters from the server are
escaped (a hostile banner cannot drive the terminal).
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TextIO

LOGGER = "netsmtp.transcript"
DATA_LINES_SHOWN = 12
LEAK_WARNING = (
    "netsmtp: WARNING: a secret reached the protocol transcript and was masked in this output. "
    "This is a bug in netsmtp: please report it."
)


def printable(text: str) -> str:
    """``text`` with control characters (ESC above all) shown as escapes."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == "\t" else repr(c)[1:-1] for c in text)


class Transcript(logging.Handler):
    """Collects (and prints unless ``stream`` is None) the session, with times."""

    def __init__(
        self,
        stream: TextIO | None,
        *,
        verbose: bool = False,
        secrets: Iterable[str] = (),
        start: float | None = None,
    ) -> None:
        super().__init__(logging.DEBUG)
        self.stream = stream
        self.verbose = verbose
        self.start = start if start is not None else time.time()
        self.secrets = [s for s in secrets if s]
        self.entries: list[dict[str, Any]] = []
        self.enabled = True
        self.leaked = False
        self.last_command: str | None = None  # the verb of the last command line sent
        # called before the first client line after a STARTTLS 220: the handshake is done
        self.tls_note: Callable[[], str | None] | None = None
        self._starttls_sent = False
        self._tls_pending = False
        self._in_data = False
        self._data_hidden = 0
        self._data_shown = 0

    # ---- output -------------------------------------------------------------------------
    def _write(self, marker: str, text: str, created: float | None = None) -> None:
        if not self.enabled:
            return
        elapsed = (created if created is not None else time.time()) - self.start
        text = self._mask(printable(text))
        self.entries.append({"t": round(elapsed, 4), "dir": marker.rstrip(":"), "text": text})
        if self.stream is not None:
            self.stream.write(f"[{elapsed:7.3f}] {marker} {text}\n")
            self.stream.flush()

    def _mask(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, "<redacted>")
                if not self.leaked:
                    sys.stderr.write(LEAK_WARNING + "\n")
                self.leaked = True
        return text

    def note(self, text: str) -> None:
        """A line of our own (``*``): connecting, TLS details, a decision taken."""
        self._write("*", text)

    # ---- the logger's lines -------------------------------------------------------------
    def emit(self, record: logging.LogRecord) -> None:
        try:
            direction, text = _split(record)
        except ValueError:
            return
        if direction == ">>>":
            self._client(text, record.created)
        else:
            self._server(text, record.created)

    def _client(self, text: str, created: float) -> None:
        if self._tls_pending:
            self._tls_pending = False
            note = self.tls_note() if self.tls_note is not None else None
            if note:
                self.note(note)
        if self._in_data:
            if text == ".":
                self._in_data = False
                if self._data_hidden:
                    self._write(
                        "C:", f"... {self._data_hidden} more lines of message data not shown (-v)", created
                    )
                self._write("C:", text, created)
                self.last_command = "."
            elif self.verbose or self._data_shown < DATA_LINES_SHOWN:
                self._data_shown += 1
                self._write("C:", text, created)
            else:
                self._data_hidden += 1
            return
        verb = text.split(" ", 1)[0].upper()
        self.last_command = verb
        self._starttls_sent = verb == "STARTTLS"
        self._write("C:", text, created)

    def _server(self, text: str, created: float) -> None:
        self._write("S:", text, created)
        if text.startswith("354") and self.last_command == "DATA":
            self._in_data, self._data_hidden, self._data_shown = True, 0, 0
        if self._starttls_sent and text.startswith("220 "):
            self._starttls_sent = False
            self._tls_pending = True


def _split(record: logging.LogRecord) -> tuple[str, str]:
    """(``>>>`` or ``<<<``, text) from one transcript record."""
    args = record.args
    if isinstance(args, tuple) and len(args) == 3 and args[1] in (">>>", "<<<"):
        return str(args[1]), str(args[2])
    message = record.getMessage()
    for direction in (">>>", "<<<"):
        head, sep, tail = message.partition(direction + " ")
        if sep and " " not in head:
            return direction, tail
    raise ValueError("not a transcript line")


@contextlib.contextmanager
def capture(handler: Transcript) -> Iterator[Transcript]:
    """Route the ``netsmtp.transcript`` logger to ``handler`` (and nowhere else) meanwhile."""
    logger = logging.getLogger(LOGGER)
    level, propagate = logger.level, logger.propagate
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
