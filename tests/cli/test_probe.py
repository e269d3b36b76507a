"""``netsmtp probe``: what a server offers, and the one-sentence diagnosis of usual mistakes."""

from __future__ import annotations

import re

from tests.cli.conftest import PASSWORD, Run
from tests.helpers.aiosmtpd_server import RunningServer
from tests.helpers.scripted import Peer


def test_a_healthy_starttls_server(netsmtp: Run, aiosmtpd_server: RunningServer, ca_file: str) -> None:
    r = netsmtp("probe", aiosmtpd_server.address, "--cafile", ca_file)
    assert r.code == 0, r
    out = r.out
    assert f"probe {aiosmtpd_server.address} (STARTTLS)" in out
    assert re.search(r"^  banner +aiosmtpd\.test ", out, re.M)
    assert re.search(r"^  EHLO +aiosmtpd\.test · .*STARTTLS", out, re.M)
    assert re.search(r"^  STARTTLS +ok$", out, re.M)
    assert re.search(r"^  TLS +TLSv1\.[23], \S+ \(\d+ bits\)$", out, re.M)
    assert re.search(r"^ +names +localhost, 127\.0\.0\.1, ::1, smtp\.test$", out, re.M)
    assert re.search(r"^ +expires +\d{4}-\d\d-\d\d \(in \d+ days\)$", out, re.M)
    assert re.search(r"^ +verified +yes, for 127\.0\.0\.1$", out, re.M)
    assert re.search(r"^  EHLO \(TLS\) +.*AUTH LOGIN PLAIN", out, re.M)
    assert re.search(r"^  AUTH +LOGIN PLAIN$", out, re.M)
    assert re.search(r"^  SIZE +33554432 \(32\.0 MiB\)$", out, re.M)
    assert "diagnosis: No problem found: STARTTLS with TLSv1." in out


def test_json_report(netsmtp: Run, aiosmtpd_server: RunningServer, ca_file: str) -> None:
    r = netsmtp("probe", aiosmtpd_server.address, "--cafile", ca_file, "--json")
    assert r.code == 0, r
    report = r.json
    assert report["mode"] == "starttls" and report["starttls"] == "ok"
    assert "STARTTLS" in report["ehlo"] and "AUTH LOGIN PLAIN" in report["ehlo_tls"]
    assert report["auth"] == ["LOGIN", "PLAIN"] and report["size"] == 33554432
    assert report["tls"]["verified"] is True
    assert report["tls"]["certificate"]["names"] == ["localhost", "127.0.0.1", "::1", "smtp.test"]
    assert report["exit_code"] == 0 and report["findings"] == []


def test_plaintext_server_probed_as_implicit_tls(netsmtp: Run, aiosmtpd_server: RunningServer) -> None:
    r = netsmtp("probe", aiosmtpd_server.address, "--tls", "ssl")
    assert r.code == 4, r
    assert (
        f"diagnosis: {aiosmtpd_server.address} speaks plaintext SMTP, not implicit TLS: the TLS handshake "
        'fails ("wrong version number") while a plain read sees "220 aiosmtpd.test'
    ) in r.out
    assert "use STARTTLS" in r.out


def test_implicit_tls_port_probed_in_plaintext(netsmtp: Run, aiosmtpd_server: RunningServer) -> None:
    r = netsmtp("probe", aiosmtpd_server.smtps_address, "--timeout", "1", "--json")
    assert r.code == 4, r
    report = r.json
    assert report["diagnosis"] == (
        f"{aiosmtpd_server.smtps_address} speaks implicit TLS (SMTPS) and was spoken to in plaintext: "
        "it sent no greeting but completes a TLS handshake; use --tls ssl (ssl=True in the API)."
    )
    assert report["tls"]["version"].startswith("TLSv1.")


def test_implicit_tls_probe(netsmtp: Run, aiosmtpd_server: RunningServer, ca_file: str) -> None:
    r = netsmtp("probe", aiosmtpd_server.smtps_address, "--tls", "ssl", "--cafile", ca_file)
    assert r.code == 0, r
    assert "(implicit TLS)" in r.out and "STARTTLS" not in r.out.split("diagnosis")[0].split("EHLO (TLS)")[0]
    assert "diagnosis: No problem found: implicit TLS with TLSv1." in r.out


def test_certificate_name_mismatch(netsmtp: Run, aiosmtpd_server: RunningServer, ca_file: str) -> None:
    r = netsmtp("probe", aiosmtpd_server.address, "--cafile", ca_file, "--tls-name", "mail.other.example")
    assert r.code == 4, r
    assert (
        "diagnosis: The certificate is not valid for mail.other.example "
        "(it covers localhost, 127.0.0.1, ::1, smtp.test)"
    ) in r.out
    # The certificate is still shown, from a second handshake clearly marked as unverified.
    assert re.search(r"verified +NO: Hostname mismatch", r.out)
    assert "WITHOUT verification, only to display it" in r.out
    assert "STARTTLS     ok (certificate not verified)" in r.out


def test_untrusted_issuer(netsmtp: Run, aiosmtpd_server: RunningServer) -> None:
    r = netsmtp("probe", aiosmtpd_server.address, "--json")
    assert r.code == 4, r
    report = r.json
    assert report["verify_error"] == "unable to get local issuer certificate"
    assert report["diagnosis"].startswith("The certificate's issuer (O=trustme")
    assert report["tls"]["verified"] is False
    assert report["tls"]["certificate"]["subject"].startswith("O=trustme")


def test_starttls_missing(netsmtp: Run, sink) -> None:
    server = sink("--auth", f"u:{PASSWORD}", "--allow-insecure-auth")
    r = netsmtp("probe", server.address)
    assert r.code == 4, r
    assert f"diagnosis: {server.address} does not offer STARTTLS: mail and passwords would cross" in r.out
    assert "AUTH         LOGIN PLAIN" in r.out
    assert "STARTTLS     not offered" in r.out


def test_connection_refused(netsmtp: Run, unused_port: int) -> None:
    r = netsmtp("probe", f"127.0.0.1:{unused_port}")
    assert r.code == 3, r
    assert f"diagnosis: Nothing listens on 127.0.0.1 port {unused_port} (connection refused)" in r.out


def test_name_that_does_not_resolve(netsmtp: Run) -> None:
    r = netsmtp("probe", "no-such-host.invalid:25", "--json")
    assert r.code == 3, r
    assert r.json["diagnosis"].startswith("no-such-host.invalid does not resolve")


def test_greeting_refused(netsmtp: Run, scripted) -> None:
    def script(peer: Peer) -> None:
        peer.send("554 5.7.1 no service for you\r\n")
        peer.read_to_eof()

    server = scripted(script, connections=2)  # the probe's TCP check, then the SMTP session
    r = netsmtp("probe", server.host)
    assert r.code == 5, r
    assert "diagnosis: The server refused the session: 554 5.7.1 no service for you" in r.out


def test_bad_target_is_a_usage_error(netsmtp: Run) -> None:
    r = netsmtp("probe", "host:99999")
    assert r.code == 2, r
