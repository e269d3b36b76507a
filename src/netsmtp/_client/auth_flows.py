"""SMTP AUTH (RFC 4954): choosing a mechanism, the plaintext policy, running the exchange.

SPEC A7 and Part B §6; SECURITY AU-01..AU-08, MS-16, CI-08, CI-13. The mechanisms are
sans-IO objects (:mod:`netsmtp._core.sasl`) and :class:`~netsmtp._core.sasl.AuthExchange`
turns one of them into lines and consumes the replies; this module decides *which*
mechanism may run and drives the exchange with the client's ``_send``/``_read``.

The rules, in order:

1. A second ``auth()`` after a success raises :class:`UsageError` (AU-08): RFC 4954 §4
   allows one successful AUTH per session, and a local check beats trusting a 503.
2. ``AUTH`` not advertised (in the *current* EHLO table, which the session forgets at
   STARTTLS, AU-03): false, code 500 "Command unknown: 'AUTH'", nothing sent.
3. Candidates. A mechanism object: itself. A name (or several): those names, which must
   be known and advertised. Nothing named: every password mechanism the server offers,
   in *our* order (:data:`netsmtp._core.sasl.PREFERENCE`, AU-04); only names from our own
   list ever reach a command line (CI-13); OAuth mechanisms only when named.
4. Filters, each explained when nothing survives: ``-PLUS`` needs TLS channel binding
   (``tls-server-end-point`` of the server's certificate: Python's :mod:`ssl` cannot
   export keying material, so ``tls-exporter`` is impossible); a mechanism that exposes
   the secret (PLAIN, LOGIN, XOAUTH2, OAUTHBEARER, or a custom one that says so) is
   refused unless the connection is encrypted *and verified*, or the peer is a loopback
   address, or the constructor got ``allow_insecure_auth=True`` (AU-01, AU-02). A refusal
   is :class:`AuthPolicyError` (code 530) and nothing is sent.
5. Every mechanism object is built before the first byte, so bad credentials (CR, LF,
   NUL, SASLprep-prohibited characters) raise ``ValueError`` with nothing sent.
6. The exchange: 504 (mechanism unknown) or 534 (too weak) moves on to the next
   candidate; anything else, 535 above all, ends it (AU-05: retrying a wrong password
   with every mechanism multiplies lock-out attempts). A cancelled exchange (bad base64,
   too many rounds, an over-long or unacceptable challenge, MS-16) fails cleanly and the
   session stays usable. A mechanism that distrusts a 2xx (SCRAM without a valid server
   signature) fails and the connection is closed: the server believes we are logged in.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from typing import Any

from .._core import sasl
from .._core.reply import Reply
from .._core.sasl import AuthExchange, AuthLine, ChannelBinding, Mechanism
from .._core.sasl.base import is_mechanism_name
from .._exceptions import AuthPolicyError, NotSupportedError, ReplyError, UsageError
from .requests import Flow
from .state import ClientState, pseudo_reply

# Replies that mean "not this mechanism", after which the next candidate is tried.
TRY_NEXT = frozenset({504, 534})
CHANNEL_BINDING_TYPE = "tls-server-end-point"
_NAME_SEPARATORS = re.compile(r"[ \t,]+")

Credential = str | Callable[[], str]


def is_loopback(peer: tuple[Any, ...] | None) -> bool:
    """True when the connection cannot leave this host: a loopback address (127.0.0.0/8,
    ::1, ::ffff:127.x) or a Unix-domain socket (LMTP's ``/path``).

    The address is the one actually connected to (the socket's peer), never the host name
    the caller gave: a name can resolve anywhere. Tests replace this function to simulate
    a remote host (``monkeypatch.setattr(auth_flows, "is_loopback", ...)``).
    """
    if not isinstance(peer, tuple) or not peer or not isinstance(peer[0], str):
        return False
    if len(peer) == 1:
        return peer[0].startswith("/")  # AF_UNIX: (path,)
    try:
        address = ipaddress.ip_address(peer[0].split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def _names(mechanism: str | Sequence[str]) -> list[str]:
    """The caller's mechanism names, upper-cased, in the caller's order, without doubles."""
    if isinstance(mechanism, str):
        items: list[Any] = _NAME_SEPARATORS.split(mechanism.strip())
    elif isinstance(mechanism, list | tuple):
        items = list(mechanism)
    else:
        raise TypeError(
            f"mechanism must be a name or a list of names, not {type(mechanism).__name__} "
            "(a mechanism object is passed alone: auth(mechanism_object))"
        )
    names: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"mechanism names must be str, not {type(item).__name__}")
        if not is_mechanism_name(item) or item.upper() not in sasl.names():
            raise ValueError(
                f"unknown SASL mechanism {item!r}: netsmtp has {', '.join(sasl.names())}; "
                "pass a mechanism object for any other"
            )
        if item.upper() not in names:
            names.append(item.upper())
    if not names:
        raise ValueError("no mechanism named")
    return names


class AuthFlows(ClientState):
    """``auth()``: mechanism choice, policy, and the AUTH exchange."""

    _stream: Any
    _authenticated = False

    # ---- what the connection offers -----------------------------------------------------
    def channel_binding(self) -> ChannelBinding | None:
        """The TLS channel binding of this connection, for ``-PLUS`` mechanisms.

        ``tls-server-end-point`` (RFC 5929 §4): a hash of the server's certificate, while
        TLS is active; None without TLS, or when the certificate's signature algorithm
        leaves the binding undefined. Custom mechanism objects that bind to the channel
        take it from here. (``tls-exporter``, RFC 9266, would be better on TLS 1.3, but
        Python's :mod:`ssl` cannot export keying material.)
        """
        if not self._session.tls_active or self._session.closed or self._stream is None:
            return None
        der = self._stream.peer_certificate()
        if not der:
            return None
        try:
            return ChannelBinding(CHANNEL_BINDING_TYPE, sasl.tls_server_end_point(der))
        except ValueError:
            return None

    def _secret_refusal(self) -> str | None:
        """Why a secret-exposing mechanism may not run here, or None when it may."""
        if self._options.allow_insecure_auth or is_loopback(self._peer):
            return None
        if not self._session.tls_active:
            return "the connection is not encrypted"
        if not self._tls_verified:
            return "the TLS connection is not verified (certificate or host name check is off)"
        return None

    # ---- the operation ----------------------------------------------------------------------
    def _auth_flow(
        self,
        username_or_mechanism: str | Mechanism,
        password: Credential | None,
        mechanism: str | Sequence[str] | None,
    ) -> Flow[bool]:
        custom: Mechanism | None = None
        username, names = "", None
        if isinstance(username_or_mechanism, str):
            username = username_or_mechanism
            if password is None:
                raise TypeError("auth(username, password): the password (or OAuth token) is missing")
            if not isinstance(password, str) and not callable(password):
                raise TypeError(f"the password must be a str, not {type(password).__name__}")
            names = _names(mechanism) if mechanism is not None else None
            if callable(password) and names is None:
                raise TypeError("a callable token is for OAuth: name the mechanism (XOAUTH2 or OAUTHBEARER)")
            if not username and names != ["OAUTHBEARER"]:
                raise ValueError("auth() needs a user name")
        elif isinstance(username_or_mechanism, Mechanism):
            if password is not None or mechanism is not None:
                raise TypeError("auth(mechanism_object) takes no password and no mechanism name")
            custom = username_or_mechanism
            if not is_mechanism_name(custom.name):
                raise ValueError(f"invalid SASL mechanism name: {custom.name!r}")
        else:
            raise TypeError(
                "auth() takes a user name and a password, or one mechanism object, "
                f"not {type(username_or_mechanism).__name__}"
            )

        self._ensure_open()
        if self._authenticated:
            raise UsageError("already authenticated: RFC 4954 allows one successful AUTH per session")
        caps = self._session.capabilities
        if caps is None or "AUTH" not in caps:
            raise NotSupportedError(pseudo_reply(500, "Command unknown: 'AUTH'"), "AUTH")
        offered = sasl.server_mechanisms(caps["AUTH"])

        if custom is not None:
            self._check_custom(custom, offered)
            mechanisms: list[Mechanism] = [custom]
        else:
            assert password is not None
            mechanisms = self._build(username, password, names, offered)

        for index, mech in enumerate(mechanisms):
            exchange = AuthExchange(mech)
            line: AuthLine | None = exchange.start()
            while line is not None:
                yield from self._send(line.data, line.text, "AUTH")
                reply = yield from self._read()
                line = exchange.receive(reply)
            if exchange.succeeded:
                self._authenticated = True
                return True
            final = exchange.reply
            assert final is not None
            if final.code in TRY_NEXT and index + 1 < len(mechanisms):
                continue
            raise ReplyError(final, "AUTH")
        raise AssertionError("unreachable: no mechanism was tried")  # pragma: no cover

    # ---- choosing ----------------------------------------------------------------------------
    def _check_custom(self, mech: Mechanism, offered: frozenset[str]) -> None:
        name = mech.name.upper()
        if name not in offered:
            raise NotSupportedError(self._unusable(offered, [f"{name} is not offered by the server"]), "AUTH")
        if mech.needs_channel_binding and not self._session.tls_active:
            raise NotSupportedError(self._unusable(offered, [f"{name} needs TLS channel binding"]), "AUTH")
        if mech.exposes_secret:
            why = self._secret_refusal()
            if why is not None:
                raise AuthPolicyError(self._policy_reply([name], why), "AUTH")

    def _build(
        self,
        username: str,
        password: Credential,
        names: list[str] | None,
        offered: frozenset[str],
    ) -> list[Mechanism]:
        """The mechanism objects to try, best first; raises when there is none."""
        binding = self.channel_binding()
        secret_refusal = self._secret_refusal()
        candidates = names if names is not None else list(sasl.PREFERENCE)
        usable: list[str] = []
        refused: list[str] = []  # exposes the secret where that is not allowed
        reasons: list[str] = []
        for name in candidates:
            if name not in offered:
                if names is not None:
                    reasons.append(f"{name} is not offered by the server")
                continue
            if name.endswith("-PLUS") and binding is None:
                reasons.append(f"{name} needs TLS channel binding (TLS with a server certificate)")
                continue
            if secret_refusal is not None and sasl.exposes_secret(name):
                refused.append(name)
                continue
            usable.append(name)
        if not usable:
            if refused:
                raise AuthPolicyError(self._policy_reply(refused, secret_refusal or ""), "AUTH")
            if names is None and offered & set(sasl.OAUTH_MECHANISMS):
                reasons.append("OAuth mechanisms are used only when named (mechanism='XOAUTH2')")
            raise NotSupportedError(self._unusable(offered, reasons), "AUTH")
        connected = self._connected_name
        host = connected if connected and _printable(connected) and not connected.startswith("/") else None
        peer = self._peer or ()
        port = peer[1] if len(peer) > 1 and isinstance(peer[1], int) else None
        made: list[Mechanism] = []
        for name in usable:
            scram_binding = binding
            if name.startswith("SCRAM-") and not name.endswith("-PLUS") and f"{name}-PLUS" in offered:
                # The server offers -PLUS but we are not using it (named, or a retry): "n",
                # not "y", or a correct server would take "y" for a downgrade (RFC 5802 §6).
                scram_binding = None
            made.append(
                sasl.create(name, username, password, channel_binding=scram_binding, host=host, port=port)
            )
        return made

    # ---- explaining -------------------------------------------------------------------------
    def _policy_reply(self, names: list[str], why: str) -> Reply:
        where = self._connected_name or "the server"
        which = " and ".join(names)
        return pseudo_reply(
            530,
            f"5.7.0 [netsmtp] AUTH not sent: {which} would expose the password or token to anyone "
            f"on the path, because {why} and {where} is not a loopback address. Call starttls() "
            "first (with a verifying context), or pass allow_insecure_auth=True if you accept the risk.",
        )

    def _unusable(self, offered: frozenset[str], reasons: list[str]) -> Reply:
        shown = " ".join(sorted(offered)) or "no mechanism netsmtp can read"
        detail = "; ".join(reasons) if reasons else "none of them is one netsmtp has"
        return pseudo_reply(
            504,
            f"5.5.4 [netsmtp] No usable SASL mechanism: the server offers {shown}; {detail}. AUTH not sent.",
        )


def _printable(host: str) -> bool:
    return host.isascii() and host.isprintable() and " " not in host
