"""Domains: add, check DNS, rotate DKIM keys, delete. Every write is atomic and audited."""

import re
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django_q.tasks import async_task

from accounts import crypto
from accounts.audit import SYSTEM, Actor, audit_record
from accounts.errors import ServiceError
from accounts.limits import enforce_limit, lock_account
from accounts.mailing import mail_people
from accounts.models import Account
from accounts.roles import Role
from sending import dkim, domain_records
from sending.dkim import generate_key_pair, new_selector
from sending.models import (
    CheckStatus,
    DkimKey,
    DkimKeyStatus,
    DnsRecordCheck,
    Domain,
    DomainStatus,
    RecordKind,
)

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalize_domain_name(raw: str) -> str:
    """The A-label form of a domain typed by a person, or ServiceError saying what is wrong with it."""
    name = raw.strip().rstrip(".").lower()
    if not name:
        raise ServiceError(_("Enter a domain name."))
    if "@" in name or "/" in name or " " in name:
        raise ServiceError(_("Enter a domain name only, like mail.example.com."))
    try:
        name = ".".join(label.encode("idna").decode("ascii") for label in name.split("."))
    except UnicodeError as exc:
        raise ServiceError(_("%(name)s is not a valid domain name.") % {"name": raw.strip()}) from exc
    labels = name.split(".")
    if len(name) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise ServiceError(_("%(name)s is not a valid domain name.") % {"name": raw.strip()})
    if labels[-1].isdigit():
        raise ServiceError(_("%(name)s is not a valid domain name.") % {"name": raw.strip()})
    if domain_records.registrable_domain(name) is None:
        raise ServiceError(
            _("%(name)s is a public suffix, not a domain you can own.") % {"name": raw.strip()}
        )
    return name


@transaction.atomic
def domain_create(*, account: Account, name: str, actor: Actor, selector: str = "") -> Domain:
    """Add a sending domain with a fresh 2048-bit DKIM key (under `selector`, else a dated one);
    unverified until its records check out."""
    name = normalize_domain_name(name)
    selector = selector.strip().lower()
    if selector and not dkim.SELECTOR.match(selector):
        raise ServiceError(
            _("%(value)s is not a DKIM selector: letters, digits and hyphens, at most 63.")
            % {"value": selector}
        )
    account = lock_account(account)
    domains = Domain.objects.alive().filter(account=account)
    if domains.filter(name=name).exists():
        raise ServiceError(_("%(name)s is already in this account.") % {"name": name})
    if (
        Domain.objects.alive()
        .filter(name=name, status=DomainStatus.VERIFIED)
        .exclude(account=account)
        .exists()
    ):
        raise ServiceError(
            _("%(name)s is verified by another account. Ask its owners to delete it first.") % {"name": name}
        )
    enforce_limit(account, "max_domains", domains.own().count())
    domain = Domain.objects.create(account=account, name=name)
    _add_dkim_key(domain, status=DkimKeyStatus.ACTIVE, selector=selector)
    audit_record(actor=actor, action="domain.create", account=account, target=domain)
    return domain


def _add_dkim_key(domain: Domain, *, status: str, bits: int = dkim.KEY_BITS, selector: str = "") -> DkimKey:
    private_pem, public_b64 = generate_key_pair(bits)
    return DkimKey.objects.create(
        domain=domain,
        selector=selector or new_selector(),
        private_key_encrypted=crypto.encrypt(private_pem),
        public_key=public_b64,
        status=status,
        activated_at=timezone.now() if status == DkimKeyStatus.ACTIVE else None,
    )


@transaction.atomic
def domain_request_check(*, domain: Domain) -> None:
    """Queue a DNS check of the domain (the "Check now" button); the page follows it until it is done."""
    Domain.objects.filter(pk=domain.pk).update(check_requested_at=timezone.now())
    transaction.on_commit(lambda: async_task("sending.tasks.check_domain", domain.pk))


def domain_check(*, domain: Domain) -> Domain:
    """Look up every record of the domain, store what was found, and move the domain's status.

    pending -> verified when ownership, SPF and the signing DKIM key all check out; verified -> failing when
    one of them is gone or changed (never on a temporary DNS failure alone); failing -> verified when fixed.
    A rotated DKIM key starts signing once its record verifies.
    """
    if domain.sandbox:
        return domain  # needs no DNS: never checked, never failed
    specs = domain_records.records_to_publish(domain)
    results = [(spec, domain_records.check(spec)) for spec in specs]  # DNS first, outside any transaction
    with transaction.atomic():
        domain = Domain.objects.select_for_update().get(pk=domain.pk)
        now = timezone.now()
        for spec, result in results:
            DnsRecordCheck.objects.update_or_create(
                domain=domain,
                kind=spec.kind,
                dkim_key=spec.dkim_key,
                defaults={
                    "status": result.status,
                    "found": result.found,
                    "error": result.error,
                    "suggested": result.suggested,
                    "checked_at": now,
                },
            )
        _activate_verified_dkim_keys(domain, results)
        required = [(spec, result) for spec, result in results if spec.required]
        broken = [
            (spec, r) for spec, r in required if r.status in (CheckStatus.MISSING, CheckStatus.MISMATCH)
        ]
        unsure = [(spec, r) for spec, r in required if r.status == CheckStatus.ERROR]
        old_status = domain.status
        if not broken and not unsure:
            _mark_verified(domain)
        elif broken and domain.status in (DomainStatus.VERIFIED, DomainStatus.FAILING):
            domain.status = DomainStatus.FAILING
            domain.failing_reason = "; ".join(
                _("%(record)s record %(status)s") % {"record": RecordKind(s.kind).label, "status": r.status}
                for s, r in broken
            )
        domain.last_checked_at = now
        domain.save()
        if domain.status != old_status:
            audit_record(
                actor=SYSTEM,
                action="domain.status",
                account=domain.account,
                target=domain,
                details={"status": [old_status, domain.status], "reason": domain.failing_reason},
            )
            if domain.status == DomainStatus.FAILING:
                transaction.on_commit(lambda: _notify_failing(domain))
    return domain


def _mark_verified(domain: Domain) -> None:
    if domain.status == DomainStatus.VERIFIED:
        return
    taken = (
        Domain.objects.alive()
        .filter(name=domain.name, status=DomainStatus.VERIFIED)
        .exclude(pk=domain.pk)
        .exists()
    )
    if taken:
        domain.failing_reason = _("Another account verified this domain first.")
        return
    domain.status = DomainStatus.VERIFIED
    domain.verified_at = domain.verified_at or timezone.now()
    domain.failing_reason = ""


def _activate_verified_dkim_keys(domain: Domain, results) -> None:
    for spec, result in results:
        key = spec.dkim_key
        if key is None or key.status != DkimKeyStatus.PENDING or result.status != CheckStatus.VERIFIED:
            continue
        domain.dkim_keys.filter(status=DkimKeyStatus.ACTIVE).update(status=DkimKeyStatus.RETIRING)
        key.status = DkimKeyStatus.ACTIVE
        key.activated_at = timezone.now()
        key.save(update_fields=["status", "activated_at"])
        audit_record(
            actor=SYSTEM,
            action="domain.dkim_activate",
            account=domain.account,
            target=domain,
            details={"selector": key.selector},
        )


def _notify_failing(domain: Domain) -> None:
    recipients = list(
        domain.account.memberships.filter(role__in=[Role.OWNER, Role.ADMIN]).values_list(
            "user__email", flat=True
        )
    )
    if not recipients:
        return
    url = settings.PUBLIC_BASE_URL + reverse(
        "sending:domain_detail", args=[domain.account.public_id, domain.public_id]
    )
    mail_people("domain_failing", {"domain": domain, "url": url}, recipients, account=domain.account)


RECHECK_AFTER = timedelta(hours=20)


def domain_recheck_all() -> int:
    """The daily schedule: check every verified or failing domain again, unless it was checked or verified in
    the last RECHECK_AFTER (a domain verified a minute ago is not checked again); returns how many were."""
    recent = timezone.now() - RECHECK_AFTER
    domains = (
        Domain.objects.alive()
        .own()
        .filter(Q(status=DomainStatus.VERIFIED) | Q(status=DomainStatus.FAILING))
        .exclude(last_checked_at__gte=recent)
        .exclude(verified_at__gte=recent)
    )
    count = 0
    for domain in domains.iterator():
        domain_check(domain=domain)
        count += 1
    return count


@transaction.atomic
def dkim_rotate(*, domain: Domain, actor: Actor, bits: int = dkim.KEY_BITS) -> DkimKey:
    """Make a new key (of `bits`) under a new selector; it signs once its record verifies. One rotation at
    a time."""
    domain = Domain.objects.select_for_update().get(pk=domain.pk)
    if domain.sandbox:
        raise ServiceError(_("Sandbox mail never leaves the machine: it is not signed."))
    if domain.dkim_keys.filter(status=DkimKeyStatus.PENDING).exists():
        raise ServiceError(
            _("A new key is already waiting for its DNS record. Publish it, then check again.")
        )
    try:
        key = _add_dkim_key(domain, status=DkimKeyStatus.PENDING, bits=bits)
    except IntegrityError as exc:
        raise ServiceError(_("Could not pick a new selector; try again.")) from exc
    audit_record(
        actor=actor,
        action="domain.dkim_rotate",
        account=domain.account,
        target=domain,
        details={"selector": key.selector, "bits": bits},
    )
    return key


@transaction.atomic
def dkim_retire(*, key: DkimKey, actor: Actor) -> None:
    """Stop publishing a replaced key (its record may then be removed from DNS)."""
    if key.status != DkimKeyStatus.RETIRING:
        raise ServiceError(_("Only a replaced key can be retired."))
    key.status = DkimKeyStatus.RETIRED
    key.retired_at = timezone.now()
    key.save(update_fields=["status", "retired_at"])
    audit_record(
        actor=actor,
        action="domain.dkim_retire",
        account=key.domain.account,
        target=key.domain,
        details={"selector": key.selector},
    )


@transaction.atomic
def domain_delete(*, domain: Domain, actor: Actor) -> None:
    """Delete a domain that no sender address uses any more; its name is free for others afterwards."""
    domain = Domain.objects.select_for_update().get(pk=domain.pk)
    if domain.sandbox:
        raise ServiceError(_("The sandbox belongs to the account: it cannot be deleted."))
    in_use = domain.sender_addresses.alive().count()
    if in_use:
        raise ServiceError(
            _("%(count)s sender address(es) still use %(name)s. Delete them first.")
            % {"count": in_use, "name": domain.name}
        )
    domain.deleted_at = timezone.now()
    domain.save(update_fields=["deleted_at"])
    audit_record(actor=actor, action="domain.delete", account=domain.account, target=domain)
