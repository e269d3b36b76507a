"""The protocol transcript (SPEC A14): ``<Class>>>> line`` / ``<Class><<< line``.

Every line goes to the ``netsmtp.transcript`` logger at DEBUG; with ``debug`` non-zero it
is also written to stderr. Secrets never reach either: callers pass ``<redacted>``.
"""

from __future__ import annotations

import logging
import sys

logger = logging.getLogger("netsmtp.transcript")
# A library configures no output of its own (logging HOWTO, "Configuring Logging for a
# Library"): without this, Python's last-resort handler would print netsmtp's warnings on
# the stderr of applications that never asked for logging.
logging.getLogger("netsmtp").addHandler(logging.NullHandler())

SENT = ">>>"
RECEIVED = "<<<"


class Transcript:
    """Writes transcript lines for one client object."""

    __slots__ = ("level", "name", "on")

    def __init__(self, name: str, level: int = 0) -> None:
        self.name = name
        self.level = level
        self.on = self.active

    @property
    def active(self) -> bool:
        return bool(self.level) or logger.isEnabledFor(logging.DEBUG)

    def refresh(self) -> None:
        """Take :attr:`active` into :attr:`on`: the drivers do it when an operation starts,
        so that its commands and replies test a flag, not the logger, to skip the transcript.
        (``line()`` still asks the logger: switching it off takes effect at once.)"""
        self.on = bool(self.level) or logger.isEnabledFor(logging.DEBUG)

    def line(self, direction: str, text: str) -> None:
        if self.level:
            sys.stderr.write(f"{self.name}{direction} {text}\n")
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s%s %s", self.name, direction, text)

    def data(self, chunk: bytes) -> None:
        """Message data, one transcript line per line, before dot-stuffing."""
        if not self.on:
            return
        pieces = chunk.split(b"\n")
        if len(pieces) > 1 and not pieces[-1]:
            pieces.pop()  # the chunk ended a line: no empty line after it
        for piece in pieces:
            self.line(SENT, piece.rstrip(b"\r").decode("utf-8", "replace"))
