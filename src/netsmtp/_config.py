"""Where hosts come from when none is given (API.md §4, Net::Config's part).

``NETSMTP_HOSTS`` (comma separated) first, then ``smtp_hosts`` in
``$XDG_CONFIG_HOME/netsmtp/config.toml`` (default ``~/.config/netsmtp/config.toml``).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

HOW_TO_CONFIGURE = (
    "no SMTP host given and none configured: pass a host (SMTP('mail.example.org')), "
    "set NETSMTP_HOSTS=mail.example.org[,backup.example.org], or put "
    'smtp_hosts = ["mail.example.org"] in {path}'
)


def config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "netsmtp" / "config.toml"


def configured_hosts() -> list[str]:
    """The configured host list, possibly empty. A malformed file raises ``ValueError``."""
    env = os.environ.get("NETSMTP_HOSTS", "")
    hosts = [h.strip() for h in env.split(",") if h.strip()]
    if hosts:
        return hosts
    path = config_path()
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        return []
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: {exc}") from exc
    value = data.get("smtp_hosts", [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(h, str) for h in value):
        raise ValueError(f"{path}: smtp_hosts must be a string or a list of strings")
    return [h.strip() for h in value if h.strip()]
