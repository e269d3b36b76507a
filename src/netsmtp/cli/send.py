"""``netsmtp send``: send a message (or N of them) and show the conversation."""

from __future__ import annotations

import argparse
import base64
import getpass
import json
import os
import sys
import time
from typing import Any

from .._hosts import split_host
from . import deliver, exitcodes, load
from .message import MessageError, Outgoing, build
from .session import STAGE_ORDER, QuitAfter, Session, Settings, StageFailure
from .tls import warn_insecure
from .transcript import Transcript, capture

DESCRIPTION = """\
Send a message and show the SMTP conversation, timed, on stderr (C: client, S: server,
* notes such as the TLS version, cipher and certificate). Passwords never appear in it.

TLS (--tls): auto = implicit TLS on port 465, else STARTTLS when the server offers it
(with --require-tls: fail rather than continue in plaintext); starttls = STARTTLS or fail;
ssl = implicit TLS from the first byte; none = never. Certificates are verified against
the system's CAs, or only --cafile's; --insecure turns that off (loudly).

The password for --auth comes from --password-file, else $NETSMTP_PASSWORD, else a prompt
that does not echo. Without --from, the sender is you@this-host; with --message FILE.eml the
envelope comes from the file's headers unless --from/--to are given (Bcc is removed).

--quit-after STAGE stops (with QUIT) once that stage succeeded: connect (greeting read),
tls (handshake done), ehlo, auth, mail (MAIL FROM accepted), rcpt (recipients accepted),
data (354 received; the connection is then dropped, so no message is committed).

--count N sends N messages over one session (set up again if the connection breaks) and
prints messages/s and failures; the transcript shows the first message, a progress bar
runs on a terminal.
"""

EXAMPLES = """\
examples:
  netsmtp send --server smtp.example.org:587 --auth me@example.org \\
      --from me@example.org --to you@example.net --subject hi --body 'Hello!'
  netsmtp send --server localhost:2525 --cafile /tmp/sink-ca.pem --tls starttls \\
      --to test@example.net --attach report.pdf --header 'X-Test: 1'
  netsmtp send --server mx.example.net --to postmaster@example.net --quit-after rcpt
  netsmtp send --server localhost:2525 --to a@example.net --count 1000 -q
  netsmtp send --message saved.eml --json          # envelope from the file's headers
"""


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "send",
        help="send a message, with a timed transcript",
        description=DESCRIPTION,
        epilog=EXAMPLES + "\n" + exitcodes.describe(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    conn = p.add_argument_group("connection")
    conn.add_argument(
        "--server",
        "-s",
        metavar="HOST[:PORT]",
        help="the server (default port 25, 465 with --tls ssl); default: NETSMTP_HOSTS or config.toml",
    )
    conn.add_argument(
        "--tls", choices=("auto", "starttls", "ssl", "none"), default="auto", help="TLS mode (default auto)"
    )
    conn.add_argument(
        "--require-tls", action="store_true", help="with --tls auto: fail if TLS is not available"
    )
    conn.add_argument(
        "--cafile", metavar="FILE", help="trust only this CA bundle (a private CA, a test sink)"
    )
    conn.add_argument(
        "--insecure", action="store_true", help="do not verify the certificate (never for real mail)"
    )
    conn.add_argument(
        "--tls-name", metavar="NAME", help="name to verify the certificate against (default: the host)"
    )
    conn.add_argument(
        "--timeout", type=float, default=30.0, metavar="SECONDS", help="per reply and connect (30)"
    )
    conn.add_argument("--hello", metavar="DOMAIN", help="the EHLO name (default: this host's name)")
    auth = p.add_argument_group("authentication")
    auth.add_argument("--auth", metavar="USER", help="authenticate as USER (SMTP AUTH)")
    auth.add_argument("--password-file", metavar="FILE", help="read the password from FILE (first line)")
    auth.add_argument(
        "--mechanism", metavar="NAME", help="SASL mechanism, e.g. PLAIN, LOGIN, SCRAM-SHA-256, XOAUTH2"
    )
    auth.add_argument(
        "--allow-insecure-auth",
        action="store_true",
        help="allow a password mechanism without verified TLS to a remote host",
    )
    msg = p.add_argument_group("message")
    msg.add_argument("--from", "-f", dest="sender", metavar="ADDRESS", help="sender (default: you@this-host)")
    msg.add_argument("--to", "-t", action="append", metavar="ADDRESS", help="recipient (repeatable)")
    msg.add_argument("--cc", action="append", metavar="ADDRESS", help="Cc recipient (repeatable)")
    msg.add_argument(
        "--bcc", action="append", metavar="ADDRESS", help="Bcc recipient: envelope only (repeatable)"
    )
    msg.add_argument("--subject", help="the Subject (default: 'netsmtp test' and the date)")
    msg.add_argument("--body", help=r"the text body ('\n' becomes a line break)")
    msg.add_argument("--body-file", metavar="FILE", help="the text body from FILE ('-': stdin)")
    msg.add_argument("--message", metavar="FILE.eml", help="send this whole message as is ('-': stdin)")
    msg.add_argument(
        "--attach", action="append", metavar="FILE", help="attach FILE, type guessed (repeatable)"
    )
    msg.add_argument(
        "--header", action="append", metavar="'NAME: VALUE'", help="add or replace a header (repeatable)"
    )
    run_ = p.add_argument_group("run")
    run_.add_argument(
        "--quit-after",
        choices=STAGE_ORDER,
        metavar="STAGE",
        help="stop after a stage: " + ", ".join(STAGE_ORDER),
    )
    run_.add_argument(
        "--count", type=int, default=1, metavar="N", help="load test: send N messages, then a summary"
    )
    run_.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    run_.add_argument("-q", "--quiet", action="store_true", help="no transcript, no success line")
    run_.add_argument("-v", "--verbose", action="store_true", help="show every line of message data")
    p.set_defaults(run=run)


class UsageProblem(Exception):
    """A command line that cannot run (exit 2)."""


def _password(args: argparse.Namespace) -> str:
    if args.password_file:
        try:
            with open(args.password_file, encoding="utf-8") as fh:
                return fh.readline().rstrip("\r\n")
        except OSError as exc:
            raise UsageProblem(f"--password-file {args.password_file}: {exc.strerror or exc}") from exc
    env = os.environ.get("NETSMTP_PASSWORD")
    if env is not None:
        return env
    if sys.stdin.isatty():
        return getpass.getpass(f"password for {args.auth}: ")
    raise UsageProblem(
        "--auth needs a password: --password-file FILE, NETSMTP_PASSWORD, or run on a terminal"
    )


def secret_forms(user: str | None, password: str | None) -> list[str]:
    """The forms a password takes on the wire: masked if they ever reach the transcript."""
    if not password or len(password) < 6:
        return []
    forms = [password, base64.b64encode(password.encode()).decode()]
    if user is not None:
        forms.append(base64.b64encode(f"\0{user}\0{password}".encode()).decode())
    return forms


def _settings(args: argparse.Namespace) -> Settings:
    if args.server:
        try:
            split_host(args.server, 25)
        except ValueError as exc:
            raise UsageProblem(f"--server: {exc}") from exc
    if args.require_tls and args.tls == "none":
        raise UsageProblem("--require-tls and --tls none contradict each other")
    if args.insecure and args.cafile:
        raise UsageProblem("--insecure and --cafile contradict each other")
    if args.count < 1:
        raise UsageProblem("--count must be 1 or more")
    if args.count > 1 and args.quit_after:
        raise UsageProblem("--count and --quit-after do not go together")
    if args.cafile and not os.path.isfile(args.cafile):
        raise UsageProblem(f"--cafile {args.cafile}: no such file")
    if (args.password_file or args.mechanism) and not args.auth:
        raise UsageProblem("--password-file and --mechanism need --auth USER")
    return Settings(
        hosts=[args.server] if args.server else None,
        tls=args.tls,
        require_tls=args.require_tls,
        cafile=args.cafile,
        insecure=args.insecure,
        tls_name=args.tls_name,
        timeout=args.timeout,
        hello=args.hello,
        user=args.auth,
        password=_password(args) if args.auth else None,
        mechanism=args.mechanism,
        allow_insecure_auth=args.allow_insecure_auth,
        quit_after=args.quit_after,
    )


def run(args: argparse.Namespace) -> int:
    started = time.time()
    try:
        settings = _settings(args)
        outgoing = build(
            sender=args.sender,
            to=args.to,
            cc=args.cc,
            bcc=args.bcc,
            subject=args.subject,
            body=args.body,
            body_file=args.body_file,
            message_file=args.message,
            attach=args.attach,
            headers=args.header,
        )
    except (UsageProblem, MessageError) as exc:
        print(f"netsmtp send: {exc}", file=sys.stderr)
        return exitcodes.USAGE
    if args.insecure:
        warn_insecure()
    transcript = Transcript(
        None if args.quiet else sys.stderr,
        verbose=args.verbose,
        secrets=secret_forms(settings.user, settings.password),
        start=started,
    )
    with capture(transcript):
        if args.count > 1:
            return _load(args, settings, outgoing, transcript, started)
        return _single(args, settings, outgoing, transcript, started)


def transact(settings: Settings, outgoing: Outgoing, transcript: Transcript) -> dict[str, Any]:
    """One session, one message; the result as a report (``exit_code`` included)."""
    session = Session(settings, transcript)
    report: dict[str, Any] = {"command": "send", "ok": False, "stage": None, "error": None}
    outcome: deliver.Outcome | None = None
    code = exitcodes.OK
    try:
        try:
            smtp = session.open()
            report["server"] = smtp.host()
            if settings.quit_after in ("mail", "rcpt", "data"):
                deliver.step_by_step(smtp, outgoing, settings.quit_after, transcript)
            else:
                outcome = deliver.send(smtp, outgoing, transcript)
        finally:
            report["banner"] = session.smtp.banner() if session.smtp is not None else None
            session.close()
    except QuitAfter as stop:
        report["quit_after"] = stop.stage
        outcome = stop.outcome
    except StageFailure as failure:
        report["stage"], report["error"], code = failure.stage, str(failure), failure.code
        outcome = failure.outcome
    if code == exitcodes.OK and outcome is not None and outcome.refused:
        code = exitcodes.PARTIAL
    handshake = session.recorder.last
    report.update(
        ok=code == exitcodes.OK,
        exit_code=code,
        tls=handshake.as_dict() if handshake is not None else None,
        auth=settings.user,
        **(outcome.as_dict() if outcome is not None else {}),
    )
    return report


def _single(
    args: argparse.Namespace, settings: Settings, outgoing: Outgoing, transcript: Transcript, started: float
) -> int:
    report = transact(settings, outgoing, transcript)
    report["elapsed"] = round(time.time() - started, 4)
    code: int = report["exit_code"]
    if args.json:
        report["transcript"] = transcript.entries
        print(json.dumps(report, indent=2))
    if report["error"]:
        print(f"netsmtp send: {report['stage']} failed (exit {code}): {report['error']}", file=sys.stderr)
    elif not args.json and not args.quiet:
        print(_success_line(report))
    return code


def _success_line(report: dict[str, Any]) -> str:
    if report.get("quit_after"):
        return f"stopped after {report['quit_after']} (--quit-after): nothing was sent"
    text = f"sent to {', '.join(report['accepted'])}: {report['reply']}"
    if report["refused"]:
        text += "; REFUSED: " + "; ".join(f"{a}: {r}" for a, r in report["refused"].items())
    return text


def _load(
    args: argparse.Namespace, settings: Settings, outgoing: Outgoing, transcript: Transcript, started: float
) -> int:
    bar = sys.stderr if sys.stderr.isatty() and not args.quiet and not args.json else None
    result = load.run(settings, outgoing, transcript, args.count, bar)
    code = result.exit_code()
    if args.json:
        report = {"command": "send", "ok": code == exitcodes.OK, "exit_code": code, **result.as_dict()}
        report["transcript"] = transcript.entries
        print(json.dumps(report, indent=2))
    else:
        print(result.summary())
    if result.first_error:
        print(f"netsmtp send: first failure: {result.first_error}", file=sys.stderr)
    if result.aborted:
        print(f"netsmtp send: stopped: {result.aborted}", file=sys.stderr)
    return code
