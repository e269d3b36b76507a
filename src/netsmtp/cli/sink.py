"""``netsmtp sink``: a local SMTP server that keeps every message it is sent."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
import time
from typing import Any

from .._hosts import split_host
from . import exitcodes
from .sinkserver import SinkConfig, SinkServer, SinkUnavailable, Stored
from .transcript import printable

DEFAULT_PORT = 2525

DESCRIPTION = """\
A local capture server for developers: it accepts every message (for the --auth user
when set), keeps it in a Maildir or an mbox, and prints one line per message:

  12:00:01 from=<me@example.org> to=<you@example.net> size=1234 subject="Hi" tls=TLSv1.3 saved=...

--tls offers STARTTLS with a certificate from a throwaway CA made at start-up; its path
is printed so clients can trust it (netsmtp send --cafile PATH). --auth USER:PASS requires
AUTH (PLAIN or LOGIN), only after STARTTLS unless --allow-insecure-auth. Runs until Ctrl-C
or SIGTERM, or until --count messages arrived. Needs aiosmtpd and trustme:
pip install 'netsmtp[sink]'.
"""

EXAMPLES = """\
examples:
  netsmtp sink                                   # 127.0.0.1:2525, messages only listed
  netsmtp sink --maildir ./mail --tls --auth test:secret
  netsmtp sink --listen 127.0.0.1:0 --mbox out.mbox --count 1 --json
"""


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "sink",
        help="a local capture server (Maildir/mbox, STARTTLS, AUTH)",
        description=DESCRIPTION,
        epilog=EXAMPLES + "\n" + exitcodes.describe(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--listen",
        "-l",
        metavar="HOST:PORT",
        default=f"127.0.0.1:{DEFAULT_PORT}",
        help=f"where to listen (default 127.0.0.1:{DEFAULT_PORT}; port 0: any free port)",
    )
    store = p.add_mutually_exclusive_group()
    store.add_argument("--maildir", metavar="DIR", help="store messages in this Maildir (created if needed)")
    store.add_argument("--mbox", metavar="FILE", help="append messages to this mbox file")
    p.add_argument("--tls", action="store_true", help="offer STARTTLS with a generated certificate")
    p.add_argument(
        "--ca-out", metavar="FILE", help="write the CA certificate here (default: a temporary file)"
    )
    p.add_argument("--auth", metavar="USER:PASS", help="require AUTH PLAIN/LOGIN with these credentials")
    p.add_argument("--allow-insecure-auth", action="store_true", help="offer AUTH without TLS (tests only)")
    p.add_argument("--count", type=int, metavar="N", help="exit after N messages")
    p.add_argument("--show", action="store_true", help="also print each message received")
    p.add_argument("--json", action="store_true", help="one JSON object per line instead of text")
    p.add_argument("-v", "--verbose", action="store_true", help="show aiosmtpd's log (session errors)")
    p.set_defaults(run=run)


def message_line(stored: Stored) -> str:
    parts = [
        time.strftime("%H:%M:%S", time.localtime(stored.received)),
        f"from=<{stored.sender}>",
        "to=" + ",".join(f"<{r}>" for r in stored.recipients),
        f"size={stored.size}",
        "subject=" + (json.dumps(stored.subject, ensure_ascii=False) if stored.subject is not None else "-"),
        f"tls={stored.tls or 'no'}",
    ]
    if stored.user is not None:
        parts.append(f"auth={stored.user}")
    if stored.location is not None:
        parts.append(f"saved={stored.location}")
    return printable(" ".join(parts))


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``HOST``, ``:PORT``; port 0 asks for any free port."""
    text = text.strip()
    if text.startswith(":"):
        text = "127.0.0.1" + text
    zero = (text.endswith(":0") and text.count(":") == 1) or text.endswith("]:0")
    if zero:
        text = text[:-2]
    host, port = split_host(text, DEFAULT_PORT)
    return host, 0 if zero else port


def _config(args: argparse.Namespace) -> SinkConfig:
    host, port = parse_listen(args.listen)
    auth = None
    if args.auth is not None:
        user, sep, password = args.auth.partition(":")
        if not sep or not user or not password:
            raise ValueError("--auth wants USER:PASS")
        auth = (user, password)
    if args.count is not None and args.count < 1:
        raise ValueError("--count must be 1 or more")
    return SinkConfig(
        host=host,
        port=port,
        maildir=args.maildir,
        mbox=args.mbox,
        tls=args.tls,
        auth=auth,
        allow_insecure_auth=args.allow_insecure_auth,
        count=args.count,
        ca_out=args.ca_out,
        verbose=args.verbose,
    )


def run(args: argparse.Namespace) -> int:
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        config = _config(args)
    except ValueError as exc:
        print(f"netsmtp sink: {exc}", file=sys.stderr)
        return exitcodes.USAGE

    def on_message(stored: Stored) -> None:
        if args.json:
            print(json.dumps(stored.as_dict(), ensure_ascii=False), flush=True)
        else:
            print(message_line(stored), flush=True)
        if args.show:
            sys.stdout.write(stored.content.decode("utf-8", "replace").replace("\r\n", "\n"))
            print("-" * 72, flush=True)

    try:
        server = SinkServer(config, on_message)
    except SinkUnavailable as exc:
        print(f"netsmtp sink: {exc}", file=sys.stderr)
        return exitcodes.FAILURE
    except ValueError as exc:
        print(f"netsmtp sink: {exc}", file=sys.stderr)
        return exitcodes.USAGE
    except OSError as exc:
        print(f"netsmtp sink: {exc}", file=sys.stderr)
        return exitcodes.FAILURE
    try:
        return asyncio.run(_serve(server, args))
    finally:
        server.cleanup()


def _banner(server: SinkServer) -> list[str]:
    config = server.config
    assert server.address is not None
    host, port = server.address
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    features = ["STARTTLS" if config.tls else "no TLS"]
    if config.auth is not None:
        features.append(f"AUTH PLAIN LOGIN required (user {config.auth[0]})")
    where = (
        (config.maildir and f"Maildir {config.maildir}")
        or (config.mbox and f"mbox {config.mbox}")
        or "not stored"
    )
    features.append(where)
    lines = [f"netsmtp sink listening on {shown} ({', '.join(features)})"]
    if server.tls is not None:
        lines.append(
            f"CA certificate: {server.tls.ca_path}  (clients: netsmtp send --cafile {server.tls.ca_path})"
        )
    stop = f"after {config.count} message(s) or Ctrl-C" if config.count else "Ctrl-C to stop"
    lines.append(f"waiting for mail; {stop}")
    return lines


async def _serve(server: SinkServer, args: argparse.Namespace) -> int:
    try:
        await server.start()
    except OSError as exc:
        print(f"netsmtp sink: cannot listen on {args.listen}: {exc.strerror or exc}", file=sys.stderr)
        return exitcodes.FAILURE
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, server.stop)
    # The banner on stderr: stdout carries only the message lines (text or JSON), for pipes.
    for line in _banner(server):
        print(line, file=sys.stderr, flush=True)
    await server.wait()
    print(f"netsmtp sink: stopped after {len(server.received)} message(s)", file=sys.stderr, flush=True)
    return exitcodes.OK
