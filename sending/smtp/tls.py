"""The SMTP server's TLS: the operator's certificate (SMTPD_TLS_CERT / SMTPD_TLS_KEY), or in development a
self-signed one generated into DATA_DIR on first start."""

import datetime
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.conf import settings


def certificate_files() -> tuple[Path, Path]:
    if settings.SMTPD_TLS_CERT and settings.SMTPD_TLS_KEY:
        return Path(settings.SMTPD_TLS_CERT), Path(settings.SMTPD_TLS_KEY)
    folder = Path(settings.DATA_DIR) / "smtpd-tls"
    cert, key = folder / "cert.pem", folder / "key.pem"
    if not (cert.exists() and key.exists()):
        hostname = settings.SMTPD_HOSTNAME or settings.SMTPD_PUBLIC_HOST or "localhost"
        self_signed_certificate(cert, key, hostname)
    return cert, key


def self_signed_certificate(cert_path: Path, key_path: Path, hostname: str) -> None:
    """A 2048-bit RSA key and a ten-year certificate for `hostname` (development; the tests' TLS files)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_path.chmod(0o600)
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


def server_context() -> ssl.SSLContext:
    cert, key = certificate_files()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context
