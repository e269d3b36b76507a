"""The ``netsmtp`` command: send, probe, sink, demo.

``main(argv)`` returns the exit code (see :mod:`netsmtp.cli.exitcodes`); the console
script and ``python -m netsmtp`` exit with it. Only ``sink`` and ``demo`` need more than
the standard library (aiosmtpd and trustme: ``pip install 'netsmtp[sink]'``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .. import __version__
from . import demo, exitcodes, probe, send, sink

DESCRIPTION = """\
netsmtp: test mail servers and capture test mail.

  netsmtp send   --server HOST[:PORT] --to ADDRESS ...   send a message, timed transcript
  netsmtp probe  HOST[:PORT]                              what a server offers, and what is wrong
  netsmtp sink   [--listen HOST:PORT] [--maildir DIR]     a local server that keeps what it gets
  netsmtp demo                                            all of it, on this machine, in one go

`netsmtp COMMAND --help` describes each command.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="netsmtp",
        description=DESCRIPTION,
        epilog=exitcodes.describe(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"netsmtp {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for module in (send, probe, sink, demo):
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_usage(sys.stderr)
        print("netsmtp: error: a command is required (send, probe, sink, demo)", file=sys.stderr)
        return exitcodes.USAGE
    try:
        code: int = args.run(args)
    except KeyboardInterrupt:
        print("\nnetsmtp: interrupted", file=sys.stderr)
        return exitcodes.INTERRUPTED
    except BrokenPipeError:  # `netsmtp ... | head`
        return exitcodes.FAILURE
    return code
