# GENERATED from _async_smtp.py by scripts/unasync.py: edit that file, then run `make unasync`.
"""``netsmtp.SMTP``: Perl's Net::SMTP for Python, blocking.

Generated from ``_async_smtp.py``: the same thin methods over the operations written once
in :mod:`netsmtp._client`, run by the blocking driver.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterable, Sequence
from types import TracebackType
from typing import Any

from ._sync_driver import SyncDriver
from ._client.accessors import Accessors
from ._client.auth_flows import AuthFlows
from ._client.lmtp_flows import LMTPFlows
from ._client.send_flows import SendFlows, SendResult
from ._client.state import CMD_ERROR, RAISE
from ._client.transaction_flows import MessageData
from ._core.sasl import Mechanism
from ._core.session import State
from ._datafile import _DataFileBase
from ._exceptions import SMTPError, UsageError
from ._options import parse_options


class SMTP(SyncDriver, Accessors, SendFlows, AuthFlows):
    """A connection to an SMTP server, with Net::SMTP's methods and conventions.

    ``SMTP(host, **options)`` connects at once (the constructor
    calls ``connect()``): greeting, then EHLO (HELO on a 5xx). Command methods return a
    true value on success and a false one on failure, with :meth:`code` and
    :meth:`message` telling why; ``raise_errors=True`` raises instead::

        with SMTP("mail.example.org", hello="me.example.org") as smtp:
            smtp.starttls()
            smtp.mail("me@example.org")
            smtp.to("you@example.net")
            smtp.data(b"Subject: hi\\r\\n\\r\\nhello\\r\\n")

    Options (keyword only; the Net::SMTP spelling in brackets works too; an unknown option
    raises ``TypeError``):

    ``host`` [``Host``]
        ``"name"``, ``"name:port"``, ``"192.0.2.1:25"``, ``"[2001:db8::1]:2525"``, or a list
        of these, tried in turn (and every address of each name). Default: the
        ``NETSMTP_HOSTS`` environment variable, else ``smtp_hosts`` in
        ``$XDG_CONFIG_HOME/netsmtp/config.toml``.
    ``port`` [``Port``]
        25, or 465 with ``ssl=True``; a port inside the host string wins.
    ``ssl`` [``SSL``]
        True: implicit TLS from the first byte (SMTPS). Default False.
    ``ssl_context``
        The ``ssl.SSLContext`` for implicit TLS and :meth:`starttls`. Default: one that
        verifies the certificate and the host name, TLS 1.2 or newer.
    ``server_hostname``
        The name verified against the certificate (and sent as SNI). Default: the host
        connected to, without port and brackets.
    ``hello`` [``Hello``]
        The EHLO/HELO name. Default: the local FQDN, else an address literal.
    ``send_hello`` [``SendHello``]
        False: no EHLO when connecting; call :meth:`hello` yourself.
    ``local_addr`` [``LocalAddr``], ``local_port`` [``LocalPort``]
        Bind the local end of the connection.
    ``family`` [``Family``, ``Domain``]
        ``socket.AF_INET`` or ``socket.AF_INET6`` to force one.
    ``timeout`` [``Timeout``]
        Seconds for connecting and for each whole reply, TLS included (default 120);
        ``None`` or ``0``: no limit. When it expires the connection is closed.
    ``exact_addresses`` [``ExactAddresses``]
        True: addresses must be RFC 5321 paths; no Net::SMTP-style extraction.
    ``debug`` [``Debug``]
        Non-zero: the transcript on stderr (it always goes to the ``netsmtp.transcript``
        logger at DEBUG). Credentials are never shown.
    ``raise_errors``
        True: failures raise (:class:`ReplyError` and the rest of :class:`SMTPError`)
        instead of returning a false value.
    ``allow_insecure_auth``
        True: PLAIN, LOGIN, XOAUTH2 and OAUTHBEARER may run without verified TLS to a
        host that is not a loopback address.
    ``pipelining``
        False: never pipeline (:meth:`send_message`, ``recipient(..., skip_bad=True)``),
        even when the server offers it.
    ``max_line_length``
        The longest message line, in octets without its CRLF (998, RFC 5321's limit); a
        longer line raises ``ValueError`` before it is written. ``None``: no limit.
    """

    def __init__(self, host: str | list[str] | None = None, **options: Any) -> None:
        self._stream = None
        self._init_state(parse_options(host, options, type(self).__name__))
        self._started = False
        self.connect()

    def connect(self) -> SMTP:
        """Connect, read the greeting and send EHLO; ConnectError (or a subclass) on failure."""
        if self._started:
            raise UsageError("already connected: a client object makes one connection")
        self._started = True
        try:
            self._drive(self._establish_flow())
        except SMTPError:
            self._session.close(" (connect failed)")
            self._close_transport()
            raise
        return self

    # ---- context manager ---------------------------------------------------------------
    def __enter__(self) -> SMTP:
        if not self._started:
            self.connect()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # QUIT when we can; never replace the caller's exception with ours (SECURITY RS-06).
        try:
            if not self._session.closed:
                self._drive(self._exit_quit_flow())
        except SMTPError:
            pass
        finally:
            self.close()

    # ---- Net::Cmd ------------------------------------------------------------------------
    def command(self, *parts: str) -> SMTP:
        """Send one raw command line: the parts joined by spaces, each checked for CR, LF and NUL.

        Returns ``self``, for Net::Cmd's ``smtp.command("NOOP").response()``.
        """
        self._run(self._raw_command_flow(parts), None)
        return self

    def response(self) -> int:
        """Read one reply; return its first digit (``CMD_ERROR`` on a transport failure)."""
        return self._run(self._response_flow(), CMD_ERROR)

    # ---- session commands ------------------------------------------------------------------
    def hello(self, domain: str | None = None) -> str | None:
        """EHLO (HELO after a 5xx); the server's name, or None."""
        return self._run(self._hello_flow(domain), None)

    def starttls(
        self, ssl_context: ssl.SSLContext | None = None, server_hostname: str | None = None
    ) -> bool:
        """Upgrade to TLS (RFC 3207), then send EHLO again; true on success.

        False without sending anything when the server does not offer STARTTLS (code 500);
        false, with the connection closed, when the handshake fails or the server breaks
        the protocol. ``ssl_context`` and ``server_hostname`` replace the constructor's for
        this call. On a connection that already uses TLS: :class:`UsageError`.
        """
        return self._run(self._starttls_flow(ssl_context, server_hostname), False)

    def auth(
        self,
        username: str | Mechanism,
        password: str | Callable[[], str] | None = None,
        mechanism: str | Sequence[str] | None = None,
    ) -> bool:
        """SMTP AUTH (RFC 4954); true once the server accepted the credentials.

        ``auth(username, password)`` picks the strongest mechanism the server offers, in
        netsmtp's order (SCRAM-SHA-256-PLUS, SCRAM-SHA-256, SCRAM-SHA-1-PLUS, SCRAM-SHA-1,
        CRAM-MD5, PLAIN, LOGIN); a 504 or 534 moves on to the next, a 535 (bad
        credentials) does not. ``mechanism="PLAIN"`` (or several names, tried in the order
        given) restricts the choice. OAuth 2.0 needs its mechanism named:
        ``auth(user, token, mechanism="XOAUTH2")`` (or ``"OAUTHBEARER"``), where ``token``
        is the access token or a callable returning a fresh one.

        PLAIN, LOGIN, XOAUTH2 and OAUTHBEARER put the secret on the wire: they are refused
        (:class:`AuthPolicyError`, code 530, nothing sent) unless the connection is TLS
        with a verifying context, or the server is a loopback address, or the constructor
        got ``allow_insecure_auth=True``. Only the capabilities advertised after STARTTLS
        count. AUTH not advertised: false, code 500, nothing sent. The transcript shows
        ``<redacted>`` for every response.

        ``auth(mechanism_object)`` runs a custom mechanism: any object with

        * ``name`` -- the SASL name sent after AUTH (it must be advertised);
        * ``exposes_secret`` -- True if the secret is readable on the wire (the policy
          above then applies);
        * ``needs_channel_binding`` -- True if it needs TLS (take the binding data from
          :meth:`channel_binding`);
        * ``initial_response()`` -> ``bytes | None`` -- None for no initial response,
          ``b""`` for an empty one;
        * ``respond(challenge: bytes) -> bytes`` -- each decoded 334 challenge in, the
          raw answer out (base64 is done for you); raise :class:`SASLError` to cancel
          (``*`` is sent);
        * ``finish()`` -- called after the server's 2xx; raise :class:`SASLError` if the
          server did not prove itself: ``auth()`` then fails and closes the connection.

        A cancelled exchange (a challenge that is not base64, too long, or too many of
        them) fails and leaves the session usable. A second ``auth()`` after a success
        raises :class:`UsageError`.
        """
        return self._run(self._auth_flow(username, password, mechanism), False)

    def etrn(self, domain: str) -> bool:
        """ETRN (RFC 1985); false without sending when the server does not advertise it."""
        return self._run(self._etrn_flow(domain), False)

    def reset(self) -> bool:
        """RSET: abandon the mail transaction (not a message being sent: see close())."""
        return bool(self._run(self._simple_flow("RSET"), False))

    def noop(self) -> bool:
        """NOOP; true on 2xx."""
        return bool(self._run(self._simple_flow("NOOP"), False))

    def verify(self, address: str) -> bool:
        """VRFY (the argument is sent as given); true on any 2xx, ``252`` included."""
        return bool(self._run(self._simple_flow("VRFY", address), False))

    def expand(self, address: str) -> list[str]:
        """EXPN; the reply lines, or an empty list."""
        reply = self._run(self._simple_flow("EXPN", address), None)
        return list(reply.lines) if reply is not None else []

    def help(self, subject: str | None = None) -> str | None:
        """HELP [subject]; the help text, or None."""
        args = (subject,) if subject else ()
        reply = self._run(self._simple_flow("HELP", *args), None)
        return reply.text if reply is not None else None

    def quit(self) -> bool:
        """QUIT; true if the server answered 2xx. Always closes the connection."""
        try:
            return self._run(self._quit_flow(), False)
        finally:
            self.close()

    # ---- the mail transaction ------------------------------------------------------------------
    def mail(self, address: str | None, **options: Any) -> bool:
        """MAIL FROM; true when the server accepted the sender.

        ``address`` is extracted as Net::SMTP does (the first ``<...>``, else the trimmed
        text; ``None`` or ``""`` is the null sender ``<>``). Options, with the Net::SMTP
        spelling in brackets: ``size`` [``Size``] an int; ``ret`` [``Return``] ``"FULL"``
        or ``"HDRS"``; ``bits`` [``Bits``] ``"7"``, ``"8"`` or ``"binary"``;
        ``transaction`` [``Transaction``] an address (TRANSID); ``envelope``
        [``Envelope``] the ENVID, xtext-encoded for you; ``envid`` [``ENVID``] the ENVID
        already encoded; ``xverp`` [``XVERP``] a bool; ``auth`` [``AUTH``] the submitter
        (xtext); ``smtputf8`` and ``requiretls``, bools. An option whose extension the
        server does not advertise is dropped with an :class:`ExtensionWarning`, except
        ``smtputf8`` and ``requiretls``: without them the command fails (code 555) and
        nothing is sent.
        """
        return self._run(self._mail_flow("MAIL", address, options), False)

    def send(self, address: str | None) -> bool:
        """SEND FROM (RFC 821)."""
        return self._run(self._mail_flow("SEND", address, {}), False)

    def send_or_mail(self, address: str | None) -> bool:
        """SOML FROM (RFC 821)."""
        return self._run(self._mail_flow("SOML", address, {}), False)

    def send_and_mail(self, address: str | None) -> bool:
        """SAML FROM (RFC 821)."""
        return self._run(self._mail_flow("SAML", address, {}), False)

    def recipient(self, *addresses: str | list[str], **options: Any) -> Any:
        """RCPT TO for each address (``to``, ``cc`` and ``bcc`` are this same method).

        Addresses come as arguments or as one list. Without ``skip_bad``: True when every
        address was accepted, False at the first refusal (the later ones are not sent).
        With ``skip_bad=True`` [``SkipBad``]: every address is tried, and the list of those
        accepted (as given) is returned; when the server offers PIPELINING the RCPTs go out
        in one write and their replies are read after it (one round trip). ``notify``
        [``Notify``] (``["NEVER"]``, or some of ``"SUCCESS"``, ``"FAILURE"``, ``"DELAY"``)
        and ``orcpt`` [``ORcpt``] (``"rfc822;" + xtext(address)``) are DSN parameters,
        added to every RCPT.
        """
        skip = bool(options.get("skip_bad", options.get("SkipBad", False)))
        failure: list[str] | bool = [] if skip else False
        return self._run(self._recipient_flow(addresses, options), failure)

    to = recipient
    cc = recipient
    bcc = recipient

    def data(self, data: MessageData | None = None) -> bool:
        """DATA and the message; true when the server accepted it.

        ``data`` is ``bytes``, ``str`` (sent as UTF-8) or an iterable of them (a binary
        file is read in blocks of up to 1 MiB, not by lines): every line ending becomes
        CRLF and a dot starting a line is doubled; a NUL raises ``ValueError``. Without
        ``data``: True once the server answered 354; then send the message with
        :meth:`datasend` and end it with :meth:`dataend`. While a message is being sent,
        any other command raises :class:`UsageError`.
        """
        return self._run(self._data_flow(data), False)

    def datasend(self, data: MessageData) -> bool:
        """Send message data: CRLF line endings and dot-stuffing applied, across calls.
        ``data`` takes what :meth:`data` takes (a binary file is read in blocks)."""
        return self._run(self._datasend_flow(data), False)

    def dataend(self) -> bool:
        """End the message (``.``) and read the server's verdict."""
        return self._run(self._dataend_flow(), False)

    def rawdatasend(self, data: MessageData) -> bool:
        """Send message bytes unchanged (no CRLF or dot handling): you own their safety."""
        return self._run(self._rawdatasend_flow(data), False)

    def datafile(self) -> DataFile | None:
        """DATA; on 354 a writable binary :class:`DataFile` whose ``close()`` ends the
        message (Net::SMTP's ``datafh``), else None."""
        if not self.data():
            return None
        return DataFile(self)

    def bdat(self, data: bytes | str) -> bool:
        """``BDAT n`` with the bytes unchanged (CHUNKING, RFC 3030)."""
        return self._run(self._bdat_flow(data, False), False)

    def bdatlast(self, data: bytes | str) -> bool:
        """``BDAT n LAST``: the final chunk; true when the server accepted the message."""
        return self._run(self._bdat_flow(data, True), False)

    # ---- beyond Net::SMTP ------------------------------------------------------------------
    def send_message(
        self,
        msg: Any,
        from_addr: str | None = None,
        to_addrs: str | Iterable[str] | None = None,
        **mail_options: Any,
    ) -> SendResult:
        """Send a whole message: envelope from the headers unless given, Bcc removed.

        ``msg`` is an ``email.message.Message``, ``bytes``/``str``, a binary file or an
        iterable of bytes (streamed: memory stays bounded). The transaction is pipelined
        when the server offers PIPELINING (one round trip with CHUNKING), SIZE, BODY=8BITMIME
        and SMTPUTF8 are declared only when needed. Returns a :class:`SendResult`; raises
        :class:`SendError` (carrying it) when no recipient got the message, whatever
        ``raise_errors`` says.
        """
        result: SendResult = self._run(
            self._send_message_flow(msg, from_addr, to_addrs, mail_options), RAISE
        )
        return result


class DataFile(_DataFileBase):
    """The message body as a file (Net::SMTP's ``datafh``).

    ``write()`` sends through ``datasend``; ``close()`` ends the message and sets
    :attr:`accepted`. Leaving a ``with`` block by an exception abandons the message by
    closing the connection: a partial message is never committed.
    """

    def __init__(self, smtp: SMTP) -> None:
        super().__init__()
        self._smtp = smtp
        self.accepted: bool | None = None

    def write(self, data: Any) -> int:
        """Send ``data`` (bytes-like) as message data; returns its length."""
        if self.closed:
            raise ValueError("write to a closed DataFile")
        chunk = bytes(data)
        if not self._smtp.datasend(chunk):
            raise OSError(f"datasend failed: {self._smtp.code()} {self._smtp.message()}")
        return len(chunk)

    def writelines(self, lines: Iterable[Any]) -> None:
        """Write each bytes-like item of ``lines`` in turn (no separators added)."""
        if self.closed:
            raise ValueError("write to a closed DataFile")
        for line in lines:
            self.write(line)

    def close(self) -> None:
        """End the message and record the server's verdict in :attr:`accepted`."""
        if not self.closed:
            self._mark_closed()
            if self._smtp._session.state is State.DATA:
                self.accepted = self._smtp.dataend()
            elif self.accepted is None:  # the message was lost with the connection
                self.accepted = False

    def abandon(self) -> None:
        """Give up the message: the connection is closed, nothing is committed."""
        if not self.closed:
            self._smtp.close()
            self._mark_closed()
            self.accepted = False

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None:
            self.abandon()
        else:
            self.close()


class LMTP(LMTPFlows, SMTP):
    """The same client speaking LMTP (RFC 2033) to a final delivery agent.

    LHLO instead of EHLO; ``host`` may be a Unix socket path (``"/run/dovecot/lmtp"``), the
    default port is 24. After the data the server answers once per accepted recipient:
    :meth:`data`/:meth:`dataend` read every one of those replies into
    :attr:`data_replies` (recipient -> Reply) and are true only when all are positive;
    ``send_message`` reports each recipient in its :class:`SendResult`.
    """
