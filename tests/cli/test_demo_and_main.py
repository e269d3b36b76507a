"""``netsmtp demo`` (the README's main job) and the command itself."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.cli.conftest import Run


def test_demo_sends_through_tls_and_auth_and_shows_the_stored_message(netsmtp: Run) -> None:
    r = netsmtp("demo")
    assert r.code == 0, r
    out = r.out
    assert re.search(r"^\[ *\d+\.\d{3}\] \* TLS: TLSv1\.[23], .*; verified$", out, re.M)
    assert "C: AUTH PLAIN <redacted>" in out and "S: 235 " in out
    assert "* pipelined: MAIL, RCPT and DATA left in one write" in out
    assert re.search(
        r"^\[   sink\] .* from=<demo@netsmtp\.invalid> to=<you@example\.net> .* tls=TLSv1", out, re.M
    )
    stored = out.split(" the stored message ", 1)[1]
    assert "Subject: Hello from netsmtp" in stored
    assert 'Content-Disposition: attachment; filename="numbers.csv"' in stored
    assert "\n.A line that starts with a dot survives dot-stuffing.\n" in stored
    assert "netsmtp demo: OK in" in out
    assert "a secret reached" not in out + r.err


def test_help_lists_the_commands_and_exit_codes(netsmtp_here: Run, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    r = netsmtp_here("--help")
    assert r.code == 0
    for command in ("send", "probe", "sink", "demo"):
        assert re.search(rf"^    {command} +\S", r.out, re.M), command
    for code in ("  0  success", "  3  connection failed", "  6  authentication failed", " 10  partial"):
        assert code in r.out
    send = netsmtp_here("send", "--help")
    assert "--quit-after STAGE stops (with QUIT) once that stage succeeded" in send.out
    assert "NETSMTP_PASSWORD" in send.out and "exit codes:" in send.out


def test_no_command_is_a_usage_error(netsmtp: Run, netsmtp_here: Run) -> None:
    r = netsmtp()  # as `python -m netsmtp`
    assert r.code == 2
    assert "a command is required" in r.err
    assert netsmtp_here("frobnicate").code == 2


def test_version_and_console_script() -> None:
    from netsmtp import __version__

    out = subprocess.run(
        [sys.executable, "-c", "import sys; from netsmtp.cli import main; sys.exit(main(['--version']))"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0 and out.stdout.strip() == f"netsmtp {__version__}"


def test_sink_and_demo_say_which_extra_is_missing(netsmtp: Run, tmp_path) -> None:
    blocked = tmp_path / "blocked"
    (blocked / "aiosmtpd").mkdir(parents=True)
    (blocked / "aiosmtpd" / "__init__.py").write_text("raise ImportError('not installed (test)')\n")
    env = {"PYTHONPATH": str(blocked)}
    for command in (["sink"], ["demo"]):
        r = netsmtp(*command, env=env)
        assert r.code == 1, r
        assert "need aiosmtpd and trustme: pip install 'netsmtp[sink]'" in r.err
        assert "Traceback" not in r.err
    # send and probe need nothing beyond the standard library
    assert netsmtp("send", "--help", env=env).code == 0
