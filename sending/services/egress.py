"""What an account does with its sending addresses: IP pools, configuration sets, warm-up type, and which
sender goes by which set. The console and the API (DirectMail's DedicatedIp* and ConfigSet* actions) both
call these; each change is checked, audited, and all or nothing.

Staff give addresses to accounts (manage.py egress_ip, Django admin); an account sees and groups only its
own dedicated addresses.
"""

import re
from collections.abc import Sequence

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import Actor, audit_record
from accounts.errors import ServiceError
from accounts.models import Account
from sending import validation
from sending.models import (
    ConfigSet,
    DeliveryAttempt,
    EgressAddress,
    IpPool,
    Message,
    SenderAddress,
    WarmupType,
)

NAME = re.compile(r"^[A-Za-z0-9_-]{1,50}$")


class NotFound(ServiceError):
    def __init__(self, message: str, code: str, param: str = ""):
        super().__init__(message)
        self.code, self.param = code, param


def account_addresses(account: Account) -> QuerySet[EgressAddress]:
    return EgressAddress.objects.filter(account=account).select_related("pool")


def address_by_id(account: Account, resource_id: str) -> EgressAddress:
    entry = account_addresses(account).filter(resource_id=resource_id.strip()).first()
    if entry is None:
        raise NotFound(
            _("%(id)s is not a dedicated IP address of this account.") % {"id": resource_id},
            "InvalidDedicatedIp.NotFound",
        )
    return entry


def addresses_by_ids(account: Account, resource_ids: Sequence[str]) -> list[EgressAddress]:
    wanted = [r.strip() for r in resource_ids if r.strip()]
    found = {e.resource_id: e for e in account_addresses(account).filter(resource_id__in=wanted)}
    missing = [r for r in wanted if r not in found]
    if missing:
        raise NotFound(
            _("Not dedicated IP addresses of this account: %(ids)s.") % {"ids": ", ".join(missing)},
            "InvalidDedicatedIp.NotFound",
            "BuyResourceIds",
        )
    return [found[r] for r in dict.fromkeys(wanted)]


def pool_by_id(
    account: Account, api_id: str, param: str = "IpPoolId", code: str = "InvalidIpPoolId.NotFound"
) -> IpPool:
    pool = None
    if api_id.strip().isdigit():
        pool = IpPool.objects.filter(account=account, api_id=int(api_id)).first()
    if pool is None:
        raise NotFound(
            _("There is no IP pool %(id)s in this account.") % {"id": api_id.strip()[:64]},
            code,
            param,
        )
    return pool


def config_set_by_id(
    account: Account, api_id: str, param: str = "Id", code: str = "InvalidConfigSet.NotFound"
) -> ConfigSet:
    found = None
    if str(api_id).strip().isdigit():
        found = ConfigSet.objects.filter(account=account, api_id=int(api_id)).first()
    if found is None:
        raise NotFound(
            _("There is no configuration set %(id)s in this account.") % {"id": str(api_id).strip()[:64]},
            code,
            param,
        )
    return found


def _name(name: str) -> str:
    name = name.strip()
    if not NAME.match(name):
        raise ServiceError(_("A name is 1 to 50 letters, digits, underscores or hyphens."))
    return name


def _take_addresses(pool: IpPool, entries: Sequence[EgressAddress]) -> None:
    """Make `entries` the pool's addresses (an address is in one pool at most: it moves)."""
    EgressAddress.objects.filter(pool=pool).exclude(pk__in=[e.pk for e in entries]).update(pool=None)
    EgressAddress.objects.filter(pk__in=[e.pk for e in entries]).update(pool=pool)


@transaction.atomic
def pool_create(*, account: Account, name: str, addresses: Sequence[EgressAddress], actor: Actor) -> IpPool:
    name = _name(name)
    if account.ip_pools.filter(name=name).exists():
        raise ServiceError(_("There is already an IP pool named %(name)s.") % {"name": name})
    pool = IpPool.objects.create(account=account, name=name)
    _take_addresses(pool, addresses)
    audit_record(
        actor=actor, action="ip_pool.create", account=account, target=pool,
        details={"addresses": [e.address for e in addresses]},
    )  # fmt: skip
    return pool


@transaction.atomic
def pool_update(
    *, pool: IpPool, actor: Actor, addresses: Sequence[EgressAddress] | None = None, name: str | None = None
) -> IpPool:
    changes: dict = {}
    if name is not None and name.strip() != pool.name:
        new = _name(name)
        changes["name"] = [pool.name, new]
        pool.name = new
        try:
            with transaction.atomic():
                pool.save(update_fields=["name"])
        except IntegrityError as exc:
            raise ServiceError(_("There is already an IP pool named %(name)s.") % {"name": new}) from exc
    if addresses is not None:
        before = sorted(pool.addresses.values_list("address", flat=True))
        _take_addresses(pool, addresses)
        after = sorted(e.address for e in addresses)
        if before != after:
            changes["addresses"] = [before, after]
    if changes:
        audit_record(actor=actor, action="ip_pool.update", account=pool.account, target=pool, details=changes)
    return pool


@transaction.atomic
def pool_set_default(*, pool: IpPool | None, account: Account, actor: Actor) -> None:
    """The pool of the account's mail that names none and whose sender has no configuration set."""
    account.ip_pools.filter(is_default=True).update(is_default=False)
    if pool is not None:
        IpPool.objects.filter(pk=pool.pk).update(is_default=True)
    audit_record(
        actor=actor, action="ip_pool.default", account=account, target=pool,
        details={"pool": pool.name if pool else ""},
    )  # fmt: skip


@transaction.atomic
def pool_delete(*, pool: IpPool, actor: Actor) -> None:
    """Refused while a configuration set uses the pool; its addresses are in no pool afterwards."""
    using = list(pool.config_sets.values_list("name", flat=True))
    if using:
        raise ServiceError(
            _(
                "The IP pool %(pool)s is used by the configuration sets %(sets)s: "
                "choose another pool there first."
            )
            % {"pool": pool.name, "sets": ", ".join(using)}
        )
    audit_record(actor=actor, action="ip_pool.delete", account=pool.account, target=pool)
    pool.addresses.update(pool=None)
    pool.delete()


@transaction.atomic
def warmup_change(*, entry: EgressAddress, warmup: str, actor: Actor) -> EgressAddress:
    if warmup not in WarmupType.values:
        raise ServiceError(_("The warm-up type is %(types)s.") % {"types": " or ".join(WarmupType.values)})
    if entry.warmup != warmup:
        before = entry.warmup
        entry.warmup, entry.warmup_changed_at = warmup, timezone.now()
        entry.save(update_fields=["warmup", "warmup_changed_at"])
        audit_record(
            actor=actor, action="egress.warmup", account=entry.account, target=entry,
            details={"warmup": [before, warmup]},
        )  # fmt: skip
    return entry


@transaction.atomic
def auto_renewal(*, account: Account, entries: Sequence[EgressAddress], enabled: bool, actor: Actor) -> None:
    """DedicatedIpAutoRenewal: addresses on your own machines do not expire; the choice is kept and shown."""
    EgressAddress.objects.filter(pk__in=[e.pk for e in entries]).update(auto_renewal=enabled)
    audit_record(
        actor=actor, action="egress.auto_renewal", account=account,
        details={"addresses": [e.address for e in entries], "auto_renewal": enabled},
    )  # fmt: skip


def _check_validation(option: dict) -> dict:
    """DirectMail's ValidationOption: with Enabled, the worker validates each recipient of the set's mail
    before sending (sending.validation, without a probe) and withholds those whose Status or SubStatus
    the lists forbid (INVALID when they name none)."""
    if not isinstance(option, dict):
        raise ServiceError(_("ValidationOption is an object with Enabled, ForbiddenStatusList, ..."))
    errors = validation.option_errors(option)
    if errors:
        raise ServiceError(_("ValidationOption: %(errors)s.") % {"errors": "; ".join(errors)})
    return option


@transaction.atomic
def config_set_create(
    *,
    account: Account,
    name: str,
    description: str = "",
    pool: IpPool | None = None,
    backoff: bool = False,
    validation: dict | None = None,
    actor: Actor,
) -> ConfigSet:
    name = _name(name)
    if len(description) > 50:
        raise ServiceError(_("The description is at most 50 characters."))
    if account.config_sets.filter(name=name).exists():
        raise ServiceError(_("There is already a configuration set named %(name)s.") % {"name": name})
    config = ConfigSet.objects.create(
        account=account, name=name, description=description.strip(), ip_pool=pool,
        public_channel_backoff=backoff, validation_option=_check_validation(validation or {}),
    )  # fmt: skip
    audit_record(actor=actor, action="config_set.create", account=account, target=config)
    return config


_UNSET = object()


@transaction.atomic
def config_set_update(
    *,
    config: ConfigSet,
    actor: Actor,
    name: str | None = None,
    description: str | None = None,
    pool=_UNSET,
    backoff: bool | None = None,
    validation: dict | None = None,
) -> ConfigSet:
    """Change what is given (None / unset: kept); `pool=None` takes the set off any pool."""
    changes: dict = {}

    def change(field: str, value) -> None:
        if getattr(config, field) != value:
            changes[field] = [str(getattr(config, field)), str(value)]
            setattr(config, field, value)

    if name is not None:
        change("name", _name(name))
    if description is not None:
        if len(description) > 50:
            raise ServiceError(_("The description is at most 50 characters."))
        change("description", description.strip())
    if pool is not _UNSET:
        change("ip_pool", pool)
    if backoff is not None:
        change("public_channel_backoff", backoff)
    if validation is not None:
        change("validation_option", _check_validation(validation))
    if changes:
        try:
            with transaction.atomic():
                config.save()
        except IntegrityError as exc:
            raise ServiceError(
                _("There is already a configuration set named %(name)s.") % {"name": config.name}
            ) from exc
        audit_record(
            actor=actor, action="config_set.update", account=config.account, target=config, details=changes
        )
    return config


@transaction.atomic
def config_set_delete(*, config: ConfigSet, force: bool = False, actor: Actor) -> None:
    """Refused while sender addresses are bound to the set, unless `force` (they are unbound)."""
    bound = list(config.senders.filter(deleted_at__isnull=True).values_list("address", flat=True))
    if bound and not force:
        raise ServiceError(
            _(
                "Sender addresses use the configuration set %(name)s: %(senders)s. "
                "Unbind them first, or force."
            )
            % {"name": config.name, "senders": ", ".join(bound)}
        )
    config.senders.update(config_set=None)
    audit_record(actor=actor, action="config_set.delete", account=config.account, target=config)
    config.delete()


@transaction.atomic
def config_set_bind(*, config: ConfigSet | None, sender: SenderAddress, actor: Actor) -> None:
    """Bind the sender to the set (a sender goes by one set at most: binding moves it); None unbinds."""
    before = sender.config_set
    if before == config:
        return
    SenderAddress.objects.filter(pk=sender.pk).update(config_set=config)
    sender.config_set = config
    audit_record(
        actor=actor, action="config_set.bind", account=sender.account, target=sender,
        details={"config_set": [before.name if before else "", config.name if config else ""]},
    )  # fmt: skip


def egress_filter(
    account: Account,
    *,
    dedicated_ip: str = "",
    pool_id: str = "",
    config_set_id: str = "",
    message_field: str = "pk",
    names: tuple[str, str, str] = ("DedicatedIp", "DedicatedIpPoolId", "ConfigSetId"),
) -> Q | None:
    """The statistics filters DirectMail has for egress (a message whose attempts left from the address,
    from an address of the pool, or that went by the configuration set), as a filter on `message_field`
    (the message's id: "pk" on messages, "message_id" on events); None when none is given. Unknown values
    raise NotFound naming the parameter."""
    query = Q()
    given = False
    if dedicated_ip := dedicated_ip.strip():
        usable = EgressAddress.objects.filter(Q(account=account) | Q(account__isnull=True))
        entry = usable.filter(Q(address=dedicated_ip) | Q(resource_id=dedicated_ip)).first()
        if entry is None:
            raise NotFound(
                _("%(ip)s is not a sending IP address of this account.") % {"ip": dedicated_ip[:64]},
                f"Invalid{names[0]}.NotFound",
                names[0],
            )
        sent = DeliveryAttempt.objects.filter(egress_ip=entry.address).values("message_id")
        query &= Q(**{f"{message_field}__in": sent})
        given = True
    if pool_id := pool_id.strip():
        pool = pool_by_id(account, pool_id, names[1], f"Invalid{names[1]}.NotFound")
        addresses = EgressAddress.objects.filter(pool=pool).values("address")
        sent = DeliveryAttempt.objects.filter(egress_ip__in=addresses).values("message_id")
        query &= Q(**{f"{message_field}__in": sent})
        given = True
    if config_set_id := config_set_id.strip():
        config = config_set_by_id(account, config_set_id, names[2], f"Invalid{names[2]}.NotFound")
        went = Message.objects.filter(envelope__config_set=config).values("pk")
        query &= Q(**{f"{message_field}__in": went})
        given = True
    return query if given else None
