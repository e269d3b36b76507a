"""``netsmtp send`` against real local servers: ``netsmtp sink`` and aiosmtpd in-process."""

from __future__ import annotations

import base64
import email
import email.policy
import re
from pathlib import Path

import pytest

from tests.cli.conftest import PASSWORD, Run
from tests.helpers.aiosmtpd_server import RunningServer

LEAK = "a secret reached the protocol transcript"


def _stored(path: str) -> email.message.EmailMessage:
    return email.message_from_bytes(Path(path).read_bytes(), policy=email.policy.default)  # type: ignore[return-value]


def test_tls_auth_attachment_and_headers_through_the_sink(netsmtp: Run, sink, tmp_path: Path) -> None:
    maildir = tmp_path / "mail"
    server = sink("--tls", "--auth", f"alice:{PASSWORD}", "--maildir", str(maildir), "--count", "1")
    report = tmp_path / "report.pdf"
    report.write_bytes(b"%PDF-1.4 not really\n")
    r = netsmtp(
        "send", "--server", server.address, "--cafile", server.ca_path, "--auth", "alice",
        "--from", "Me <me@example.org>", "--to", "you@example.net", "--cc", "Joe <joe@example.net>",
        "--bcc", "hidden@example.net", "--subject", "Quarterly numbers", "--body", "Hello\\nworld",
        "--attach", str(report), "--header", "X-Test: 42",
        env={"NETSMTP_PASSWORD": PASSWORD},
    )  # fmt: skip
    assert r.code == 0, r
    assert r.out.startswith("sent to you@example.net, joe@example.net, hidden@example.net: 250 2.0.0 stored")
    # The transcript: timed, marked, TLS details, the secret redacted, the envelope pipelined.
    assert re.search(r"^\[ *\d+\.\d{3}\] S: 220 ", r.err, re.M), r
    assert re.search(
        r"^\[ *\d+\.\d{3}\] \* TLS: TLSv1\.[23], \S+ \(\d+ bits\); certificate .*; verified$", r.err, re.M
    )
    assert "C: AUTH PLAIN <redacted>" in r.err
    lines = [line.split("] ", 1)[1] for line in r.err.splitlines() if "] " in line]
    start = next(i for i, line in enumerate(lines) if line.startswith("C: MAIL FROM:<me@example.org>"))
    assert lines[start + 1 : start + 5] == [
        "C: RCPT TO:<you@example.net>",
        "C: RCPT TO:<joe@example.net>",
        "C: RCPT TO:<hidden@example.net>",
        "C: DATA",
    ]
    assert server.wait() == 0
    assert "from=<me@example.org> to=<you@example.net>,<joe@example.net>,<hidden@example.net>" in server.out
    assert 'subject="Quarterly numbers" tls=TLSv1.' in server.out
    saved = re.search(r"saved=(\S+)", server.out)
    assert saved is not None
    msg = _stored(saved.group(1))
    assert msg["Subject"] == "Quarterly numbers"
    assert msg["X-Test"] == "42"
    assert msg["Cc"] == "Joe <joe@example.net>"
    assert msg["Bcc"] is None
    assert msg.get_body(("plain",)).get_content() == "Hello\nworld\n"  # type: ignore[union-attr]
    (attachment,) = list(msg.iter_attachments())
    assert attachment.get_filename() == "report.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == b"%PDF-1.4 not really\n"


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_the_password_never_appears_in_any_output(netsmtp: Run, sink, tmp_path: Path, mechanism: str) -> None:
    server = sink("--tls", "--auth", f"alice:{PASSWORD}", "--count", "1")
    secret_file = tmp_path / "secret"
    secret_file.write_text(PASSWORD + "\n")
    r = netsmtp(
        "send", "--server", server.address, "--cafile", server.ca_path, "--auth", "alice",
        "--password-file", str(secret_file), "--mechanism", mechanism, "--to", "you@example.net",
        "--json", "-v",
    )  # fmt: skip
    assert r.code == 0, r
    assert r.json["ok"] is True and r.json["auth"] == "alice"
    assert any(e["text"].startswith(f"AUTH {mechanism}") for e in r.json["transcript"])
    everything = r.out + r.err
    forms = [
        PASSWORD,
        base64.b64encode(PASSWORD.encode()).decode(),
        base64.b64encode(f"\0alice\0{PASSWORD}".encode()).decode(),
    ]
    for form in forms:
        assert form not in everything
    assert LEAK not in everything  # the CLI's safety net never had to mask anything
    assert "<redacted>" in r.err
    server.wait()


def test_a_wrong_password_is_exit_6_and_still_not_shown(netsmtp: Run, sink) -> None:
    server = sink("--tls", "--auth", "alice:right-password")
    r = netsmtp(
        "send", "--server", server.address, "--cafile", server.ca_path, "--auth", "alice",
        "--to", "you@example.net", env={"NETSMTP_PASSWORD": PASSWORD},
    )  # fmt: skip
    assert r.code == 6, r
    assert "auth failed (exit 6): authentication failed: 535" in r.err
    assert PASSWORD not in r.out + r.err


def test_auth_without_a_password_source_is_a_usage_error(netsmtp_here: Run) -> None:
    r = netsmtp_here("send", "--server", "127.0.0.1:9", "--auth", "alice", "--to", "you@example.net")
    assert r.code == 2, r
    assert "--password-file FILE, NETSMTP_PASSWORD" in r.err


def test_json_report_of_a_partial_delivery(
    netsmtp: Run, aiosmtpd_server: RunningServer, ca_file: str
) -> None:
    r = netsmtp(
        "send", "--server", aiosmtpd_server.address, "--cafile", ca_file, "--tls-name", "localhost",
        "--to", "good@example.net", "--to", "reject-me@example.net", "--json",
    )  # fmt: skip
    assert r.code == 10, r
    report = r.json
    assert report["exit_code"] == 10 and report["ok"] is False
    assert list(report["accepted"]) == ["good@example.net"]
    assert report["refused"] == {"reject-me@example.net": "550 5.1.1 no such user"}
    assert report["reply"].startswith("250")
    assert report["tls"]["verified"] is True and report["tls"]["version"].startswith("TLSv1.")
    assert "localhost" in report["tls"]["certificate"]["names"]
    assert len(aiosmtpd_server.messages) == 1
    assert aiosmtpd_server.messages[0].rcpt_tos == ["good@example.net"]


def test_every_recipient_refused_is_exit_8(
    netsmtp: Run, aiosmtpd_server: RunningServer, ca_file: str
) -> None:
    r = netsmtp(
        "send", "-s", aiosmtpd_server.address, "--cafile", ca_file, "--to", "reject@example.net", "-q"
    )
    assert r.code == 8, r
    assert (
        "rcpt failed (exit 8): every recipient refused: reject@example.net: 550 5.1.1 no such user" in r.err
    )
    assert r.out == ""  # -q: no transcript, no success line
    assert aiosmtpd_server.messages == []


def test_message_file_sent_as_is_with_envelope_from_headers(
    netsmtp: Run, aiosmtpd_server: RunningServer, ca_file: str, tmp_path: Path
) -> None:
    eml = tmp_path / "saved.eml"
    eml.write_bytes(
        b"From: Ann <ann@example.org>\r\nTo: bob@example.net\r\nBcc: secret@example.net\r\n"
        b"Subject: saved\r\n\r\n.leading dot\r\nbody\r\n"
    )
    r = netsmtp(
        "send",
        "-s",
        aiosmtpd_server.address,
        "--cafile",
        ca_file,
        "--message",
        str(eml),
        "--header",
        "X-Via: cli",
    )
    assert r.code == 0, r
    (got,) = aiosmtpd_server.messages
    assert got.mail_from == "ann@example.org"
    assert got.rcpt_tos == ["bob@example.net", "secret@example.net"]
    assert got.content.startswith(
        b"X-Via: cli\r\nFrom: Ann <ann@example.org>\r\nTo: bob@example.net\r\nSubject"
    )
    assert b"Bcc" not in got.content and b"\r\n.leading dot\r\n" in got.content


@pytest.mark.parametrize(
    "header",
    ["X-Evil: a\nBcc: victim@example.net", "X-Evil: a\rb", "Bad Name: x", "no colon here"],
)
def test_headers_that_could_inject_are_refused_before_connecting(netsmtp_here: Run, header: str) -> None:
    r = netsmtp_here("send", "--server", "127.0.0.1:9", "--to", "a@example.net", "--header", header)
    assert r.code == 2, r
    assert "--header" in r.err


@pytest.mark.parametrize(
    ("stage", "before_quit"),
    [
        ("connect", None),
        ("tls", "C: EHLO "),
        ("ehlo", "C: EHLO "),
        ("mail", "C: MAIL FROM:<me@example.org>"),
        ("rcpt", "C: RCPT TO:<you@example.net>"),
    ],
)
def test_quit_after_each_stage(
    netsmtp: Run, aiosmtpd_server: RunningServer, ca_file: str, stage: str, before_quit: str | None
) -> None:
    r = netsmtp(
        "send", "-s", aiosmtpd_server.address, "--cafile", ca_file, "--from", "me@example.org",
        "--to", "you@example.net", "--quit-after", stage,
    )  # fmt: skip
    assert r.code == 0, r
    assert r.out.strip() == f"stopped after {stage} (--quit-after): nothing was sent"
    client = [line.split("] ", 1)[1] for line in r.err.splitlines() if "] C: " in line]
    assert client[-1] == "C: QUIT"
    if before_quit is None:
        assert client == ["C: QUIT"]  # straight after the greeting
    else:
        assert client[-2].startswith(before_quit)
    assert ("* TLS: TLSv1." in r.err) is (stage != "connect")
    assert aiosmtpd_server.messages == []


def test_quit_after_data_abandons_the_message(
    netsmtp: Run, aiosmtpd_server: RunningServer, ca_file: str
) -> None:
    r = netsmtp(
        "send",
        "-s",
        aiosmtpd_server.address,
        "--cafile",
        ca_file,
        "--to",
        "a@example.net",
        "--quit-after",
        "data",
    )
    assert r.code == 0, r
    client = [line.split("] ", 1)[1] for line in r.err.splitlines() if "] C: " in line]
    assert client[-1] == "C: DATA"  # no QUIT: it would become part of the message; the line is dropped
    assert "S: 354" in r.err
    assert "closing without sending the message; nothing is delivered" in r.err
    assert aiosmtpd_server.messages == []


def test_quit_after_auth(netsmtp: Run, sink) -> None:
    server = sink("--tls", "--auth", f"alice:{PASSWORD}")
    r = netsmtp(
        "send", "-s", server.address, "--cafile", server.ca_path, "--auth", "alice", "--to", "x@example.net",
        "--quit-after", "auth", env={"NETSMTP_PASSWORD": PASSWORD},
    )  # fmt: skip
    assert r.code == 0, r
    client = [line.split("] ", 1)[1] for line in r.err.splitlines() if "] C: " in line]
    assert client[-2:] == ["C: AUTH PLAIN <redacted>", "C: QUIT"]


def test_count_load_test_summary(netsmtp: Run, sink, tmp_path: Path) -> None:
    server = sink("--tls", "--maildir", str(tmp_path / "mail"), "--count", "20")
    r = netsmtp(
        "send", "-s", server.address, "--cafile", server.ca_path, "--to", "load@example.net", "--count", "20"
    )
    assert r.code == 0, r
    assert re.fullmatch(r"sent 20 of 20 messages in \d+\.\d{3} s: \d+\.\d messages/s, 0 failed\n", r.out), r
    assert "\r" not in r.err  # no progress bar when stderr is not a terminal
    assert r.err.count("C: MAIL FROM:") == 1  # the transcript shows the first message only
    assert server.wait() == 0
    assert len(list((tmp_path / "mail" / "new").iterdir())) == 20
    ids = {_stored(str(p))["Message-ID"] for p in (tmp_path / "mail" / "new").iterdir()}
    assert len(ids) == 20  # each message of the run has its own Message-ID


def test_count_json_with_failures(netsmtp: Run, aiosmtpd_server: RunningServer, ca_file: str) -> None:
    r = netsmtp(
        "send", "-s", aiosmtpd_server.address, "--cafile", ca_file, "--to", "reject@example.net",
        "--count", "3", "--json",
    )  # fmt: skip
    assert r.code == 8, r  # every message failed, all at RCPT: that stage's code
    report = r.json
    assert (report["count"], report["sent"], report["failed"]) == (3, 0, 3)
    assert report["failures"] == {"rcpt": 3}
    assert report["messages_per_second"] == 0


def test_connection_refused_is_exit_3(netsmtp: Run, unused_port: int) -> None:
    r = netsmtp("send", "-s", f"127.0.0.1:{unused_port}", "--to", "a@example.net", "--timeout", "5")
    assert r.code == 3, r
    assert "connect failed (exit 3)" in r.err


def test_untrusted_certificate_is_exit_4(netsmtp: Run, aiosmtpd_server: RunningServer) -> None:
    r = netsmtp("send", "-s", aiosmtpd_server.address, "--to", "a@example.net")
    assert r.code == 4, r
    assert "tls failed (exit 4): STARTTLS failed: 421" in r.err
    assert "CERTIFICATE_VERIFY_FAILED" in r.err


def test_implicit_tls_with_ssl_mode(netsmtp: Run, aiosmtpd_server: RunningServer, ca_file: str) -> None:
    r = netsmtp(
        "send",
        "-s",
        aiosmtpd_server.smtps_address,
        "--tls",
        "ssl",
        "--cafile",
        ca_file,
        "--to",
        "a@example.net",
    )
    assert r.code == 0, r
    assert "(implicit TLS, timeout 30 s)" in r.err
    assert "C: STARTTLS" not in r.err
    assert len(aiosmtpd_server.messages) == 1


def test_insecure_warns_loudly(netsmtp: Run, aiosmtpd_server: RunningServer) -> None:
    r = netsmtp("send", "-s", aiosmtpd_server.address, "--insecure", "--to", "a@example.net")
    assert r.code == 0, r
    assert "WARNING: --insecure" in r.err
    assert "NOT VERIFIED (--insecure)" in r.err


def test_require_tls_refuses_a_server_without_starttls(netsmtp: Run, sink) -> None:
    server = sink()
    r = netsmtp("send", "-s", server.address, "--require-tls", "--to", "a@example.net")
    assert r.code == 4, r
    assert "does not offer STARTTLS; refusing to continue in plaintext" in r.err
    plain = netsmtp("send", "-s", server.address, "--to", "a@example.net")
    assert plain.code == 0, plain
    assert "continuing WITHOUT encryption" in plain.err


def test_no_server_and_no_configuration(netsmtp: Run) -> None:
    r = netsmtp("send", "--to", "a@example.net")
    assert r.code == 3, r
    assert "NETSMTP_HOSTS" in r.err


def test_server_from_netsmtp_hosts(netsmtp: Run, sink) -> None:
    server = sink("--count", "1")
    r = netsmtp("send", "--to", "a@example.net", "-q", env={"NETSMTP_HOSTS": server.address})
    assert r.code == 0, r
    assert server.wait() == 0


def test_progress_bar_only_on_a_terminal(
    aiosmtpd_server: RunningServer, ca_file: str, tmp_path: Path
) -> None:
    import os
    import pty
    import subprocess
    import sys

    from tests.cli.conftest import cli_env

    master, slave = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "netsmtp", "send", "-s", aiosmtpd_server.address, "--cafile", ca_file,
             "--to", "a@example.net", "--count", "5"],
            stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL, env=cli_env(tmp_path),
            timeout=30, check=False,
        )  # fmt: skip
        os.close(slave)
        slave = -1
        seen = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the writer is gone and everything was read
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
    assert proc.returncode == 0
    assert b"\r5/5 [##############################]" in seen
    assert b"msg/s  0 failed" in seen
    assert proc.stdout.decode().startswith("sent 5 of 5 messages in ")


@pytest.mark.parametrize(
    "args",
    [
        ["--server", "mail.example.org:99999", "--to", "a@example.net"],
        ["--server", "127.0.0.1:9", "--hello", "two words", "--to", "a@example.net"],
        ["--server", "127.0.0.1:9", "--require-tls", "--tls", "none", "--to", "a@example.net"],
        ["--server", "127.0.0.1:9", "--cafile", "/nonexistent/ca.pem", "--to", "a@example.net"],
        ["--server", "127.0.0.1:9", "--body", "x", "--body-file", "/dev/null", "--to", "a@example.net"],
        ["--server", "127.0.0.1:9", "--count", "2", "--quit-after", "mail", "--to", "a@example.net"],
        ["--server", "127.0.0.1:9"],  # no recipient
    ],
)
def test_usage_errors_are_exit_2_without_a_traceback(netsmtp_here: Run, args: list[str]) -> None:
    r = netsmtp_here("send", *args)
    assert r.code == 2, r
    assert "Traceback" not in r.err
    assert r.err.strip().splitlines()[-1].startswith("netsmtp send: ")


def test_invalid_address_in_quit_after_mode_is_a_usage_error(
    netsmtp: Run, aiosmtpd_server: RunningServer, ca_file: str
) -> None:
    r = netsmtp(
        "send", "-s", aiosmtpd_server.address, "--cafile", ca_file, "--from", "a b@example.org",
        "--to", "x@example.net", "--quit-after", "rcpt",
    )  # fmt: skip
    assert r.code == 2, r
    assert "Traceback" not in r.err
