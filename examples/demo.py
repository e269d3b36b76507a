"""The README's main job, kept as a script: ``netsmtp demo``.

It starts an embedded sink (aiosmtpd) on a free loopback port with STARTTLS and AUTH,
sends a message with an attachment through ``netsmtp.SMTP.send_message`` (verified TLS,
pipelined), and prints the transcript and the stored message. To send through a real
server, use the command line: ``netsmtp send --server HOST:PORT --to ADDRESS ...``.

    python examples/demo.py            # the same as: netsmtp demo
"""

from __future__ import annotations

import sys

from netsmtp.cli import main

if __name__ == "__main__":
    sys.exit(main(["demo", *sys.argv[1:]]))
