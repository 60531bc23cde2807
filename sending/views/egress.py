"""Settings -> Dedicated IPs: the account's sending addresses with their checks, warm-up progress and
today's volume; its IP pools and configuration sets (create, edit, delete); one address's warm-up day by
day per mailbox provider. Changes go through sending.services.egress, as the API's do."""

from django.contrib import messages
from django.db import transaction
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.audit import Actor
from accounts.confirm import confirm_page
from accounts.errors import ServiceError
from accounts.roles import Perm
from accounts.tenancy import account_view, get_for_account
from sending import warmup
from sending.esp import ESPS
from sending.forms import ConfigSetForm, IpPoolForm, WarmupForm
from sending.models import ConfigSet, EgressAddress, IpPool, WarmupDay
from sending.services import egress as service


def _number(value: str) -> int:
    """A pool's or set's API id from the URL; anything else finds nothing (404)."""
    return int(value) if value.isdigit() and len(value) < 19 else -1


def _back(request):
    return redirect("sending:dedicated_ips", account_id=request.account.public_id)


def _pool_form(request, account, pool: IpPool | None = None) -> IpPoolForm:
    initial = {}
    if pool is not None:
        initial = {"name": pool.name, "addresses": list(pool.addresses.all()), "default": pool.is_default}
    return IpPoolForm(request.POST or None, account=account, initial=initial, prefix="pool")


def _set_form(request, account, config: ConfigSet | None = None) -> ConfigSetForm:
    initial = {}
    if config is not None:
        initial = {
            "name": config.name, "description": config.description, "ip_pool": config.ip_pool,
            "backoff": config.public_channel_backoff, "senders": list(config.senders.alive()),
        }  # fmt: skip
    return ConfigSetForm(request.POST or None, account=account, initial=initial, prefix="set")


def _save_pool(request, form: IpPoolForm, pool: IpPool | None) -> IpPool | None:
    account, actor = request.account, Actor.from_request(request)
    data = form.cleaned_data
    try:
        with transaction.atomic():
            if pool is None:
                pool = service.pool_create(account=account, name=data["name"], addresses=data["addresses"],
                                           actor=actor)  # fmt: skip
            else:
                service.pool_update(pool=pool, name=data["name"], addresses=data["addresses"], actor=actor)
            if data["default"] != pool.is_default:
                service.pool_set_default(pool=pool if data["default"] else None, account=account, actor=actor)
    except ServiceError as exc:
        form.add_error("name", str(exc))
        return None
    return pool


def _save_set(request, form: ConfigSetForm, config: ConfigSet | None) -> ConfigSet | None:
    account, actor = request.account, Actor.from_request(request)
    data = form.cleaned_data
    try:
        with transaction.atomic():
            if config is None:
                config = service.config_set_create(
                    account=account, name=data["name"], description=data["description"],
                    pool=data["ip_pool"], backoff=data["backoff"], actor=actor,
                )  # fmt: skip
            else:
                service.config_set_update(
                    config=config, name=data["name"], description=data["description"], pool=data["ip_pool"],
                    backoff=data["backoff"], actor=actor,
                )  # fmt: skip
            chosen = set(data["senders"])
            for sender in config.senders.alive():
                if sender not in chosen:
                    service.config_set_bind(config=None, sender=sender, actor=actor)
            for sender in chosen:
                service.config_set_bind(config=config, sender=sender, actor=actor)
    except ServiceError as exc:
        form.add_error("name", str(exc))
        return None
    return config


@account_view(Perm.VIEW)
def dedicated_ips(request):
    account = request.account
    can_manage = request.membership.can(Perm.MANAGE_SENDERS)
    pool_form = set_form = None
    if can_manage:
        # Two forms on the page: the one whose fields came is bound.
        posted = request.POST if request.method == "POST" else None
        pool_form = IpPoolForm(
            posted if "pool-name" in request.POST else None, account=account, prefix="pool"
        )
        set_form = ConfigSetForm(
            posted if "set-name" in request.POST else None, account=account, prefix="set"
        )
    if request.method == "POST":
        if not can_manage:
            return _back(request)
        assert pool_form is not None and set_form is not None
        if pool_form.is_bound and pool_form.is_valid() and _save_pool(request, pool_form, None):
            messages.success(
                request, _("IP pool %(name)s created.") % {"name": pool_form.cleaned_data["name"]}
            )
            return _back(request)
        if set_form.is_bound and set_form.is_valid() and _save_set(request, set_form, None):
            messages.success(
                request, _("Configuration set %(name)s created.") % {"name": set_form.cleaned_data["name"]}
            )
            return _back(request)
    rows = []
    for entry in service.account_addresses(account).order_by("address"):
        progress = warmup.progress(entry)  # today's rows per provider: the day's volume is their sum
        rows.append({"entry": entry, "progress": progress, "today": sum(p["sent"] for p in progress)})
    pools = account.ip_pools.annotate(
        ip_count=Count("addresses", distinct=True), set_count=Count("config_sets", distinct=True)
    )
    sets = account.config_sets.select_related("ip_pool").annotate(
        sender_count=Count("senders", filter=Q(senders__deleted_at__isnull=True))
    )
    failed = bool((pool_form and pool_form.errors) or (set_form and set_form.errors))
    context = {
        "rows": rows, "pools": pools, "sets": sets, "pool_form": pool_form, "set_form": set_form,
        "can_manage": can_manage, "steps": len(warmup.CURVE),
    }  # fmt: skip
    return render(request, "sending/dedicated_ips.html", context, status=400 if failed else 200)


@account_view(Perm.VIEW)
def dedicated_ip_detail(request, resource_id: str):
    entry = get_for_account(
        EgressAddress.objects.select_related("pool"), request.account, resource_id=resource_id
    )
    days = list(WarmupDay.objects.filter(address=entry).order_by("-day", "esp")[: 90 * len(ESPS)])
    by_esp = {esp: [d for d in days if d.esp == esp] for esp in ESPS}
    curve = [
        {"step": n + 1, "caps": [warmup.cap_of(n, esp) for esp in ESPS]} for n in range(len(warmup.CURVE))
    ]
    context = {
        "entry": entry, "progress": warmup.progress(entry), "by_esp": by_esp, "esps": ESPS, "curve": curve,
        "can_manage": request.membership.can(Perm.MANAGE_SENDERS), "warmup_form": WarmupForm(
            initial={"warmup": entry.warmup}
        ), "thresholds": {k: v * 100 for k, v in warmup.THRESHOLDS.items()},
    }  # fmt: skip
    return render(request, "sending/dedicated_ip_detail.html", context)


@account_view(Perm.MANAGE_SENDERS)
@require_POST
def dedicated_ip_warmup(request, resource_id: str):
    entry = get_for_account(EgressAddress, request.account, resource_id=resource_id)
    form = WarmupForm(request.POST)
    if form.is_valid():
        service.warmup_change(
            entry=entry, warmup=form.cleaned_data["warmup"], actor=Actor.from_request(request)
        )
        messages.success(request, _("Warm-up of %(address)s saved.") % {"address": entry.address})
    else:
        messages.error(request, _("Choose how the warm-up is managed."))
    return redirect("sending:dedicated_ip", account_id=request.account.public_id, resource_id=resource_id)


@account_view(Perm.MANAGE_SENDERS)
def ip_pool_edit(request, pool_id: str):
    pool = get_for_account(IpPool, request.account, api_id=_number(pool_id))
    form = _pool_form(request, request.account, pool)
    if request.method == "POST" and form.is_valid() and _save_pool(request, form, pool):
        messages.success(request, _("IP pool %(name)s saved.") % {"name": pool.name})
        return _back(request)
    status = 400 if form.errors else 200
    return render(request, "sending/ip_pool_edit.html", {"pool": pool, "form": form}, status=status)


@account_view(Perm.MANAGE_SENDERS)
def ip_pool_delete(request, pool_id: str):
    pool = get_for_account(IpPool, request.account, api_id=_number(pool_id))
    back = _back(request)
    if request.method == "POST":
        try:
            service.pool_delete(pool=pool, actor=Actor.from_request(request))
        except ServiceError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("IP pool %(name)s deleted.") % {"name": pool.name})
        return back
    return confirm_page(
        request,
        title=_("Delete IP pool"),
        question=_("Delete IP pool %(name)s?") % {"name": pool.name},
        explanation=_(
            "Its addresses stay yours, in no pool. A pool a configuration set uses cannot be deleted."
        ),
        button=_("Delete IP pool"),
        back_url=back.url,
        back_label=_("Dedicated IPs"),
    )


@account_view(Perm.MANAGE_SENDERS)
def config_set_edit(request, set_id: str):
    config = get_for_account(ConfigSet, request.account, api_id=_number(set_id))
    form = _set_form(request, request.account, config)
    if request.method == "POST" and form.is_valid() and _save_set(request, form, config):
        messages.success(request, _("Configuration set %(name)s saved.") % {"name": config.name})
        return _back(request)
    status = 400 if form.errors else 200
    return render(request, "sending/config_set_edit.html", {"config": config, "form": form}, status=status)


@account_view(Perm.MANAGE_SENDERS)
def config_set_delete(request, set_id: str):
    config = get_for_account(ConfigSet, request.account, api_id=_number(set_id))
    back = _back(request)
    bound = list(config.senders.alive().values_list("address", flat=True))
    if request.method == "POST":
        service.config_set_delete(config=config, force=True, actor=Actor.from_request(request))
        messages.success(request, _("Configuration set %(name)s deleted.") % {"name": config.name})
        return back
    explanation = _("Mail of its senders then leaves from the account's default addresses.")
    if bound:
        explanation = (
            _("These sender addresses are bound to it and will go by no set: %(senders)s. ")
            % {"senders": ", ".join(bound)}
            + explanation
        )
    return confirm_page(
        request,
        title=_("Delete configuration set"),
        question=_("Delete configuration set %(name)s?") % {"name": config.name},
        explanation=explanation,
        button=_("Delete configuration set"),
        back_url=back.url,
        back_label=_("Dedicated IPs"),
    )
