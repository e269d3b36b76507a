"""One whole transaction, and a server that breaks it at a chosen point (issue 6, point 3).

The transaction is EHLO, STARTTLS, EHLO, AUTH PLAIN, MAIL, three RCPT, the message, QUIT,
in one of three shapes (:data:`MODES`):

* ``"data"``: no PIPELINING, no CHUNKING: every command waits for its reply, DATA, body;
* ``"pipelined"``: PIPELINING: MAIL, the RCPTs and DATA in one write, the body after 354;
* ``"bdat"``: PIPELINING and CHUNKING: MAIL, the RCPTs and ``BDAT n LAST`` with the whole
  message in one write (SPEC A15).

A :class:`Fault` names a server reply (a :class:`Step`), how many bytes of it are sent, and
what happens then: ``"fin"`` (half-close, then the server checks that the client closes and
writes nothing more), ``"rst"`` (reset), or ``"stall"`` (silence until the client gives up;
again the client must close and write nothing). ``"handshake"`` stands for the TLS handshake
after the 220: the fault happens instead of it.

:func:`run_plans` plays many faults against one client kind, several servers at a time, and
returns an :class:`Outcome` per fault; :func:`problems` says what is wrong with an outcome.
"""

from __future__ import annotations

import base64
import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from netsmtp import ConnectionLost, DeliveryUnknown, SMTPError, SMTPTimeout
from tests.helpers.clients import LoopThread, make_client
from tests.helpers.scripted import Peer, ScriptedServer

MODES = ("data", "pipelined", "bdat")
HELLO = "client.test"
USER, PASSWORD = "user", "secret"
SENDER = "sender@example.org"
RECIPIENTS = ["one@example.net", "two@example.net", "three@example.net"]
MESSAGE = b"Subject: faults\r\n\r\nhello\r\n.a line that starts with a dot\r\nbye\r\n"
AUTH_LINE = b"AUTH PLAIN " + base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()) + b"\r\n"


@dataclass(frozen=True)
class Step:
    name: str
    reply: bytes  # b"" for the handshake
    call: str  # the client call that waits for it


def steps(mode: str) -> list[Step]:
    """The server's replies in the order they are sent, for one transaction shape."""
    extensions = {
        "data": b"",
        "pipelined": b"250-PIPELINING\r\n",
        "bdat": b"250-PIPELINING\r\n250-CHUNKING\r\n",
    }
    out = [
        Step("greeting", b"220 test.example ESMTP ready\r\n", "connect"),
        Step("ehlo", b"250-test.example\r\n250-STARTTLS\r\n250 8BITMIME\r\n", "connect"),
        Step("starttls", b"220 2.0.0 ready to start TLS\r\n", "starttls"),
        Step("handshake", b"", "starttls"),
        Step(
            "ehlo-tls",
            b"250-test.example\r\n" + extensions[mode] + b"250-8BITMIME\r\n250 AUTH PLAIN\r\n",
            "starttls",
        ),
        Step("auth", b"235 2.7.0 authenticated\r\n", "auth"),
        Step("mail", b"250 2.1.0 sender ok\r\n", "send"),
        *(Step(f"rcpt{i}", b"250 2.1.5 recipient ok\r\n", "send") for i in (1, 2, 3)),
    ]
    if mode != "bdat":
        out.append(Step("data", b"354 end data with <CR><LF>.<CR><LF>\r\n", "send"))
    out.append(Step("final", b"250 2.0.0 queued as 4F2A\r\n", "send"))
    out.append(Step("quit", b"221 2.0.0 bye\r\n", "quit"))
    return out


def unknown_steps(mode: str) -> frozenset[str]:
    """Where a failure leaves the message's fate unknown: every reply that comes after the
    whole message was written. With inline BDAT that is every reply after the envelope
    write, which already carried ``BDAT n LAST`` and the message."""
    if mode == "bdat":
        return frozenset({"mail", "rcpt1", "rcpt2", "rcpt3", "final"})
    return frozenset({"final"})


@dataclass(frozen=True)
class Fault:
    mode: str
    step: str
    action: str  # "fin", "rst", "stall"
    offset: int  # bytes of the step's reply sent before the fault

    def __str__(self) -> str:
        return f"{self.mode}/{self.step}@{self.offset}/{self.action}"


class _Stop(Exception):
    """The fault happened: the script ends here."""


def _client_closes(p: Peer, wait: float, *, raw: bool = False) -> None:
    """Assert the client closes its end within ``wait`` seconds and writes nothing more.

    ``raw`` reads below TLS (after a half-close of a TLS socket): any byte would be a
    record the client wrote after the fault.
    """
    sock: socket.socket = p.sock
    sock.settimeout(wait)
    got = b""
    deadline = time.monotonic() + wait
    try:
        while time.monotonic() < deadline:
            try:
                data = socket.socket.recv(sock, 4096) if raw else sock.recv(4096)
            except (ConnectionError, ssl.SSLError):
                return  # a reset or a ragged TLS close: the client is gone
            if not data:
                assert not got or (raw and _only_alerts(got)), f"the client wrote {got!r} after the fault"
                return
            got += data
        raise AssertionError(f"the client did not close within {wait} s (it wrote {got!r})")
    except TimeoutError:
        raise AssertionError(f"the client did not close within {wait} s (it wrote {got!r})") from None


def _only_alerts(data: bytes) -> bool:
    """True when ``data`` is whole TLS records that can only be alerts (a close_notify):
    type 21, or a TLS 1.3 record of 19 octets (2 octets of alert, the inner content type
    and a 16-octet AEAD tag). Any command, even ``QUIT``, makes a longer record."""
    while data:
        if len(data) < 5:
            return False
        kind, length = data[0], int.from_bytes(data[3:5], "big")
        if kind != 21 and not (kind == 23 and length == 19):
            return False
        data = data[5 + length :]
    return True


def _apply(p: Peer, fault: Fault, data: bytes, stall_wait: float) -> None:
    if fault.offset:
        p.send(data[: fault.offset])
    if fault.action == "rst":
        p.reset()
    elif fault.action == "fin":
        tls = p.tls
        with contextlib.suppress(OSError):
            p.half_close()
        _client_closes(p, 3.0, raw=tls)
    else:
        _client_closes(p, stall_wait, raw=False)
    raise _Stop


def serve(p: Peer, fault: Fault, stall_wait: float) -> None:
    """Play the server side of one transaction, breaking it as ``fault`` says."""
    table = {s.name: s.reply for s in steps(fault.mode)}
    # Replies sent back to back (pipelining) must not wait for delayed ACKs.
    p.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def reply(name: str) -> None:
        if name == fault.step:
            _apply(p, fault, table[name], stall_wait)
        p.send(table[name])

    def expect(line: bytes) -> None:
        got = p.readline()
        assert got == line, f"{fault}: the server expected {line!r}, got {got!r}"

    try:
        reply("greeting")
        expect(f"EHLO {HELLO}\r\n".encode())
        reply("ehlo")
        expect(b"STARTTLS\r\n")
        reply("starttls")
        if fault.step == "handshake":
            # Instead of the handshake: the ClientHello is read (and ignored), never answered.
            if fault.action == "rst":
                p.reset()
            else:
                if fault.action == "fin":
                    p.half_close()
                p.read_to_eof(wait=stall_wait if fault.action == "stall" else 3.0)
            raise _Stop
        p.starttls()
        expect(f"EHLO {HELLO}\r\n".encode())
        reply("ehlo-tls")
        expect(AUTH_LINE)
        reply("auth")
        mail = f"MAIL FROM:<{SENDER}>\r\n".encode()
        rcpts = [f"RCPT TO:<{r}>\r\n".encode() for r in RECIPIENTS]
        if fault.mode == "data":
            expect(mail)
            reply("mail")
            for i, line in enumerate(rcpts, 1):
                expect(line)
                reply(f"rcpt{i}")
            expect(b"DATA\r\n")
            reply("data")
        else:
            for line in [mail, *rcpts]:
                expect(line)
            if fault.mode == "pipelined":
                expect(b"DATA\r\n")
            else:
                expect(b"BDAT %d LAST\r\n" % len(MESSAGE))
                body = p.read(len(MESSAGE))
                assert body == MESSAGE, f"{fault}: BDAT carried {body!r}"
            reply("mail")
            for i in (1, 2, 3):
                reply(f"rcpt{i}")
            if fault.mode == "pipelined":
                reply("data")
        if fault.mode != "bdat":
            payload = p.read_data()
            assert payload.endswith(b"\r\n.\r\n"), f"{fault}: the message ended {payload[-20:]!r}"
        reply("final")
        expect(b"QUIT\r\n")
        reply("quit")
        assert p.at_eof(), f"{fault}: the client did not close after QUIT"
    except _Stop:
        pass


# ---- the client side --------------------------------------------------------------------------
@dataclass
class Outcome:
    fault: Fault
    failed_in: str | None = None
    error: BaseException | None = None
    delivered: bool = False
    closed_after_error: bool | None = None
    reused: BaseException | None = None  # what a call after the failure raised
    durations: list[tuple[str, float]] = field(default_factory=list)


def _closed(smtp: Any) -> bool:
    client = getattr(smtp, "client", smtp)  # AsyncProxy.client is the AsyncSMTP itself
    return bool(client._session.closed and client._stream is None)


def transact(
    kind: str, runner: LoopThread | None, host: str, context: ssl.SSLContext, fault: Fault, *, timeout: float
) -> Outcome:
    """Run the whole transaction as an application would (raise_errors=True)."""
    out = Outcome(fault)

    def timed(name: str, call: Callable[[], Any]) -> Any:
        started = time.monotonic()
        try:
            return call()
        except BaseException:
            out.failed_in = name
            raise
        finally:
            out.durations.append((name, time.monotonic() - started))

    try:
        smtp = timed(
            "connect",
            lambda: make_client(
                kind, runner, host, hello=HELLO, timeout=timeout, raise_errors=True, ssl_context=context
            ),
        )
    except SMTPError as exc:
        out.error = exc
        return out
    try:
        timed("starttls", smtp.starttls)
        timed("auth", lambda: smtp.auth(USER, PASSWORD, "PLAIN"))
        result = timed("send", lambda: smtp.send_message(MESSAGE, SENDER, RECIPIENTS))
        out.delivered = bool(result.delivered)
        timed("quit", smtp.quit)
    except SMTPError as exc:
        out.error = exc
        out.closed_after_error = _closed(smtp)
        try:
            smtp.noop()
        except SMTPError as again:
            out.reused = again
    finally:
        smtp.close()
    return out


def problems(out: Outcome, timeout: float) -> list[str]:
    """What is wrong with ``out`` (empty when the client behaved)."""
    fault = out.fault
    where = {s.name: s.call for s in steps(fault.mode)}[fault.step]
    bad: list[str] = []
    error = out.error
    if error is None:
        return [f"{fault}: no error at all"]
    if out.failed_in != where:
        bad.append(f"{fault}: failed in {out.failed_in}, expected in {where}: {error!r}")
    if fault.step in unknown_steps(fault.mode):
        if not isinstance(error, DeliveryUnknown):
            bad.append(f"{fault}: the message was written, expected DeliveryUnknown, got {error!r}")
    elif isinstance(error, DeliveryUnknown):
        bad.append(f"{fault}: DeliveryUnknown before the message was written: {error!r}")
    timed_out = isinstance(error, SMTPTimeout) or isinstance(error.__cause__, SMTPTimeout)
    if fault.action == "stall" and not timed_out:
        bad.append(f"{fault}: a stall must end in a timeout, got {error!r}")
    if fault.action != "stall" and timed_out:
        bad.append(f"{fault}: a dropped connection was waited on until the timeout: {error!r}")
    # Reported as sent only once the final 2xx was read: only a fault at QUIT comes after it.
    if out.delivered != (fault.step == "quit"):
        bad.append(f"{fault}: delivered={out.delivered}")
    if where != "connect":
        if not out.closed_after_error:
            bad.append(f"{fault}: the connection was left open after {error!r}")
        if not isinstance(out.reused, ConnectionLost) or isinstance(out.reused, DeliveryUnknown):
            bad.append(f"{fault}: a call after the failure gave {out.reused!r}, not ConnectionLost")
    limit = 3 * timeout + 0.5
    for name, took in out.durations:
        if took > limit:
            bad.append(f"{fault}: {name} took {took:.2f} s (timeout {timeout} s)")
    return bad


def run_plans(
    kind: str,
    runner: LoopThread | None,
    faults: list[Fault],
    server_context: ssl.SSLContext,
    client_context: ssl.SSLContext,
    *,
    timeout: float,
    workers: int = 1,
) -> tuple[list[Outcome], list[BaseException]]:
    """Play every fault; ``workers`` servers (each taking its faults in turn) run at once.

    Returns the outcomes, in the order of ``faults``, and the servers' own errors (a script
    that saw the client write something it should not have).
    """
    groups = [faults[i::workers] for i in range(workers)]
    stall_wait = 3 * timeout + 1.0

    def script_for(group: list[Fault]) -> Callable[[Peer], None]:
        queue: Iterator[Fault] = iter(group)
        lock = threading.Lock()

        def script(p: Peer) -> None:
            with lock:
                fault = next(queue)
            serve(p, fault, stall_wait)

        return script

    servers = [
        ScriptedServer(script_for(group), connections=len(group), tls_context=server_context)
        for group in groups
        if group
    ]

    def play(index: int) -> list[Outcome]:
        server = servers[index]
        return [
            transact(kind, runner, server.host, client_context, f, timeout=timeout) for f in groups[index]
        ]

    try:
        with ThreadPoolExecutor(len(servers)) as pool:
            results = list(pool.map(play, range(len(servers))))
    finally:
        errors: list[BaseException] = []
        for server in servers:
            server.thread.join(stall_wait + 10)
            server.close()
            errors.extend(server.errors)
    ordered: dict[Fault, Outcome] = {o.fault: o for group in results for o in group}
    return [ordered[f] for f in faults], errors
