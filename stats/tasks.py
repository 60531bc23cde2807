"""django-q2 tasks of `stats`: every schedule (stats.schedules) and every task this app queues enters
here, and calls a service."""

from datetime import datetime

from stats import reputation
from stats.webhooks import delivery


def webhooks_deliver_due() -> int:
    """Hand every due webhook event to a task of its own (kicked after a commit, and every minute)."""
    return delivery.deliver_due()


def webhook_deliver_event(pk: int, claim: datetime) -> bool | None:
    """One attempt of one webhook event, if deliver_due's claim on it is still this task's."""
    return delivery.deliver_event(pk, claim)


def webhooks_purge() -> int:
    """Daily: forget finished webhook events older than WEBHOOK_EVENT_RETENTION_DAYS."""
    return delivery.purge()


def reputation_review() -> dict[str, int]:
    """Weekly: delivery quality moves each account's daily quota a level up or down."""
    return reputation.review_all()
