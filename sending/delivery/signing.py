"""DKIM signatures (RFC 6376): rsa-sha256, relaxed/relaxed, over the headers the 2024 bulk-sender rules name.

Written here rather than through dkimpy's signer, which spent about 2 ms per message in Python-level
canonicalization and folding before the 0.6 ms of RSA; this does the same work in one pass. dkimpy still
verifies what we sign, in the tests, as an independent implementation.
"""

import base64
import hashlib
import re
import time
from functools import lru_cache

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from accounts.crypto import decrypt
from sending.models import DkimKey

# Covered when present, in this order (From is always present).
SIGNED_HEADERS = (
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "reply-to",
    "mime-version",
    "content-type",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "feedback-id",
)

_WSP_RUN = re.compile(rb"[ \t]+")
_FOLD = re.compile(rb"\r\n(?=[ \t])")
_TRAILING_WSP = re.compile(rb"[ \t]+\r\n")


@lru_cache(maxsize=256)
def _load_key(key_pk: int, encrypted: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(decrypt(encrypted).encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError("DKIM keys are RSA keys")
    return key


def relaxed_header(name: bytes, value: bytes) -> bytes:
    """`name:value` as relaxed canonicalization wants it (RFC 6376 3.4.2), CRLF-terminated."""
    value = _WSP_RUN.sub(b" ", _FOLD.sub(b"", value)).strip(b" \t")
    return name.lower().strip() + b":" + value + b"\r\n"


def relaxed_body(body: bytes) -> bytes:
    """RFC 6376 3.4.4: runs of whitespace to one space, none at line ends, no empty lines at the end."""
    body = _WSP_RUN.sub(b" ", body)
    body = _TRAILING_WSP.sub(b"\r\n", body)
    body = body.rstrip(b"\r\n")
    return body + b"\r\n" if body else b""


def _split(raw: bytes) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """[(name, value incl. folding)], body."""
    head, _sep, body = raw.partition(b"\r\n\r\n")
    headers: list[tuple[bytes, bytes]] = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and headers:
            name, value = headers[-1]
            headers[-1] = (name, value + b"\r\n" + line)
        else:
            name, _colon, value = line.partition(b":")
            headers.append((name, value))
    return headers, body


def _fold_base64(value: str, width: int = 72) -> str:
    return "\r\n\t".join(value[i : i + width] for i in range(0, len(value), width))


def sign(raw: bytes, key: DkimKey, domain: str, *, timestamp: int | None = None) -> bytes:
    """`raw` (CRLF bytes) with a DKIM-Signature header in front, for `domain` and `key`'s selector."""
    headers, body = _split(raw)
    present = {name.strip().lower().decode(): (name, value) for name, value in headers}
    names = [h for h in SIGNED_HEADERS if h in present]
    body_hash = base64.b64encode(hashlib.sha256(relaxed_body(body)).digest()).decode()
    value = (
        f" v=1; a=rsa-sha256; c=relaxed/relaxed; d={domain}; s={key.selector};\r\n"
        f"\tt={timestamp or int(time.time())}; h={':'.join(names)};\r\n"
        f"\tbh={body_hash};\r\n"
        f"\tb="
    )
    signed = b"".join(relaxed_header(*present[name]) for name in names)
    # The signature header itself, with an empty b=, and without its final CRLF (RFC 6376 3.7).
    signed += relaxed_header(b"dkim-signature", value.encode())[:-2]
    private_key = _load_key(key.pk, key.private_key_encrypted)
    signature = private_key.sign(signed, padding.PKCS1v15(), hashes.SHA256())
    header = f"DKIM-Signature:{value}{_fold_base64(base64.b64encode(signature).decode())}\r\n"
    return header.encode() + raw
