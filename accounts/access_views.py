"""Console pages for API access keys and IP protection (owners and admins), and password confirmation."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from accounts import access, throttle
from accounts.audit import Actor
from accounts.confirm import confirm_page
from accounts.errors import ServiceError
from accounts.forms import CrispyForm
from accounts.models import AccessKey, IpFilter
from accounts.network import client_ip, ip_allowed, parse_network
from accounts.reauth import mark_recent, recent_password_required
from accounts.roles import Perm
from accounts.snippets import api_endpoint, sdk_snippets
from accounts.tenancy import account_view, get_for_account


class ConfirmPasswordForm(CrispyForm):
    submit_label = gettext_lazy("Confirm")
    password = forms.CharField(
        label=gettext_lazy("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autofocus": True}),
    )

    def __init__(self, *args, user, ip: str | None, **kwargs):
        self.user, self.ip = user, ip
        super().__init__(*args, **kwargs)

    def clean_password(self):
        """Limited like log-in, and counted with it (accounts.throttle): a stolen session cannot guess."""
        scopes = throttle.console_scopes(self.user.email, self.ip)
        if throttle.attempts_take(scopes) is not None:
            raise throttle.console_refusal()
        if not self.user.check_password(self.cleaned_data["password"]):
            throttle.console_failed(scopes, login=self.user.email, ip=self.ip)
            raise forms.ValidationError(_("That is not your password."))
        for scope in scopes:
            throttle.attempt_give_back(scope)
        return self.cleaned_data["password"]


@login_required
def confirm_password(request):
    next_url = request.POST.get("next") or request.GET.get("next") or "/"
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = "/"
    form = ConfirmPasswordForm(request.POST or None, user=request.user, ip=client_ip(request))
    if request.method == "POST" and form.is_valid():
        mark_recent(request)
        return redirect(next_url)
    return render(request, "accounts/confirm_password.html", {"form": form, "next": next_url})


class AccessKeyForm(CrispyForm):
    submit_label = gettext_lazy("Create access key")
    description = forms.CharField(
        label=gettext_lazy("Description"),
        max_length=100,
        required=False,
        help_text=gettext_lazy("Where the key is used, e.g. “order service, production”."),
    )


@account_view(Perm.MANAGE_KEYS)
def access_keys(request):
    keys = list(request.account.access_keys.select_related("created_by"))
    key_id = keys[0].key_id if keys else "<your AccessKey ID>"
    context = {"keys": keys, "form": AccessKeyForm(), **_snippet_context(request, key_id)}
    return render(request, "accounts/access_keys.html", context)


def _snippet_context(request, key_id: str, secret: str = "") -> dict:
    # The account's first own sender address, else its sandbox's (read through the relation, not sending's
    # models): the snippet sends as it stands.
    sender = (
        request.account.sender_addresses.filter(deleted_at__isnull=True)
        .order_by("domain__sandbox", "created_at")
        .values_list("address", flat=True)
        .first()
    )
    return {
        "snippets": sdk_snippets(key_id=key_id, secret=secret, sender=sender or ""),
        "api_endpoint": api_endpoint()[0],
    }


@account_view(Perm.MANAGE_KEYS)
@recent_password_required
def access_key_create(request):
    form = AccessKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            key, secret = access.access_key_create(
                account=request.account,
                description=form.cleaned_data["description"],
                actor=Actor.from_request(request),
            )
        except ServiceError as exc:
            messages.error(request, str(exc))
            return redirect("accounts:access_keys", account_id=request.account.public_id)
        # The secret is in this response only: it is never shown again.
        context = {"key": key, "secret": secret, **_snippet_context(request, key.key_id, secret)}
        response = render(request, "accounts/access_key_created.html", context)
        response["Cache-Control"] = "no-store"
        return response
    return render(request, "accounts/access_key_new.html", {"form": form})


@account_view(Perm.MANAGE_KEYS)
@require_POST
def access_key_toggle(request, key_id: str):
    key = get_for_account(AccessKey, request.account, key_id=key_id)
    access.access_key_set_active(key=key, active=not key.is_active, actor=Actor.from_request(request))
    if key.is_active:
        messages.success(request, _("%(key)s is enabled.") % {"key": key.key_id})
    else:
        messages.success(
            request, _("%(key)s is disabled: requests signed with it are refused.") % {"key": key.key_id}
        )
    return redirect("accounts:access_keys", account_id=request.account.public_id)


@account_view(Perm.MANAGE_KEYS)
def access_key_delete(request, key_id: str):
    key = get_for_account(AccessKey, request.account, key_id=key_id)
    back = redirect("accounts:access_keys", account_id=request.account.public_id)
    if request.method == "POST":
        access.access_key_delete(key=key, actor=Actor.from_request(request))
        messages.success(request, _("Access key %(key)s deleted.") % {"key": key.key_id})
        return back
    return confirm_page(
        request,
        title=_("Delete access key"),
        question=_("Delete access key %(key)s?") % {"key": key.key_id},
        explanation=_("Programs that sign with it stop working at once. This cannot be undone."),
        button=_("Delete access key"),
        back_url=back.url,
        back_label=_("Access keys"),
    )


class IpFilterForm(CrispyForm):
    submit_label = gettext_lazy("Add")
    network = forms.CharField(
        label=gettext_lazy("IP address or network"),
        max_length=64,
        help_text=gettext_lazy("IPv4 or IPv6, a single address or CIDR like 203.0.113.0/24."),
    )
    description = forms.CharField(label=gettext_lazy("Description"), max_length=100, required=False)
    confirm_lockout = forms.BooleanField(
        label=gettext_lazy("I understand that other addresses, including my current one, will be refused."),
        required=False,
    )

    def __init__(self, *args, account, current_ip, **kwargs):
        self.account, self.current_ip = account, current_ip
        super().__init__(*args, **kwargs)

    def clean(self):
        cleaned = super().clean()
        raw = cleaned.get("network")
        if not raw:
            return cleaned
        try:
            network = parse_network(raw)
        except ValueError:
            self.add_error("network", _("Enter an IP address or a network like 203.0.113.0/24."))
            return cleaned
        # The first entry turns protection on: warn when it would shut out the address in use right now.
        first = not self.account.ip_filters.exists()
        covers_me = self.current_ip is not None and _contains(network, self.current_ip)
        if first and not covers_me and not cleaned.get("confirm_lockout"):
            self.add_error(
                "confirm_lockout",
                _(
                    "This turns IP protection on, and your current address %(ip)s is not in it: API and SMTP "
                    "clients there will be refused. Tick the box to go ahead."
                )
                % {"ip": self.current_ip},
            )
        return cleaned


def _contains(network, ip: str) -> bool:
    try:
        return parse_network(ip).subnet_of(network)
    except (ValueError, TypeError):
        return False


@account_view(Perm.MANAGE_KEYS)
def ip_protection(request):
    account = request.account
    current_ip = client_ip(request)
    if request.method == "POST" and "protection" in request.POST:
        # The switch (DirectMail's UpdateIpProtection): off keeps the list without applying it.
        on = request.POST["protection"] == "on"
        access.ip_protection_set(account=account, on=on, actor=Actor.from_request(request))
        messages.success(
            request,
            _("IP protection is on.") if on else _("IP protection is off: the list is kept, not applied."),
        )
        return redirect("accounts:ip_protection", account_id=account.public_id)
    form = IpFilterForm(request.POST or None, account=account, current_ip=current_ip)
    if request.method == "POST" and form.is_valid():
        try:
            entry = access.ip_filter_add(
                account=account,
                network=form.cleaned_data["network"],
                description=form.cleaned_data["description"],
                actor=Actor.from_request(request),
            )
        except ServiceError as exc:
            form.add_error("network", str(exc))
        else:
            messages.success(request, _("%(network)s may now send.") % {"network": entry.network})
            return redirect("accounts:ip_protection", account_id=account.public_id)
    context = {
        "entries": account.ip_filters.select_related("created_by"),
        "form": form,
        "current_ip": current_ip,
        "current_allowed": ip_allowed(account, current_ip),
    }
    return render(request, "accounts/ip_protection.html", context)


@account_view(Perm.MANAGE_KEYS)
def ip_filter_delete(request, entry_id: str):
    entry = get_for_account(IpFilter, request.account, public_id=entry_id)
    back = redirect("accounts:ip_protection", account_id=request.account.public_id)
    if request.method == "POST":
        access.ip_filter_delete(entry=entry, actor=Actor.from_request(request))
        messages.success(request, _("%(network)s removed from IP protection.") % {"network": entry.network})
        return back
    last = request.account.ip_filters.count() == 1
    return confirm_page(
        request,
        title=_("Remove IP protection entry"),
        question=_("Remove %(network)s?") % {"network": entry.network},
        explanation=(
            _(
                "It is the last entry: IP protection turns off, and any address may send "
                "with valid credentials."
            )
            if last
            else _("Clients at this address will be refused by the API and SMTP.")
        ),
        button=_("Remove"),
        back_url=back.url,
        back_label=_("IP protection"),
    )
