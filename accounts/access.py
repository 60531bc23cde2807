"""API access keys and IP protection: the services that create, switch and remove them."""

import secrets
import string

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.audit import Actor, audit_record
from accounts.crypto import encrypt
from accounts.errors import LimitReached, ServiceError
from accounts.limits import lock_account
from accounts.models import AccessKey, Account, IpFilter
from accounts.network import parse_network

MAX_ACCESS_KEYS = 20
MAX_IP_FILTERS = 100
_ALNUM = string.ascii_letters + string.digits


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


@transaction.atomic
def access_key_create(*, account: Account, description: str = "", actor: Actor) -> tuple[AccessKey, str]:
    """A new key; returns it with its secret, which is shown once and never again."""
    account = lock_account(account)
    count = account.access_keys.count()
    if count >= MAX_ACCESS_KEYS:
        raise LimitReached(what=_("access keys"), used=count, limit=MAX_ACCESS_KEYS)
    secret = _random(_ALNUM, 30)
    key = AccessKey.objects.create(
        key_id="LTAI" + _random(_ALNUM, 20),
        account=account,
        description=description.strip(),
        secret_encrypted=encrypt(secret),
        created_by=actor.user,
    )
    audit_record(actor=actor, action="access_key.create", account=account, target=key)
    return key, secret


@transaction.atomic
def access_key_set_active(*, key: AccessKey, active: bool, actor: Actor) -> AccessKey:
    if key.is_active != active:
        key.is_active = active
        key.save(update_fields=["is_active"])
        action = "access_key.enable" if active else "access_key.disable"
        audit_record(actor=actor, action=action, account=key.account, target=key)
    return key


@transaction.atomic
def access_key_delete(*, key: AccessKey, actor: Actor) -> None:
    audit_record(actor=actor, action="access_key.delete", account=key.account, target=key)
    key.delete()


@transaction.atomic
def ip_filter_add(*, account: Account, network: str, description: str = "", actor: Actor) -> IpFilter:
    """Allow an address or CIDR network to send through the API and SMTP."""
    try:
        parsed = parse_network(network)
    except ValueError as exc:
        raise ServiceError(
            _("%(value)s is not an IP address or a network like 203.0.113.0/24.") % {"value": network.strip()}
        ) from exc
    account = lock_account(account)
    if account.ip_filters.filter(network=str(parsed)).exists():
        raise ServiceError(_("%(network)s is already in the list.") % {"network": parsed})
    count = account.ip_filters.count()
    if count >= MAX_IP_FILTERS:
        raise LimitReached(what=_("IP protection entries"), used=count, limit=MAX_IP_FILTERS)
    entry = IpFilter.objects.create(
        account=account, network=str(parsed), description=description.strip(), created_by=actor.user
    )
    audit_record(actor=actor, action="ip_filter.add", account=account, target=entry)
    return entry


@transaction.atomic
def ip_filter_delete(*, entry: IpFilter, actor: Actor) -> None:
    audit_record(actor=actor, action="ip_filter.delete", account=entry.account, target=entry)
    entry.delete()


@transaction.atomic
def ip_protection_set(*, account: Account, on: bool, actor: Actor) -> None:
    """Turn IP protection on (the list applies; an empty one lets everyone in) or off (the list is kept,
    not applied)."""
    if account.ip_protection == on:
        return
    account.ip_protection = on
    account.save(update_fields=["ip_protection"])
    audit_record(actor=actor, action="ip_filter.protection", account=account, details={"on": on})
