"""Finding the code examples of the documentation, and running one against the docs servers.

Every fenced ```` ```python ```` block of ``docs/**/*.md`` and ``README.md`` is an example
(indented ones too: content tabs, grids). A block is *marked* when the nearest non-blank
line above it is an HTML comment ``<!-- no-test: why -->``: it is reported, never run. There
is no other way to leave a block out.

How an example reaches a local server while it reads like one for a real one — the
examples are run unchanged, in-process, with these substitutions (nothing else):

* **Name resolution** (``socket.getaddrinfo``): every host *name* resolves to 127.0.0.1,
  port 465 to the implicit-TLS listener, 2525 to a relay without TLS that offers AUTH in
  clear, 24 to LMTP, any other port to the SMTP listener (STARTTLS, AUTH after it). Names
  ending in ``.invalid`` do not resolve; names starting with ``down.`` resolve to a port where
  nothing listens (connection refused). IP literals are left alone.
* **Trust**: ``SSL_CERT_FILE`` names the test CA, so ``ssl.create_default_context()`` (and
  netsmtp's default context) verifies the server's certificate, which is issued for every
  host name the examples use (``mail.example.org``, ``smtp.gmail.com``, ...).
* **A remote server**: netsmtp treats a loopback peer as local (PLAIN allowed without TLS);
  the harness makes it see a remote one, so the AUTH policy behaves as in production.
* **Paths**: ``/run/dovecot/lmtp`` becomes the LMTP listener's Unix socket; the working
  directory is a fresh temporary one holding ``client.pem`` (a client certificate and key
  from the test CA), ``ca.pem`` (that CA), ``report.pdf``, ``message.eml`` and ``token.json``
  (an OAuth token).
* **Configuration**: ``NETSMTP_HOSTS=mail.example.org`` and an empty ``XDG_CONFIG_HOME``.
* **Accounts** (see :mod:`tests.docs.docserver`): user ``me@example.org``, password
  ``app password``; OAuth tokens starting with ``ya29.`` or ``eyJ``; recipients
  ``nobody@...`` refused (550), ``busy@...`` deferred (450).

``netsmtp.ExtensionWarning`` is an error inside examples: an example never shows an option
that the server silently drops, unless it catches the warning itself.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import re
import socket
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import netsmtp
from netsmtp._client import auth_flows

from .docserver import DocsServers

ROOT = Path(__file__).resolve().parents[2]
LMTP_SOCKET_IN_DOCS = "/run/dovecot/lmtp"
_FENCE_OPEN = re.compile(r"^(?P<indent>[ \t]*)```(?:python|py)\s*$")
_FENCE_ANY = re.compile(r"^[ \t]*```")
_NO_TEST = re.compile(r"^\s*<!--\s*no-test:\s*(?P<why>.*?)\s*-->\s*$")


@dataclass(frozen=True)
class Example:
    path: str  # relative to the repository root
    line: int  # of the opening fence, 1-based
    code: str
    no_test: str | None  # the reason, for a marked block

    @property
    def id(self) -> str:
        return f"{self.path}:{self.line}"


def sources() -> list[Path]:
    """The files whose examples are tested: README.md and every page of the site."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def extract(path: Path) -> list[Example]:
    """Every ```python block of one Markdown file, dedented, with its no-test mark if any."""
    rel = path.relative_to(ROOT).as_posix()
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Example] = []
    previous = ""  # the last non-blank line outside a block
    index = 0
    while index < len(lines):
        line = lines[index]
        opening = _FENCE_OPEN.match(line)
        if opening is None:
            if _FENCE_ANY.match(line):  # another language: skip the whole block
                index += 1
                while index < len(lines) and not _FENCE_ANY.match(lines[index]):
                    index += 1
            if line.strip():
                previous = line
            index += 1
            continue
        indent = opening.group("indent")
        start = index + 1  # 1-based line of the opening fence
        body: list[str] = []
        index += 1
        while index < len(lines) and lines[index].strip() != "```":
            text = lines[index]
            body.append(text[len(indent) :] if text.startswith(indent) else text.lstrip())
            index += 1
        mark = _NO_TEST.match(previous)
        found.append(Example(rel, start, "\n".join(body) + "\n", mark.group("why") if mark else None))
        previous = line
        index += 1
    return found


def all_examples() -> list[Example]:
    return [example for path in sources() for example in extract(path)]


# ---- running one ------------------------------------------------------------------------------
def _fake_getaddrinfo(servers: DocsServers, closed_port: int) -> Any:
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name is None or _is_ip(name):
            return real(host, port, *args, **kwargs)
        if name.endswith(".invalid"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        number = int(port) if port is not None else 25
        if name.startswith("down."):
            target = closed_port
        else:
            ports = {465: servers.smtps_port, 2525: servers.plain_auth_port, 24: servers.lmtp_port}
            target = ports.get(number, servers.starttls_port)
        kwargs.pop("family", None)
        return real("127.0.0.1", target, socket.AF_INET, *args[1:], **kwargs)

    return getaddrinfo


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    return True


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens there once the socket is closed


@contextlib.contextmanager
def _logging_restored() -> Iterator[None]:
    """Examples configure logging (basicConfig, levels); undo it afterwards."""
    names = ["", "netsmtp", "netsmtp.transcript"]
    saved = [
        (logging.getLogger(n), logging.getLogger(n).level, list(logging.getLogger(n).handlers)) for n in names
    ]
    try:
        yield
    finally:
        for logger, level, handlers in saved:
            for handler in logger.handlers:
                if handler not in handlers:
                    handler.close()
            logger.handlers[:] = handlers
            logger.setLevel(level)


def run(example: Example, servers: DocsServers, monkeypatch: pytest.MonkeyPatch, workdir: Path) -> None:
    """Run one example with the substitutions of the module docstring."""
    monkeypatch.chdir(workdir)
    (workdir / "client.pem").write_bytes(Path(servers.client_cert_file).read_bytes())
    (workdir / "ca.pem").write_bytes(Path(servers.ca_file).read_bytes())
    (workdir / "report.pdf").write_bytes(b"%PDF-1.4\n% not really a PDF: an attachment for the examples\n")
    (workdir / "message.eml").write_bytes(
        b"From: Me <me@example.org>\r\nTo: You <you@example.net>\r\nSubject: from a file\r\n\r\nHello.\r\n"
    )
    (workdir / "token.json").write_text('{"access_token": "ya29.a0-docs-example-token"}\n')
    monkeypatch.setenv("SSL_CERT_FILE", servers.ca_file)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    monkeypatch.setenv("NETSMTP_HOSTS", "mail.example.org")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(workdir / "config"))
    monkeypatch.setattr(socket, "getaddrinfo", _fake_getaddrinfo(servers, _closed_port()))
    monkeypatch.setattr(auth_flows, "is_loopback", lambda peer: False)
    code = example.code.replace(LMTP_SOCKET_IN_DOCS, servers.lmtp_socket)
    compiled = compile(code, example.id, "exec")
    namespace: dict[str, Any] = {"__name__": "__main__"}
    environ = dict(os.environ)
    with _logging_restored(), warnings.catch_warnings():
        warnings.simplefilter("error", netsmtp.ExtensionWarning)
        try:
            exec(compiled, namespace)
        finally:
            os.environ.clear()
            os.environ.update(environ)
