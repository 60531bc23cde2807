"""Signed webhook notifications of what happens to mail, delivered with retries.

`enqueue()` is called where a message's event is recorded, in that transaction: it writes one WebhookEvent
per enabled endpoint of the account that wants the event type (and matches its sender and tag filters),
with a CloudEvents 1.0 payload in DirectMail's shape and a stable id. Nothing is lost if a worker dies: the
events are rows, and `deliver_due` (every minute, and kicked after a commit) posts the due ones. Each POST
is signed: `X-DirectMail-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the endpoint's
secret>`. A 2xx answer delivers; anything else retries after 1 min, 5 min, 30 min, 2 h, 6 h, then every
6 h until 24 h have passed, when the event fails; an endpoint failing for a day is disabled and its
account's owners are mailed. Targets go through stats.netguard (no internal addresses, no redirects).
"""

import hashlib
import hmac
import json
import logging
import time
import uuid
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.crypto import decrypt
from stats import netguard
from stats.models import WebhookAttempt, WebhookEndpoint, WebhookEvent

log = logging.getLogger(__name__)

# Our event types -> DirectMail's CloudEvents types.
CLOUD_TYPES = {
    "delivered": "dm:Deliver:Succeed",
    "failed": "dm:Deliver:Fail",
    "invalid": "dm:Deliver:Fail",
    "deferred": "dm:Deliver:Delay",
    "opened": "dm:Trace:Open",
    "clicked": "dm:Trace:Click",
    "unsubscribed": "dm:Feedback:UnSubscribe",
    "complained": "dm:Feedback:FblReport",
}
BACKOFF = [
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
]
GIVE_UP = timedelta(hours=24)
TIMEOUT = 10.0


def _payload(message, kind: str, at, detail: dict, event_id: str) -> dict:
    envelope = message.envelope
    return {
        "specversion": "1.0",
        "source": "acs:dm",
        "type": CLOUD_TYPES[kind],
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
            "status": kind,
            "err_code": detail.get("code"),
            "err_msg": detail.get("text", ""),
            "failed_type": "invalid_address" if kind == "invalid" else ("failed" if kind == "failed" else ""),
            "url": detail.get("url", ""),
            "header": {"X-Notify-Message-ID": (envelope.headers or {}).get("X-Notify-Message-ID", "")},
        },
    }


def enqueue(message, kind: str, at, detail: dict | None = None) -> int:
    """WebhookEvents for an event of `message`; returns how many. Call in the event's transaction."""
    return enqueue_many([(message, detail or {})], kind, at)


def enqueue_many(items: list[tuple], kind: str, at) -> int:
    """enqueue() for several (message, detail) pairs of one event kind: one endpoint query per account."""
    if kind not in CLOUD_TYPES or not items:
        return 0
    accounts = {message.account_id for message, _detail in items}
    endpoints: dict[int, list[WebhookEndpoint]] = {}
    for endpoint in WebhookEndpoint.objects.filter(account_id__in=accounts, enabled=True):
        if kind in endpoint.event_types:
            endpoints.setdefault(endpoint.account_id, []).append(endpoint)
    events = []
    for message, detail in items:
        envelope = message.envelope
        for endpoint in endpoints.get(message.account_id, []):
            if endpoint.sender_address not in ("", envelope.sender.address):
                continue
            if endpoint.tag_name not in ("", envelope.tag_name):
                continue
            event_id = uuid.uuid4().hex
            events.append(
                WebhookEvent(
                    public_id=event_id,
                    account_id=message.account_id,
                    endpoint=endpoint,
                    type=CLOUD_TYPES[kind],
                    payload=_payload(message, kind, at, detail, event_id),
                )
            )
    if events:
        WebhookEvent.objects.bulk_create(events)
        transaction.on_commit(_kick)
    return len(events)


def _kick() -> None:
    from django_q.tasks import async_task

    async_task("stats.webhooks.deliver_due")


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


def attempt(event: WebhookEvent) -> bool:
    """POST the event once and record the outcome; True when it was delivered."""
    endpoint = event.endpoint
    body = json.dumps(event.payload, ensure_ascii=False, separators=(",", ":")).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/cloudevents+json; charset=utf-8",
        "User-Agent": "directmail-webhooks",
        "X-DirectMail-Event-Id": event.public_id,
        "X-DirectMail-Timestamp": str(timestamp),
        "X-DirectMail-Signature": sign(decrypt(endpoint.secret_encrypted), timestamp, body),
    }
    started = time.monotonic()
    status, text = None, ""
    try:
        response = netguard.post(endpoint.url, body, headers, timeout=TIMEOUT)
        status, text = response.status, response.body
    except netguard.UnsafeTarget as exc:
        text = f"refused: {exc}"
    except Exception as exc:  # network failures of every kind: recorded, retried
        text = f"{type(exc).__name__}: {exc}"[:500]
    now = timezone.now()
    delivered = status is not None and 200 <= status < 300
    event.attempts += 1
    if delivered:
        event.status, event.finished_at = WebhookEvent.Status.DELIVERED, now
    elif now - event.created_at >= GIVE_UP:
        event.status, event.finished_at = WebhookEvent.Status.FAILED, now
    else:
        wait = BACKOFF[min(event.attempts - 1, len(BACKOFF) - 1)]
        event.next_attempt_at = min(now + wait, event.created_at + GIVE_UP)
    with transaction.atomic():
        event.save(update_fields=["status", "finished_at", "attempts", "next_attempt_at"])
        WebhookAttempt.objects.create(
            event=event, at=now, status_code=status, response=text[:2000],
            duration_ms=int((time.monotonic() - started) * 1000),
        )  # fmt: skip
        _health(endpoint, delivered, now)
    return delivered


def _health(endpoint: WebhookEndpoint, delivered: bool, now) -> None:
    """An endpoint that has failed for a day is disabled, and the account's owners hear of it."""
    if delivered:
        if endpoint.failing_since:
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=None)
        return
    if endpoint.failing_since is None:
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=now)
    elif now - endpoint.failing_since >= GIVE_UP and endpoint.enabled:
        reason = "every delivery failed for 24 hours"
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(enabled=False, disabled_reason=reason)
        transaction.on_commit(lambda: _mail_owners(endpoint))


def _mail_owners(endpoint: WebhookEndpoint) -> None:
    from django.core.mail import send_mail

    owners = endpoint.account.memberships.filter(role="owner").values_list("user__email", flat=True)
    send_mail(
        f"Webhook disabled: {endpoint.url}",
        f"Every delivery to {endpoint.url} failed for 24 hours, so it was disabled. "
        "Fix the receiver, then enable it again in the console; failed events can be replayed.",
        None,
        list(owners),
    )


def deliver_due(max_seconds: float = 50) -> dict[str, int]:
    """Post every due event (each claimed by pushing its next attempt out first, so two workers never post
    the same attempt); returns counts."""
    deadline = time.monotonic() + max_seconds
    counts = {"delivered": 0, "retrying": 0}
    while time.monotonic() < deadline:
        now = timezone.now()
        due = list(
            WebhookEvent.objects.filter(status=WebhookEvent.Status.PENDING, next_attempt_at__lte=now)
            .select_related("endpoint__account")
            .order_by("next_attempt_at")[:50]
        )
        if not due:
            break
        for event in due:
            claimed = WebhookEvent.objects.filter(
                pk=event.pk, status=WebhookEvent.Status.PENDING, next_attempt_at=event.next_attempt_at
            ).update(next_attempt_at=now + timedelta(seconds=TIMEOUT * 3))
            if not claimed:
                continue
            if not event.endpoint.enabled:
                WebhookEvent.objects.filter(pk=event.pk).update(next_attempt_at=now + timedelta(hours=1))
                continue
            counts["delivered" if attempt(event) else "retrying"] += 1
    return counts
