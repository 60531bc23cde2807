"""Webhook pages (owners and admins): endpoints with their recent events, the secret shown once, a test
event, replay of one event or of every failed one in a range. The work is in stats.endpoints."""

import json

from django.conf import settings
from django.contrib import messages
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from accounts.audit import Actor
from accounts.confirm import confirm_page
from accounts.errors import ServiceError
from accounts.paging import page_of
from accounts.roles import Perm
from accounts.tenancy import account_view, get_for_account
from stats.models import WebhookEndpoint, WebhookEvent
from stats.webhooks import endpoints as service
from stats.webhooks.delivery import GIVE_UP
from stats.webhooks.events import EVENT_LABELS
from stats.webhooks.forms import EndpointForm, ReplayForm

RESPONSE_SHOWN = 500  # characters of a response body on the event page


def _back(request, endpoint=None):
    if endpoint is None:
        return redirect("stats:webhooks", account_id=request.account.public_id)
    return redirect(
        "stats:webhook_detail", account_id=request.account.public_id, endpoint_id=endpoint.public_id
    )


def _fields(form: EndpointForm) -> dict:
    data = form.cleaned_data
    return {
        "kind": data["kind"],
        "url": data["url"],
        "stream": data["stream"],
        "event_types": data["event_types"],
        "sender_address": data["sender_address"],
        "tag_name": data["tag_name"],
    }


def _labels(endpoint: WebhookEndpoint) -> list[str]:
    return [str(EVENT_LABELS[kind]) for kind in endpoint.event_types if kind in EVENT_LABELS]


def _secret_page(request, endpoint: WebhookEndpoint, secret: str, created: bool):
    # The secret is in this response only: it is never shown again.
    response = render(
        request, "stats/webhook_secret.html", {"endpoint": endpoint, "secret": secret, "created": created}
    )
    response["Cache-Control"] = "no-store"
    return response


@account_view(Perm.MANAGE_KEYS)
def webhook_list(request):
    since = timezone.now() - GIVE_UP
    endpoints = list(
        request.account.webhook_endpoints.annotate(
            delivered=Count("events", filter=Q(events__created_at__gte=since, events__status="delivered")),
            failed=Count("events", filter=Q(events__created_at__gte=since, events__status="failed")),
            waiting=Count("events", filter=Q(events__status="pending")),
        )
    )
    for endpoint in endpoints:
        endpoint.labels = _labels(endpoint)
    context = {"endpoints": endpoints, "max_endpoints": service.MAX_ENDPOINTS}
    return render(request, "stats/webhook_list.html", context)


@account_view(Perm.MANAGE_KEYS)
def webhook_create(request):
    form = EndpointForm(request.POST or None, account=request.account)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint, secret = service.endpoint_create(
                account=request.account, actor=Actor.from_request(request), **_fields(form)
            )
        except ServiceError as exc:
            form.add_error(form.target_field, str(exc))
        else:
            return _secret_page(request, endpoint, secret, created=True)
    status = 400 if form.errors else 200
    return render(request, "stats/webhook_form.html", {"form": form, "endpoint": None}, status=status)


@account_view(Perm.MANAGE_KEYS)
def webhook_edit(request, endpoint_id: str):
    endpoint = get_for_account(WebhookEndpoint, request.account, public_id=endpoint_id)
    initial = {
        "kind": endpoint.kind,
        "url": endpoint.url,
        "stream": endpoint.stream or "events",
        "event_types": endpoint.event_types,
        "sender_address": endpoint.sender_address,
        "tag_name": endpoint.tag_name,
    }
    form = EndpointForm(request.POST or None, initial=initial, account=request.account)
    if request.method == "POST" and form.is_valid():
        try:
            service.endpoint_update(endpoint=endpoint, actor=Actor.from_request(request), **_fields(form))
        except ServiceError as exc:
            form.add_error(form.target_field, str(exc))
        else:
            messages.success(request, _("Endpoint saved."))
            return _back(request, endpoint)
    status = 400 if form.errors else 200
    return render(request, "stats/webhook_form.html", {"form": form, "endpoint": endpoint}, status=status)


@account_view(Perm.MANAGE_KEYS)
def webhook_detail(request, endpoint_id: str):
    endpoint = get_for_account(WebhookEndpoint, request.account, public_id=endpoint_id)
    events = endpoint.events.all()
    status = request.GET.get("status", "")
    if status in WebhookEvent.Status.values:
        events = events.filter(status=status)
    page = page_of(request, events.prefetch_related("attempt_log"))
    now = timezone.localtime()
    replay_form = ReplayForm(
        initial={
            "start": (now - GIVE_UP).strftime("%Y-%m-%dT%H:%M"),
            "end": now.strftime("%Y-%m-%dT%H:%M"),
        }
    )
    context = {
        "endpoint": endpoint,
        "page": page,
        "status": status,
        "statuses": WebhookEvent.Status.choices,
        "labels": _labels(endpoint),
        "replay_form": replay_form,
        "failed_count": endpoint.events.filter(status="failed", is_test=False).count(),
        "redis_configured": bool(settings.REDIS_URL),
    }
    return render(request, "stats/webhook_detail.html", context)


@account_view(Perm.MANAGE_KEYS)
def webhook_event(request, endpoint_id: str, event_id: str):
    endpoint = get_for_account(WebhookEndpoint, request.account, public_id=endpoint_id)
    event = get_for_account(WebhookEvent, request.account, endpoint=endpoint, public_id=event_id)
    attempts = [
        {"attempt": a, "response": a.response[:RESPONSE_SHOWN], "cut": len(a.response) > RESPONSE_SHOWN}
        for a in event.attempt_log.all()
    ]
    context = {
        "endpoint": endpoint,
        "event": event,
        "payload": json.dumps(event.payload, indent=2, ensure_ascii=False),
        "attempts": attempts,
    }
    return render(request, "stats/webhook_event.html", context)


@account_view(Perm.MANAGE_KEYS)
@require_POST
def webhook_toggle(request, endpoint_id: str):
    endpoint = get_for_account(WebhookEndpoint, request.account, public_id=endpoint_id)
    enabled = not endpoint.enabled
    service.endpoint_set_enabled(endpoint=endpoint, enabled=enabled, actor=Actor.from_request(request))
    if enabled:
        messages.success(request, _("Endpoint enabled: waiting events are sent now."))
    else:
        messages.success(request, _("Endpoint disabled: its events wait until it is enabled again."))
    return _back(request, endpoint)


@account_view(Perm.MANAGE_KEYS)
@require_POST
def webhook_test(request, endpoint_id: str):
    endpoint = get_for_account(WebhookEndpoint, request.account, public_id=endpoint_id)
    try:
        attempt = service.send_test_event(endpoint=endpoint, actor=Actor.from_request(request))
    except ServiceError as exc:
        messages.error(request, str(exc))
        return _back(request, endpoint)
    if attempt.event.status == WebhookEvent.Status.DELIVERED:
        messages.success(
            request,
            _("Test event delivered: the endpoint answered %(code)s.") % {"code": attempt.status_code},
        )
    else:
        messages.error(
            request,
            _("The test event was not delivered: %(answer)s")
            % {"answer": attempt.status_code or attempt.response[:200]},
        )
    return _back(request, endpoint)


@account_view(Perm.MANAGE_KEYS)
def webhook_secret(request, endpoint_id: str):
    endpoint = get_for_account(WebhookEndpoint, request.account, public_id=endpoint_id)
    if request.method == "POST":
        secret = service.endpoint_new_secret(endpoint=endpoint, actor=Actor.from_request(request))
        return _secret_page(request, endpoint, secret, created=False)
    return confirm_page(
        request,
        title=_("New signing secret"),
        question=_("Replace the signing secret of %(endpoint)s?") % {"endpoint": endpoint},
        explanation=_(
            "The current secret stops working at once: events signed from now on verify only with the new "
            "one. Update the receiver right after."
        ),
        button=_("Replace the secret"),
        back_url=_back(request, endpoint).url,
        back_label=str(endpoint),
    )


@account_view(Perm.MANAGE_KEYS)
def webhook_delete(request, endpoint_id: str):
    endpoint = get_for_account(WebhookEndpoint, request.account, public_id=endpoint_id)
    if request.method == "POST":
        service.endpoint_delete(endpoint=endpoint, actor=Actor.from_request(request))
        messages.success(request, _("Endpoint %(endpoint)s deleted.") % {"endpoint": endpoint})
        return _back(request)
    waiting = endpoint.events.filter(status="pending").count()
    return confirm_page(
        request,
        title=_("Delete endpoint"),
        question=_("Delete the endpoint %(endpoint)s?") % {"endpoint": endpoint},
        explanation=ngettext(
            "Its event history goes with it, and %(waiting)s event waiting to be sent is never sent. "
            "To stop it for a while, disable it instead.",
            "Its event history goes with it, and %(waiting)s events waiting to be sent are never sent. "
            "To stop it for a while, disable it instead.",
            waiting,
        )
        % {"waiting": waiting},
        button=_("Delete endpoint"),
        back_url=_back(request, endpoint).url,
        back_label=str(endpoint),
    )


@account_view(Perm.MANAGE_KEYS)
@require_POST
def webhook_event_replay(request, endpoint_id: str, event_id: str):
    endpoint = get_for_account(WebhookEndpoint, request.account, public_id=endpoint_id)
    event = get_for_account(WebhookEvent, request.account, endpoint=endpoint, public_id=event_id)
    try:
        service.event_replay(event=event, actor=Actor.from_request(request))
    except ServiceError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, _("Event %(id)s is being sent again, with the same id.") % {"id": event.public_id}
        )
    return redirect(
        "stats:webhook_event",
        account_id=request.account.public_id,
        endpoint_id=endpoint.public_id,
        event_id=event.public_id,
    )


@account_view(Perm.MANAGE_KEYS)
@require_POST
def webhook_replay_failed(request, endpoint_id: str):
    endpoint = get_for_account(WebhookEndpoint, request.account, public_id=endpoint_id)
    form = ReplayForm(request.POST)
    if not form.is_valid():
        errors = "; ".join(str(e) for field_errors in form.errors.values() for e in field_errors)
        messages.error(request, _("Nothing replayed: %(errors)s") % {"errors": errors})
        return _back(request, endpoint)
    try:
        count = service.events_replay_failed(
            endpoint=endpoint,
            start=form.cleaned_data["start"],
            end=form.cleaned_data["end"],
            actor=Actor.from_request(request),
        )
    except ServiceError as exc:
        messages.error(request, str(exc))
    else:
        if count:
            messages.success(
                request,
                ngettext(
                    "%(count)s failed event is being sent again.",
                    "%(count)s failed events are being sent again.",
                    count,
                )
                % {"count": count},
            )
        else:
            messages.info(request, _("No failed events in that range."))
    return _back(request, endpoint)
