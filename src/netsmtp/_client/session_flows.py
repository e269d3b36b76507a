"""Operations that set up, secure and end a session (SPEC Part B §2-5, §9; A5, A6, A12, A13)."""

from __future__ import annotations

import logging
import socket
import ssl

from .._config import HOW_TO_CONFIGURE, config_path, configured_hosts
from .._core.commands import check_argument, encode_line
from .._core.reply import Reply
from .._core.session import Session, State
from .._exceptions import (
    ConnectError,
    ConnectionLost,
    ConnectTimeout,
    GreetingError,
    NotSupportedError,
    ReplyError,
    SMTPError,
    SMTPTimeout,
    UsageError,
)
from .._hostname import default_hello
from .._hosts import split_host
from .._tls import default_context, verifies, verify_name
from .requests import Close, Flow, Open, Resolve, StartTLS
from .state import ClientState, pseudo_reply

logger = logging.getLogger("netsmtp")

# Leaving a ``with`` block waits this long at most for the answer to its QUIT (SECURITY
# RS-06): the QUIT is a courtesy, and an exception from the block must not wait behind it.
EXIT_QUIT_TIMEOUT = 5.0


class SessionFlows(ClientState):
    """Connecting, greeting, EHLO/HELO, STARTTLS, QUIT and the simple queries."""

    default_port = 25
    default_ssl_port = 465

    def _establish_flow(self) -> Flow[None]:
        """The constructor: connect, greeting, EHLO. Every failure is a ConnectError."""
        try:
            yield from self._connect_flow()
            yield from self._greet_flow()
        except ConnectError:
            raise
        except SMTPTimeout as exc:
            raise ConnectTimeout(f"timed out setting up the session: {exc}") from exc
        except SMTPError as exc:
            raise ConnectError(f"session setup failed: {type(exc).__name__}: {exc}") from exc

    def _connect_flow(self) -> Flow[None]:
        """Try each host and each of its addresses until one greets us (A13)."""
        opts = self._options
        hosts = list(opts.hosts) if opts.hosts is not None else configured_hosts()
        if not hosts:
            raise ConnectError(HOW_TO_CONFIGURE.format(path=config_path()))
        port = opts.port or (self.default_ssl_port if opts.ssl else self.default_port)
        local = (opts.local_addr or "", opts.local_port or 0) if opts.local_addr or opts.local_port else None
        attempts: list[tuple[str, str]] = []
        causes: list[tuple[str, BaseException]] = []
        refused: Reply | None = None
        timed_out = 0
        for host_text in hosts:
            if host_text.startswith("/"):  # a Unix socket path (LMTP servers listen on these)
                try:
                    yield from self._open_one(socket.AF_UNIX, (host_text,), None, "localhost")
                except SMTPError as exc:
                    attempts.append((host_text, f"{type(exc).__name__}: {exc}"))
                    causes.append((host_text, exc))
                    yield Close()
                    continue
                self._connected_host = self._connected_name = host_text
                return
            host, host_port = split_host(host_text, port)
            try:
                addresses = yield Resolve(host, host_port, opts.family)
            except ConnectError as exc:
                attempts.append((host_text, str(exc)))
                causes.append((host_text, exc))
                continue
            for family, sockaddr in addresses:
                where = f"{host_text} ({sockaddr[0]} port {sockaddr[1]})"
                try:
                    yield from self._open_one(family, sockaddr, local, host)
                except GreetingError as exc:
                    refused = exc.reply
                    attempts.append((where, str(exc)))
                    causes.append((where, exc))
                    yield Close()
                    continue
                except SMTPError as exc:
                    attempts.append((where, f"{type(exc).__name__}: {exc}"))
                    causes.append((where, exc))
                    timed_out += isinstance(exc, SMTPTimeout)
                    yield Close()
                    continue
                self._connected_host = host_text
                self._connected_name = host
                return
        detail = "; ".join(f"{h}: {why}" for h, why in attempts)
        error: ConnectError
        if refused is not None:
            error = GreetingError(f"no host accepted the session: {detail}", refused, attempts)
        elif attempts and timed_out == len(attempts):
            error = ConnectTimeout(f"timed out: {detail}", attempts)
        else:
            error = ConnectError(f"could not connect: {detail}", attempts)
        error.causes = causes
        raise error

    def _open_one(
        self, family: int, sockaddr: tuple[object, ...], local: tuple[str, int] | None, host: str
    ) -> Flow[None]:
        self._session = Session(max_line_length=self._options.max_line_length)
        yield Open(family, tuple(sockaddr), local)
        self._peer = tuple(sockaddr)
        if self._options.ssl:
            context = self._options.ssl_context or default_context()
            yield StartTLS(context, verify_name(host, self._options.server_hostname))
            self._session.implicit_tls()
            self._tls_verified = verifies(context)
        greeting = yield from self._read()
        if not greeting.is_positive or self._session.closed:  # 221: closing (SECURITY MS-13)
            self._session.close(" (greeting refused)")
            raise GreetingError(f"greeting refused: {greeting}", greeting)

    def _greet_flow(self) -> Flow[None]:
        """The constructor's EHLO/HELO; a refusal closes and raises GreetingError."""
        if not self._options.send_hello:
            return
        try:
            yield from self._hello_flow(None)
        except ReplyError as exc:
            self._session.close(" (EHLO/HELO refused)")
            raise GreetingError(f"{exc.command} refused: {exc.reply}", exc.reply) from None

    # ---- EHLO / HELO ---------------------------------------------------------------
    def _hello_name(self, domain: str | None) -> str:
        name = domain or self._options.hello or default_hello(self._local_address)
        check_argument(name, "hello domain")
        if not name.strip() or " " in name:
            raise ValueError(f"the hello domain must be one word: {name!r}")
        return name

    def _hello_flow(self, domain: str | None) -> Flow[str]:
        name = self._hello_name(domain)
        reply = yield from self._command(self._greeting_verb, name)
        if not reply.is_positive and reply.is_permanent and self._greeting_verb == "EHLO":
            # Only a 5xx means "I do not know EHLO"; a 4xx (421 above all) is not a cue to
            # try HELO (SECURITY MS-12).
            reply = yield from self._command("HELO", name)
            verb = "HELO"
        else:
            verb = self._greeting_verb
        self._expect_ok(reply, verb)
        self._hello_domain = name
        words = reply.lines[0].split()
        return words[0] if words else " "

    # ---- STARTTLS ----------------------------------------------------------------------
    def _starttls_flow(self, context: ssl.SSLContext | None, server_hostname: str | None) -> Flow[bool]:
        if self._session.tls_active:
            raise UsageError("the connection already uses TLS")
        if server_hostname is not None:
            check_argument(server_hostname, "server_hostname")
        caps = self._session.capabilities
        if caps is None or "STARTTLS" not in caps:
            # SECURITY SD-11: whoever goes on after this does so in clear; say so.
            logger.warning(
                "%s does not offer STARTTLS: the connection is not encrypted", self._connected_name
            )
            raise NotSupportedError(pseudo_reply(500, "Command unknown: 'STARTTLS'"), "STARTTLS")
        reply = yield from self._command("STARTTLS")
        if reply.code != 220:
            logger.warning(
                "%s refused STARTTLS (%s): the connection is not encrypted", self._connected_name, reply
            )
            raise ReplyError(reply, "STARTTLS")
        name = verify_name(self._connected_name or "", server_hostname or self._options.server_hostname)
        context = context or self._options.ssl_context or default_context()
        yield StartTLS(context, name)
        self._session.tls_established()
        self._tls_verified = verifies(context)
        # A6: the post-TLS EHLO must succeed; no HELO fallback that would keep using
        # whatever the plaintext phase said.
        name_sent = self._hello_name(self._hello_domain)
        reply = yield from self._command(self._greeting_verb, name_sent)
        if not reply.is_positive:
            self._session.close(" (EHLO refused after STARTTLS)")
            raise ReplyError(reply, self._greeting_verb)
        return True

    # ---- small commands -----------------------------------------------------------------
    def _simple_flow(self, verb: str, *args: str) -> Flow[Reply]:
        reply = yield from self._command(verb, *args)
        self._expect_ok(reply, verb)
        return reply

    def _etrn_flow(self, domain: str) -> Flow[bool]:
        check_argument(domain, "domain")
        caps = self._session.capabilities
        if caps is None or "ETRN" not in caps:
            raise NotSupportedError(pseudo_reply(500, "Command unknown: 'ETRN'"), "ETRN")
        yield from self._simple_flow("ETRN", domain)
        return True

    def _exit_quit_flow(self) -> Flow[bool]:
        """QUIT on leaving a ``with`` block: as quit(), its reply awaited EXIT_QUIT_TIMEOUT at most."""
        limit = self._options.timeout
        return (yield from self._quit_flow(min(limit, EXIT_QUIT_TIMEOUT) if limit else EXIT_QUIT_TIMEOUT))

    def _quit_flow(self, timeout: float | None = None) -> Flow[bool]:
        if self._session.closed:
            raise ConnectionLost(f"the connection is closed{self._session.closed_reason}")
        if self._session.state is State.DATA:
            # A10: sending QUIT now would make it part of the message; close instead,
            # which abandons the message.
            self._session.close(" (message abandoned by quit())")
            self._last_reply = pseudo_reply(421, "[netsmtp] Connection closed: message abandoned")
            return False
        reply = yield from self._read(self._queue(encode_line("QUIT")), timeout)
        return reply.is_positive

    def _raw_command_flow(self, parts: tuple[str, ...]) -> Flow[None]:
        if parts:
            yield from self._send(encode_line(*parts))

    def _response_flow(self) -> Flow[int]:
        if not self._session.awaiting:
            self._session.expect_reply()
        reply = yield from self._read()
        return reply.status
