"""``to(..., skip_bad=True)`` with PIPELINING: every RCPT in one write, every reply read after
it, the same result as lockstep; and what stays lockstep (both clients)."""

from __future__ import annotations

import pytest

from tests.helpers.scripted import Peer, ScriptedServer

from .support import Connect, greet, quiet, serve_quit

MAIL = b"MAIL FROM:<a@example.org>\r\n"
RCPTS = [b"RCPT TO:<b@example.net>\r\n", b"RCPT TO:<c@example.net>\r\n", b"RCPT TO:<d@example.net>\r\n"]
BATCH = b"".join(RCPTS)
ADDRESSES = ["B <b@example.net>", "c@example.net", "d@example.net"]


def open_transaction(p: Peer, *capabilities: str) -> None:
    greet(p, *capabilities)
    p.expect(MAIL)
    p.reply("250 2.1.0 ok")


def lockstep(p: Peer, replies: list[str]) -> None:
    """Answer the RCPTs one by one, checking that each waits for the answer before it."""
    for line, answer in zip(RCPTS, replies, strict=False):
        assert p.readline() == line
        assert quiet(p), "the client sent its next RCPT before our reply"
        p.reply(answer)


def test_skip_bad_sends_every_rcpt_in_one_write(scripted: type[ScriptedServer], connect: Connect) -> None:
    def script(p: Peer) -> None:
        open_transaction(p, "PIPELINING")
        assert p.read(len(BATCH)) == BATCH  # all three before any reply: one round trip
        assert quiet(p)
        p.reply("250 2.1.5 b ok", "550 5.1.1 no such user", "251 2.1.5 d forwarded")
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server)
    assert smtp.mail("a@example.org")
    assert smtp.to(*ADDRESSES, skip_bad=True) == ["B <b@example.net>", "d@example.net"]
    assert (smtp.code(), smtp.message()) == (251, "2.1.5 d forwarded")  # the last reply, as in lockstep
    assert smtp.quit()
    server.join()
    segments = [data for _tls, data in server.segments]
    assert BATCH in segments  # one write, one segment


@pytest.mark.parametrize(
    ("offered", "options"),
    [("8BITMIME", {}), ("PIPELINING", {"pipelining": False})],
    ids=["not-offered", "turned-off"],
)
def test_skip_bad_stays_lockstep_without_pipelining(
    scripted: type[ScriptedServer], connect: Connect, offered: str, options: dict[str, bool]
) -> None:
    """Not offered (a batch would be uninvited: OpenSMTPD drops such clients) or turned off."""

    def script(p: Peer) -> None:
        open_transaction(p, offered)
        lockstep(p, ["250 ok", "550 no", "250 ok"])
        serve_quit(p)

    server = scripted(script)
    smtp = connect(server, **options)
    assert smtp.mail("a@example.org")
    assert smtp.to(*ADDRESSES, skip_bad=True) == ["B <b@example.net>", "d@example.net"]
    assert smtp.quit()
    server.join()


def test_without_skip_bad_the_first_refusal_stops_even_with_pipelining(
    scripted: type[ScriptedServer], connect: Connect
) -> None:
    def script(p: Peer) -> None:
        open_transaction(p, "PIPELINING")
        lockstep(p, ["250 ok", "550 5.1.1 no such user"])
        serve_quit(p)  # d's RCPT never comes: the next line is QUIT

    server = scripted(script)
    smtp = connect(server)
    assert smtp.mail("a@example.org")
    assert smtp.to(*ADDRESSES) is False
    assert smtp.code() == 550
    assert smtp.quit()
    server.join()
    assert RCPTS[2] not in server.received


@pytest.mark.parametrize(
    ("replies", "expected"),
    [
        (["250 ok", "421 4.3.2 shutting down"], []),  # the session ended mid-list: a failure
        (["250 ok", "250 ok", "421 4.3.2 shutting down"], ["B <b@example.net>", "c@example.net"]),
    ],
    ids=["421-mid-list", "421-last"],
)
@pytest.mark.parametrize("offered", ["PIPELINING", "8BITMIME"], ids=["pipelined", "lockstep"])
def test_a_421_ends_the_list_as_lockstep_does(
    scripted: type[ScriptedServer], connect: Connect, offered: str, replies: list[str], expected: list[str]
) -> None:
    def script(p: Peer) -> None:
        open_transaction(p, offered)
        if offered == "PIPELINING":
            assert p.read(len(BATCH)) == BATCH
            p.reply(*replies)
        else:
            lockstep(p, replies)
        p.close()

    server = scripted(script)
    smtp = connect(server)
    assert smtp.mail("a@example.org")
    assert smtp.to(*ADDRESSES, skip_bad=True) == expected
    assert smtp.code() == 421
    if not expected:  # the list ended early: the failure says why, in both modes alike
        assert smtp.message().endswith("the connection is closed (the server said 421: closing)")
    server.join()
    sent = len(server.received)
    assert smtp.mail("a@example.org") is False  # closed: nothing more is written
    assert len(server.received) == sent
