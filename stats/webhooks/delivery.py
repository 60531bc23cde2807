"""Delivering webhook events, with retries.

Nothing is lost if a worker dies: the events are rows, and `deliver_due` (every minute, and kicked after a
commit) claims the due ones and hands each attempt to a django-q2 task of its own (`deliver_event`). A 2xx
answer delivers; anything else retries after 1 min, 5 min, 30 min, 2 h, 6 h, then every 6 h until 24 h
have passed, when the event fails; an endpoint failing for a day is disabled and its account's owners are
mailed. Targets go through sending.netguard (no internal addresses, no redirects). A Redis endpoint gets
the same body added to a stream (XADD) instead, with the same retries. Replays and test events
(stats.webhooks.endpoints) go through the same `attempt()`.
"""

import json
import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_noop
from django_q.tasks import async_task
from prometheus_client.core import GaugeMetricFamily

from accounts.crypto import decrypt
from accounts.mailing import mail_people
from sending import netguard
from stats.models import WebhookAttempt, WebhookEndpoint, WebhookEvent
from stats.webhooks.signing import sign

log = logging.getLogger(__name__)

BACKOFF = [
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
]
GIVE_UP = timedelta(hours=24)
TIMEOUT = 10.0  # seconds for one POST
LEASE = timedelta(minutes=5)  # a handed-out attempt not started by then is handed out again


def kick() -> None:
    """Start sending waiting events now; after a commit, so a broker outage only delays them (the
    schedule sends them too) and never fails what was committed."""
    try:
        async_task("stats.tasks.webhooks_deliver_due")
    except Exception:
        log.warning("could not start webhook delivery now (broker unavailable)", exc_info=True)


def attempt(event: WebhookEvent, *, retry: bool = True) -> WebhookAttempt:
    """Send the event once (POST, or append to the Redis stream) and record the outcome; without `retry`
    (test events) a failure is final."""
    endpoint = event.endpoint
    body = json.dumps(event.payload, ensure_ascii=False, separators=(",", ":")).encode()
    started = time.monotonic()
    if endpoint.kind == WebhookEndpoint.Kind.REDIS:
        status, text = _append_to_stream(endpoint, event, body)
    else:
        status, text = _post(endpoint, event, body)
    now = timezone.now()
    delivered = status is not None and 200 <= status < 300
    event.attempts += 1
    if delivered:
        event.status, event.finished_at = WebhookEvent.Status.DELIVERED, now
    elif not retry or now - event.retry_from >= GIVE_UP:
        event.status, event.finished_at = WebhookEvent.Status.FAILED, now
    else:
        wait = BACKOFF[min(event.attempts - 1, len(BACKOFF) - 1)]
        event.next_attempt_at = min(now + wait, event.retry_from + GIVE_UP)
    with transaction.atomic():
        event.save(update_fields=["status", "finished_at", "attempts", "next_attempt_at"])
        logged = WebhookAttempt.objects.create(
            event=event, at=now, status_code=status, response=text[:2000],
            duration_ms=int((time.monotonic() - started) * 1000),
        )  # fmt: skip
        if not event.is_test:
            _health(endpoint, delivered, now)
    return logged


def _post(endpoint: WebhookEndpoint, event: WebhookEvent, body: bytes) -> tuple[int | None, str]:
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/cloudevents+json; charset=utf-8",
        "User-Agent": "directmail-webhooks",
        "X-DirectMail-Event-Id": event.public_id,
        "X-DirectMail-Timestamp": str(timestamp),
        "X-DirectMail-Signature": sign(decrypt(endpoint.secret_encrypted), timestamp, body),
    }
    try:
        response = netguard.post(endpoint.url, body, headers, timeout=TIMEOUT)
    except netguard.UnsafeTarget as exc:
        return None, f"refused: {exc}"
    except Exception as exc:  # network failures of every kind: recorded, retried
        return None, f"{type(exc).__name__}: {exc}"[:500]
    return response.status, response.body


def _append_to_stream(endpoint: WebhookEndpoint, event: WebhookEvent, body: bytes) -> tuple[int | None, str]:
    """XADD to the account's stream; the entry's id is answered like a 2xx body. No REDIS_URL: a failure."""
    if not settings.REDIS_URL:
        return None, "REDIS_URL is not set on this installation"
    import redis

    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=TIMEOUT)
        entry = client.xadd(
            endpoint.stream_key,
            {"id": event.public_id, "type": event.type, "body": body},
            maxlen=settings.EVENTS_STREAM_MAXLEN,
            approximate=True,
        )
    except redis.RedisError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500]
    entry_id = entry.decode() if isinstance(entry, bytes) else str(entry)
    return 200, f"XADD {endpoint.stream_key} {entry_id}"


def _health(endpoint: WebhookEndpoint, delivered: bool, now) -> None:
    """An endpoint that has failed for a day is disabled, and the account's owners hear of it."""
    if delivered:
        if endpoint.failing_since:
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=None)
        return
    if endpoint.failing_since is None:
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=now)
    elif now - endpoint.failing_since >= GIVE_UP and endpoint.enabled:
        reason = gettext_noop("every delivery failed for 24 hours")  # translated where it is shown
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(enabled=False, disabled_reason=reason)
        transaction.on_commit(lambda: _mail_owners(endpoint))


def _mail_owners(endpoint: WebhookEndpoint) -> None:
    owners = list(endpoint.account.memberships.filter(role="owner").values_list("user__email", flat=True))
    url = settings.PUBLIC_BASE_URL + reverse(
        "stats:webhook_detail", args=[endpoint.account.public_id, endpoint.public_id]
    )
    mail_people("webhook_disabled", {"endpoint": endpoint, "url": url}, owners, account=endpoint.account)


def deliver_due(limit: int = 500) -> int:
    """Hand every due event of an enabled endpoint to a task of its own (`deliver_event`), after claiming it
    by moving its next attempt LEASE ahead: a task lost with its broker is retried when the claim runs out,
    and two schedulers never hand out the same attempt. Returns how many were handed out."""
    now = timezone.now()
    due = WebhookEvent.objects.filter(
        status=WebhookEvent.Status.PENDING, next_attempt_at__lte=now, endpoint__enabled=True
    ).order_by("next_attempt_at")
    claim = now + LEASE
    handed = 0
    for pk, at in due.values_list("pk", "next_attempt_at")[:limit]:
        pending = WebhookEvent.objects.filter(pk=pk, status=WebhookEvent.Status.PENDING, next_attempt_at=at)
        if pending.update(next_attempt_at=claim):
            async_task("stats.tasks.webhook_deliver_event", pk, claim, task_name=f"webhook {pk}")
            handed += 1
    return handed


def deliver_event(pk: int, claim) -> bool | None:
    """One attempt of one event, if the claim `deliver_due` made is still ours (a task that ran too late
    finds it taken over and does nothing). True when delivered; None when not ours."""
    now = timezone.now()
    ours = WebhookEvent.objects.filter(pk=pk, status=WebhookEvent.Status.PENDING, next_attempt_at=claim)
    # While we post, the claim is held for three timeouts: longer than any attempt can take.
    if not ours.update(next_attempt_at=now + timedelta(seconds=TIMEOUT * 3)):
        return None
    event = WebhookEvent.objects.select_related("endpoint__account").get(pk=pk)
    return attempt(event).event.status == WebhookEvent.Status.DELIVERED


def purge() -> int:
    """Daily: forget finished events (and their attempts) older than WEBHOOK_EVENT_RETENTION_DAYS."""
    cutoff = timezone.now() - timedelta(days=settings.WEBHOOK_EVENT_RETENTION_DAYS)
    old = WebhookEvent.objects.exclude(status=WebhookEvent.Status.PENDING).filter(created_at__lt=cutoff)
    deleted, _by_model = old.delete()
    return deleted


def waiting_gauges():
    """/metrics (directmail.metrics): webhook events waiting."""
    yield GaugeMetricFamily(
        "directmail_webhook_events_waiting",
        "Webhook events not yet delivered or given up",
        value=WebhookEvent.objects.filter(status=WebhookEvent.Status.PENDING).count(),
    )
