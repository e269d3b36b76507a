"""``netsmtp demo``: the whole tool on this machine, in one go, in a few seconds.

It starts an embedded sink on a free loopback port (STARTTLS with a throwaway CA, AUTH
required), sends a real message with an attachment through ``netsmtp.SMTP.send_message``
(verified TLS, AUTH, the transaction pipelined), prints the timed transcript, and then
the message exactly as the sink stored it.
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from . import exitcodes
from .message import build
from .send import secret_forms, transact
from .session import Settings
from .sink import message_line
from .sinkserver import SinkConfig, SinkServer, SinkUnavailable, Stored
from .transcript import Transcript, capture

USER = "demo"
ATTACHMENT = "numbers.csv"
ATTACHMENT_TEXT = "n,square\n1,1\n2,4\n3,9\n"
BODY = (
    "Hello!\n\n"
    "This message went through netsmtp: STARTTLS with a verified certificate, AUTH,\n"
    "then MAIL, RCPT and DATA pipelined in one write.\n"
    ".A line that starts with a dot survives dot-stuffing.\n"
)


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "demo",
        help="send a real message to an embedded sink and show everything",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--keep", action="store_true", help="keep the Maildir and CA file (their path is printed)")
    p.set_defaults(run=run)


def _say(text: str = "") -> None:
    print(text, flush=True)


def run(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="netsmtp-demo-"))
    try:
        return _demo(workdir)
    finally:
        if args.keep:
            _say(f"\nkept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def _demo(workdir: Path) -> int:
    started = time.monotonic()
    password = secrets.token_urlsafe(16)
    config = SinkConfig(
        host="127.0.0.1",
        port=0,
        maildir=str(workdir / "Maildir"),
        tls=True,
        auth=(USER, password),
        ca_out=str(workdir / "ca.pem"),
    )

    def on_message(stored: Stored) -> None:
        _say(f"[   sink] {message_line(stored)}")

    try:
        sink = SinkServer(config, on_message)
        sink.start_thread()
    except SinkUnavailable as exc:
        print(f"netsmtp demo: {exc}", file=sys.stderr)
        return exitcodes.FAILURE
    try:
        assert sink.address is not None
        server = f"127.0.0.1:{sink.address[1]}"
        attachment = workdir / ATTACHMENT
        attachment.write_text(ATTACHMENT_TEXT)
        outgoing = build(
            sender="Demo <demo@netsmtp.invalid>",
            to=["You <you@example.net>"],
            cc=None,
            bcc=None,
            subject="Hello from netsmtp",
            body=BODY,
            body_file=None,
            message_file=None,
            attach=[str(attachment)],
            headers=None,
        )
        _say("netsmtp demo: a real send to an embedded sink, on this machine\n")
        _say(f"* sink:    {server}, STARTTLS (certificate from a throwaway CA: {config.ca_out}),")
        _say(f"           AUTH required (user {USER!r}, a random password that never appears below)")
        _say(f"* message: demo@netsmtp.invalid -> you@example.net, attachment {ATTACHMENT} (text/csv)")
        _say("* sending:  netsmtp.SMTP -> starttls() -> auth() -> send_message()\n")
        settings = Settings(
            hosts=[server],
            tls="starttls",
            require_tls=True,
            cafile=config.ca_out,
            timeout=10,
            user=USER,
            password=password,
        )
        transcript = Transcript(sys.stdout, secrets=secret_forms(USER, password))
        with capture(transcript):
            report = transact(settings, outgoing, transcript)
    finally:
        sink.stop_thread()
    return _conclude(report, sink, transcript, password, started)


def _conclude(
    report: dict[str, Any], sink: SinkServer, transcript: Transcript, password: str, started: float
) -> int:
    if not report["ok"]:
        _say(f"\nnetsmtp demo: FAILED at {report['stage']}: {report['error']}")
        return int(report["exit_code"]) or exitcodes.FAILURE
    stored = sink.received[0] if sink.received else None
    if stored is None or stored.location is None:
        _say("\nnetsmtp demo: FAILED: the server accepted the message but the sink has nothing")
        return exitcodes.FAILURE
    _say(f"\n* accepted: {report['reply']}")
    pipelined = _pipelined(transcript)
    if pipelined:
        _say("* pipelined: MAIL, RCPT and DATA left in one write, before the first of their replies")
    _say(f"* stored:   {stored.location}\n")
    text = Path(stored.location).read_text(encoding="utf-8", errors="replace")
    _say("-" * 30 + " the stored message " + "-" * 30)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    _say("-" * 80)
    shown = "".join(entry["text"] for entry in transcript.entries)
    if password in shown or transcript.leaked:
        _say("netsmtp demo: FAILED: the password reached the transcript")
        return exitcodes.FAILURE
    _say(f"\nnetsmtp demo: OK in {time.monotonic() - started:.2f} s. Try next:")
    _say("  netsmtp sink --tls --maildir ./mail              # keep one running")
    _say("  netsmtp probe smtp.example.org:587               # look at a real server")
    _say("  netsmtp send --server smtp.example.org:587 --auth you@example.org --to someone@example.net")
    return exitcodes.OK


def _pipelined(transcript: Transcript) -> bool:
    """True when DATA was sent before the reply to MAIL arrived (one write for all three)."""
    order = [(e["dir"], e["text"].split(" ", 1)[0]) for e in transcript.entries]
    try:
        mail = order.index(("C", "MAIL"))
        data = order.index(("C", "DATA"), mail)
    except ValueError:
        return False
    return all(direction != "S" for direction, _ in order[mail:data])
