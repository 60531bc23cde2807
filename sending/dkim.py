"""DKIM keys: generation (2048-bit RSA through OpenSSL, via `cryptography`) and selectors."""

import base64
import re
import secrets

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.utils import timezone

KEY_BITS = 2048
KEY_SIZES = (1024, 2048)  # what DirectMail offers (ChangeDomainDkimRecord's DkimRsaLength)
SELECTOR = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def generate_key_pair(bits: int = KEY_BITS) -> tuple[str, str]:
    """(private key PEM, public key as base64 DER SubjectPublicKeyInfo for the p= tag)."""
    if bits not in KEY_SIZES:
        raise ValueError(f"DKIM keys are {' or '.join(map(str, KEY_SIZES))} bits")
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem, base64.b64encode(public_der).decode()


def key_bits(public_b64: str) -> int:
    """The size of an RSA public key in its p= form."""
    public = serialization.load_der_public_key(base64.b64decode(public_b64))
    return public.key_size  # type: ignore[union-attr]  # our keys are RSA


def new_selector() -> str:
    """Like `dm2026113fa2`: dated, so a rotation's new selector sorts after the old one."""
    return f"dm{timezone.now():%Y%m}{secrets.token_hex(2)}"


def parse_tags(record: str) -> dict[str, str]:
    """`v=DKIM1; k=rsa; p=...` -> {"v": "DKIM1", "k": "rsa", "p": "..."}; whitespace inside values dropped."""
    tags = {}
    for part in record.split(";"):
        name, sep, value = part.partition("=")
        if sep:
            tags[name.strip().lower()] = "".join(value.split())
    return tags
