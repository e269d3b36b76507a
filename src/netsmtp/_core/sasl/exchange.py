"""Driving one mechanism through an SMTP AUTH exchange, without I/O (RFC 4954 §4).

:class:`AuthExchange` turns a :class:`~netsmtp._core.sasl.base.Mechanism` into lines to
send and consumes the server's replies::

    exchange = AuthExchange(mechanism)
    line = exchange.start()                  # AUTH NAME [initial-response]
    while line is not None:
        write(line.data); log(line.text)     # .text is safe for a transcript
        line = exchange.receive(read_reply())
    exchange.succeeded                       # True after 2xx; False after 4xx/5xx

What it enforces:

* Base64 both ways; an empty initial response is sent as ``=`` (RFC 4954 §4).
* An initial response that would make the ``AUTH`` line longer than 512 octets is held
  back and sent after the first ``334`` instead (RFC 4954 §4, SECURITY CI-08).
* A challenge that is not strict base64, is longer than 12288 octets (RFC 4954 §4's
  line limit guidance), spans several lines, or that the mechanism rejects, and more than
  ``max_rounds`` challenges, all cancel the exchange with ``*`` (SECURITY MS-16); the
  server's answer to the cancel (501) then raises :class:`SASLError`.
* After a 2xx the mechanism's :meth:`finish` runs: SCRAM raises there unless the server
  proved itself, and :class:`SASLError` (with the 2xx ``reply``) is raised.
* After a cancel, any reply but a 4xx/5xx rejection (RFC 4954 says 501) is a
  :class:`ProtocolError`, and so is a 3xx other than 334: the connection must be closed.
* A 4xx/5xx without a cancel is a clean result: ``receive`` returns None, ``succeeded``
  is False and ``reply`` tells why (504/534: try another mechanism; 535: bad credentials).
* Transcript text never contains a response: ``AUTH PLAIN <redacted>``, ``<redacted>``,
  ``*``, or an empty line for an empty response (SPEC A14, SECURITY AU-07).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NoReturn

from ..._exceptions import ProtocolError, UsageError
from .base import Mechanism, SASLError, is_mechanism_name, strict_b64decode

if TYPE_CHECKING:
    from ..reply import Reply

REDACTED = "<redacted>"
MAX_ROUNDS = 10
MAX_CHALLENGE = 12288
MAX_COMMAND_LINE = 512
_CRLF = b"\r\n"


@dataclass(frozen=True, slots=True)
class AuthLine:
    """One line for the server: ``data`` to write (CRLF included), ``text`` to log."""

    data: bytes = field(repr=False)
    text: str
    is_command: bool = False  # True for the AUTH command, False for continuation lines


class AuthExchange:
    """One AUTH exchange for one mechanism object (see the module docstring)."""

    def __init__(
        self,
        mechanism: Mechanism,
        *,
        max_rounds: int = MAX_ROUNDS,
        max_challenge: int = MAX_CHALLENGE,
        line_limit: int = MAX_COMMAND_LINE,
    ) -> None:
        self.mechanism = mechanism
        self.max_rounds = max_rounds
        self.max_challenge = max_challenge
        self.line_limit = line_limit
        self.rounds = 0
        self.done = False
        self.succeeded = False
        self.reply: Reply | None = None
        self.initial_response_deferred = False
        self._started = False
        self._pending: bytes | None = None
        self._cancelled: SASLError | None = None

    @property
    def cancelled(self) -> bool:
        """True once ``*`` was sent."""
        return self._cancelled is not None

    def start(self) -> AuthLine:
        """The AUTH command. Raises (``ValueError``, ``TypeError``) before producing anything."""
        if self._started:
            raise UsageError("this AUTH exchange has already started")
        name = self.mechanism.name
        if not is_mechanism_name(name):
            raise ValueError(f"invalid SASL mechanism name: {name!r}")
        name = name.upper()
        response = self.mechanism.initial_response()
        self._started = True
        command = b"AUTH " + name.encode("ascii")
        if response is None:
            return AuthLine(command + _CRLF, f"AUTH {name}", True)
        if not isinstance(response, bytes):
            raise TypeError(f"initial_response() must return bytes or None, not {type(response).__name__}")
        if not response:
            return AuthLine(command + b" =" + _CRLF, f"AUTH {name} =", True)
        encoded = base64.b64encode(response)
        if len(command) + 1 + len(encoded) + 2 > self.line_limit:
            self._pending = response
            self.initial_response_deferred = True
            return AuthLine(command + _CRLF, f"AUTH {name}", True)
        return AuthLine(command + b" " + encoded + _CRLF, f"AUTH {name} {REDACTED}", True)

    def receive(self, reply: Reply) -> AuthLine | None:
        """Consume the server's reply; return the next line to send, or None when done."""
        if not self._started:
            raise UsageError("start() the AUTH exchange first")
        if self.done:
            raise UsageError("this AUTH exchange is over")
        if self._cancelled is not None:
            return self._after_cancel(reply)
        if reply.code == 334:
            return self._challenge(reply)
        self.done = True
        self.reply = reply
        if reply.is_positive:
            self._finish(reply)
            self.succeeded = True
            return None
        if reply.is_intermediate:
            raise ProtocolError(f"AUTH answered {reply.code}, neither 334 nor a final reply")
        return None  # 4xx/5xx: the server said no; the caller reads self.reply

    # ---- internals -----------------------------------------------------------------
    def _challenge(self, reply: Reply) -> AuthLine:
        self.rounds += 1
        if self.rounds > self.max_rounds:
            return self._cancel(SASLError(f"more than {self.max_rounds} AUTH challenges: giving up"))
        if len(reply.lines) != 1:
            return self._cancel(SASLError("a multi-line 334 challenge"))
        text = reply.lines[0].strip(" \t")
        if len(text) > self.max_challenge:
            return self._cancel(SASLError(f"a challenge longer than {self.max_challenge} octets"))
        try:
            challenge = strict_b64decode(text)
        except ValueError:
            return self._cancel(SASLError("the server's challenge is not valid base64"))
        if self._pending is not None:
            # The deferred initial response answers the server's (empty) first challenge.
            response, self._pending = self._pending, None
        else:
            try:
                response = self.mechanism.respond(challenge)
            except SASLError as exc:
                return self._cancel(exc)
            except Exception as exc:  # a custom mechanism's bug must not wedge the session
                wrapped = SASLError(f"{self.mechanism.name}: {type(exc).__name__}: {exc}")
                wrapped.__cause__ = exc
                return self._cancel(wrapped)
            if not isinstance(response, bytes):
                return self._cancel(SASLError(f"{self.mechanism.name}: respond() did not return bytes"))
        if not response:
            return AuthLine(_CRLF, "")
        return AuthLine(base64.b64encode(response) + _CRLF, REDACTED)

    def _cancel(self, error: SASLError) -> AuthLine:
        self._cancelled = error
        return AuthLine(b"*" + _CRLF, "*")

    def _after_cancel(self, reply: Reply) -> NoReturn:
        self.done = True
        self.reply = reply
        if reply.code == 334 or reply.is_positive or reply.is_intermediate:
            raise ProtocolError(f"the server answered the AUTH cancel '*' with {reply.code}, not 501")
        error = self._cancelled
        assert error is not None
        raise SASLError(str(error), reply=reply) from error

    def _finish(self, reply: Reply) -> None:
        try:
            self.mechanism.finish()
        except SASLError as exc:
            raise SASLError(str(exc), reply=reply) from exc
        except Exception as exc:
            raise SASLError(f"{self.mechanism.name}: {type(exc).__name__}: {exc}", reply=reply) from exc
