"""Sending calls per account and second (DirectMail allows SingleSendMail 100/s), counted in the database
inside the call's own transaction: exact across every web process, and a refused or failed call is not
counted. The counter rows are purged with the nonces."""

import time

from django.conf import settings
from django.db import connection

from sending.api.auth import ApiError, Caller
from sending.models import ApiRateCounter

KEEP_SECONDS = 60


# One conditional upsert per call (PostgreSQL and SQLite >= 3.35): no row back means the second is full.
_TAKE_SQL = (
    "INSERT INTO sending_apiratecounter (account_id, second, count) VALUES (%s, %s, 1) "
    "ON CONFLICT (account_id, second) DO UPDATE SET count = sending_apiratecounter.count + 1 "
    "WHERE sending_apiratecounter.count < %s RETURNING count"
)


def take(caller: Caller) -> None:
    """Count this call, or refuse it with Throttling.User when the account's second is full."""
    limit = settings.API_SEND_RATE_PER_SECOND
    if not limit:
        return
    with connection.cursor() as cursor:
        cursor.execute(_TAKE_SQL, [caller.key.account_id, int(time.time()), limit])
        if cursor.fetchone() is not None:
            return
    raise ApiError(
        "Throttling.User", f"Request was denied: more than {limit} sending calls a second.", 400, 1
    )


def purge() -> int:
    deleted, _per_model = ApiRateCounter.objects.filter(second__lt=int(time.time()) - KEEP_SECONDS).delete()
    return deleted
