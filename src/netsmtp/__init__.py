"""netsmtp: Perl's Net::SMTP for Python, with a sans-IO core.

>>> from netsmtp import SMTP
>>> # with SMTP("mail.example.org") as smtp: smtp.mail("a@example.org"); ...
"""

from __future__ import annotations

from ._async_smtp import AsyncDataFile, AsyncLMTP, AsyncSMTP
from ._client.send_flows import SendResult
from ._client.state import CMD_ERROR, CMD_INFO, CMD_MORE, CMD_OK, CMD_PENDING, CMD_REJECT
from ._core.capabilities import Capabilities
from ._core.reply import Reply
from ._core.sasl import ChannelBinding, Mechanism, SASLError
from ._core.xtext import xtext
from ._exceptions import (
    AuthPolicyError,
    ConnectError,
    ConnectionLost,
    ConnectTimeout,
    DeliveryUnknown,
    ExtensionWarning,
    GreetingError,
    NotSupportedError,
    ProtocolError,
    ReplyError,
    SendError,
    SMTPError,
    SMTPTimeout,
    TLSError,
    UsageError,
)
from ._smtp import LMTP, SMTP, DataFile

__version__ = "0.1.0"

__all__ = [
    "CMD_ERROR",
    "CMD_INFO",
    "CMD_MORE",
    "CMD_OK",
    "CMD_PENDING",
    "CMD_REJECT",
    "LMTP",
    "SMTP",
    "AsyncDataFile",
    "AsyncLMTP",
    "AsyncSMTP",
    "AuthPolicyError",
    "Capabilities",
    "ChannelBinding",
    "ConnectError",
    "ConnectTimeout",
    "ConnectionLost",
    "DataFile",
    "DeliveryUnknown",
    "ExtensionWarning",
    "GreetingError",
    "Mechanism",
    "NotSupportedError",
    "ProtocolError",
    "Reply",
    "ReplyError",
    "SASLError",
    "SMTPError",
    "SMTPTimeout",
    "SendError",
    "SendResult",
    "TLSError",
    "UsageError",
    "__version__",
    "xtext",
]
