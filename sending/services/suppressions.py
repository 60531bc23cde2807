"""The suppression list: addresses an account no longer sends to. Bounces add to it; people manage it too."""

import csv
import io
from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.audit import Actor, audit_record
from accounts.errors import ServiceError
from accounts.models import Account
from sending.csv_cells import escape_formula
from sending.models import Suppression, SuppressionReason

MAX_IMPORT_BYTES = 5 * 1024 * 1024


def _normalize(address: str) -> str:
    address = address.strip().lower()
    validate_email(address)
    return address


@transaction.atomic
def suppression_add(
    *, account: Account, address: str, detail: str = "", expires_at: datetime | None = None, actor: Actor
) -> Suppression:
    try:
        address = _normalize(address)
    except ValidationError as exc:
        raise ServiceError(_("%(value)s is not a valid address.") % {"value": address}) from exc
    entry, created = Suppression.objects.get_or_create(
        account=account,
        address=address,
        scope="",
        defaults={"reason": SuppressionReason.MANUAL, "detail": detail[:500], "expires_at": expires_at},
    )
    if not created:
        raise ServiceError(_("%(address)s is already on the list.") % {"address": address})
    audit_record(actor=actor, action="suppression.add", account=account, target=entry)
    return entry


@transaction.atomic
def suppression_remove(*, entry: Suppression, actor: Actor) -> None:
    audit_record(
        actor=actor,
        action="suppression.remove",
        account=entry.account,
        target=entry,
        details={"reason": entry.reason},
    )
    entry.delete()


@transaction.atomic
def suppression_import(*, account: Account, data: bytes, actor: Actor) -> dict[str, int]:
    """Add every valid address of a CSV (first column) or TXT file; returns counts added/present/invalid."""
    if len(data) > MAX_IMPORT_BYTES:
        raise ServiceError(_("The file is larger than 5 MB."))
    text = data.decode("utf-8-sig", errors="replace")
    counts = {"added": 0, "present": 0, "invalid": 0}
    seen: set[str] = set()
    existing = set(account.suppressions.filter(scope="").values_list("address", flat=True))
    new = []
    for row in csv.reader(io.StringIO(text)):
        if not row or not row[0].strip() or row[0].strip().lower() in ("email", "address", "e-mail"):
            continue
        try:
            address = _normalize(row[0])
        except ValidationError:
            counts["invalid"] += 1
            continue
        if address in existing or address in seen:
            counts["present"] += 1
            continue
        seen.add(address)
        new.append(
            Suppression(account=account, address=address, reason=SuppressionReason.MANUAL, detail="import")
        )
    Suppression.objects.bulk_create(new, ignore_conflicts=True)
    counts["added"] = len(new)
    audit_record(actor=actor, action="suppression.import", account=account, details=counts)
    return counts


def suppression_export_rows(account: Account):
    """Rows of the CSV export, header first, every cell safe from spreadsheet formulas."""
    yield ["address", "reason", "detail", "created_at"]
    for entry in account.suppressions.order_by("address").iterator():
        yield [
            escape_formula(v)
            for v in (entry.address, entry.reason, entry.detail, entry.created_at.isoformat())
        ]


@transaction.atomic
def suppression_level_set(*, account: Account, level: str, actor: Actor) -> None:
    """USER: the account's own list stops its mail; GLOBAL: also every account's hard bounces."""
    if level not in ("USER", "GLOBAL"):
        raise ServiceError(_("The suppression list level is USER or GLOBAL."))
    old = account.suppression_list_level
    if old == level:
        return
    account.suppression_list_level = level
    account.save(update_fields=["suppression_list_level"])
    audit_record(actor=actor, action="suppression.level", account=account, details={"level": [old, level]})
