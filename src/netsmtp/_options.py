"""Constructor options: both spellings (``hello=``/``Hello=``), types, defaults (API.md §1)."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from ssl import SSLContext
from typing import Any

from ._core.commands import check_argument
from ._core.data import MAX_LINE_LENGTH
from ._core.parameters import normalise_options

# Python name -> Net::SMTP spellings
ALIASES: dict[str, tuple[str, ...]] = {
    "host": ("Host",),
    "port": ("Port",),
    "ssl": ("SSL",),
    "ssl_context": (),
    "server_hostname": (),
    "hello": ("Hello",),
    "send_hello": ("SendHello",),
    "local_addr": ("LocalAddr",),
    "local_port": ("LocalPort",),
    "family": ("Family", "Domain"),
    "timeout": ("Timeout",),
    "exact_addresses": ("ExactAddresses",),
    "debug": ("Debug",),
    "raise_errors": (),
    "allow_insecure_auth": (),
    "pipelining": (),
    "max_line_length": (),
}

_UNSET: Any = object()


@dataclass(frozen=True, slots=True)
class Options:
    """Validated constructor options."""

    hosts: tuple[str, ...] | None
    port: int | None
    ssl: bool
    ssl_context: SSLContext | None
    server_hostname: str | None
    hello: str | None
    send_hello: bool
    local_addr: str | None
    local_port: int | None
    family: int
    timeout: float | None
    exact_addresses: bool
    debug: int
    raise_errors: bool
    allow_insecure_auth: bool
    pipelining: bool
    max_line_length: int | None  # octets per message line (DATA); None: no limit (SM-10)


def parse_options(host: Any, given: dict[str, Any], where: str) -> Options:
    """Validate constructor keyword options; unknown names raise ``TypeError``."""
    known: dict[str, str] = {}
    for name, spellings in ALIASES.items():
        known[name] = spellings[0] if spellings else name
    given = dict(given)
    if "Domain" in given:
        if "family" in given or "Family" in given:
            raise TypeError(f"{where}() got the family option twice")
        given["Family"] = given.pop("Domain")
    opts = normalise_options(given, known, where)
    if host is not None and "host" in opts:
        raise TypeError(f"{where}() got the host both as an argument and as an option")
    if host is None:
        host = opts.get("host")
    hosts: tuple[str, ...] | None
    if host is None:
        hosts = None
    elif isinstance(host, str):
        hosts = (host,)
    elif isinstance(host, list | tuple) and all(isinstance(h, str) for h in host):
        hosts = tuple(host)
    else:
        raise TypeError(f"host must be a str or a list of str, not {host!r}")

    port = opts.get("port")
    if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536):
        if port in (0, False):  # Net::SMTP: a false Port means the default
            port = None
        else:
            raise ValueError(f"port must be an int from 1 to 65535, not {port!r}")
    context = opts.get("ssl_context")
    if context is not None and not isinstance(context, SSLContext):
        raise TypeError("ssl_context must be an SSLContext")
    hello = opts.get("hello") or None  # Net::SMTP: any false value means the default
    if hello is not None:
        check_argument(hello, "hello")
        if not hello.strip() or " " in hello:
            raise ValueError(f"hello must be one domain or address literal: {hello!r}")
    server_hostname = opts.get("server_hostname")
    if server_hostname is not None:
        check_argument(server_hostname, "server_hostname")
    timeout = opts.get("timeout", 120)
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout < 0:
            raise ValueError(f"timeout must be a number of seconds or None, not {timeout!r}")
        timeout = None if timeout == 0 else float(timeout)  # Net::SMTP: 0 means no limit
    family = opts.get("family") or socket.AF_UNSPEC
    if family not in (socket.AF_UNSPEC, socket.AF_INET, socket.AF_INET6):
        raise ValueError("family must be socket.AF_INET or socket.AF_INET6")
    local_port = opts.get("local_port")
    if local_port is not None and (not isinstance(local_port, int) or not 0 <= local_port < 65536):
        raise ValueError(f"local_port must be an int from 0 to 65535, not {local_port!r}")
    debug = opts.get("debug") or 0
    max_line_length = opts.get("max_line_length", MAX_LINE_LENGTH)
    if max_line_length is not None:
        what = f"max_line_length must be a positive int (default 998) or None, not {max_line_length!r}"
        if isinstance(max_line_length, bool) or not isinstance(max_line_length, int):
            raise TypeError(what)
        if max_line_length < 1:
            raise ValueError(what)
    return Options(
        hosts=hosts,
        port=port,
        ssl=bool(opts.get("ssl", False)),
        ssl_context=context,
        server_hostname=server_hostname,
        hello=hello,
        send_hello=bool(opts.get("send_hello", True)),
        local_addr=opts.get("local_addr"),
        local_port=local_port,
        family=int(family),
        timeout=timeout,
        exact_addresses=bool(opts.get("exact_addresses", False)),
        debug=int(debug),
        raise_errors=bool(opts.get("raise_errors", False)),
        allow_insecure_auth=bool(opts.get("allow_insecure_auth", False)),
        pipelining=bool(opts.get("pipelining", True)),
        max_line_length=max_line_length,
    )
