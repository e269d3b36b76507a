"""Find (or start) the real SMTP servers the interop tests run against.

Four servers, each installed and started by its script in ``.ci/servers/`` (``<name>.sh
install|start|stop|status``): Postfix, Exim, OpenSMTPD and aiosmtpd. For each, in order:

1. ``NETSMTP_TEST_<NAME>=host:port`` (the plain port, STARTTLS offered), set by ``.ci/run``
   after ``.ci/servers/<name>.sh start``, with ``NETSMTP_TEST_<NAME>_SMTPS`` (implicit TLS),
   ``_CAFILE`` (the server's certificate) and ``_MAILDIR`` (where it delivers), all required;
   optionally ``_USER`` / ``_PASS`` (default testuser / testpass), ``_SUBMISSION`` (Postfix's
   port that wants STARTTLS before AUTH) and ``_LOG``.
2. Otherwise a private instance started here with the same script, on free ports in a fresh
   directory, and stopped at the end of the session: Postfix, Exim and OpenSMTPD need root and
   their installed files (``sudo .ci/servers/<name>.sh install``); aiosmtpd runs anywhere the
   test environment has aiosmtpd (it is in the ``test`` extra). OpenSMTPD's queue and control
   socket are compiled in, so a private one cannot start while another OpenSMTPD runs.
3. Otherwise the tests cannot run: under ``CI=true`` that is a failure (CI must provide every
   server), locally a skip whose reason says how to get one. Never a silent pass.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / ".ci" / "servers"
NAMES = ("postfix", "exim", "opensmtpd", "aiosmtpd")


def _pkg_dir() -> Path:
    return Path(os.environ.get("NETSMTP_PKG_DIR", "/tmp/netsmtp-pkg"))


@dataclass(frozen=True)
class Recipe:
    """How ``.ci/servers/<name>.sh`` is told where to run (its environment variables)."""

    name: str
    dir_env: str  # the state directory
    port_envs: tuple[str, ...]  # plain (STARTTLS), implicit TLS[, submission]
    needs_root: bool

    @property
    def script(self) -> Path:
        return SCRIPTS / f"{self.name}.sh"

    def installed(self) -> bool:
        """Whether what ``<name>.sh install`` provides is there."""
        if self.name == "postfix":
            return Path("/usr/sbin/postfix").exists()
        if self.name == "exim":
            return (_pkg_dir() / "exim4/root/usr/sbin/exim4").exists()
        if self.name == "opensmtpd":
            return (_pkg_dir() / "opensmtpd/root/usr/sbin/smtpd").exists()
        try:  # aiosmtpd: runs on this interpreter
            import aiosmtpd  # noqa: F401
        except ImportError:
            return False
        return True

    def extra_env(self) -> dict[str, str]:
        if self.name == "aiosmtpd":
            return {"AIOSMTPD_PYTHON": sys.executable}
        return {}


RECIPES = {
    "postfix": Recipe(
        "postfix",
        "NETSMTP_POSTFIX_DIR",
        ("POSTFIX_SMTP_PORT", "POSTFIX_SMTPS_PORT", "POSTFIX_SUBMISSION_PORT"),
        True,
    ),
    "exim": Recipe("exim", "NETSMTP_EXIM_DIR", ("EXIM_SMTP_PORT", "EXIM_SMTPS_PORT"), True),
    "opensmtpd": Recipe(
        "opensmtpd", "NETSMTP_OPENSMTPD_DIR", ("OPENSMTPD_SMTP_PORT", "OPENSMTPD_SMTPS_PORT"), True
    ),
    "aiosmtpd": Recipe(
        "aiosmtpd", "NETSMTP_AIOSMTPD_DIR", ("AIOSMTPD_SMTP_PORT", "AIOSMTPD_SMTPS_PORT"), False
    ),
}


@dataclass
class Server:
    name: str
    starttls: str  # host:port: plain ESMTP, STARTTLS offered
    smtps: str  # host:port: implicit TLS
    cafile: str  # the server's (self-signed) certificate
    maildir: str  # where every accepted message is delivered, one file per recipient
    user: str
    password: str
    submission: str | None = None  # host:port: STARTTLS required before AUTH (Postfix)
    log: str | None = None
    started_dir: str | None = None  # set when this process started the instance
    script: Path | None = None
    dir_env: str | None = None

    def stop(self) -> None:
        if self.started_dir is None or self.script is None or self.dir_env is None:
            return
        env = dict(os.environ, **{self.dir_env: self.started_dir})
        subprocess.run([str(self.script), "stop"], env=env, check=False, capture_output=True, timeout=60)
        shutil.rmtree(self.started_dir, ignore_errors=True)
        self.started_dir = None


class Unavailable(Exception):
    """No such server: the message says why and how to get one."""


def from_environment(name: str) -> Server | None:
    env = f"NETSMTP_TEST_{name.upper()}"
    address = os.environ.get(env)
    if not address:
        return None
    required = {key: os.environ.get(f"{env}_{key}") for key in ("SMTPS", "CAFILE", "MAILDIR")}
    missing = [f"{env}_{key}" for key, value in required.items() if not value]
    if missing:
        raise Unavailable(f"{env} is set but {', '.join(missing)} is not")
    return Server(
        name=name,
        starttls=address,
        smtps=str(required["SMTPS"]),
        cafile=str(required["CAFILE"]),
        maildir=str(required["MAILDIR"]),
        user=os.environ.get(f"{env}_USER", "testuser"),
        password=os.environ.get(f"{env}_PASS", "testpass"),
        submission=os.environ.get(f"{env}_SUBMISSION"),
        log=os.environ.get(f"{env}_LOG"),
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


def start_private(name: str) -> Server:
    """Start a private instance with the project's script, on free ports."""
    recipe = RECIPES[name]
    if recipe.needs_root and os.geteuid() != 0:
        raise Unavailable(f"not root ({name} only starts as root: sudo {recipe.script} install)")
    if not recipe.installed():
        how = "pip install -e '.[test]'" if name == "aiosmtpd" else f"as root: {recipe.script} install"
        raise Unavailable(f"{name} is not installed ({how})")
    directory = tempfile.mkdtemp(prefix=f"netsmtp-{name}-")
    os.chmod(directory, 0o755)  # the server's own users must reach their files
    ports = _free_ports(len(recipe.port_envs))
    env = dict(os.environ, **{recipe.dir_env: directory}, **recipe.extra_env())
    env.update({var: str(port) for var, port in zip(recipe.port_envs, ports, strict=True)})
    result = subprocess.run(
        [str(recipe.script), "start"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        subprocess.run([str(recipe.script), "stop"], env=env, capture_output=True, timeout=60, check=False)
        shutil.rmtree(directory, ignore_errors=True)
        raise Unavailable(f"{recipe.script} start failed: {result.stderr.strip()[-2000:]}")
    info = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    host = info["HOST"]
    return Server(
        name=name,
        starttls=f"{host}:{info['SMTP_PORT']}",
        smtps=f"{host}:{info['SMTPS_PORT']}",
        cafile=info["CAFILE"],
        maildir=info["MAILDIR"],
        user=info["SMTP_USER"],
        password=info["SMTP_PASS"],
        submission=f"{host}:{info['SUBMISSION_PORT']}" if "SUBMISSION_PORT" in info else None,
        log=info.get("LOG"),
        started_dir=directory,
        script=recipe.script,
        dir_env=recipe.dir_env,
    )


def find(name: str) -> Server:
    """The server to test against; raises Unavailable when there is none."""
    return from_environment(name) or start_private(name)


class ServerPool:
    """Each server found (or started) once per session; private ones stopped at the end."""

    def __init__(self) -> None:
        self._found: dict[str, Server | Unavailable] = {}

    def get(self, name: str) -> Server:
        if name not in self._found:
            try:
                self._found[name] = find(name)
            except Unavailable as exc:
                self._found[name] = exc
        found = self._found[name]
        if isinstance(found, Unavailable):
            raise found
        return found

    def stop(self) -> None:
        for found in self._found.values():
            if isinstance(found, Server):
                found.stop()
        self._found.clear()


def require(pool: ServerPool, name: str) -> Server:
    """The server, or a failure under CI=true / a skip with the reason elsewhere."""
    try:
        return pool.get(name)
    except Unavailable as exc:
        reason = f"no {name} to test against: {exc}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason} (CI must provide one: .ci/run starts it)", pytrace=False)
        how = f"set NETSMTP_TEST_{name.upper()}=host:port and friends (tests/interop/servers.py)"
        pytest.skip(f"{reason}; {how}")
