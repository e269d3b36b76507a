"""Find (or start) the real Postfix the interop tests run against.

Order of preference:

1. ``NETSMTP_TEST_POSTFIX=host:port`` (the STARTTLS port), set by ``.ci/run`` after
   ``.ci/servers/postfix.sh start``, with ``NETSMTP_TEST_POSTFIX_SMTPS`` (implicit TLS),
   ``NETSMTP_TEST_POSTFIX_SUBMISSION``, ``NETSMTP_TEST_POSTFIX_CAFILE`` (required: the
   server's certificate), and optionally ``NETSMTP_TEST_POSTFIX_MAILDIR``,
   ``NETSMTP_TEST_POSTFIX_USER`` / ``_PASS`` (default testuser / testpass).
2. Otherwise, as root with Postfix installed: a private instance started here by
   ``.ci/servers/postfix.sh`` on free ports in a fresh directory, stopped at the end.
3. Otherwise the tests cannot run: under ``CI=true`` that is a failure (CI must have a
   server), locally a skip whose reason says how to get one. Never a silent pass.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / ".ci" / "servers" / "postfix.sh"
ENV = "NETSMTP_TEST_POSTFIX"


@dataclass
class Postfix:
    starttls: str  # host:port, STARTTLS offered, AUTH offered before TLS too
    smtps: str  # host:port, implicit TLS
    submission: str | None  # host:port, AUTH only after STARTTLS
    cafile: str
    user: str
    password: str
    maildir: str | None
    started_dir: str | None = None  # set when this process started the instance

    def stop(self) -> None:
        if self.started_dir is None:
            return
        env = dict(os.environ, NETSMTP_POSTFIX_DIR=self.started_dir)
        subprocess.run([str(SCRIPT), "stop"], env=env, check=False, capture_output=True, timeout=60)
        shutil.rmtree(self.started_dir, ignore_errors=True)


class Unavailable(Exception):
    """No Postfix: the message says why and how to get one."""


def from_environment() -> Postfix | None:
    address = os.environ.get(ENV)
    if not address:
        return None
    cafile = os.environ.get(f"{ENV}_CAFILE")
    smtps = os.environ.get(f"{ENV}_SMTPS")
    if not cafile or not smtps:
        raise Unavailable(f"{ENV} is set but {ENV}_CAFILE or {ENV}_SMTPS is not")
    return Postfix(
        starttls=address,
        smtps=smtps,
        submission=os.environ.get(f"{ENV}_SUBMISSION"),
        cafile=cafile,
        user=os.environ.get(f"{ENV}_USER", "testuser"),
        password=os.environ.get(f"{ENV}_PASS", "testpass"),
        maildir=os.environ.get(f"{ENV}_MAILDIR"),
    )


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


def start_private() -> Postfix:
    """Start a private Postfix with the project's script (root and postfix needed)."""
    if os.geteuid() != 0:
        raise Unavailable("not root (the Postfix master only runs as root)")
    if not Path("/usr/sbin/postfix").exists():
        raise Unavailable(f"Postfix is not installed (as root: {SCRIPT} install)")
    directory = tempfile.mkdtemp(prefix="netsmtp-postfix-")
    os.chmod(directory, 0o755)  # the postfix user must reach its queue and data
    smtp, smtps, submission = _free_ports(3)
    env = dict(
        os.environ,
        NETSMTP_POSTFIX_DIR=directory,
        POSTFIX_SMTP_PORT=str(smtp),
        POSTFIX_SMTPS_PORT=str(smtps),
        POSTFIX_SUBMISSION_PORT=str(submission),
    )
    result = subprocess.run(
        [str(SCRIPT), "start"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        shutil.rmtree(directory, ignore_errors=True)
        raise Unavailable(f"{SCRIPT} start failed: {result.stderr.strip()[-2000:]}")
    info = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    host = info["HOST"]
    return Postfix(
        starttls=f"{host}:{info['SMTP_PORT']}",
        smtps=f"{host}:{info['SMTPS_PORT']}",
        submission=f"{host}:{info['SUBMISSION_PORT']}",
        cafile=info["CAFILE"],
        user=info["SMTP_USER"],
        password=info["SMTP_PASS"],
        maildir=info["MAILDIR"],
        started_dir=directory,
    )


def find() -> Postfix:
    """The Postfix to test against; raises Unavailable when there is none."""
    return from_environment() or start_private()
