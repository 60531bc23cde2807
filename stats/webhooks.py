"""Signed webhook notifications of what happens to mail, delivered with retries.

`on_events()` hears every event sending.events records, in that transaction: it writes one WebhookEvent
per enabled endpoint of the account that wants the event type (and matches its sender and tag filters),
with a CloudEvents 1.0 payload in DirectMail's shape and a stable id. Nothing is lost if a worker dies: the
events are rows, and `deliver_due` (every minute, and kicked after a commit) claims the due ones and hands
each attempt to a django-q2 task of its own (`deliver_event`). Each POST is signed:
`X-DirectMail-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the endpoint's secret>`.
A 2xx answer delivers; anything else retries after 1 min, 5 min, 30 min, 2 h, 6 h, then every 6 h until
24 h have passed, when the event fails; an endpoint failing for a day is disabled and its account's owners
are mailed. Targets go through sending.netguard (no internal addresses, no redirects). A Redis endpoint gets
the same body added to a stream (XADD) instead, with the same retries. Replays and
test events (stats.endpoints) go through the same `attempt()`.
"""

import hashlib
import hmac
import json
import logging
import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy, gettext_noop
from django_q.tasks import async_task
from prometheus_client.core import GaugeMetricFamily

from accounts.crypto import decrypt
from accounts.mailing import mail_people
from sending import netguard
from sending.events import KINDS, Event
from stats.models import WebhookAttempt, WebhookEndpoint, WebhookEvent

log = logging.getLogger(__name__)

# Event kinds (sending.events.KINDS) -> DirectMail's CloudEvents types. Acceptance has none, and neither
# has a recipient suppressed at acceptance (the API's answer says so).
CLOUD_TYPES = {
    "delivered": "dm:Deliver:Succeed",
    "failed": "dm:Deliver:Fail",
    "bounced": "dm:Deliver:Fail",
    "invalid": "dm:Deliver:Fail",
    "hard_bounced": "dm:Deliver:Fail",
    "withheld": "dm:Deliver:Fail",
    "deferred": "dm:Deliver:Delay",
    "delayed": "dm:Deliver:Delay",
    "opened": "dm:Trace:Open",
    "clicked": "dm:Trace:Click",
    "unsubscribed": "dm:Feedback:UnSubscribe",
    "complained": "dm:Feedback:FblReport",
}
# The choice of EVENT_LABELS (an endpoint's event_types) that wants an event kind.
WANTED_AS = {kind: KINDS[kind].stored for kind in CLOUD_TYPES}
# What the console offers, in its order.
EVENT_LABELS = {
    "delivered": gettext_lazy("Delivered"),
    "failed": gettext_lazy("Failed"),
    "invalid": gettext_lazy("Invalid address"),
    "deferred": gettext_lazy("Deferred (will retry)"),
    "opened": gettext_lazy("Opened"),
    "clicked": gettext_lazy("Clicked"),
    "unsubscribed": gettext_lazy("Unsubscribed"),
    "complained": gettext_lazy("Complained"),
}
# What a receiver runs to check a POST (shown on the endpoint pages; README has the same).
VERIFY_SNIPPET = """import hashlib, hmac, time


def verify(secret: str, header: str, body: bytes) -> bool:
    fields = dict(part.split("=", 1) for part in header.split(","))
    expected = hmac.new(secret.encode(), f"{fields['t']}.".encode() + body, hashlib.sha256).hexdigest()
    return abs(time.time() - int(fields["t"])) < 300 and hmac.compare_digest(expected, fields["v1"])
"""
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


def _error_text(event: Event) -> str:
    detail = event.detail
    if event.kind == "unsubscribed":
        return str(detail.get("how", ""))
    text = str(detail.get("text", ""))
    return f"{detail['status']} {text}" if detail.get("status") else text  # a DSN's status first


def _payload(event: Event, at, event_id: str) -> dict:
    message = event.message
    envelope = message.envelope
    status = event.stored  # what the event is stored as: a bounce is "failed" or "invalid"
    return {
        "specversion": "1.0",
        "source": "acs:dm",
        "type": CLOUD_TYPES[event.kind],
        "id": event_id,
        "time": at.isoformat(),
        "subject": f"acs:dm:{message.account_id}:{envelope.env_id}",
        "datacontenttype": "application/json",
        "data": {
            "env_id": envelope.env_id,
            "msg_id": message.message_id,
            "account": envelope.sender.address,
            "from": envelope.sender.address,
            "rcpt": message.rcpt,
            "tag": envelope.tag_name,
            "send_time": message.created_at.isoformat(),
            "deliver_time": at.isoformat(),
            "status": status,
            "err_code": event.detail.get("code"),
            "err_msg": _error_text(event),
            "failed_type": {"invalid": "invalid_address", "failed": "failed"}.get(status, ""),
            "url": event.detail.get("url", ""),
            "header": {"X-Notify-Message-ID": (envelope.headers or {}).get("X-Notify-Message-ID", "")},
        },
    }


def on_events(events: list[Event], at) -> None:
    """WebhookEvents for recorded events (sending.events listener, for the kinds of CLOUD_TYPES): one per
    enabled endpoint of the account that wants the event's type and matches its sender and tag filters.
    One endpoint query per batch, none for kinds without a CloudEvents type (acceptance)."""
    events = [event for event in events if event.kind in CLOUD_TYPES]
    if not events:
        return
    accounts = {event.message.account_id for event in events}
    endpoints: dict[int, list[WebhookEndpoint]] = {}
    for endpoint in WebhookEndpoint.objects.filter(account_id__in=accounts, enabled=True):
        endpoints.setdefault(endpoint.account_id, []).append(endpoint)
    if not endpoints:
        return
    rows = []
    for event in events:
        message = event.message
        wanted = WANTED_AS[event.kind]
        for endpoint in endpoints.get(message.account_id, []):
            if wanted not in endpoint.event_types:
                continue
            if endpoint.sender_address not in ("", message.envelope.sender.address):
                continue
            if endpoint.tag_name not in ("", message.envelope.tag_name):
                continue
            event_id = uuid.uuid4().hex
            rows.append(
                WebhookEvent(
                    public_id=event_id,
                    account_id=message.account_id,
                    endpoint=endpoint,
                    type=CLOUD_TYPES[event.kind],
                    payload=_payload(event, at, event_id),
                )
            )
    if rows:
        WebhookEvent.objects.bulk_create(rows)
        transaction.on_commit(kick, robust=True)


def kick() -> None:
    """Start sending waiting events now; after a commit, so a broker outage only delays them (the
    schedule sends them too) and never fails what was committed."""
    try:
        async_task("stats.webhooks.deliver_due")
    except Exception:
        log.warning("could not start webhook delivery now (broker unavailable)", exc_info=True)


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
    return 200, f"XADD {endpoint.stream_key} {entry.decode()}"


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
            async_task("stats.webhooks.deliver_event", pk, claim, task_name=f"webhook {pk}")
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
