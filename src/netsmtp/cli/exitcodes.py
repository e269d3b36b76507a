"""Exit codes of the ``netsmtp`` command: one per stage that can fail, so scripts can tell
"the server is down" from "the password is wrong" from "that mailbox does not exist"."""

from __future__ import annotations

OK = 0
FAILURE = 1  # anything else (a file that cannot be read, a server that cannot start)
USAGE = 2  # bad command line (argparse uses 2 as well)
CONNECT = 3  # no connection: name does not resolve, refused, no answer
TLS = 4  # TLS failed, or was required and not available
GREETING = 5  # the server refused the session: greeting or EHLO/HELO
AUTH = 6  # authentication refused or impossible
MAIL = 7  # MAIL FROM refused
RCPT = 8  # every recipient refused
DATA = 9  # the message itself refused (or its fate unknown)
PARTIAL = 10  # delivered to some recipients, refused for others (--count: some messages failed)
INTERRUPTED = 130  # Ctrl-C

# Stage names as used by --quit-after, with the code a failure there gives.
STAGES: dict[str, int] = {
    "connect": CONNECT,
    "tls": TLS,
    "ehlo": GREETING,
    "auth": AUTH,
    "mail": MAIL,
    "rcpt": RCPT,
    "data": DATA,
}

TABLE: list[tuple[int, str]] = [
    (OK, "success"),
    (FAILURE, "other failure (unreadable file, server could not start, ...)"),
    (USAGE, "bad command line"),
    (CONNECT, "connection failed (name, refused, no answer)"),
    (TLS, "TLS failed, or required and not offered"),
    (GREETING, "greeting or EHLO/HELO refused"),
    (AUTH, "authentication failed"),
    (MAIL, "MAIL FROM refused"),
    (RCPT, "every recipient refused"),
    (DATA, "message refused at the end of the data (or its fate unknown)"),
    (PARTIAL, "partial: some recipients (or, with --count, some messages) refused"),
    (INTERRUPTED, "interrupted (Ctrl-C)"),
]


def describe() -> str:
    """The table for ``--help`` epilogs."""
    return "exit codes:\n" + "\n".join(f"  {code:>3}  {text}" for code, text in TABLE)
