"""TLS channel binding for the SCRAM ``-PLUS`` mechanisms (RFC 5056, RFC 5929, RFC 9266).

A :class:`ChannelBinding` is a value the I/O layer computes from its TLS connection and
hands to a mechanism; nothing here touches a socket. Two types matter:

* ``tls-exporter`` (RFC 9266): 32 bytes exported with the label
  ``EXPORTER-Channel-Binding``; the type for TLS 1.3.
* ``tls-server-end-point`` (RFC 5929 §4): a hash of the server's certificate, computed by
  :func:`tls_server_end_point` from its DER bytes. Works on every TLS version and only
  needs the peer certificate, which is all the standard ``ssl`` module exposes.

``tls-unique`` (RFC 5929 §3) is accepted for TLS 1.2 peers but is unsafe without the
extended master secret and undefined for TLS 1.3.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

# RFC 5056 §7: channel binding type names are ASCII letters, digits, "." and "-".
_CB_NAME = re.compile(r"[A-Za-z0-9.-]{1,64}")


@dataclass(frozen=True, slots=True)
class ChannelBinding:
    """A channel binding type name and its data (both fixed for one TLS connection)."""

    kind: str
    data: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.kind, str) or not _CB_NAME.fullmatch(self.kind):
            raise ValueError(f"invalid channel binding type name: {self.kind!r}")
        if not isinstance(self.data, bytes) or not self.data:
            raise ValueError("channel binding data must be non-empty bytes")


# ---- RFC 5929 §4.1: tls-server-end-point -----------------------------------------------
# Signature algorithm OID -> the hash function it uses. RFC 5929 §4.1: MD5 and SHA-1 are
# replaced by SHA-256; an algorithm with no single hash (Ed25519, Ed448) leaves the
# binding undefined.
_SHA1 = "sha1"
_SIGNATURE_HASHES: dict[str, str] = {
    "1.2.840.113549.1.1.4": "md5",  # md5WithRSAEncryption
    "1.2.840.113549.1.1.5": _SHA1,  # sha1WithRSAEncryption
    "1.3.14.3.2.29": _SHA1,  # sha1WithRSASignature (OIW)
    "1.2.840.113549.1.1.14": "sha224",
    "1.2.840.113549.1.1.11": "sha256",
    "1.2.840.113549.1.1.12": "sha384",
    "1.2.840.113549.1.1.13": "sha512",
    "1.2.840.10045.4.1": _SHA1,  # ecdsa-with-SHA1
    "1.2.840.10045.4.3.1": "sha224",
    "1.2.840.10045.4.3.2": "sha256",
    "1.2.840.10045.4.3.3": "sha384",
    "1.2.840.10045.4.3.4": "sha512",
    "1.2.840.10040.4.3": _SHA1,  # dsa-with-sha1
    "2.16.840.1.101.3.4.3.1": "sha224",  # dsa-with-sha224
    "2.16.840.1.101.3.4.3.2": "sha256",  # dsa-with-sha256
    "2.16.840.1.101.3.4.3.9": "sha3_224",  # ecdsa-with-SHA3-*
    "2.16.840.1.101.3.4.3.10": "sha3_256",
    "2.16.840.1.101.3.4.3.11": "sha3_384",
    "2.16.840.1.101.3.4.3.12": "sha3_512",
    "2.16.840.1.101.3.4.3.13": "sha3_224",  # RSA PKCS#1 v1.5 with SHA3-*
    "2.16.840.1.101.3.4.3.14": "sha3_256",
    "2.16.840.1.101.3.4.3.15": "sha3_384",
    "2.16.840.1.101.3.4.3.16": "sha3_512",
}
_RSASSA_PSS = "1.2.840.113549.1.1.10"
# Hash algorithm OIDs, for the hashAlgorithm inside RSASSA-PSS parameters (RFC 4055 §3.1).
_HASHES: dict[str, str] = {
    "1.3.14.3.2.26": _SHA1,
    "2.16.840.1.101.3.4.2.4": "sha224",
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
    "2.16.840.1.101.3.4.2.7": "sha3_224",
    "2.16.840.1.101.3.4.2.8": "sha3_256",
    "2.16.840.1.101.3.4.2.9": "sha3_384",
    "2.16.840.1.101.3.4.2.10": "sha3_512",
}

_SEQUENCE = 0x30
_OID = 0x06
_CONTEXT_0 = 0xA0  # [0] EXPLICIT, constructed


def tls_server_end_point(der_cert: bytes) -> bytes:
    """The ``tls-server-end-point`` binding data of a DER certificate (RFC 5929 §4.1).

    The certificate is hashed whole with the hash of its ``signatureAlgorithm``; MD5 and
    SHA-1 are replaced by SHA-256. Raises ``ValueError`` for malformed DER and for
    signature algorithms whose binding is undefined (no single hash, or unknown).
    """
    return hashlib.new(certificate_hash_name(der_cert), der_cert).digest()


def certificate_hash_name(der_cert: bytes) -> str:
    """The :mod:`hashlib` name RFC 5929 §4.1 prescribes for this certificate."""
    oid, params = _signature_algorithm(bytes(der_cert))
    if oid == _RSASSA_PSS:
        name = _pss_hash(params)
    elif oid in _SIGNATURE_HASHES:
        name = _SIGNATURE_HASHES[oid]
    else:
        raise ValueError(f"tls-server-end-point is undefined for signature algorithm {oid}")
    return "sha256" if name in ("md5", _SHA1) else name


def _signature_algorithm(der: bytes) -> tuple[str, bytes]:
    """The signatureAlgorithm OID of an X.509 certificate, and its raw parameters.

    Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }
    (RFC 5280 §4.1); AlgorithmIdentifier ::= SEQUENCE { OID, parameters ANY OPTIONAL }.
    """
    tag, start, end = _read_tlv(der, 0, len(der))
    if tag != _SEQUENCE or end != len(der):
        raise ValueError("not a DER certificate: expected one SEQUENCE")
    tag, _, pos = _read_tlv(der, start, end)  # tbsCertificate
    if tag != _SEQUENCE:
        raise ValueError("not a DER certificate: tbsCertificate is not a SEQUENCE")
    tag, alg_start, alg_end = _read_tlv(der, pos, end)
    if tag != _SEQUENCE:
        raise ValueError("not a DER certificate: signatureAlgorithm is not a SEQUENCE")
    return _algorithm_identifier(der, alg_start, alg_end)


def _algorithm_identifier(der: bytes, start: int, end: int) -> tuple[str, bytes]:
    tag, oid_start, oid_end = _read_tlv(der, start, end)
    if tag != _OID:
        raise ValueError("malformed AlgorithmIdentifier: no OID")
    return _decode_oid(der[oid_start:oid_end]), der[oid_end:end]


def _pss_hash(params: bytes) -> str:
    """The hash of RSASSA-PSS-params (RFC 4055 §3.1); absent means the default, SHA-1."""
    if not params:
        raise ValueError("RSASSA-PSS signature without parameters")
    tag, start, end = _read_tlv(params, 0, len(params))
    if tag != _SEQUENCE or end != len(params):
        raise ValueError("malformed RSASSA-PSS parameters")
    if start == end:
        return _SHA1
    tag, inner_start, inner_end = _read_tlv(params, start, end)
    if tag != _CONTEXT_0:
        return _SHA1  # hashAlgorithm omitted: DEFAULT sha1
    tag, alg_start, alg_end = _read_tlv(params, inner_start, inner_end)
    if tag != _SEQUENCE:
        raise ValueError("malformed RSASSA-PSS hashAlgorithm")
    oid, _ = _algorithm_identifier(params, alg_start, alg_end)
    if oid not in _HASHES:
        raise ValueError(f"tls-server-end-point is undefined for RSASSA-PSS with hash {oid}")
    return _HASHES[oid]


def _read_tlv(der: bytes, pos: int, limit: int) -> tuple[int, int, int]:
    """Read one DER tag-length header at ``pos``; return (tag, content start, content end).

    Only what certificates need: single-byte tags and definite lengths. Every length is
    checked against ``limit`` so hostile input can only raise ``ValueError``.
    """
    if pos + 2 > limit:
        raise ValueError("truncated DER")
    tag = der[pos]
    if tag & 0x1F == 0x1F:
        raise ValueError("unsupported multi-byte DER tag")
    length = der[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4:
            raise ValueError("unsupported DER length (indefinite or too large)")
        if pos + count > limit:
            raise ValueError("truncated DER length")
        length = int.from_bytes(der[pos : pos + count], "big")
        if length < 0x80 or der[pos] == 0:
            raise ValueError("non-minimal DER length")
        pos += count
    if pos + length > limit:
        raise ValueError("DER length runs past the end of its container")
    return tag, pos, pos + length


def _decode_oid(raw: bytes) -> str:
    """Dotted-decimal form of a DER OBJECT IDENTIFIER's contents (X.690 §8.19)."""
    if not raw or raw[-1] & 0x80:
        raise ValueError("malformed OID")
    arcs: list[int] = []
    value = 0
    for octet in raw:
        if value == 0 and octet == 0x80:
            raise ValueError("non-minimal OID encoding")
        value = (value << 7) | (octet & 0x7F)
        if not octet & 0x80:
            arcs.append(value)
            value = 0
    first = arcs[0]
    head = [0, first] if first < 40 else [1, first - 40] if first < 80 else [2, first - 80]
    return ".".join(str(arc) for arc in head + arcs[1:])
