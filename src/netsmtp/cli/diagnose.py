"""The probe's report, its findings, and the one sentence that sums them up."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import exitcodes
from .certinfo import CertInfo
from .tls import Handshake

EXPIRY_WARNING_DAYS = 14


@dataclass
class Finding:
    severity: str  # "error" or "warning"
    code: int  # the exit code an error gives
    sentence: str

    @classmethod
    def error(cls, code: int, sentence: str) -> Finding:
        return cls("error", code, sentence)

    @classmethod
    def warning(cls, sentence: str) -> Finding:
        return cls("warning", exitcodes.OK, sentence)


def certificate_finding(reason: str, cert: CertInfo | None, name: str) -> Finding:
    """Why a certificate did not verify, in words, with what to do."""
    low = reason.lower()
    covers = ", ".join(cert.names) if cert is not None and cert.names else "no names"
    if "mismatch" in low:
        sentence = (
            f"The certificate is not valid for {name} (it covers {covers}): connect with one of those names "
            "(--tls-name in a pinch), or install a certificate for this name on the server."
        )
    elif "expired" in low:
        when = f" on {cert.not_after:%Y-%m-%d}" if cert is not None and cert.not_after else ""
        sentence = f"The certificate expired{when}: the server must renew it."
    elif "self-signed" in low or "self signed" in low:
        sentence = (
            "The certificate is self-signed: trust it with --cafile if it is yours, "
            "or install one from a public CA."
        )
    elif "local issuer" in low or "issuer certificate" in low:
        issuer = f" ({cert.issuer})" if cert is not None else ""
        sentence = (
            f"The certificate's issuer{issuer} is not trusted here: a private CA (pass it with --cafile), "
            "or a server that does not send its intermediate certificates."
        )
    else:
        sentence = f"The certificate does not verify: {reason}."
    return Finding.error(exitcodes.TLS, sentence)


def _keyword(lines: list[str], keyword: str) -> str | None:
    """The parameters of an EHLO keyword (lines after the first), or None."""
    for line in lines[1:]:
        word, _, rest = line.partition(" ")
        if word.upper() == keyword:
            return rest.strip()
    return None


@dataclass
class ProbeReport:
    target: str
    host: str
    port: int
    mode: str  # "ssl" or "starttls"
    address: str | None = None
    connect_ms: float | None = None
    banner: str | None = None
    plain_banner: str | None = None
    ehlo: list[str] = field(default_factory=list)  # before TLS (STARTTLS mode)
    starttls: str | None = None
    tls: Handshake | None = None
    verify_error: str | None = None
    ehlo_tls: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    tls_name: str | None = None

    def add(self, finding: Finding) -> None:
        self.findings.append(finding)

    @property
    def final_ehlo(self) -> list[str]:
        return self.ehlo_tls or self.ehlo

    @property
    def auth(self) -> list[str]:
        value = _keyword(self.final_ehlo, "AUTH")
        return value.split() if value else []

    @property
    def size(self) -> int | None:
        value = _keyword(self.final_ehlo, "SIZE")
        if value is None:
            return None
        return int(value) if value.isdigit() else 0

    def finish(self) -> None:
        """Turn what was seen into findings (those added while probing come first)."""
        name = self.tls_name or self.host
        if self.starttls == "not offered":
            self.add(
                Finding.error(
                    exitcodes.TLS,
                    f"{self.target} does not offer STARTTLS: mail and passwords would cross the network in "
                    "plaintext; enable TLS on the server (or use its implicit-TLS port 465, if it has one).",
                )
            )
        elif self.starttls is not None and self.starttls.startswith(("refused", "handshake failed")):
            self.add(
                Finding.error(exitcodes.TLS, f"The server offers STARTTLS but it fails: {self.starttls}.")
            )
        if self.verify_error is not None:
            cert = self.tls.certificate if self.tls is not None else None
            self.add(certificate_finding(self.verify_error, cert, name))
        elif self.tls is not None and self.tls.verified and self.tls.certificate is not None:
            days = self.tls.certificate.days_left()
            if days is not None and days < EXPIRY_WARNING_DAYS:
                self.add(Finding.warning(f"The certificate expires in {days:.0f} days: renew it soon."))
        if self.mode == "starttls" and _keyword(self.ehlo, "AUTH") and self.tls is not None:
            self.add(
                Finding.warning(
                    "The server offers AUTH before STARTTLS: a client that does not insist on TLS "
                    "could send its password in the clear."
                )
            )
        if self.tls is not None and not self.auth and self.port in (465, 587):
            self.add(Finding.warning(f"No AUTH offered on port {self.port}, where clients usually log in."))

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def exit_code(self) -> int:
        return self.errors[0].code if self.errors else exitcodes.OK

    @property
    def diagnosis(self) -> str:
        if self.findings:
            return (self.errors or self.findings)[0].sentence
        how = "implicit TLS" if self.mode == "ssl" else "STARTTLS"
        version = self.tls.version if self.tls is not None else "TLS"
        auth = f", AUTH {' '.join(self.auth)} after TLS" if self.auth else ""
        name = self.tls_name or self.host
        return f"No problem found: {how} with {version} and a valid certificate for {name}{auth}."

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "mode": self.mode,
            "address": self.address,
            "connect_ms": self.connect_ms,
            "banner": self.banner,
            "ehlo": self.ehlo,
            "starttls": self.starttls,
            "tls": self.tls.as_dict() if self.tls is not None else None,
            "verify_error": self.verify_error,
            "ehlo_tls": self.ehlo_tls,
            "auth": self.auth,
            "size": self.size,
            "findings": [{"severity": f.severity, "text": f.sentence} for f in self.findings],
            "diagnosis": self.diagnosis,
            "exit_code": self.exit_code,
        }


def _row(label: str, value: str) -> str:
    return f"  {label:<12} {value}\n"


def _certificate_rows(report: ProbeReport) -> str:
    tls = report.tls
    assert tls is not None
    cert = tls.certificate
    if cert is None:
        return _row("certificate", "(none sent)")
    out = _row("certificate", f"subject   {cert.subject}")
    pad = " " * 15
    out += f"{pad}issuer    {cert.issuer}{' (self-signed)' if cert.self_signed else ''}\n"
    out += f"{pad}names     {', '.join(cert.names) or '(no subjectAltName)'}\n"
    if cert.not_after is not None:
        days = cert.days_left() or 0.0
        left = f"in {days:.0f} days" if days >= 0 else f"EXPIRED {-days:.0f} days ago"
        out += f"{pad}expires   {cert.not_after:%Y-%m-%d} ({left})\n"
    if report.verify_error is not None:
        out += f"{pad}verified  NO: {report.verify_error}\n"
        out += f"{pad}          (shown from a second handshake WITHOUT verification, only to display it)\n"
    else:
        out += f"{pad}verified  yes, for {report.tls_name or report.host}\n"
    return out


def render(report: ProbeReport) -> str:
    how = "implicit TLS" if report.mode == "ssl" else "STARTTLS"
    out = f"probe {report.target} ({how})\n"
    if report.address is not None:
        out += _row("address", f"{report.address}, connected in {report.connect_ms} ms")
    if report.banner is not None:
        out += _row("banner", report.banner)
    if report.ehlo:
        out += _row("EHLO", " · ".join(report.ehlo))
    if report.starttls is not None:
        out += _row("STARTTLS", report.starttls)
    if report.tls is not None:
        cipher = f", {report.tls.cipher[0]} ({report.tls.cipher[2]} bits)" if report.tls.cipher else ""
        out += _row("TLS", f"{report.tls.version}{cipher}")
        out += _certificate_rows(report)
    if report.ehlo_tls:
        out += _row("EHLO (TLS)", " · ".join(report.ehlo_tls))
    if report.final_ehlo:
        out += _row("AUTH", " ".join(report.auth) or "not offered")
        size = report.size
        shown = (
            "not announced"
            if size is None
            else "no limit"
            if size == 0
            else f"{size} ({size / 1048576:.1f} MiB)"
        )
        out += _row("SIZE", shown)
    for finding in report.findings:
        if finding.sentence != report.diagnosis:
            out += _row(finding.severity, finding.sentence)
    return out + f"\ndiagnosis: {report.diagnosis}\n"
