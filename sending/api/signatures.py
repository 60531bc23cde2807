"""Request signatures of the DirectMail API, as ../shared/API-COMPAT.md describes them.

Two schemes: RPC v1 (HMAC-SHA1 over the sorted parameters, `Signature` parameter) and ACS3-HMAC-SHA256 (a
canonical request over path, query, signed headers and the body hash, `Authorization` header). Each function
here is pure: it takes what the request carried and the secret, and says whether the signature matches.
Comparisons are constant-time.
"""

import base64
import hashlib
import hmac
from urllib.parse import quote

ACS3 = "ACS3-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def enc(value: str) -> str:
    """RFC 3986 percent-encoding of UTF-8: A-Z a-z 0-9 - _ . ~ kept, everything else %XX (space is %20)."""
    return quote(value, safe="~")


# --- RPC v1 (HMAC-SHA1) ---------------------------------------------------------------------------------


def rpc_string_to_sign(method: str, params: dict[str, str]) -> str:
    """`params`: every query and form parameter but Signature, decoded."""
    canonical = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(params.items()))
    return f"{method.upper()}&{enc('/')}&{enc(canonical)}"


def rpc_signature(method: str, params: dict[str, str], secret: str) -> str:
    digest = hmac.new(
        f"{secret}&".encode(), rpc_string_to_sign(method, params).encode(), hashlib.sha1
    ).digest()
    return base64.b64encode(digest).decode()


def rpc_verify(method: str, params: dict[str, str], secret: str, signature: str) -> bool:
    return hmac.compare_digest(rpc_signature(method, params, secret).encode(), signature.encode())


# --- ACS3-HMAC-SHA256 -----------------------------------------------------------------------------------


def parse_authorization(value: str) -> dict[str, str] | None:
    """`ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=a;b,Signature=hex` -> its fields, or None."""
    scheme, _sep, rest = value.strip().partition(" ")
    if scheme != ACS3:
        return None
    fields = {}
    for part in rest.split(","):
        name, sep, field_value = part.strip().partition("=")
        if sep:
            fields[name] = field_value
    if not {"Credential", "SignedHeaders", "Signature"} <= fields.keys():
        return None
    return fields


def acs3_canonical_request(
    method: str, query: dict[str, str], headers: dict[str, str], signed_headers: list[str], body: bytes
) -> str:
    """`headers`: lower-case names -> values as received."""
    canonical_query = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(query.items()))
    names = sorted(h.lower() for h in signed_headers)
    canonical_headers = "".join(f"{name}:{headers.get(name, '').strip()}\n" for name in names)
    return "\n".join(
        [
            method.upper(),
            "/",
            canonical_query,
            canonical_headers,
            ";".join(names),
            hashlib.sha256(body).hexdigest(),
        ]
    )


def acs3_signature(canonical_request: str, secret: str) -> str:
    to_sign = f"{ACS3}\n{hashlib.sha256(canonical_request.encode()).hexdigest()}"
    return hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()


def acs3_verify(canonical_request: str, secret: str, signature: str) -> bool:
    return hmac.compare_digest(acs3_signature(canonical_request, secret).encode(), signature.lower().encode())
