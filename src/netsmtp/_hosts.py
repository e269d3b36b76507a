"""Host strings: ``name``, ``name:port``, ``1.2.3.4:25``, ``[::1]:2525``, ``::1``."""

from __future__ import annotations

import ipaddress
import re

_BRACKETED = re.compile(r"\[([^\]]+)\](?::(\d+))?")
_NAME_PORT = re.compile(r"([^:\[\]]+)(?::(\d+))?")


def split_host(text: str, default_port: int) -> tuple[str, int]:
    """Return ``(host, port)``; a port inside the string wins over ``default_port``."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"empty or invalid host: {text!r}")
    text = text.strip()
    m = _BRACKETED.fullmatch(text)
    if m:
        host, port = m.group(1), m.group(2)
    elif text.count(":") > 1:  # a bare IPv6 literal: no port
        host, port = text, None
    else:
        m = _NAME_PORT.fullmatch(text)
        if not m:
            raise ValueError(f"cannot parse host {text!r}")
        host, port = m.group(1), m.group(2)
    if any(c in host for c in "\r\n\x00 /"):
        raise ValueError(f"invalid host name {text!r}")
    port_number = int(port) if port else default_port
    if not 0 < port_number < 65536:
        raise ValueError(f"port out of range in {text!r}")
    return host, port_number


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True
