"""One client session for ``netsmtp send``: connect, TLS, EHLO, AUTH, each stage checked.

Every step is a call on :class:`netsmtp.SMTP`; this module only decides the order, what
counts as a failure, and which stage (hence which exit code) a failure belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import SMTP, ConnectError, GreetingError
from .._config import configured_hosts
from .._hosts import split_host
from . import exitcodes
from .tls import Handshake, HandshakeRecorder, make_context
from .transcript import Transcript

STAGE_ORDER = ("connect", "tls", "ehlo", "auth", "mail", "rcpt", "data")
IMPLICIT_TLS_PORT = 465


class StageFailure(Exception):
    """A stage failed; ``code`` is the exit code, the message says why in one line."""

    def __init__(self, stage: str, message: str, code: int | None = None, outcome: Any = None) -> None:
        super().__init__(message)
        self.stage = stage
        self.code = code if code is not None else exitcodes.STAGES.get(stage, exitcodes.FAILURE)
        self.outcome = outcome  # a deliver.Outcome once the transaction has begun


class QuitAfter(Exception):
    """The --quit-after stage was reached."""

    def __init__(self, stage: str, outcome: Any = None) -> None:
        super().__init__(stage)
        self.stage = stage
        self.outcome = outcome


@dataclass
class Settings:
    hosts: list[str] | None
    tls: str = "auto"  # auto, starttls, ssl, none
    require_tls: bool = False
    cafile: str | None = None
    insecure: bool = False
    tls_name: str | None = None
    timeout: float = 30.0
    hello: str | None = None
    user: str | None = None
    password: str | None = None
    mechanism: str | None = None
    allow_insecure_auth: bool = False
    quit_after: str | None = None

    def implicit_tls(self) -> bool:
        if self.tls == "ssl":
            return True
        if self.tls != "auto":
            return False
        hosts = self.hosts or configured_hosts()
        if not hosts:
            return False
        try:
            return split_host(hosts[0], 25)[1] == IMPLICIT_TLS_PORT
        except ValueError:
            return False


class Session:
    """An open, checked session; ``open()`` raises StageFailure or QuitAfter."""

    def __init__(self, settings: Settings, transcript: Transcript) -> None:
        self.settings = settings
        self.transcript = transcript
        self.context = make_context(settings.cafile, settings.insecure)
        self.recorder = HandshakeRecorder(self.context)
        self.smtp: SMTP | None = None

    @property
    def handshake(self) -> Handshake | None:
        smtp = self.smtp
        return self.recorder.last if smtp is not None and smtp.tls_active else None

    def _reached(self, stage: str) -> None:
        if self.settings.quit_after == stage:
            raise QuitAfter(stage)

    def open(self) -> SMTP:
        self._connect()
        self._reached("connect")
        smtp = self.smtp
        assert smtp is not None
        implicit = smtp.tls_active
        if implicit:
            self._reached("tls")
        try:
            named = smtp.hello(self.settings.hello)
        except ValueError as exc:
            raise StageFailure("ehlo", str(exc), exitcodes.USAGE) from exc
        if not named:
            raise StageFailure("ehlo", f"EHLO/HELO refused: {smtp.code()} {smtp.message()}")
        if not implicit:
            self._starttls(smtp)
            self._reached("tls")
        self._reached("ehlo")
        if self.settings.user is not None:
            self._auth(smtp)
        self._reached("auth")
        return smtp

    def _connect(self) -> None:
        s = self.settings
        implicit = s.implicit_tls()
        where = ", ".join(s.hosts) if s.hosts else "the configured host(s)"
        if implicit:
            mode = "implicit TLS"
        elif s.tls == "none":
            mode = "no TLS"
        elif s.tls == "starttls" or s.require_tls:
            mode = "STARTTLS required"
        else:
            mode = "STARTTLS if offered"
        self.transcript.note(f"connecting to {where} ({mode}, timeout {s.timeout:g} s)")
        try:
            self.smtp = SMTP(
                s.hosts or None,
                ssl=implicit,
                ssl_context=self.context,
                server_hostname=s.tls_name,
                timeout=s.timeout,
                hello=s.hello,
                send_hello=False,
                allow_insecure_auth=s.allow_insecure_auth,
            )
        except ValueError as exc:  # a host or EHLO name that can never be used
            raise StageFailure("connect", str(exc), exitcodes.USAGE) from exc
        except GreetingError as exc:
            raise StageFailure("ehlo", f"the server refused the session: {exc.reply or exc}") from exc
        except ConnectError as exc:
            tls = bool(exc.attempts) and all("TLSError" in why for _, why in exc.attempts)
            raise StageFailure("tls" if tls else "connect", str(exc)) from exc
        smtp = self.smtp
        if smtp.tls_active and self.recorder.last is not None:
            self.transcript.note(f"TLS: {self.recorder.last.summary()}")

    def _starttls(self, smtp: SMTP) -> None:
        s = self.settings
        if s.tls == "none":
            self.transcript.note("no TLS (--tls none): everything below crosses the network in the clear")
            return
        if smtp.supports("STARTTLS") is None:
            if s.tls == "starttls" or s.require_tls:
                raise StageFailure(
                    "tls", "the server does not offer STARTTLS; refusing to continue in plaintext"
                )
            self.transcript.note(
                "the server does not offer STARTTLS: continuing WITHOUT encryption (--require-tls refuses)"
            )
            return

        def note() -> str | None:
            last = self.recorder.last
            return f"TLS: {last.summary()}" if last is not None else None

        self.transcript.tls_note = note
        try:
            ok = smtp.starttls(self.context, s.tls_name)
        finally:
            self.transcript.tls_note = None
        if not ok:
            raise StageFailure("tls", f"STARTTLS failed: {smtp.code()} {smtp.message()}")

    def _auth(self, smtp: SMTP) -> None:
        s = self.settings
        assert s.user is not None and s.password is not None
        try:
            ok = smtp.auth(s.user, s.password, s.mechanism)
        except ValueError as exc:
            raise StageFailure("auth", str(exc), exitcodes.USAGE) from exc
        if ok:
            self.transcript.note(f"authenticated as {s.user}")
            return
        text = f"{smtp.code()} {smtp.message()}"
        if smtp.code() == 530 and "[netsmtp]" in text:
            text += " (here: use --tls starttls or ssl without --insecure, or --allow-insecure-auth)"
        elif smtp.code() == 500 and smtp.supports("AUTH") is None:
            text = "the server does not offer AUTH" + ("" if smtp.tls_active else " (before TLS)")
        raise StageFailure("auth", f"authentication failed: {text}")

    def close(self) -> None:
        """QUIT (when the session is still usable), then close."""
        smtp, self.smtp = self.smtp, None
        if smtp is not None:
            smtp.quit()
