"""A deployment's private CA and the certificates it signs (broker, central's
HTTP, client identities), with the `cryptography` library.

Keys are ECDSA P-256, written readable by their owner only from the first byte
(`gridwatch.secrets.write_private`); certificates are public PEM files. The CA's
key signs certificates and nothing else: keep it off the servers.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gridwatch.secrets import write_private

CA_CERT_NAME = "ca.crt"
CA_KEY_NAME = "ca.key"
DEFAULT_CA_DAYS = 3650
DEFAULT_LEAF_DAYS = 397  # what browsers accept for a server certificate
# Allowance for clocks that run a little behind the issuing machine's.
_BACKDATE = dt.timedelta(minutes=5)
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class PkiError(ValueError):
    """A CA or certificate that cannot be made (the message says why)."""


@dataclass(frozen=True, slots=True)
class IssuedFiles:
    """Where a certificate and its key were written."""

    cert: Path
    key: Path


def ca_paths(ca_dir: Path) -> IssuedFiles:
    """The CA's certificate and key in `ca_dir`."""
    return IssuedFiles(cert=ca_dir / CA_CERT_NAME, key=ca_dir / CA_KEY_NAME)


def init_ca(
    ca_dir: Path,
    *,
    common_name: str = "gridwatch private CA",
    days: int = DEFAULT_CA_DAYS,
    replace: bool = False,
) -> IssuedFiles:
    """Make a CA (self-signed, may sign leaf certificates only) in `ca_dir`.

    Raises:
        PkiError: a CA is already there and `replace` is False, or `days` < 1.
    """
    files = ca_paths(ca_dir)
    if files.key.exists() and not replace:
        raise PkiError(
            f"{files.key} exists: a new CA invalidates every certificate it "
            "signed (pass --replace to make one anyway)"
        )
    if days < 1:
        raise PkiError(f"days must be at least 1, got {days}")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    _write(files, cert, key)
    return files


def issue(
    ca_dir: Path,
    out_dir: Path,
    name: str,
    *,
    hostnames: Sequence[str] = (),
    client: bool = False,
    days: int = DEFAULT_LEAF_DAYS,
) -> IssuedFiles:
    """Sign a new key's certificate with the CA in `ca_dir`: `{name}.crt` and
    `{name}.key` in `out_dir` (a reissue replaces both: that is a rotation).

    Args:
        ca_dir: Folder of `ca.crt` and `ca.key`.
        out_dir: Folder to write into.
        name: File stem and common name (letters, digits, `_ . -`).
        hostnames: DNS names and IP addresses a server is reached by; a server
            certificate needs at least one (clients check them).
        client: A client certificate (for logins by certificate) instead of a
            server one.
        days: Validity.

    Raises:
        PkiError: a bad name, host name or day count, or no usable CA.
    """
    if not _NAME_PATTERN.match(name):
        raise PkiError(f"certificate name {name!r}: use 1-64 of A-Z a-z 0-9 _ . -")
    if not client and not hostnames:
        raise PkiError(f"server certificate {name!r} needs at least one --host")
    if days < 1:
        raise PkiError(f"days must be at least 1, got {days}")
    ca_cert, ca_key = _load_ca(ca_dir)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    usage = (
        ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
    )
    not_after = min(now + dt.timedelta(days=days), ca_cert.not_valid_after_utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if hostnames:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([_general_name(h) for h in hostnames]),
            critical=False,
        )
    files = IssuedFiles(cert=out_dir / f"{name}.crt", key=out_dir / f"{name}.key")
    _write(files, builder.sign(ca_key, hashes.SHA256()), key)
    return files


def describe(cert_path: Path) -> str:
    """One line: subject, names, validity, of the PEM certificate at `cert_path`.

    Raises:
        PkiError: the file is not a PEM certificate.
    """
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError) as error:
        raise PkiError(f"{cert_path}: not a PEM certificate ({error})") from None
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names = ", ".join(str(v.value) for v in sans.value)
    except x509.ExtensionNotFound:
        names = "-"
    return (
        f"{cert_path}: {cert.subject.rfc4514_string()}, names {names}, valid "
        f"{cert.not_valid_before_utc:%Y-%m-%d} to {cert.not_valid_after_utc:%Y-%m-%d}"
    )


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        pass
    if not re.fullmatch(r"(\*\.)?[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?", host):
        raise PkiError(f"host {host!r} is neither a DNS name nor an IP address")
    return x509.DNSName(host)


def _load_ca(
    ca_dir: Path,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    files = ca_paths(ca_dir)
    try:
        cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
        key = serialization.load_pem_private_key(files.key.read_bytes(), None)
    except OSError as error:
        raise PkiError(
            f"no CA in {ca_dir} ({error.strerror}: {error.filename}); make one "
            "with `gridwatch central tls init`"
        ) from None
    except ValueError as error:
        raise PkiError(f"CA in {ca_dir} cannot be read ({error})") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise PkiError(f"{files.key} is not an EC key made by `tls init`")
    return cert, key


def _write(
    files: IssuedFiles, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> None:
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # The key first: a certificate is never left beside the old key.
    write_private(files.key, key_pem.decode("ascii"))
    partial = files.cert.with_name(files.cert.name + ".partial")
    partial.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    partial.chmod(0o644)
    partial.replace(files.cert)
