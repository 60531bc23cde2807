"""The API's side of idempotent sending (sending.services.idempotency): the key from the `Idempotency-Key`
header or the `IdempotencyKey` parameter, the parameters as its fingerprint, DirectMail-style errors."""

import hashlib
import json
from collections.abc import Callable

from sending.api.auth import ApiError, Caller
from sending.services import idempotency

# Parameters that differ between two sendings of the same call: the signature and its bookkeeping.
_VOLATILE = {"Signature", "SignatureNonce", "Timestamp", "AccessKeyId", "IdempotencyKey"}


def idempotency_key(request, caller: Caller) -> str:
    key = request.headers.get("Idempotency-Key") or caller.params.get("IdempotencyKey", "")
    if len(key) > idempotency.MAX_KEY_LENGTH:
        raise ApiError("InvalidParameter", "An idempotency key is at most 128 characters.")
    return key


def _fingerprint(caller: Caller) -> str:
    stable = {k: v for k, v in caller.params.items() if k not in _VOLATILE}
    return hashlib.sha256(json.dumps([caller.action, stable], sort_keys=True).encode()).hexdigest()


def _conflict() -> ApiError:
    message = "This idempotency key was used with different parameters within 24 hours."
    return ApiError("IdempotencyKey.Conflict", message, 409)


def known(caller: Caller, key: str) -> dict | None:
    """The first call's answer when the key was used in the last 24 hours (a read, before any work)."""
    try:
        env_id = idempotency.known(caller.key.account, key, _fingerprint(caller) if key else "")
    except idempotency.KeyConflict as exc:
        raise _conflict() from exc
    return {"EnvId": env_id} if env_id else None


def run_once(caller: Caller, key: str, send: Callable[[], dict]) -> dict:
    """`send()` unless the key was used in the last 24 hours; then the first call's answer."""
    try:
        env_id = idempotency.run_once(
            caller.key.account, key, _fingerprint(caller) if key else "", lambda: send()["EnvId"]
        )
    except idempotency.KeyConflict as exc:
        raise _conflict() from exc
    return {"EnvId": env_id}
