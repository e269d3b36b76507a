"""The blocking socket streams keep their timeouts, whichever way they enforce them.

``SocketStream`` (TLS, and platforms without MSG_DONTWAIT) uses Python's socket timeouts;
``PlainStream`` (plain sockets) runs the socket in blocking mode, writes with MSG_DONTWAIT
and waits in ``poll()`` itself, to save a system call per command. Both must behave alike:
a peer that stops reading makes a write time out within its deadline, a slow reader gets
every byte, a silent peer makes a read time out (signals or not), and the early-reply
check never waits.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from netsmtp import SMTPTimeout
from netsmtp._backends.sync import _PLAIN_STREAMS, PlainStream, SocketStream

PLAIN = pytest.mark.skipif(not _PLAIN_STREAMS, reason="no MSG_DONTWAIT or poll() here")
STREAMS = [SocketStream, pytest.param(PlainStream, marks=PLAIN)]
Pair = tuple[socket.socket, socket.socket]


@pytest.fixture
def pair() -> Iterator[Pair]:
    """A connected loopback TCP pair: (client end, server end)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    try:
        yield client, server
    finally:
        client.close()
        server.close()


def stream_of(cls: type[SocketStream], sock: socket.socket, timeout: float | None) -> SocketStream:
    sock.settimeout(timeout)
    return cls(sock)


def seconds_to_time_out(action: Callable[[], object], match: str) -> float:
    """Run ``action``, which must raise SMTPTimeout saying ``match``; return how long it took."""
    started = time.monotonic()
    with pytest.raises(SMTPTimeout, match=match):
        action()
    return time.monotonic() - started


@pytest.mark.parametrize("cls", STREAMS)
def test_write_to_a_peer_that_never_reads_times_out(cls: type[SocketStream], pair: Pair) -> None:
    stream = stream_of(cls, pair[0], 5)
    big = b"x" * (64 << 20)  # far more than both socket buffers hold
    assert 0.25 < seconds_to_time_out(lambda: stream.write(big, 0.3), "did not accept data") < 3


@pytest.mark.parametrize("cls", STREAMS)
def test_slow_reader_gets_every_byte(cls: type[SocketStream], pair: Pair) -> None:
    client, server = pair
    payload = bytes(range(256)) * (16 << 12)  # 16 MiB, more than the buffers: writes must wait
    received = bytearray()

    def read_slowly() -> None:
        time.sleep(0.2)  # the client's first send fills the buffers and must wait for room
        while len(received) < len(payload):
            chunk = server.recv(1 << 20)
            if not chunk:
                break
            received.extend(chunk)

    reader = threading.Thread(target=read_slowly)
    reader.start()
    stream_of(cls, client, 5).write(memoryview(payload), 10)
    reader.join(10)
    assert bytes(received) == payload


@pytest.mark.parametrize("cls", STREAMS)
def test_read_from_a_silent_peer_times_out(cls: type[SocketStream], pair: Pair) -> None:
    stream = stream_of(cls, pair[0], 0.2)
    assert 0.15 < seconds_to_time_out(lambda: stream.read(time.monotonic() + 0.2), "no reply") < 2


@pytest.mark.parametrize("cls", STREAMS)
def test_read_without_timeout_waits_for_the_data(cls: type[SocketStream], pair: Pair) -> None:
    client, server = pair
    stream = stream_of(cls, client, None)
    timer = threading.Timer(0.3, server.sendall, (b"250 late\r\n",))
    timer.start()
    assert stream.read(None) == b"250 late\r\n"
    timer.join()


@pytest.mark.parametrize("cls", STREAMS)
def test_a_shorter_deadline_after_a_longer_one(cls: type[SocketStream], pair: Pair) -> None:
    """The second read of a reply waits only for what is left of the reply's deadline."""
    client, server = pair
    stream = stream_of(cls, client, 5)
    server.sendall(b"250-first half\r\n")
    deadline = time.monotonic() + 0.4
    assert stream.read(deadline) == b"250-first half\r\n"
    started = time.monotonic()
    with pytest.raises(SMTPTimeout):
        stream.read(deadline)
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("cls", STREAMS)
def test_read_nowait_never_waits(cls: type[SocketStream], pair: Pair) -> None:
    client, server = pair
    stream = stream_of(cls, client, 5)
    started = time.monotonic()
    assert stream.read_nowait() == b""
    assert time.monotonic() - started < 1
    server.sendall(b"250 early\r\n")
    time.sleep(0.1)
    assert stream.read_nowait() == b"250 early\r\n"
    assert stream.read_nowait() == b""
    server.close()
    time.sleep(0.1)
    assert stream.read_nowait() == b""  # the EOF: left for the next read()
    assert stream.read(time.monotonic() + 1) == b""


@PLAIN
def test_open_gives_a_blocking_plain_stream() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        stream = SocketStream.open(socket.AF_INET, listener.getsockname(), None, 2.5)
        try:
            assert isinstance(stream, PlainStream)
            assert stream.sock.gettimeout() is None  # no poll() before each send
            assert stream.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        finally:
            stream.close()


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs signal.setitimer")
@pytest.mark.parametrize("cls", STREAMS)
def test_signals_do_not_extend_the_deadline(cls: type[SocketStream], pair: Pair) -> None:
    """An application whose signal handler runs every 50 ms (a watchdog, a profiler) must
    not keep a read from a silent server alive: after each interrupted wait, the wait that
    resumes is for what is left of the deadline, not for a fresh timeout."""
    client, _server = pair
    stream = stream_of(cls, client, 0.4)
    ticks = []
    previous = signal.signal(signal.SIGALRM, lambda *_: ticks.append(1))
    signal.setitimer(signal.ITIMER_REAL, 0.05, 0.05)
    try:
        started = time.monotonic()
        with pytest.raises(SMTPTimeout):
            stream.read(time.monotonic() + 0.4)
        elapsed = time.monotonic() - started
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert len(ticks) >= 3  # the wait really was interrupted
    assert 0.35 < elapsed < 2
