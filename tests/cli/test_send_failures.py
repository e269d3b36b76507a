"""Each failing stage of ``netsmtp send`` has its own exit code (scripted servers)."""

from __future__ import annotations

import pytest

from netsmtp.cli import exitcodes
from tests.cli.conftest import Run
from tests.helpers.scripted import Peer


def _server(replies: dict[str, str]) -> object:
    """A plain server (no STARTTLS, no PIPELINING) answering each verb from ``replies``."""
    banner = replies.get("banner", "220 test.example ESMTP")

    def script(peer: Peer) -> None:
        peer.send(banner + "\r\n")
        if not banner.startswith("220"):
            peer.read_to_eof()
            return
        while line := peer.readline():
            verb = line.split()[0].decode().upper()
            if verb == "QUIT":
                peer.reply("221 bye")
                return
            if verb == "EHLO" and "EHLO" not in replies:
                peer.reply("250-test.example", "250 SIZE 1000000")
                continue
            reply = replies.get(verb, "354 go ahead" if verb == "DATA" else "250 ok")
            peer.reply(reply)
            if verb == "DATA" and reply.startswith("354"):
                peer.read_data()
                peer.reply(replies.get(".", "250 queued"))

    return script


@pytest.mark.parametrize(
    ("replies", "stage", "says"),
    [
        ({"banner": "554 5.7.1 go away"}, "ehlo", "554 5.7.1 go away"),
        ({"EHLO": "550 no", "HELO": "550 no"}, "ehlo", "550 no"),
        ({"MAIL": "553 5.1.8 sender rejected"}, "mail", "553 5.1.8 sender rejected"),
        ({"RCPT": "550 5.1.1 unknown"}, "rcpt", "a@example.net: 550 5.1.1 unknown"),
        ({"DATA": "554 5.5.1 no data today"}, "data", "554 5.5.1 no data today"),
        ({".": "554 5.7.1 spam"}, "data", "message refused: 554 5.7.1 spam"),
    ],
)
def test_exit_code_names_the_failing_stage(
    netsmtp: Run, scripted, replies: dict[str, str], stage: str, says: str
) -> None:
    code = exitcodes.STAGES[stage]
    server = scripted(_server(replies))
    r = netsmtp("send", "-s", server.host, "--to", "a@example.net", "--tls", "none", "--timeout", "5")
    assert r.code == code, r
    assert f"netsmtp send: {stage} failed (exit {code}):" in r.err
    assert says in r.err
    server.join()


def test_json_failure_report(netsmtp: Run, scripted) -> None:
    server = scripted(_server({"MAIL": "451 4.3.0 try later"}))
    r = netsmtp("send", "-s", server.host, "--to", "a@example.net", "--tls", "none", "--json")
    assert r.code == 7, r
    report = r.json
    assert (report["ok"], report["stage"], report["exit_code"]) == (False, "mail", 7)
    assert "451 4.3.0 try later" in report["error"]
    assert report["tls"] is None
    assert [e["dir"] for e in report["transcript"]][:3] == ["*", "S", "C"]
    server.join()


def test_auth_not_offered_is_exit_6_with_the_reason(netsmtp: Run, scripted) -> None:
    server = scripted(_server({}))
    r = netsmtp(
        "send", "-s", server.host, "--to", "a@example.net", "--tls", "none", "--auth", "bob",
        env={"NETSMTP_PASSWORD": "irrelevant-secret"},
    )  # fmt: skip
    assert r.code == 6, r
    assert "the server does not offer AUTH" in r.err
    server.join()
