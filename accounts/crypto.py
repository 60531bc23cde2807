"""Encryption at rest for secrets the service must read back: API key secrets, DKIM private keys.

Fernet (AES-128-CBC + HMAC-SHA256) from `cryptography`. settings.ENCRYPTION_KEYS lists the keys: the first
encrypts, every one decrypts, so a key is rotated by putting a new one first and re-encrypting at leisure.
"""

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def _current() -> MultiFernet:
    return _fernet(tuple(settings.ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return _current().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    """The plaintext; raises ValueError when no configured key opens the token."""
    try:
        return _current().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError(
            "cannot decrypt: ENCRYPTION_KEYS does not hold the key this was encrypted with"
        ) from exc


def new_key() -> str:
    return Fernet.generate_key().decode()
