"""Idempotent sending: a submission repeated with the same key within 24 hours is not sent again.

The key comes from the API's `Idempotency-Key` header / `IdempotencyKey` parameter or SMTP's
`X-Idempotency-Key` header; the fingerprint is whatever identifies the submission's content to its door.
The record is written in the same transaction as the mail, so a concurrent duplicate either finds it, or
loses the race on the unique constraint and rolls its own mail back.
"""

from collections.abc import Callable
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.errors import ServiceError
from accounts.models import Account
from sending.models import IdempotencyRecord

LIFETIME = timedelta(hours=24)
MAX_KEY_LENGTH = 128


class KeyConflict(ServiceError):
    """The key was used with a different submission within 24 hours."""


def _replay(record: IdempotencyRecord, fingerprint: str) -> str:
    if record.request_hash != fingerprint:
        raise KeyConflict("This idempotency key was used with different content within 24 hours.")
    return record.env_id


def known(account: Account, key: str, fingerprint: str) -> str | None:
    """The first submission's EnvId when the key was used in the last 24 hours (a read, before any work)."""
    if not key:
        return None
    cutoff = timezone.now() - LIFETIME
    record = IdempotencyRecord.objects.filter(account=account, key=key, created_at__gte=cutoff).first()
    return _replay(record, fingerprint) if record else None


def run_once(account: Account, key: str, fingerprint: str, send: Callable[[], str]) -> str:
    """`send()` (which stores mail and returns its EnvId) unless the key was used in the last 24 hours;
    then the first submission's EnvId. Call it inside the submission's transaction."""
    if not key:
        return send()
    IdempotencyRecord.objects.filter(
        account=account, key=key, created_at__lt=timezone.now() - LIFETIME
    ).delete()
    existing = IdempotencyRecord.objects.filter(account=account, key=key).first()
    if existing:
        return _replay(existing, fingerprint)
    try:
        with transaction.atomic():
            env_id = send()
            IdempotencyRecord.objects.create(
                account=account, key=key, request_hash=fingerprint, env_id=env_id
            )
    except IntegrityError:  # the same key committed a moment ago by a concurrent submission: ours rolled back
        return _replay(IdempotencyRecord.objects.get(account=account, key=key), fingerprint)
    return env_id


def purge_expired() -> int:
    deleted, _per_model = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - LIFETIME).delete()
    return deleted
