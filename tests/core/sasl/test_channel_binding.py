"""tls-server-end-point (RFC 5929 §4.1) from DER certificates, and ChannelBinding values."""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import ssl

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

from netsmtp._core.sasl import ChannelBinding, tls_server_end_point
from netsmtp._core.sasl.channel_binding import _pss_hash, certificate_hash_name

_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_EC_KEY = ec.generate_private_key(ec.SECP384R1())


def make_cert(key: object, algorithm: hashes.HashAlgorithm | None, **kwargs: object) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "smtp.test")])
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())  # type: ignore[attr-defined]
        .serial_number(7)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=1))
    )
    cert = builder.sign(key, algorithm, **kwargs)  # type: ignore[arg-type]
    return cert.public_bytes(serialization.Encoding.DER)


def scramp_reference(der: bytes) -> bytes:
    """An independent computation: scramp's, on asn1crypto's certificate parser."""
    core = pytest.importorskip("scramp.core")
    return bytes(core.CBindData.from_der(der))


def test_trustme_certificate_sha256() -> None:
    ca = trustme.CA()
    pem = ca.issue_cert("smtp.test").cert_chain_pems[0].bytes().decode("ascii")
    der = ssl.PEM_cert_to_DER_cert(pem)
    assert tls_server_end_point(der) == hashlib.sha256(der).digest()
    assert tls_server_end_point(der) == scramp_reference(der)


@pytest.mark.parametrize(
    ("key", "algorithm", "kwargs", "hash_name"),
    [
        (_RSA_KEY, hashes.SHA256(), {}, "sha256"),
        (_RSA_KEY, hashes.SHA384(), {}, "sha384"),
        (_RSA_KEY, hashes.SHA512(), {}, "sha512"),
        (_RSA_KEY, hashes.SHA224(), {}, "sha224"),
        (_EC_KEY, hashes.SHA256(), {}, "sha256"),
        (_EC_KEY, hashes.SHA384(), {}, "sha384"),
        (_EC_KEY, hashes.SHA512(), {}, "sha512"),
        (
            _RSA_KEY,
            hashes.SHA384(),
            {"rsa_padding": padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48)},
            "sha384",
        ),
    ],
)
def test_signature_hash_is_used(
    key: object, algorithm: hashes.HashAlgorithm, kwargs: dict[str, object], hash_name: str
) -> None:
    der = make_cert(key, algorithm, **kwargs)
    assert certificate_hash_name(der) == hash_name
    assert tls_server_end_point(der) == hashlib.new(hash_name, der).digest()
    assert tls_server_end_point(der) == scramp_reference(der)


@pytest.mark.parametrize(
    ("oid_tail", "weak"),
    [(b"\x05", "sha1WithRSAEncryption"), (b"\x04", "md5WithRSAEncryption")],
)
def test_md5_and_sha1_become_sha256(oid_tail: bytes, weak: str) -> None:
    # Signing with MD5 or SHA-1 is no longer possible with cryptography, so take an
    # RSA-SHA256 certificate and rewrite its algorithm OIDs: only the OID matters here.
    sha256_rsa = b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0b"
    der = make_cert(_RSA_KEY, hashes.SHA256())
    assert der.count(sha256_rsa) == 2
    weak_der = der.replace(sha256_rsa, sha256_rsa[:-1] + oid_tail)
    assert certificate_hash_name(weak_der) == "sha256", weak
    assert tls_server_end_point(weak_der) == hashlib.sha256(weak_der).digest()
    assert tls_server_end_point(weak_der) == scramp_reference(weak_der)


def test_ed25519_is_undefined() -> None:
    der = make_cert(ed25519.Ed25519PrivateKey.generate(), None)
    with pytest.raises(ValueError, match="undefined"):
        tls_server_end_point(der)


def test_pss_default_hash_is_sha1_then_sha256() -> None:
    assert _pss_hash(b"\x30\x00") == "sha1"
    # [2] saltLength only: hashAlgorithm omitted, DEFAULT sha1.
    assert _pss_hash(b"\x30\x05\xa2\x03\x02\x01\x14") == "sha1"
    with pytest.raises(ValueError):
        _pss_hash(b"")


@pytest.mark.parametrize(
    "der",
    [
        b"",
        b"\x30",
        b"\x30\x00",
        b"\x31\x00",
        b"\x30\x80\x00\x00",  # indefinite length
        b"\x30\x81\x05\x00",  # non-minimal length
        b"\x30\x85\x01\x00\x00\x00\x00",  # length of length too big
        b"\x30\x03\x30\x01\x00",  # truncated inner
        b"\x30\x04\x30\x00\x30\x00",  # empty AlgorithmIdentifier
        b"\x30\x06\x30\x00\x30\x02\x05\x00",  # AlgorithmIdentifier without OID
        b"\x30\x07\x30\x00\x30\x03\x06\x01\x80",  # OID with a dangling continuation
        b"\x30\x07\x30\x00\x30\x03\x06\x01\x2a",  # OID 1.2: unknown algorithm
        b"\x1f\x00",  # multi-byte tag
    ],
)
def test_malformed_der(der: bytes) -> None:
    with pytest.raises(ValueError):
        tls_server_end_point(der)


def test_trailing_garbage_and_truncation() -> None:
    der = make_cert(_EC_KEY, hashes.SHA256())
    with pytest.raises(ValueError):
        tls_server_end_point(der + b"\x00")
    for cut in (1, 10, len(der) // 2, len(der) - 1):
        with pytest.raises(ValueError):
            tls_server_end_point(der[:cut])


@given(st.binary(max_size=200))
def test_arbitrary_bytes_only_raise_value_error(data: bytes) -> None:
    with contextlib.suppress(ValueError):
        tls_server_end_point(data)


@given(st.integers(min_value=0, max_value=400), st.integers(min_value=0, max_value=255))
def test_corrupted_certificate_only_raises_value_error(position: int, value: int) -> None:
    der = bytearray(make_cert(_EC_KEY, hashes.SHA256()))
    der[position % len(der)] = value
    with contextlib.suppress(ValueError):
        tls_server_end_point(bytes(der))


def test_channel_binding_value() -> None:
    cb = ChannelBinding("tls-exporter", b"\x00" * 32)
    assert cb.kind == "tls-exporter"
    assert "data" not in repr(cb)
    with pytest.raises(ValueError):
        ChannelBinding("tls exporter", b"x")
    with pytest.raises(ValueError):
        ChannelBinding("tls-exporter,", b"x")
    with pytest.raises(ValueError):
        ChannelBinding("tls-exporter", b"")
