"""Signing webhook POSTs: `X-DirectMail-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" with
the endpoint's secret>`, and what a receiver does to check one."""

import hashlib
import hmac
import time

# What a receiver runs to check a POST (shown on the endpoint pages; README has the same).
VERIFY_SNIPPET = """import hashlib, hmac, time


def verify(secret: str, header: str, body: bytes) -> bool:
    fields = dict(part.split("=", 1) for part in header.split(","))
    expected = hmac.new(secret.encode(), f"{fields['t']}.".encode() + body, hashlib.sha256).hexdigest()
    return abs(time.time() - int(fields["t"])) < 300 and hmac.compare_digest(expected, fields["v1"])
"""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, header: str, body: bytes, *, tolerance: int = 300) -> bool:
    """What a receiver does (the docs show it): the signature is ours and recent."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), header)
