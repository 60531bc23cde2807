"""The message log with its detail timeline, the console's test send, and the Outbox of captured mail."""

import email
from email.policy import default as default_policy

from django.contrib import messages as flash
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_sameorigin

from accounts.filters import between_days
from accounts.paging import page_of
from accounts.roles import Perm
from accounts.tenancy import account_view, get_for_account
from sending.forms import MessageFilterForm, TestSendForm
from sending.models import CapturedMessage, Envelope, Message, SenderAddress
from sending.services import messages as service


@account_view(Perm.VIEW)
def message_list(request):
    account = request.account
    form = MessageFilterForm(request.GET or None)
    rows = (
        Message.objects.filter(account=account)
        .select_related("envelope__sender__domain")
        .order_by("-created_at", "-pk")
    )
    if form.is_valid():
        data = form.cleaned_data
        if data["q"]:
            q = data["q"].strip()
            rows = rows.filter(
                Q(rcpt__icontains=q)
                | Q(envelope__env_id=q)
                | Q(subject__icontains=q)
                | Q(subject="", envelope__subject__icontains=q)
            )
        if data["state"]:
            rows = rows.filter(state=data["state"])
        if data["category"]:
            rows = rows.filter(bounce_category=data["category"])
        if data["sender"]:
            rows = rows.filter(envelope__sender__address__icontains=data["sender"].strip())
        if data["tag"]:
            rows = rows.filter(envelope__tag_name=data["tag"].strip())
        rows = between_days(rows, "created_at", data["since"], data["until"])
    can_send = request.membership.can(Perm.SEND)
    context = {
        "form": form,
        "page": page_of(request, rows, per_page=50),
        "can_send": can_send,
        "daily_used": service.quota_used(account, "day"),
        "daily_limit": account.limit("daily_quota"),
    }
    return render(request, "sending/message_list.html", context)


@account_view(Perm.VIEW)
def message_detail(request, message_id: str):
    message = get_for_account(
        Message.objects.select_related("envelope__sender", "captured"), request.account, message_id=message_id
    )
    context = {
        "message": message,
        "attempts": message.delivery_attempts.all(),
        "events": message.events.all(),
        "siblings": message.envelope.messages.exclude(pk=message.pk).count(),
    }
    return render(request, "sending/message_detail.html", context)


@account_view(Perm.SEND)
def test_send(request):
    account = request.account
    initial = {}
    chosen = request.GET.get("sender", "")
    sender = (
        SenderAddress.objects.alive().filter(account=account, public_id=chosen).first() if chosen else None
    )
    if sender is not None:
        initial = {"sender": sender}
        if sender.domain.sandbox:  # "Send a test message now": everything filled in, to the Outbox
            initial.update(
                to=request.user.email,
                subject=_("A first message from directmail"),
                html_body=_("<p>Hello! This message was sent from your sandbox and kept in your Outbox.</p>"),
            )
    form = TestSendForm(request.POST or None, account=account, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            content = service.Content(
                subject=data["subject"], html_body=data["html_body"], text_body=data["text_body"]
            )
            mail = service.Mail(
                account=account,
                sender=data["sender"],
                to=data["to"],
                content=content,
                tag_name=data["tag"].name if data["tag"] else "",
                source=Envelope.Source.CONSOLE,
            )
            result = service.message_enqueue(mail)
        except service.EnqueueError as exc:
            form.add_error(None, str(exc))
        except service.TemporaryFailure:
            form.add_error(None, _("The message could not be stored just now. Nothing was sent; try again."))
        else:
            text = _("Accepted with EnvId %(env_id)s: %(accepted)s queued.") % {
                "env_id": result.env_id,
                "accepted": result.accepted,
            }
            if result.invalid:
                text += " " + _("%(n)s suppressed address(es) dropped.") % {"n": result.invalid}
            flash.success(request, text)
            return redirect(reverse("sending:messages", args=[account.public_id]) + f"?q={result.env_id}")
    return render(request, "sending/test_send.html", {"form": form}, status=400 if form.errors else 200)


@account_view(Perm.VIEW)
def outbox(request):
    rows = (
        CapturedMessage.objects.filter(account=request.account)
        .select_related("message__envelope")
        .order_by("-created_at", "-pk")
    )
    query = request.GET.get("q", "").strip()
    if query:
        rows = rows.filter(
            Q(message__rcpt__icontains=query)
            | Q(message__subject__icontains=query)
            | Q(message__subject="", message__envelope__subject__icontains=query)
        )
    return render(request, "sending/outbox.html", {"page": page_of(request, rows)})


def _parsed(captured: CapturedMessage):
    return email.message_from_bytes(bytes(captured.raw), policy=default_policy)


@account_view(Perm.VIEW)
def outbox_detail(request, message_id: str):
    captured = get_for_account(
        CapturedMessage.objects.select_related("message__envelope__sender__domain"),
        request.account,
        message__message_id=message_id,
    )
    parsed = _parsed(captured)
    text_part = parsed.get_body(("plain",))
    context = {
        "captured": captured,
        "headers": list(parsed.items()),
        "text": text_part.get_content() if text_part else "",
        "has_html": parsed.get_body(("html",)) is not None,
        "raw": bytes(captured.raw).decode("utf-8", "replace"),
        # The summary above the tabs, as a mail client shows it.
        "summary": {
            "from": str(parsed.get("From", "")),
            "to": str(parsed.get("To", "")) or captured.message.rcpt,
            "reply_to": str(parsed.get("Reply-To", "")),
        },
    }
    return render(request, "sending/outbox_detail.html", context)


@account_view(Perm.VIEW)
@xframe_options_sameorigin
def outbox_html(request, message_id: str):
    """The HTML part alone, for a sandboxed iframe: no scripts, no same-origin rights, no plugins."""
    captured = get_for_account(CapturedMessage, request.account, message__message_id=message_id)
    part = _parsed(captured).get_body(("html",))
    response = HttpResponse(part.get_content() if part else "", content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = (
        "sandbox; default-src 'none'; img-src data: https:; style-src 'unsafe-inline'"
    )
    return response
