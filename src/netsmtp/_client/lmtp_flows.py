"""LMTP (RFC 2033): what differs from SMTP, as overrides of the shared operations.

LHLO replaces EHLO (and there is no HELO to fall back to); after the end of the data
the server answers once per accepted recipient, in RCPT order (RFC 2033 §4.2) — smtplib
reads only the first of those replies (cpython#76984), leaving the rest to be taken as
answers to later commands. The default port is 24; a host starting with ``/`` is a Unix
socket path.
"""

from __future__ import annotations

from .._core.reply import Reply
from .._exceptions import SendError
from .requests import Flow
from .send_flows import SendFlows, SendResult


class LMTPFlows(SendFlows):
    """Overrides that make the shared operations speak LMTP."""

    _greeting_verb = "LHLO"
    default_port = 24
    default_ssl_port = 24
    data_replies: dict[str, Reply]

    def _end_replies(self) -> int:
        return max(1, len(self._txn_recipients))

    def _data_reply_flow(self) -> Flow[bool]:
        """Read one reply per accepted recipient; true when every one of them got the message."""
        recipients = self._txn_recipients or ["<no recipient>"]
        self.data_replies = {}
        for recipient in recipients:
            self.data_replies[recipient] = yield from self._read_final()
        self._txn_recipients = []
        return all(reply.is_positive for reply in self.data_replies.values())

    def _final_replies_extra(self, result: SendResult) -> int:
        return max(0, len(result.accepted) - 1)

    def _finish(self, result: SendResult, reply: Reply) -> Flow[SendResult]:
        replies = [reply]
        for _ in range(len(result.accepted) - 1):
            replies.append((yield from self._read_final()))
        self.data_replies = {}
        for recipient, data_reply in zip(list(result.accepted), replies, strict=True):
            self.data_replies[recipient] = data_reply
            if not data_reply.is_positive:
                del result.accepted[recipient]
                result.refused[recipient] = data_reply
            else:
                result.accepted[recipient] = data_reply
        result.reply = replies[-1]
        if not result.accepted:
            raise SendError(f"message refused for every recipient: {replies[-1]}", result)
        return result
