"""Opaque public ids for URLs and APIs: never a sequential primary key that hints at other tenants."""

import secrets

ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def new_public_id() -> str:
    """16 random characters of [0-9a-z] (about 82 bits)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(16))


def new_api_id() -> int:
    """A random 12-digit number: the id the DirectMail API shows for a domain, address, tag or IP entry.

    The official SDKs type these ids as integers, so they cannot be `public_id`s; random, so they say
    nothing about other tenants.
    """
    return 10**11 + secrets.randbelow(9 * 10**11)
