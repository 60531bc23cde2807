"""Sender address pages: list, create, detail (reply-to, SMTP password), delete; the reply-to link."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.audit import Actor
from accounts.confirm import confirm_page
from accounts.errors import ServiceError
from accounts.paging import page_of
from accounts.reauth import recent_password_required
from accounts.roles import Perm
from accounts.tenancy import account_view, get_for_account
from sending.forms import ReplyToForm, SenderAddressForm, SmtpPasswordForm
from sending.models import Domain, DomainStatus, SenderAddress
from sending.services import senders as service
from sending.smtp import clients as smtp_clients


def _deletions(account) -> dict:
    used = service.deletions_this_month(account)
    limit = account.limit("sender_address_deletions")
    return {"used": used, "limit": limit, "left": max(0, limit - used)}


@account_view(Perm.VIEW)
def sender_list(request):
    account = request.account
    senders = (
        SenderAddress.objects.alive().filter(account=account).select_related("domain").order_by("address")
    )
    query = request.GET.get("q", "").strip()
    if query:
        senders = senders.filter(Q(address__icontains=query) | Q(send_type=query))
    can_manage = request.membership.can(Perm.MANAGE_SENDERS)
    verified = Domain.objects.alive().filter(account=account, status=DomainStatus.VERIFIED).exists()
    context = {
        "page": page_of(request, senders),
        "form": SenderAddressForm(account=account) if can_manage and verified else None,
        "has_verified_domain": verified,
        "deletions": _deletions(account),
        "used": account.sender_addresses.alive().own().count(),
        "limit": account.limit("max_sender_addresses"),
    }
    return render(request, "sending/sender_list.html", context)


@account_view(Perm.MANAGE_SENDERS)
@require_POST
def sender_create(request):
    account = request.account
    form = SenderAddressForm(request.POST, account=account)
    if form.is_valid():
        data = form.cleaned_data
        try:
            sender = service.sender_address_create(
                account=account,
                domain=data["domain"],
                local_part=data["local_part"],
                send_type=data["send_type"],
                reply_to=data["reply_to"],
                actor=Actor.from_request(request),
            )
        except ServiceError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                _("%(address)s created. Set an SMTP password to send over SMTP.") % {"address": sender},
            )
            return redirect("sending:sender_detail", account_id=account.public_id, sender_id=sender.public_id)
    senders = (
        SenderAddress.objects.alive().filter(account=account).select_related("domain").order_by("address")
    )
    context = {
        "page": page_of(request, senders),
        "form": form,
        "has_verified_domain": True,
        "deletions": _deletions(account),
        "used": account.sender_addresses.alive().own().count(),
        "limit": account.limit("max_sender_addresses"),
    }
    return render(request, "sending/sender_list.html", context, status=400)


def _get_sender(request, sender_id: str) -> SenderAddress:
    return get_for_account(
        SenderAddress.objects.alive().select_related("domain"), request.account, public_id=sender_id
    )


@account_view(Perm.VIEW)
def sender_detail(request, sender_id: str):
    sender = _get_sender(request, sender_id)
    can_manage = request.membership.can(Perm.MANAGE_SENDERS)
    reply_to_form = (
        ReplyToForm(request.POST or None, initial={"reply_to": sender.reply_to}) if can_manage else None
    )
    if request.method == "POST":
        if reply_to_form is None:
            raise PermissionDenied(_("Your role may not change sender addresses."))
        if reply_to_form.is_valid():
            try:
                service.sender_address_set_reply_to(
                    sender=sender,
                    reply_to=reply_to_form.cleaned_data["reply_to"],
                    actor=Actor.from_request(request),
                )
            except ServiceError as exc:
                reply_to_form.add_error("reply_to", str(exc))
            else:
                if sender.reply_to and not sender.reply_to_verified:
                    messages.success(
                        request,
                        _("We mailed a confirmation link to %(address)s.") % {"address": sender.reply_to},
                    )
                else:
                    messages.success(request, _("Reply-to saved."))
                return redirect(
                    "sending:sender_detail", account_id=request.account.public_id, sender_id=sender.public_id
                )
    context = {
        "sender": sender,
        "can_manage": can_manage,
        "reply_to_form": reply_to_form,
        "deletions": _deletions(request.account),
        "smtp": smtp_clients.client_settings(),
        "smtp_snippets": smtp_clients.snippets(sender.address),
    }
    return render(request, "sending/sender_detail.html", context)


@account_view(Perm.MANAGE_SENDERS)
@recent_password_required
def sender_smtp_password(request, sender_id: str):
    sender = _get_sender(request, sender_id)
    form = SmtpPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            password = service.sender_address_set_smtp_password(
                sender=sender, password=form.cleaned_data["password"], actor=Actor.from_request(request)
            )
        except ServiceError as exc:
            form.add_error("password", str(exc))
        else:
            context = {
                "sender": sender,
                "password": password,
                "smtp": smtp_clients.client_settings(),
                "smtp_snippets": smtp_clients.snippets(sender.address, password),
            }
            response = render(request, "sending/smtp_password_set.html", context)
            response["Cache-Control"] = "no-store"
            return response
    return render(request, "sending/smtp_password_form.html", {"sender": sender, "form": form})


@account_view(Perm.MANAGE_SENDERS)
def sender_delete(request, sender_id: str):
    sender = _get_sender(request, sender_id)
    detail = redirect(
        "sending:sender_detail", account_id=request.account.public_id, sender_id=sender.public_id
    )
    if request.method == "POST":
        try:
            service.sender_address_delete(sender=sender, actor=Actor.from_request(request))
        except ServiceError as exc:
            messages.error(request, str(exc))
            return detail
        messages.success(request, _("%(address)s deleted.") % {"address": sender})
        return redirect("sending:sender_addresses", account_id=request.account.public_id)
    deletions = _deletions(request.account)
    return confirm_page(
        request,
        title=_("Delete sender address"),
        question=_("Delete %(address)s?") % {"address": sender},
        explanation=_(
            "Mail can no longer be sent from it. "
            "Deletions are limited: %(left)s of %(limit)s left this month."
        )
        % deletions,
        button=_("Delete sender address"),
        back_url=detail.url,
        back_label=str(sender),
    )


def reply_to_verify(request, token: str):
    """The link mailed to a reply-to address; needs no login (the mailbox owner may not have one)."""
    try:
        sender = service.reply_to_verify(token=token)
    except ServiceError as exc:
        return render(request, "sending/reply_to_verified.html", {"error": str(exc)}, status=400)
    return render(request, "sending/reply_to_verified.html", {"sender": sender})
