"""``netsmtp probe HOST[:PORT]``: what a server offers, and what is wrong with it.

Every SMTP step is a :class:`netsmtp.SMTP` call. Around them, two raw looks that no SMTP
client makes: a plain read on a port that failed the TLS handshake (does it say "220"?)
and a TLS handshake on a port that sent no greeting (is it implicit TLS?). A certificate
that fails verification is fetched again without verification, only to show it.
"""

from __future__ import annotations

import argparse
import json
import socket
import ssl
import sys
import time
from typing import Any

from .. import SMTP, ConnectError, ConnectTimeout, GreetingError
from .._hosts import split_host
from . import exitcodes
from .diagnose import Finding, ProbeReport, certificate_finding, render
from .tls import Handshake, HandshakeRecorder, make_context, unverified_context
from .transcript import Transcript, capture, printable

DESCRIPTION = """\
Connect to an SMTP server and report: the banner, EHLO before and after STARTTLS, the TLS
version and cipher, the certificate (subject, issuer, names, expiry, whether it verifies),
AUTH mechanisms, SIZE; then one sentence saying what is wrong, if anything: an implicit-TLS
port spoken to in plaintext or the reverse, a certificate that does not match the name or
does not verify, STARTTLS missing, a port that refuses or does not answer.

Port 465 is probed with implicit TLS, any other port (default 25) with STARTTLS; --tls
overrides that. Nothing is sent beyond EHLO, STARTTLS and QUIT.
"""

EXAMPLES = """\
examples:
  netsmtp probe smtp.example.org:587
  netsmtp probe smtp.example.org:465 --json
  netsmtp probe localhost:2525 --cafile /tmp/netsmtp-sink-xyz/ca.pem -v
"""


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "probe",
        help="report what a server offers and diagnose usual mistakes",
        description=DESCRIPTION,
        epilog=EXAMPLES + "\nexit codes: 0 nothing wrong (warnings aside), 3 no connection, 4 a TLS problem\n"
        "(certificate, STARTTLS missing, implicit TLS/plaintext mix-up), 5 session refused, 2 usage",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("target", metavar="HOST[:PORT]", help="the server (default port 25)")
    p.add_argument(
        "--tls", choices=("auto", "starttls", "ssl"), default="auto", help="auto: ssl on 465, else starttls"
    )
    p.add_argument("--cafile", metavar="FILE", help="trust only this CA bundle")
    p.add_argument(
        "--tls-name", metavar="NAME", help="name to verify the certificate against (default: HOST)"
    )
    p.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS", help="per step (10)")
    p.add_argument("--hello", metavar="DOMAIN", help="the EHLO name")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("-v", "--verbose", action="store_true", help="show the SMTP transcript on stderr")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        host, port = split_host(args.target, 25)
    except ValueError as exc:
        print(f"netsmtp probe: {exc}", file=sys.stderr)
        return exitcodes.USAGE
    if args.cafile:
        try:
            make_context(args.cafile)
        except (OSError, ssl.SSLError) as exc:
            print(f"netsmtp probe: --cafile {args.cafile}: {exc}", file=sys.stderr)
            return exitcodes.USAGE
    mode = args.tls if args.tls != "auto" else ("ssl" if port == 465 else "starttls")
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    report = ProbeReport(target=target, host=host, port=port, mode=mode)
    transcript = Transcript(sys.stderr if args.verbose else None)
    with capture(transcript):
        Prober(report, args).run()
    report.finish()
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        sys.stdout.write(render(report))
    return report.exit_code


class Prober:
    def __init__(self, report: ProbeReport, args: argparse.Namespace) -> None:
        self.report = report
        self.timeout: float = args.timeout
        self.cafile: str | None = args.cafile
        self.tls_name: str | None = args.tls_name
        self.hello: str | None = args.hello
        self.name = args.tls_name or report.host
        report.tls_name = args.tls_name

    def run(self) -> None:
        if not self._tcp():
            return
        if self.report.mode == "ssl":
            self._implicit()
        else:
            self._starttls()

    # ---- plain TCP ---------------------------------------------------------------------------
    def _tcp(self) -> bool:
        r = self.report
        where = f"{r.host} port {r.port}"
        started = time.monotonic()
        try:
            sock = socket.create_connection((r.host, r.port), timeout=self.timeout)
        except socket.gaierror as exc:
            r.add(
                Finding.error(
                    exitcodes.CONNECT, f"{r.host} does not resolve ({exc.strerror}): check the name."
                )
            )
            return False
        except ConnectionRefusedError:
            r.add(
                Finding.error(
                    exitcodes.CONNECT,
                    f"Nothing listens on {where} (connection refused): check the port "
                    "(submission is 587 with STARTTLS or 465 with implicit TLS, relay is 25).",
                )
            )
            return False
        except TimeoutError:
            r.add(
                Finding.error(
                    exitcodes.CONNECT,
                    f"{where} does not answer (no reply to the connection in {self.timeout:g} s): a firewall "
                    "drops the packets, or the network blocks this port (many providers block outgoing 25).",
                )
            )
            return False
        except OSError as exc:
            r.add(Finding.error(exitcodes.CONNECT, f"Cannot connect to {where}: {exc.strerror or exc}."))
            return False
        with sock:
            r.address = str(sock.getpeername()[0])
        r.connect_ms = round((time.monotonic() - started) * 1000, 1)
        return True

    # ---- implicit TLS (465) ------------------------------------------------------------------
    def _connect(self, ssl_on: bool, context: ssl.SSLContext | None = None) -> SMTP:
        return SMTP(
            self.report.target,
            ssl=ssl_on,
            ssl_context=context,
            server_hostname=self.tls_name,
            timeout=self.timeout,
            hello=self.hello,
        )

    def _implicit(self) -> None:
        r = self.report
        context = make_context(self.cafile)
        recorder = HandshakeRecorder(context)
        try:
            smtp = self._connect(True, context)
        except GreetingError as exc:
            r.add(Finding.error(exitcodes.GREETING, f"The server refused the session: {exc.reply or exc}."))
            return
        except ConnectError as exc:
            text = str(exc)
            if "CERTIFICATE_VERIFY_FAILED" in text:
                r.verify_error = _reason(text)
                self._unverified_implicit()
            elif "TLSError" in text:
                self._plaintext_on_tls_port(text)
            else:
                r.add(
                    Finding.error(
                        exitcodes.TLS,
                        f"{r.target} accepted the connection but the TLS session failed: {_reason(text)}.",
                    )
                )
            return
        self._collect(smtp, r.ehlo_tls)
        r.tls = recorder.last
        smtp.quit()

    def _unverified_implicit(self) -> None:
        context = unverified_context()
        recorder = HandshakeRecorder(context)
        try:
            smtp = self._connect(True, context)
        except ConnectError:
            return
        self._collect(smtp, self.report.ehlo_tls)
        self.report.tls = recorder.last
        smtp.quit()

    def _plaintext_on_tls_port(self, why: str) -> None:
        r = self.report
        seen = _plain_peek(r.host, r.port, self.timeout)
        if seen.startswith(b"220"):
            r.plain_banner = printable(seen.split(b"\r\n")[0].decode("utf-8", "replace"))
            r.add(
                Finding.error(
                    exitcodes.TLS,
                    f"{r.target} speaks plaintext SMTP, not implicit TLS: the TLS handshake fails "
                    f'("{_short(why)}") while a plain read sees "{r.plain_banner}"; use STARTTLS '
                    "(--tls starttls, or ssl=False and starttls() in the API).",
                )
            )
        else:
            r.add(Finding.error(exitcodes.TLS, f"The TLS handshake with {r.target} failed: {_reason(why)}."))

    # ---- STARTTLS ----------------------------------------------------------------------------
    def _starttls(self) -> None:
        r = self.report
        try:
            smtp = self._connect(False)
        except GreetingError as exc:
            r.add(Finding.error(exitcodes.GREETING, f"The server refused the session: {exc.reply or exc}."))
            return
        except ConnectError as exc:
            self._no_greeting(exc)
            return
        self._collect(smtp, r.ehlo)
        if smtp.supports("STARTTLS") is None:
            r.starttls = "not offered"
            smtp.quit()
            return
        context = make_context(self.cafile)
        recorder = HandshakeRecorder(context)
        if smtp.starttls(context, self.tls_name):
            r.starttls = "ok"
            r.tls = recorder.last
            r.ehlo_tls = list(smtp.last_reply.lines) if smtp.last_reply else []
            smtp.quit()
            return
        message = smtp.message()
        smtp.quit()
        if "CERTIFICATE_VERIFY_FAILED" in message:
            r.starttls = "ok (certificate not verified)"
            r.verify_error = _reason(message)
            self._unverified_starttls()
        elif "TLS error" in message:
            r.starttls = f"handshake failed: {_reason(message)}"
        else:
            r.starttls = f"refused: {smtp.code()} {message}"

    def _unverified_starttls(self) -> None:
        try:
            smtp = self._connect(False)
        except ConnectError:
            return
        context = unverified_context()
        recorder = HandshakeRecorder(context)
        if smtp.starttls(context, self.tls_name):
            self.report.tls = recorder.last
            self.report.ehlo_tls = list(smtp.last_reply.lines) if smtp.last_reply else []
        smtp.quit()

    def _no_greeting(self, exc: ConnectError) -> None:
        r = self.report
        handshake = _tls_peek(r.host, r.port, self.name, min(self.timeout, 5.0))
        if handshake is not None:
            r.tls = handshake
            r.add(
                Finding.error(
                    exitcodes.TLS,
                    f"{r.target} speaks implicit TLS (SMTPS) and was spoken to in plaintext: it sent no "
                    "greeting but completes a TLS handshake; use --tls ssl (ssl=True in the API).",
                )
            )
        elif isinstance(exc, ConnectTimeout):
            r.add(
                Finding.error(
                    exitcodes.GREETING,
                    f"{r.target} accepted the connection but sent no SMTP greeting in {self.timeout:g} s: "
                    "not an SMTP service, or a very slow one (try a longer --timeout).",
                )
            )
        else:
            r.add(Finding.error(exitcodes.GREETING, f"No SMTP session with {r.target}: {_reason(str(exc))}."))

    # ---- common ------------------------------------------------------------------------------
    def _collect(self, smtp: SMTP, into: list[str]) -> None:
        r = self.report
        r.banner = r.banner or smtp.banner()
        into[:] = list(smtp.last_reply.lines) if smtp.last_reply else []


def _reason(text: str) -> str:
    """The useful end of an error chain: after the last 'TLS handshake failed:' and the like."""
    for marker in ("certificate verify failed: ", "TLS handshake failed: ", "TLS error: "):
        if marker in text:
            text = text.rsplit(marker, 1)[1]
            break
    return text.replace(" (_ssl.c:1006)", "").rstrip(". ")


def _short(text: str) -> str:
    reason = _reason(text)
    return reason.split("] ", 1)[-1]


def _plain_peek(host: str, port: int, timeout: float) -> bytes:
    """The first bytes a port sends to a client that says nothing (b'' if none)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            return sock.recv(512)
    except OSError:
        return b""


def _tls_peek(host: str, port: int, name: str, timeout: float) -> Handshake | None:
    """Whether the port completes a TLS handshake straight away (implicit TLS)."""
    context = unverified_context()
    recorder = HandshakeRecorder(context)
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as sock,
            context.wrap_socket(sock, server_hostname=name if not _is_ip(name) else None),
        ):
            pass
    except (OSError, ssl.SSLError):
        return None
    return recorder.last


def _is_ip(name: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in name else socket.AF_INET, name)
    except OSError:
        return False
    return True


__all__ = ["Prober", "add_parser", "certificate_finding", "run"]
