"""A recording TCP relay between a client and a real server: who said what, in which order.

The client connects to :attr:`WireTap.address`; the tap relays every byte to the server and
back, and records each read as an event ``("C", bytes)`` (client to server) or
``("S", bytes)``. One thread serves both directions, so the order of the events is the order
in which the bytes crossed the tap: a client that waits for each reply can never have two
commands in one gap between server events. :func:`exchanges` replays the events as SMTP
(DATA bodies after a 354 and BDAT payloads are not commands) and returns the client's
*flights*: the commands it sent between two moments when the server spoke. A flight of more
than one command is pipelining. For plain-text sessions only (TLS would hide the commands).
"""

from __future__ import annotations

import contextlib
import re
import selectors
import socket
import threading
from dataclasses import dataclass, field

_REPLY_LINE = re.compile(rb"(\d{3})([ -]?)(.*)")


class WireTap:
    """Relays connections from a loopback port to ``upstream`` ("host:port"), recording."""

    def __init__(self, upstream: str) -> None:
        host, _, port = upstream.rpartition(":")
        self.upstream = (host.strip("[]"), int(port))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self.sessions: list[list[tuple[str, bytes]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self.listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            events: list[tuple[str, bytes]] = []
            self.sessions.append(events)
            try:
                server = socket.create_connection(self.upstream, timeout=10)
            except OSError:
                client.close()
                continue
            self._relay(client, server, events)

    def _relay(self, client: socket.socket, server: socket.socket, events: list[tuple[str, bytes]]) -> None:
        sel = selectors.DefaultSelector()
        peers = {client: (server, "C"), server: (client, "S")}
        for sock in peers:
            sock.setblocking(True)
            sel.register(sock, selectors.EVENT_READ)
        try:
            while not self._stop.is_set():
                for key, _ in sel.select(timeout=0.2):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    other, who = peers[sock]
                    try:
                        data = sock.recv(262144)
                    except OSError:
                        data = b""
                    if not data:
                        return
                    events.append((who, data))
                    other.sendall(data)
        finally:
            sel.close()
            for sock in peers:
                with contextlib.suppress(OSError):
                    sock.close()

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self.listener.close()
        self._thread.join(5)

    def __enter__(self) -> WireTap:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class Exchange:
    """One session seen as SMTP: the client's flights of commands and the server's reply codes."""

    flights: list[list[str]] = field(default_factory=list)
    replies: list[int] = field(default_factory=list)

    @property
    def commands(self) -> list[str]:
        return [command for flight in self.flights for command in flight]

    @property
    def verbs(self) -> list[str]:
        return [c.split(" ", 1)[0].split(":", 1)[0].upper() for c in self.commands]

    @property
    def largest_flight(self) -> int:
        return max((len(f) for f in self.flights), default=0)


def exchanges(events: list[tuple[str, bytes]]) -> Exchange:
    """Replay one session's events as SMTP (see the module docstring)."""
    out = Exchange()
    client = b""
    server = b""
    mode = "command"  # or "data" (after a 354), or "bdat" (``remaining`` bytes of payload)
    remaining = 0
    body_start = False
    flight: list[str] = []
    for who, data in events:
        if who == "S":
            server += data
            while b"\n" in server:
                line, _, server = server.partition(b"\n")
                m = _REPLY_LINE.match(line.rstrip(b"\r"))
                if m is None:
                    raise AssertionError(f"not a reply line: {line!r}")
                if m.group(2) == b"-":
                    continue
                code = int(m.group(1))
                out.replies.append(code)
                if code == 354:
                    mode, body_start = "data", True
            if flight:
                out.flights.append(flight)
                flight = []
            continue
        client += data
        while client:
            if mode == "bdat":
                taken = min(remaining, len(client))
                client, remaining = client[taken:], remaining - taken
                if remaining == 0:
                    mode = "command"
                continue
            if mode == "data":
                if body_start and len(client) < 3:
                    break
                if body_start and client.startswith(b".\r\n"):
                    end = 3
                else:
                    body_start = False
                    at = client.find(b"\r\n.\r\n")
                    if at < 0:
                        client = client[-4:]  # the body is not needed, only its end
                        break
                    end = at + 5
                client = client[end:]
                flight.append("<end of data>")
                mode = "command"
                continue
            if b"\r\n" not in client:
                break
            line, _, client = client.partition(b"\r\n")
            command = line.decode("utf-8", "replace")
            flight.append(command)
            words = command.split()
            if words and words[0].upper() == "BDAT":
                remaining = int(words[1])
                mode = "bdat" if remaining else "command"
    if flight:
        out.flights.append(flight)
    return out
