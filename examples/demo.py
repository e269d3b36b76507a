"""The README's main job: a real send through netsmtp.SMTP.

With no ``--server``, an embedded aiosmtpd starts on a free loopback port with STARTTLS
and a throwaway certificate from a trustme CA; netsmtp connects, upgrades to TLS
(verifying that certificate), sends one message, and the script prints the protocol
transcript and the exact bytes the server stored.

    python examples/demo.py                                   # embedded server
    python examples/demo.py --server mail.example.org:587 \\
        --from me@example.org --to you@example.net            # a real server (STARTTLS if offered)
"""

from __future__ import annotations

import argparse
import logging
import socket
import ssl
import sys
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import netsmtp


def build_message(sender: str, recipient: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = recipient
    msg["Subject"] = "Hello from netsmtp"
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain="netsmtp.invalid")
    msg.set_content(
        "This message was sent by netsmtp, Perl's Net::SMTP for Python.\n"
        ".A line that starts with a dot survives dot-stuffing.\n"
    )
    return msg.as_bytes()


def send(server: str, context: ssl.SSLContext | None, sender: str, recipient: str) -> None:
    with netsmtp.SMTP(server, timeout=30, raise_errors=True, ssl_context=context) as smtp:
        if smtp.supports("STARTTLS") is not None:
            smtp.starttls()
            print(f"# TLS: {smtp.tls_version} {smtp.cipher[0] if smtp.cipher else ''}", file=sys.stdout)
        smtp.mail(sender)
        smtp.to(recipient)
        smtp.data(build_message(sender, recipient))
        print(f"# accepted: {smtp.code()} {smtp.message()}")


def embedded(sender: str, recipient: str) -> int:
    try:
        import trustme
        from aiosmtpd.controller import Controller
    except ImportError:
        print("the embedded server needs the demo extra: pip install 'netsmtp[demo]'", file=sys.stdout)
        return 2

    class Capture:
        def __init__(self) -> None:
            self.stored: list[bytes] = []

        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
            self.stored.append(getattr(envelope, "original_content", b"") or b"")
            return "250 2.0.0 stored"

    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()  # verifying, trusting only the demo CA
    ca.configure_trust(client_ctx)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    capture = Capture()
    controller = Controller(
        capture,
        hostname="127.0.0.1",
        port=port,
        tls_context=server_ctx,
        server_hostname="demo.netsmtp.invalid",
        decode_data=False,
    )
    controller.start()
    try:
        print(f"# embedded aiosmtpd on 127.0.0.1:{port} (STARTTLS, trustme certificate)", file=sys.stdout)
        send(f"127.0.0.1:{port}", client_ctx, sender, recipient)
    finally:
        controller.stop()
    print("# the server stored these bytes:")
    for message in capture.stored:
        sys.stdout.write(message.decode("utf-8", "replace"))
    sys.stdout.flush()
    return 0 if capture.stored else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--server", help="HOST[:PORT] of a real server (default: an embedded one)")
    parser.add_argument("--from", dest="sender", default="demo@netsmtp.invalid")
    parser.add_argument("--to", dest="recipient", default="you@example.net")
    args = parser.parse_args(argv)

    # The transcript: every line on the netsmtp.transcript logger (SPEC A14).
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stdout)
    logging.getLogger("netsmtp.transcript").setLevel(logging.DEBUG)
    try:
        if args.server:
            send(args.server, None, args.sender, args.recipient)
            return 0
        return embedded(args.sender, args.recipient)
    except netsmtp.SMTPError as exc:
        print(f"# failed: {type(exc).__name__}: {exc}", file=sys.stdout)
        return 1


if __name__ == "__main__":
    sys.exit(main())
