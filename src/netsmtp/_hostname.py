"""The default EHLO/HELO name (SPEC A12): the local FQDN if it has a dot, else an
address literal of the local end of the connection."""

from __future__ import annotations

import functools
import ipaddress
import socket


@functools.lru_cache(maxsize=1)
def _fqdn() -> str:
    try:
        return socket.getfqdn()
    except OSError:  # pragma: no cover - getfqdn falls back to gethostname itself
        return ""


def default_hello(local_address: str | None) -> str:
    name = _fqdn()
    if "." in name and name.isascii() and all(c.isalnum() or c in ".-" for c in name):
        return name
    if local_address:
        try:
            ip = ipaddress.ip_address(local_address.split("%", 1)[0])
        except ValueError:
            pass
        else:
            return f"[IPv6:{ip.compressed}]" if ip.version == 6 else f"[{ip}]"
    return "localhost.localdomain"
