"""Idempotent sending: a call repeated with the same Idempotency-Key within 24 hours is not sent again.

The key comes from the `Idempotency-Key` header or the `IdempotencyKey` parameter. The record is written in
the same transaction as the mail, so a concurrent duplicate either waits and finds it, or loses the race on
the unique constraint and rolls its own mail back.
"""

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from sending.api.auth import ApiError, Caller
from sending.models import IdempotencyRecord

LIFETIME = timedelta(hours=24)
# Parameters that differ between two sendings of the same call: the signature and its bookkeeping.
_VOLATILE = {"Signature", "SignatureNonce", "Timestamp", "AccessKeyId", "IdempotencyKey"}


def idempotency_key(request, caller: Caller) -> str:
    key = request.headers.get("Idempotency-Key") or caller.params.get("IdempotencyKey", "")
    if len(key) > 128:
        raise ApiError("InvalidParameter", "An idempotency key is at most 128 characters.")
    return key


def _fingerprint(caller: Caller) -> str:
    stable = {k: v for k, v in caller.params.items() if k not in _VOLATILE}
    return hashlib.sha256(json.dumps([caller.action, stable], sort_keys=True).encode()).hexdigest()


def _replay(record: IdempotencyRecord, fingerprint: str) -> dict:
    if record.request_hash != fingerprint:
        raise ApiError(
            "IdempotencyKey.Conflict",
            "This idempotency key was used with different parameters within 24 hours.",
            409,
        )
    return {"EnvId": record.env_id}


def known(caller: Caller, key: str) -> dict | None:
    """The first call's answer when the key was used in the last 24 hours (a read, before any work)."""
    if not key:
        return None
    cutoff = timezone.now() - LIFETIME
    existing = IdempotencyRecord.objects.filter(
        account=caller.key.account, key=key, created_at__gte=cutoff
    ).first()
    return _replay(existing, _fingerprint(caller)) if existing else None


def run_once(caller: Caller, key: str, send: Callable[[], dict]) -> dict:
    """`send()` unless the key was used in the last 24 hours; then the first call's answer."""
    if not key:
        return send()
    account = caller.key.account
    fingerprint = _fingerprint(caller)
    cutoff = timezone.now() - LIFETIME
    IdempotencyRecord.objects.filter(account=account, key=key, created_at__lt=cutoff).delete()
    existing = IdempotencyRecord.objects.filter(account=account, key=key).first()
    if existing:
        return _replay(existing, fingerprint)
    try:
        with transaction.atomic():
            body = send()
            IdempotencyRecord.objects.create(
                account=account, key=key, request_hash=fingerprint, env_id=body["EnvId"]
            )
    except IntegrityError:  # the same key committed a moment ago by a concurrent call: ours was rolled back
        return _replay(IdempotencyRecord.objects.get(account=account, key=key), fingerprint)
    return body


def purge_expired() -> int:
    deleted, _per_model = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - LIFETIME).delete()
    return deleted
