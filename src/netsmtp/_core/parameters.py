"""ESMTP parameters of MAIL and RCPT (SPEC A8, Part B §7-8).

Options are type-checked, emitted in one fixed order (Net::SMTP's, with SMTPUTF8 and
REQUIRETLS last), never twice. An option whose extension the server does not advertise
is dropped with a warning, except SMTPUTF8 and REQUIRETLS, whose absence fails the
command before it is sent: dropping them would change what the message means.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .address import to_path
from .capabilities import Capabilities
from .xtext import is_xtext, xtext

# Python name -> Net::SMTP spelling; both are accepted.
MAIL_OPTIONS = {
    "size": "Size",
    "ret": "Return",
    "bits": "Bits",
    "transaction": "Transaction",
    "envelope": "Envelope",
    "envid": "ENVID",
    "xverp": "XVERP",
    "auth": "AUTH",
    "smtputf8": "SMTPUTF8",
    "requiretls": "REQUIRETLS",
}
RCPT_OPTIONS = {"notify": "Notify", "orcpt": "ORcpt", "skip_bad": "SkipBad"}

_ADDR_TYPE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*)")
_NOTIFY = frozenset({"SUCCESS", "FAILURE", "DELAY"})
_ESMTP_VALUE = re.compile(r"[\x21-\x3c\x3e-\x7e]+")  # RFC 5321 §4.1.2 esmtp-value


def normalise_options(given: Mapping[str, Any], known: Mapping[str, str], where: str) -> dict[str, Any]:
    """Map both spellings onto the Python names; unknown or doubled names raise TypeError."""
    out: dict[str, Any] = {}
    if not given:  # the usual call: no options at all
        return out
    perl = {v: k for k, v in known.items()}
    for name, value in given.items():
        key = name if name in known else perl.get(name)
        if key is None:
            raise TypeError(f"{where}() got an unexpected option {name!r}")
        if key in out:
            raise TypeError(f"{where}() got option {key!r} twice (as {key!r} and {known[key]!r})")
        out[key] = value
    return out


@dataclass
class Parameters:
    """The outcome of building parameters: what to send, and what was dropped and why."""

    params: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    missing: str | None = None  # an extension the command cannot go without

    @property
    def text(self) -> str:
        return " " + " ".join(self.params) if self.params else ""


def _want(caps: Capabilities | None, keyword: str, result: Parameters, option: str) -> bool:
    if caps is not None and keyword in caps:
        return True
    result.dropped.append(f"{option} option dropped: the server does not advertise {keyword}")
    return False


def mail_parameters(
    options: Mapping[str, Any], caps: Capabilities | None, path: str, exact: bool = False
) -> Parameters:
    """Validate MAIL options (Python names) and build the parameter list."""
    if not options and path.isascii():  # the usual MAIL: nothing to check, nothing to add
        return Parameters()
    result = Parameters()
    opts = {k: v for k, v in options.items() if v is not None} if options else {}
    size = opts.get("size")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
        raise TypeError(f"size must be a non-negative int, not {size!r}")
    ret = opts.get("ret")
    if ret is not None:
        if not isinstance(ret, str):
            raise TypeError(f"ret must be a str ('FULL' or 'HDRS'), not {ret!r}")
        if ret.upper() not in ("FULL", "HDRS"):
            raise ValueError(f"ret must be 'FULL' or 'HDRS', not {ret!r}")
        ret = ret.upper()
    bits = opts.get("bits")
    if bits is not None:
        bits = str(bits).lower()
        if bits not in ("7", "8", "binary"):
            raise ValueError(f"bits must be '7', '8' or 'binary', not {opts['bits']!r}")
    for flag in ("xverp", "smtputf8", "requiretls"):
        if flag in opts and not isinstance(opts[flag], bool):
            raise TypeError(f"{flag} must be a bool, not {opts[flag]!r}")
    envid = opts.get("envid")
    if envid is not None and not isinstance(envid, str):
        raise TypeError(f"envid must be a str (already xtext), not {envid!r}")
    if envid is not None and not is_xtext(envid):
        raise ValueError(f"envid must be valid xtext (use netsmtp.xtext() to encode): {envid!r}")
    envelope = opts.get("envelope")
    if envelope is not None and not isinstance(envelope, str | bytes):
        raise TypeError(f"envelope must be a str or bytes, not {envelope!r}")
    if envid is not None and envelope is not None:
        raise ValueError("give envelope (raw) or envid (encoded), not both: ENVID goes out once")
    auth = opts.get("auth")
    if auth is not None:
        if not isinstance(auth, str):
            raise TypeError(f"auth must be a str, not {auth!r}")
        if auth not in ("", "<>") and not is_xtext(auth):
            raise ValueError(f"auth must be valid xtext or '<>': {auth!r}")
    transaction = opts.get("transaction")
    transid = to_path(transaction, exact) if transaction is not None else None
    if transid is not None and not _ESMTP_VALUE.fullmatch(transid):
        # A quoted local part may hold a space: "TRANSID=<"x NOTIFY=NEVER"@y>" would be read
        # as two parameters (SECURITY CI-04). RFC 5321 §4.1.2: printable ASCII, no space or "=".
        raise ValueError(f"transaction must be a path without spaces, '=' or non-ASCII: {transaction!r}")

    if size is not None and _want(caps, "SIZE", result, "size"):
        result.params.append(f"SIZE={size}")
    if ret is not None and _want(caps, "DSN", result, "ret"):
        result.params.append(f"RET={ret}")
    if bits is not None:
        if bits == "8":
            if _want(caps, "8BITMIME", result, "bits"):
                result.params.append("BODY=8BITMIME")
        elif bits == "binary":
            if caps is not None and "BINARYMIME" in caps and "CHUNKING" in caps:
                result.params.append("BODY=BINARYMIME")
            else:
                result.dropped.append(
                    "bits option dropped: the server does not advertise BINARYMIME and CHUNKING"
                )
        elif caps is not None and ("8BITMIME" in caps or "BINARYMIME" in caps):
            result.params.append("BODY=7BIT")
        else:
            result.dropped.append("bits option dropped: the server does not advertise 8BITMIME")
    if transid is not None and _want(caps, "CHECKPOINT", result, "transaction"):
        result.params.append(f"TRANSID={transid}")
    if envelope is not None and _want(caps, "DSN", result, "envelope"):
        result.params.append(f"ENVID={xtext(envelope)}")
    if envid is not None and _want(caps, "DSN", result, "envid"):
        result.params.append(f"ENVID={envid}")
    if auth is not None and _want(caps, "AUTH", result, "auth"):
        result.params.append(f"AUTH={auth or '<>'}")
    if opts.get("xverp") and _want(caps, "XVERP", result, "xverp"):
        result.params.append("XVERP")
    if opts.get("smtputf8") or not path.isascii():
        if caps is None or "SMTPUTF8" not in caps:
            result.missing = "SMTPUTF8"
        result.params.append("SMTPUTF8")
    if opts.get("requiretls"):
        if caps is None or "REQUIRETLS" not in caps:
            result.missing = result.missing or "REQUIRETLS"
        result.params.append("REQUIRETLS")
    return result


def rcpt_parameters(options: Mapping[str, Any], caps: Capabilities | None) -> Parameters:
    """Validate RCPT options (``notify``, ``orcpt``) and build the parameter list."""
    result = Parameters()
    notify = options.get("notify")
    orcpt = options.get("orcpt")
    if notify is not None:
        # bytes are a Sequence too (of ints): refused like a str, not read number by number
        if isinstance(notify, str | bytes | bytearray) or not isinstance(notify, Sequence):
            raise TypeError(f"notify must be a list such as ['SUCCESS', 'FAILURE'], not {notify!r}")
        words = [str(w).upper() for w in notify]
        if not words:
            raise ValueError("notify must not be empty")
        if words != ["NEVER"] and not set(words) <= _NOTIFY:
            raise ValueError(f"notify must be ['NEVER'] or a subset of SUCCESS, FAILURE, DELAY: {notify!r}")
        if len(set(words)) != len(words):
            raise ValueError(f"notify lists a value twice: {notify!r}")
        if _want(caps, "DSN", result, "notify"):
            result.params.append("NOTIFY=" + ",".join(words))
    if orcpt is not None:
        if not isinstance(orcpt, str):
            raise TypeError(f"orcpt must be a str such as 'rfc822;user+40example.org', not {orcpt!r}")
        kind, semi, value = orcpt.partition(";")
        if not semi or not _ADDR_TYPE.fullmatch(kind) or not value or not is_xtext(value):
            raise ValueError(f"orcpt must be 'addr-type;xtext' (use netsmtp.xtext()): {orcpt!r}")
        if _want(caps, "DSN", result, "orcpt"):
            result.params.append(f"ORCPT={orcpt}")
    return result
