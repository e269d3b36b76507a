"""Read the parts of an X.509 certificate a person wants to see, from its DER bytes.

``ssl.SSLSocket.getpeercert()`` only decodes a certificate that verified; ``probe`` must
also show one that did not (that is the point of probing). This is a small DER reader for
subject, issuer, validity and subjectAltName, nothing more: it never decides trust.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import UTC, datetime

_NAMES = {
    "2.5.4.3": "CN",
    "2.5.4.6": "C",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "1.2.840.113549.1.9.1": "emailAddress",
}
_SAN = "2.5.29.17"
_STRING_TAGS = {0x0C: "utf-8", 0x13: "ascii", 0x16: "ascii", 0x14: "latin-1", 0x1E: "utf-16-be"}


@dataclass
class CertInfo:
    subject: str
    issuer: str
    not_before: datetime | None
    not_after: datetime | None
    names: list[str] = field(default_factory=list)  # subjectAltName DNS names and IP addresses
    common_name: str | None = None

    @property
    def self_signed(self) -> bool:
        return self.subject == self.issuer

    def days_left(self, now: datetime | None = None) -> float | None:
        if self.not_after is None:
            return None
        now = now or datetime.now(UTC)
        return (self.not_after - now).total_seconds() / 86400

    def as_dict(self) -> dict[str, object]:
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "not_before": self.not_before.isoformat() if self.not_before else None,
            "not_after": self.not_after.isoformat() if self.not_after else None,
            "names": self.names,
            "self_signed": self.self_signed,
        }


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def at_end(self) -> bool:
        return self.pos >= len(self.data)

    def peek_tag(self) -> int:
        return self.data[self.pos]

    def next(self) -> tuple[int, bytes]:
        """One TLV: (tag, content)."""
        data, pos = self.data, self.pos
        tag = data[pos]
        length = data[pos + 1]
        pos += 2
        if length & 0x80:
            count = length & 0x7F
            if not 0 < count <= 4:
                raise ValueError("unsupported DER length")
            length = int.from_bytes(data[pos : pos + count], "big")
            pos += count
        if pos + length > len(data):
            raise ValueError("truncated DER")
        self.pos = pos + length
        return tag, data[pos : pos + length]


def _oid(content: bytes) -> str:
    first = content[0]
    parts = [first // 40 if first < 80 else 2, first % 40 if first < 80 else first - 80]
    value = 0
    for byte in content[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    return ".".join(str(p) for p in parts)


def _string(tag: int, content: bytes) -> str:
    return content.decode(_STRING_TAGS.get(tag, "latin-1"), "replace")


def _name(content: bytes) -> tuple[str, str | None]:
    """An X.501 Name as ``CN=a, O=b`` (in certificate order) and its common name."""
    parts: list[str] = []
    common: str | None = None
    rdns = _Reader(content)
    while not rdns.at_end():
        _, rdn = rdns.next()
        attrs = _Reader(rdn)
        while not attrs.at_end():
            _, pair = attrs.next()
            inner = _Reader(pair)
            _, oid = inner.next()
            tag, value = inner.next()
            key = _oid(oid)
            text = _string(tag, value)
            if key == "2.5.4.3" and common is None:
                common = text
            parts.append(f"{_NAMES.get(key, key)}={text}")
    return ", ".join(parts), common


def _time(tag: int, content: bytes) -> datetime | None:
    text = content.decode("ascii", "replace")
    try:
        if tag == 0x17:  # UTCTime: YYMMDDHHMMSSZ, years 1950-2049 (RFC 5280 §4.1.2.5.1)
            parsed = datetime.strptime(text, "%y%m%d%H%M%SZ")
        else:
            parsed = datetime.strptime(text, "%Y%m%d%H%M%SZ")
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC)


def _san(content: bytes) -> list[str]:
    names: list[str] = []
    seq = _Reader(_Reader(content).next()[1])
    while not seq.at_end():
        tag, value = seq.next()
        if tag == 0x82:  # dNSName
            names.append(value.decode("ascii", "replace"))
        elif tag == 0x87 and len(value) in (4, 16):  # iPAddress
            names.append(str(ipaddress.ip_address(value)))
    return names


def parse_certificate(der: bytes) -> CertInfo:
    """Subject, issuer, validity and subjectAltName of a DER certificate; ValueError if malformed."""
    try:
        tbs = _Reader(_Reader(_Reader(der).next()[1]).next()[1])
        if tbs.peek_tag() == 0xA0:  # [0] version
            tbs.next()
        tbs.next()  # serialNumber
        tbs.next()  # signature algorithm
        issuer, _ = _name(tbs.next()[1])
        validity = _Reader(tbs.next()[1])
        not_before = _time(*validity.next())
        not_after = _time(*validity.next())
        subject, common = _name(tbs.next()[1])
        tbs.next()  # subjectPublicKeyInfo
        names: list[str] = []
        while not tbs.at_end():
            tag, content = tbs.next()
            if tag != 0xA3:  # [3] extensions
                continue
            extensions = _Reader(_Reader(content).next()[1])
            while not extensions.at_end():
                ext = _Reader(extensions.next()[1])
                oid = _oid(ext.next()[1])
                tag, value = ext.next()
                if tag == 0x01:  # critical flag
                    tag, value = ext.next()
                if oid == _SAN:
                    names = _san(value)
    except (IndexError, ValueError) as exc:
        raise ValueError(f"cannot read the certificate: {exc}") from exc
    return CertInfo(subject, issuer, not_before, not_after, names, common)
