"""Webhook endpoints as owners and admins manage them: create (the signing secret is returned once), change,
enable or disable, delete, new secret, send a test event, replay one event or every failed one in a time
range. Every change is audited; a URL is checked by sending.netguard before it is saved or tested (and again
at connect time, in stats.webhooks)."""

import re
import secrets
import uuid

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import Actor, audit_record
from accounts.crypto import encrypt
from accounts.errors import ServiceError
from accounts.limits import lock_account
from accounts.models import Account
from sending import netguard
from stats.models import WebhookAttempt, WebhookEndpoint, WebhookEvent
from stats.webhooks import delivery
from stats.webhooks.events import EVENT_LABELS, GRAYLIST, cloud_type, graylist_payload

MAX_ENDPOINTS = 20  # per account
STREAM_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def _new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def _checked(kind: str, url: str, stream: str, event_types: list[str]) -> dict:
    """The target fields to save, or ServiceError saying what is wrong with them."""
    if not event_types or not set(event_types) <= set(EVENT_LABELS):
        raise ServiceError(_("Choose at least one event type."))
    if kind == WebhookEndpoint.Kind.REDIS:
        if not settings.REDIS_URL:
            raise ServiceError(_("Redis streams need REDIS_URL set on this installation."))
        if not STREAM_NAME.match(stream):
            raise ServiceError(_("A stream name is 1-64 letters, digits, dots, dashes or underscores."))
        return {"kind": kind, "url": "", "stream": stream}
    if kind != WebhookEndpoint.Kind.WEBHOOK:
        raise ServiceError(_("Unknown endpoint kind."))
    try:
        netguard.check_url(url)
    except netguard.UnsafeTarget as exc:
        raise ServiceError(str(exc)) from exc
    return {"kind": kind, "url": url.strip(), "stream": ""}


@transaction.atomic
def endpoint_create(
    *,
    account: Account,
    kind: str = WebhookEndpoint.Kind.WEBHOOK,
    url: str = "",
    stream: str = "",
    event_types: list[str],
    sender_address: str = "",
    tag_name: str = "",
    actor: Actor,
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret, which is never readable again."""
    target = _checked(kind, url, stream, event_types)
    lock_account(account)
    if account.webhook_endpoints.count() >= MAX_ENDPOINTS:
        raise ServiceError(
            _("An account can have %(limit)s endpoints; delete one first.") % {"limit": MAX_ENDPOINTS}
        )
    secret = _new_secret()
    endpoint = WebhookEndpoint.objects.create(
        account=account,
        event_types=list(event_types),
        sender_address=sender_address,
        tag_name=tag_name,
        secret_encrypted=encrypt(secret),
        **target,
    )
    audit_record(
        actor=actor, action="webhook.create", account=account, target=endpoint,
        details={"events": endpoint.event_types},
    )  # fmt: skip
    return endpoint, secret


@transaction.atomic
def endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    kind: str,
    url: str = "",
    stream: str = "",
    event_types: list[str],
    sender_address: str = "",
    tag_name: str = "",
    actor: Actor,
) -> WebhookEndpoint:
    target = _checked(kind, url, stream, event_types)
    for field, value in {
        **target,
        "event_types": list(event_types),
        "sender_address": sender_address,
        "tag_name": tag_name,
    }.items():
        setattr(endpoint, field, value)
    endpoint.save()
    audit_record(
        actor=actor, action="webhook.update", account=endpoint.account, target=endpoint,
        details={"events": endpoint.event_types},
    )  # fmt: skip
    return endpoint


def endpoint_set_enabled(*, endpoint: WebhookEndpoint, enabled: bool, actor: Actor) -> None:
    """Disabled endpoints keep their events waiting; enabling sends them (and clears the failure streak)."""
    with transaction.atomic():
        endpoint.enabled = enabled
        if enabled:
            endpoint.failing_since, endpoint.disabled_reason = None, ""
        endpoint.save(update_fields=["enabled", "failing_since", "disabled_reason"])
        audit_record(
            actor=actor,
            action="webhook.enable" if enabled else "webhook.disable",
            account=endpoint.account,
            target=endpoint,
        )
        if enabled:
            transaction.on_commit(delivery.kick)


@transaction.atomic
def endpoint_delete(*, endpoint: WebhookEndpoint, actor: Actor) -> None:
    audit_record(actor=actor, action="webhook.delete", account=endpoint.account, target=endpoint)
    endpoint.delete()


@transaction.atomic
def endpoint_new_secret(*, endpoint: WebhookEndpoint, actor: Actor) -> str:
    """Replace the signing secret at once (the old one stops verifying); returns the new one."""
    secret = _new_secret()
    endpoint.secret_encrypted = encrypt(secret)
    endpoint.save(update_fields=["secret_encrypted"])
    audit_record(actor=actor, action="webhook.new_secret", account=endpoint.account, target=endpoint)
    return secret


def send_test_event(*, endpoint: WebhookEndpoint, actor: Actor) -> WebhookAttempt:
    """Send one sample event now, while the user waits (one attempt, no retries), and return the outcome.
    The URL is checked first, so an internal target is refused without a connection being made."""
    if endpoint.kind == WebhookEndpoint.Kind.WEBHOOK:
        try:
            netguard.check_url(endpoint.url)
        except netguard.UnsafeTarget as exc:
            raise ServiceError(str(exc)) from exc
    now = timezone.now()
    kind = str(endpoint.event_types[0]) if endpoint.event_types else "delivered"
    event_id = uuid.uuid4().hex
    payload = (
        _sample_graylist(endpoint, now, event_id)
        if kind == GRAYLIST
        else {
            "specversion": "1.0",
            "source": "acs:dm",
            "type": cloud_type(kind),
            "id": event_id,
            "time": now.isoformat(),
            "subject": f"acs:dm:{endpoint.account_id}:test",
            "datacontenttype": "application/json",
            "data": {
                "env_id": "test",
                "msg_id": f"<test.{event_id}@directmail>",
                "account": endpoint.sender_address or "sender@example.com",
                "from": endpoint.sender_address or "sender@example.com",
                "rcpt": "recipient@example.com",
                "tag": endpoint.tag_name,
                "send_time": now.isoformat(),
                "deliver_time": now.isoformat(),
                "status": kind,
                "err_code": None,
                "err_msg": "",
                "failed_type": "",
                "url": "",
                "header": {"X-Notify-Message-ID": ""},
                "test": True,
            },
        }
    )
    event = WebhookEvent.objects.create(
        public_id=event_id,
        account=endpoint.account,
        endpoint=endpoint,
        type=cloud_type(kind),
        payload=payload,
        is_test=True,
    )
    audit_record(actor=actor, action="webhook.test", account=endpoint.account, target=endpoint)
    return delivery.attempt(event, retry=False)


def _sample_graylist(endpoint: WebhookEndpoint, now, event_id: str) -> dict:
    data = {"email": "recipient@example.com", "status": "VALID", "sub_status": "UNSPECIFIED",
            "local_part": "recipient", "domain_part": "example.com", "request_id": "test",
            "check_time": now.isoformat(), "retries": 1, "test": True}  # fmt: skip
    return graylist_payload(endpoint.account_id, data, now, event_id)


def _replay(events, actor: Actor, endpoint: WebhookEndpoint, details: dict) -> int:
    now = timezone.now()
    with transaction.atomic():
        count = events.update(
            status=WebhookEvent.Status.PENDING, next_attempt_at=now, retry_from=now, finished_at=None
        )
        audit_record(
            actor=actor, action="webhook.replay", account=endpoint.account, target=endpoint,
            details={**details, "events": count},
        )  # fmt: skip
        if count:
            transaction.on_commit(delivery.kick)
    return count


def event_replay(*, event: WebhookEvent, actor: Actor) -> None:
    """Send the event again, with the same id, and retry it for another 24 hours if it fails."""
    if event.is_test:
        raise ServiceError(_("Test events are not replayed; send a new one."))
    if event.status == WebhookEvent.Status.PENDING:
        raise ServiceError(_("This event is still being sent."))
    _replay(WebhookEvent.objects.filter(pk=event.pk), actor, event.endpoint, {"event": event.public_id})


def events_replay_failed(*, endpoint: WebhookEndpoint, start, end, actor: Actor) -> int:
    """Replay every failed event of the endpoint created in [start, end); returns how many."""
    if end <= start:
        raise ServiceError(_("The end of the range must be after its start."))
    failed = endpoint.events.filter(
        status=WebhookEvent.Status.FAILED, is_test=False, created_at__gte=start, created_at__lt=end
    )
    return _replay(failed, actor, endpoint, {"from": start.isoformat(), "to": end.isoformat()})
