"""Webhook events from what happens to mail: the sending.events listener, and DirectMail's payload.

`on_events` hears every event sending.events records, in that transaction: it writes one WebhookEvent per
enabled endpoint of the account that wants the event's type (and matches its sender and tag filters), with
a CloudEvents 1.0 payload in DirectMail's shape and a stable id; stats.webhooks.delivery sends them.
`on_graylist_result` does the same for the end of a greylist check (sending.validation_graylist), which is
of no message: every endpoint that chose it gets it, whatever its sender and tag filters.
"""

import uuid

from django.db import transaction
from django.utils.translation import gettext_lazy

from sending.events import KINDS, Event
from sending.models import GraylistCheck
from stats.models import WebhookEndpoint, WebhookEvent
from stats.webhooks import delivery

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
    "graylist": gettext_lazy("Greylist check results (address validation)"),
}
# Not of a message: the late answer of a greylisted probe (ValidateEmail with CheckGraylist).
GRAYLIST = "graylist"
GRAYLIST_TYPE = "dm:Validator:GrayListResult"


def cloud_type(choice: str) -> str:
    """The CloudEvents type of an endpoint's event choice (a key of EVENT_LABELS)."""
    return GRAYLIST_TYPE if choice == GRAYLIST else CLOUD_TYPES[choice]


def _error_text(event: Event) -> str:
    detail = event.detail
    if event.kind == "unsubscribed":
        return str(detail.get("how", ""))
    text = str(detail.get("text", ""))
    return f"{detail['status']} {text}" if detail.get("status") else text  # a DSN's status first


# A complaint's feedback-report fields (sending.complaints), in dm:Feedback:FblReport's data.
_FEEDBACK_FIELDS = ("feedback_type", "user_agent", "source_ip", "arrival_date", "reporter")


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
            # Ours: why it did not arrive (sending.bounce_categories), for deferrals and failures.
            "bounce_category": event.detail.get("category", ""),
            # Ours: the TLS of the session (sending.tls_policy): version, cipher, verified, policy.
            "tls": event.detail.get("tls", {}),
            "url": event.detail.get("url", ""),
            "header": {"X-Notify-Message-ID": (envelope.headers or {}).get("X-Notify-Message-ID", "")},
            **(
                {name: event.detail.get(name, "") for name in _FEEDBACK_FIELDS}
                if event.kind == "complained"
                else {}
            ),
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
        transaction.on_commit(delivery.kick, robust=True)


def graylist_data(check: GraylistCheck) -> dict:
    """dm:Validator:GrayListResult's data: the address, its final Status and SubStatus as ValidateEmail
    answers them, and the RequestId of the ValidateEmail call that asked."""
    local, _at, domain = check.email.rpartition("@")
    return {
        "email": check.email,
        "status": check.status,
        "sub_status": check.sub_status,
        "local_part": local,
        "domain_part": domain,
        "request_id": check.request_id,
        "check_time": (check.finished_at or check.created_at).isoformat(),
        "retries": check.attempts,
    }


def graylist_payload(account_id: int, data: dict, at, event_id: str) -> dict:
    return {
        "specversion": "1.0",
        "source": "acs:dm",
        "type": GRAYLIST_TYPE,
        "id": event_id,
        "time": at.isoformat(),
        "subject": f"acs:dm:{account_id}:validator",
        "datacontenttype": "application/json",
        "data": data,
    }


def on_graylist_result(check: GraylistCheck) -> None:
    """WebhookEvents for an ended greylist check (sending.validation_graylist listener)."""
    rows = []
    for endpoint in WebhookEndpoint.objects.filter(account_id=check.account_id, enabled=True):
        if GRAYLIST not in endpoint.event_types:
            continue
        event_id = uuid.uuid4().hex
        payload = graylist_payload(check.account_id, graylist_data(check), check.finished_at, event_id)
        rows.append(WebhookEvent(public_id=event_id, account_id=check.account_id, endpoint=endpoint,
                                 type=GRAYLIST_TYPE, payload=payload))  # fmt: skip
    if rows:
        WebhookEvent.objects.bulk_create(rows)
        transaction.on_commit(delivery.kick, robust=True)
