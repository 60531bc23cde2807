"""Opaque public ids for URLs and APIs: never a sequential primary key that hints at other tenants."""

import secrets

ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def new_public_id() -> str:
    """16 random characters of [0-9a-z] (about 82 bits)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(16))
