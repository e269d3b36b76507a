"""Fixtures for driving ``netsmtp`` as a user would: a subprocess, real local servers."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

PASSWORD = "Tr0ub4dor-correct-horse-9"  # unique enough that any appearance is a leak


class Result:
    """A finished ``netsmtp`` run."""

    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    @property
    def json(self) -> Any:
        return json.loads(self.out)

    def __repr__(self) -> str:  # shown by pytest when an assertion fails
        return f"exit {self.code}\n--- stdout ---\n{self.out}\n--- stderr ---\n{self.err}"


def cli_env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETSMTP_")}
    env["XDG_CONFIG_HOME"] = str(tmp / "config")  # never the user's own config.toml
    env["PYTHONIOENCODING"] = "utf-8"
    env.update(extra)
    return env


Run = Callable[..., Result]


@pytest.fixture
def netsmtp(tmp_path: Path) -> Run:
    """``netsmtp(*args, env={...}, input=...)`` runs ``python -m netsmtp`` and returns a Result."""

    def run(
        *args: str, env: dict[str, str] | None = None, input: str | None = None, timeout: float = 30
    ) -> Result:
        proc = subprocess.run(
            [sys.executable, "-m", "netsmtp", *args],
            capture_output=True,
            text=True,
            encoding="utf-8",
            env=cli_env(tmp_path, **(env or {})),
            input=input if input is not None else "",
            timeout=timeout,
            check=False,
        )
        return Result(proc)

    return run


class Sink:
    """``netsmtp sink`` running in a subprocess on a free loopback port."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "netsmtp", "sink", "--listen", "127.0.0.1:0", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self._err = b""
        deadline = time.monotonic() + 20
        assert self.proc.stderr is not None
        while b"waiting for mail" not in self._err:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.proc.stderr], [], [], max(left, 0))
            chunk = os.read(self.proc.stderr.fileno(), 65536) if ready else b""
            if not chunk:
                self.proc.kill()
                self.proc.communicate()
                raise AssertionError(f"netsmtp sink did not start: {self._err.decode()}")
            self._err += chunk
        banner = self._err.decode()
        found = re.search(r"listening on (\S+):(\d+)", banner)
        assert found, banner
        self.address = f"{found.group(1)}:{found.group(2)}"
        ca = re.search(r"CA certificate: (\S+)", banner)
        self.ca_path = ca.group(1) if ca else None
        self.banner = banner
        self.out = ""
        self.err = ""

    def wait(self, timeout: float = 15) -> int:
        """Wait for the sink to exit by itself (--count); its output goes to .out/.err."""
        out, err = self.proc.communicate(timeout=timeout)
        self.out, self.err = out.decode(), (self._err + err).decode()
        return self.proc.returncode

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait()


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[Callable[..., Sink]]:
    """``sink("--tls", "--auth", "u:p", ...)`` starts ``netsmtp sink``; stopped after the test."""
    started: list[Sink] = []

    def start(*args: str) -> Sink:
        server = Sink(list(args), cli_env(tmp_path))
        started.append(server)
        return server

    yield start
    for server in started:
        if server.proc.poll() is None:
            server.stop()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    """The test CA (which signed the aiosmtpd fixture's certificate) as a PEM file."""
    path = tmp_path / "test-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def unused_port() -> int:
    """A loopback port with nothing listening on it (connection refused)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def netsmtp_here(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Run:
    """``netsmtp.cli.main(args)`` in this process: for fast checks that open no connection."""
    from netsmtp.cli import main

    for name in [k for k in os.environ if k.startswith("NETSMTP_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))

    def run(*args: str) -> Result:
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse: --help, or a bad option
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return Result(subprocess.CompletedProcess(list(args), code, captured.out, captured.err))

    return run
