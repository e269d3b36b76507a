"""Byte equivalence with Perl's Net::SMTP 3.14: the same scenarios, the same server, the same bytes.

For each scenario of :mod:`tests.equivalence.scenarios`, ``driver.pl`` runs it with Debian's
Net::SMTP (IO::Socket::SSL, Authen::SASL and Digest::HMAC for TLS and AUTH) against a fresh
recording server, then the scenario runs with ``netsmtp.SMTP`` against another server playing
the same script. Net::SMTP's bytes, with each of the scenario's allowed differences applied
(every one decided by a SPEC Part A rule, and each required to still happen), must equal
netsmtp's bytes exactly. Anything else fails.

Net::SMTP comes from the system's ``perl``; under ``CI=true`` its absence is a failure
(``.ci/run`` installs it), elsewhere a skip that says what to install.
"""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from netsmtp._hostname import default_hello
from tests.equivalence.recorder import CONNECTION_MARK, TLS_MARK, Recorder
from tests.equivalence.scenarios import SCENARIOS, Diff, Env, Scenario, smtp

DRIVER = Path(__file__).with_name("driver.pl")
DOCS = Path(__file__).resolve().parents[2] / "docs" / "net-smtp-differences.md"
PERL_MODULES = ["Net::SMTP", "IO::Socket::SSL", "Authen::SASL", "Digest::HMAC_MD5"]
PACKAGES = "perl libio-socket-ssl-perl libauthen-sasl-perl libdigest-hmac-perl"


@pytest.fixture(scope="module")
def perl() -> str:
    exe = shutil.which("perl")
    problem = None
    if exe is None:
        problem = "perl is not installed"
    else:
        check = subprocess.run(
            [exe, *(f"-M{m}" for m in PERL_MODULES), "-e", "exit 0"],
            capture_output=True,
            text=True,
            check=False,
        )
        if check.returncode != 0:
            problem = f"a Perl module is missing: {check.stderr.strip().splitlines()[0]}"
    if problem is None:
        assert exe is not None
        return exe
    reason = f"Net::SMTP cannot run: {problem} (apt-get install {PACKAGES})"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; .ci/run installs them", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def cafile(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("equivalence") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def recorders(server_context: ssl.SSLContext) -> Iterator[list[Recorder]]:
    made: list[Recorder] = []
    yield made
    for recorder in made:
        recorder.close()


def run_perl(
    perl: str, sc: Scenario, server_context: ssl.SSLContext, cafile: str, made: list[Recorder]
) -> tuple[bytes, str]:
    recorder = Recorder(sc.profile, server_context, sc.implicit_tls)
    made.append(recorder)
    proc = subprocess.run(
        [perl, str(DRIVER), sc.name, recorder.host, cafile],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    log = f"driver.pl exit {proc.returncode}\n--- stdout\n{proc.stdout}--- stderr\n{proc.stderr}"
    assert proc.returncode == 0, log
    recorder.finish()
    return recorder.transcript(), log


def run_netsmtp(sc: Scenario, server_context: ssl.SSLContext, cafile: str, made: list[Recorder]) -> bytes:
    recorder = Recorder(sc.profile, server_context, sc.implicit_tls)
    made.append(recorder)
    env = Env(
        host=recorder.host,
        port=recorder.port,
        cafile=cafile,
        context=ssl.create_default_context(cafile=cafile),
        default_hello=default_hello("127.0.0.1"),
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ExtensionWarning where Net::SMTP carps too
            sc.run(env)
    finally:
        for client in env.clients:
            client.close()
    recorder.finish()
    return recorder.transcript()


def expected_from(perl_bytes: bytes, diffs: tuple[Diff, ...], env_hello: str) -> bytes:
    """Net::SMTP's bytes with each allowed difference applied (each must still occur)."""
    env = Env(host="", port=0, cafile="", context=ssl.create_default_context(), default_hello=env_hello)
    out = perl_bytes
    for diff in diffs:
        found = out.count(diff.perl)
        assert found == diff.count, (
            f"allowed difference ({diff.rule}: {diff.why}) expects {diff.perl!r} {diff.count} time(s) "
            f"in Net::SMTP's bytes, found {found}: the rule no longer matches what Net::SMTP sends"
        )
        out = out.replace(diff.perl, diff.netsmtp(env) if callable(diff.netsmtp) else diff.netsmtp)
    return out


def lines(transcript: bytes) -> list[str]:
    """A transcript as readable lines for a failure report."""
    text = transcript.replace(CONNECTION_MARK, b"\r\n<CONNECTION>\r\n").replace(TLS_MARK, b"<TLS>\r\n")
    return [repr(line)[2:-1] for line in text.split(b"\r\n")]


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_same_bytes_as_net_smtp(
    name: str, perl: str, server_context: ssl.SSLContext, cafile: str, recorders: list[Recorder]
) -> None:
    sc = SCENARIOS[name]
    perl_bytes, log = run_perl(perl, sc, server_context, cafile, recorders)
    ours = run_netsmtp(sc, server_context, cafile, recorders)
    assert perl_bytes.startswith(CONNECTION_MARK), f"Net::SMTP never connected\n{log}"
    expected = expected_from(perl_bytes, sc.diffs, default_hello("127.0.0.1"))
    if ours != expected:
        report = "\n".join(
            [
                f"scenario {name} ({sc.covers}): netsmtp's bytes differ from Net::SMTP's",
                "--- Net::SMTP sent",
                *lines(perl_bytes),
                "--- netsmtp was expected to send (Net::SMTP's bytes with the allowed differences)",
                *lines(expected),
                "--- netsmtp sent",
                *lines(ours),
                log,
            ]
        )
        pytest.fail(report, pytrace=False)


def test_every_scenario_exists_on_both_sides(perl: str) -> None:
    listed = subprocess.run([perl, str(DRIVER), "--list"], capture_output=True, text=True, check=True).stdout
    assert sorted(listed.split()) == sorted(SCENARIOS)
    assert len(SCENARIOS) >= 30


def test_every_allowed_difference_is_documented() -> None:
    """docs/net-smtp-differences.md lists each scenario that has allowed differences, with its rules."""
    docs = DOCS.read_text()
    for sc in SCENARIOS.values():
        for diff in sc.diffs:
            assert f"`{sc.name}`" in docs, f"{sc.name} is not in {DOCS.name}"
            assert diff.rule.split(" ")[0] in docs


def test_the_harness_sees_a_difference(
    perl: str, server_context: ssl.SSLContext, cafile: str, recorders: list[Recorder]
) -> None:
    """A control: one byte changed on netsmtp's side (another hello name) is caught."""
    sc = SCENARIOS["new_hello_quit"]
    perl_bytes, _ = run_perl(perl, sc, server_context, cafile, recorders)
    other = Scenario(sc.name, sc.covers, lambda env: _quit(env, "client.examplf"), sc.profile, False, ())
    ours = run_netsmtp(other, server_context, cafile, recorders)
    assert ours != expected_from(perl_bytes, (), "unused")
    assert ours == perl_bytes.replace(b"client.example", b"client.examplf")


def _quit(env: Env, hello: str) -> None:
    smtp(env, hello=hello).quit()
