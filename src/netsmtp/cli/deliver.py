"""Sending one message on an open session, and naming the stage of any failure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NoReturn

from .. import SMTP, DeliveryUnknown, Reply, ReplyError, SendError, SendResult, SMTPError
from . import exitcodes
from .message import Outgoing
from .session import QuitAfter, StageFailure
from .transcript import Transcript

_STAGE_OF_VERB = {"MAIL": "mail", "RCPT": "rcpt", "DATA": "data", "BDAT": "data", ".": "data"}


def reply_text(reply: Reply | None) -> str | None:
    return " / ".join(f"{reply.code} {line}".rstrip() for line in reply.lines) if reply is not None else None


@dataclass
class Outcome:
    """What happened to one message."""

    sender: str | None = None
    accepted: dict[str, str] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)
    reply: str | None = None

    @classmethod
    def of(cls, result: SendResult) -> Outcome:
        return cls(
            result.sender,
            {a: reply_text(r) or "" for a, r in result.accepted.items()},
            {a: reply_text(r) or "" for a, r in result.refused.items()},
            reply_text(result.reply),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "sender": self.sender,
            "accepted": self.accepted,
            "refused": self.refused,
            "reply": self.reply,
        }


def _failed_stage(result: SendResult) -> str:
    if result.mail_reply is None or not result.mail_reply.is_positive:
        return "mail"
    if not result.accepted and all(r is not result.reply for r in result.refused.values()):
        return "rcpt"  # refused at RCPT, not moved to refused by the end-of-data reply
    return "data"


def send(smtp: SMTP, outgoing: Outgoing, transcript: Transcript, message: Any = None) -> Outcome:
    """``send_message`` the whole transaction (pipelined when offered). Raises StageFailure;
    a delivery refused for some recipients returns normally (the caller checks ``refused``)."""
    try:
        result = smtp.send_message(
            message if message is not None else outgoing.message, outgoing.sender, outgoing.recipients
        )
    except SendError as exc:
        result = exc.result
        stage = _failed_stage(result)
        outcome = Outcome.of(result)
        if stage == "mail":
            why = f"MAIL FROM refused: {reply_text(result.mail_reply)}"
        elif stage == "rcpt":
            why = "every recipient refused: " + "; ".join(f"{a}: {r}" for a, r in outcome.refused.items())
        else:
            why = f"message refused: {outcome.reply}"
        raise StageFailure(stage, why, outcome=outcome) from exc
    except ValueError as exc:
        raise StageFailure("mail", f"cannot send this message: {exc}", exitcodes.USAGE) from exc
    except DeliveryUnknown as exc:
        raise StageFailure("data", f"delivery unknown: {exc}") from exc
    except ReplyError as exc:
        stage = _STAGE_OF_VERB.get((exc.command or "").upper(), "mail")
        raise StageFailure(stage, f"{exc.command or 'command'} refused: {reply_text(exc.reply)}") from exc
    except SMTPError as exc:
        stage = _STAGE_OF_VERB.get(transcript.last_command or "", "mail")
        raise StageFailure(stage, f"{type(exc).__name__}: {exc}") from exc
    return Outcome.of(result)


def step_by_step(smtp: SMTP, outgoing: Outgoing, quit_after: str, transcript: Transcript) -> NoReturn:
    """MAIL, RCPT, DATA one command at a time, stopping after ``quit_after``."""
    try:
        _steps(smtp, outgoing, quit_after, transcript)
    except ValueError as exc:  # an address that can never be sent (checked before any byte)
        raise StageFailure("mail", f"cannot send this message: {exc}", exitcodes.USAGE) from exc


def _steps(smtp: SMTP, outgoing: Outgoing, quit_after: str, transcript: Transcript) -> NoReturn:
    sender, recipients = outgoing.envelope()
    outcome = Outcome(sender)
    if not smtp.mail(sender):
        raise StageFailure("mail", f"MAIL FROM refused: {reply_text(smtp.last_reply)}")
    if quit_after == "mail":
        raise QuitAfter("mail", outcome)
    for recipient in recipients:
        ok = smtp.to(recipient)
        (outcome.accepted if ok else outcome.refused)[recipient] = reply_text(smtp.last_reply) or ""
    if not outcome.accepted:
        why = "every recipient refused: " + "; ".join(f"{a}: {r}" for a, r in outcome.refused.items())
        raise StageFailure("rcpt", why, outcome=outcome)
    if quit_after == "rcpt":
        raise QuitAfter("rcpt", outcome)
    if not smtp.data():
        raise StageFailure("data", f"DATA refused: {reply_text(smtp.last_reply)}", outcome=outcome)
    transcript.note("--quit-after data: closing without sending the message; nothing is delivered")
    smtp.close()
    raise QuitAfter("data", outcome)
