"""Recipient lists and their addresses: every change from the console and the API goes through here.

At most `max_recipient_lists` lists per account and `max_recipients_per_list` addresses per list; an
address is in a list once (case-insensitively). Changes lock the list row, so concurrent additions cannot
pass the limit together, and keep the list's `recipient_count` exact. Imports: `import_upload` keeps the
file and reads its format, `import_start` queues the task (sending.lists.importer).
"""

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _
from django_q.tasks import async_task

from accounts.audit import Actor, audit_record
from accounts.errors import LimitReached, ServiceError
from accounts.limits import enforce_limit, lock_account
from accounts.models import Account
from sending.lists import detect, files
from sending.lists.fields import CleanRecipient, clean_recipient, valid_custom_name
from sending.models import (
    ImportFileChunk,
    ImportMode,
    ImportStatus,
    Recipient,
    RecipientImport,
    RecipientList,
)
from sending.services.messages import normalize_address

MAX_NAME = 30
MAX_SAVE_DETAILS = 500


def _check_list_fields(name: str, alias: str, description: str) -> tuple[str, str, str]:
    name, alias, description = name.strip(), alias.strip(), description.strip()
    if not name or len(name) > MAX_NAME or re.search(r"[\x00-\x1f]", name):
        raise ServiceError(_("A list name is 1 to %(n)s characters.") % {"n": MAX_NAME})
    if alias:
        try:
            alias = normalize_address(alias)
        except ValidationError as exc:
            raise ServiceError(_("The alias must be an email address.")) from exc
    if len(description) > 255:
        raise ServiceError(_("The description is at most 255 characters."))
    return name, alias, description


@transaction.atomic
def list_create(
    *, account: Account, name: str, alias: str = "", description: str = "", actor: Actor
) -> RecipientList:
    name, alias, description = _check_list_fields(name, alias, description)
    account = lock_account(account)
    if account.recipient_lists.filter(name=name).exists():
        raise ServiceError(_("There is already a list named %(name)s.") % {"name": name})
    enforce_limit(account, "max_recipient_lists", account.recipient_lists.count())
    recipient_list = RecipientList.objects.create(
        account=account, name=name, alias=alias, description=description
    )
    audit_record(actor=actor, action="recipient_list.create", account=account, target=recipient_list)
    return recipient_list


@transaction.atomic
def list_update(
    *, recipient_list: RecipientList, name: str, alias: str, description: str, actor: Actor
) -> None:
    name, alias, description = _check_list_fields(name, alias, description)
    changes = {}
    for field, value in (("name", name), ("alias", alias), ("description", description)):
        if getattr(recipient_list, field) != value:
            changes[field] = [getattr(recipient_list, field), value]
            setattr(recipient_list, field, value)
    if not changes:
        return
    recipient_list.updated_at = timezone.now()
    try:
        with transaction.atomic():
            recipient_list.save()
    except IntegrityError as exc:
        raise ServiceError(_("There is already a list named %(name)s.") % {"name": name}) from exc
    audit_record(
        actor=actor, action="recipient_list.update", account=recipient_list.account, target=recipient_list,
        details=changes,
    )  # fmt: skip


@transaction.atomic
def list_delete(*, recipient_list: RecipientList, actor: Actor) -> None:
    """Refused while a batch send that has not ended uses the list (its fan-out reads the list)."""
    running = recipient_list.batch_jobs.filter(status__in=["scheduled", "sending", "paused"]).first()
    if running is not None:
        raise ServiceError(
            _("The batch send %(job)s uses this list; cancel it or let it finish first.")
            % {"job": running.name}
        )
    audit_record(
        actor=actor, action="recipient_list.delete", account=recipient_list.account, target=recipient_list,
        details={"addresses": recipient_list.recipient_count},
    )  # fmt: skip
    recipient_list.delete()


def _lock(recipient_list: RecipientList) -> RecipientList:
    return RecipientList.objects.select_related("account").select_for_update().get(pk=recipient_list.pk)


def _recount(recipient_list: RecipientList) -> None:
    recipient_list.recipient_count = recipient_list.recipients.count()
    recipient_list.updated_at = timezone.now()
    recipient_list.save(update_fields=["recipient_count", "updated_at"])


def _values(clean: CleanRecipient) -> dict:
    return {"email": clean.email, "email_key": clean.email_key, **clean.fields, "custom": clean.custom}


@transaction.atomic
def recipient_add(*, recipient_list: RecipientList, clean: CleanRecipient, actor: Actor) -> Recipient:
    recipient_list = _lock(recipient_list)
    if recipient_list.recipients.filter(email_key=clean.email_key).exists():
        raise ServiceError(_("%(address)s is in this list already.") % {"address": clean.email})
    limit = recipient_list.account.limit("max_recipients_per_list")
    if recipient_list.recipient_count >= limit:
        raise LimitReached(what=_("addresses in this list"), used=recipient_list.recipient_count, limit=limit)
    recipient = Recipient.objects.create(recipient_list=recipient_list, **_values(clean))
    _recount(recipient_list)
    audit_record(
        actor=actor, action="recipient.add", account=recipient_list.account, target=recipient_list,
        details={"address": clean.email},
    )  # fmt: skip
    return recipient


@transaction.atomic
def recipient_update(*, recipient: Recipient, clean: CleanRecipient, actor: Actor) -> Recipient:
    recipient_list = _lock(recipient.recipient_list)
    clash = recipient_list.recipients.filter(email_key=clean.email_key).exclude(pk=recipient.pk)
    if clash.exists():
        raise ServiceError(_("%(address)s is in this list already.") % {"address": clean.email})
    for name, value in _values(clean).items():
        setattr(recipient, name, value)
    recipient.updated_at = timezone.now()
    recipient.save()
    audit_record(
        actor=actor, action="recipient.update", account=recipient_list.account, target=recipient_list,
        details={"address": clean.email},
    )  # fmt: skip
    return recipient


@transaction.atomic
def recipients_delete(*, recipient_list: RecipientList, ids=None, emails=None, actor: Actor) -> int:
    """Delete the list's recipients with these ids or addresses (case-insensitive); returns how many."""
    recipient_list = _lock(recipient_list)
    doomed = recipient_list.recipients.all()
    if ids is not None:
        doomed = doomed.filter(pk__in=list(ids))
    if emails is not None:
        doomed = doomed.filter(email_key__in=[e.strip().lower() for e in emails])
    addresses = list(doomed.values_list("email", flat=True)[:20])
    count, _per_model = doomed.delete()
    if count:
        _recount(recipient_list)
        audit_record(
            actor=actor, action="recipient.delete", account=recipient_list.account, target=recipient_list,
            details={"count": count, "addresses": addresses},
        )  # fmt: skip
    return count


# SaveReceiverDetail's keys for the standard fields.
DETAIL_KEYS = {"u": "user_name", "n": "nick_name", "g": "gender", "b": "birthday", "m": "mobile"}


@transaction.atomic
def recipients_save(
    *, recipient_list: RecipientList, details: list, actor: Actor
) -> tuple[int, list[tuple[str, str]]]:
    """Add up to 500 recipients given as SaveReceiverDetail's objects (`e`, `u`, `n`, `g`, `b`, `m`, and any
    other key as a custom field). Each is added or reported: (added, [(address, reason)]). An address
    already in the list is an error, as DirectMail counts it."""
    if len(details) > MAX_SAVE_DETAILS:
        raise ServiceError(_("At most %(n)s recipients per call.") % {"n": MAX_SAVE_DETAILS})
    recipient_list = _lock(recipient_list)
    limit = recipient_list.account.limit("max_recipients_per_list")
    existing = set(recipient_list.recipients.values_list("email_key", flat=True))
    room = limit - len(existing)
    errors: list[tuple[str, str]] = []
    new: list[Recipient] = []
    for item in details:
        if not isinstance(item, dict):
            errors.append(("", _('Each recipient is an object with at least "e".')))
            continue
        email = str(item.get("e", ""))
        fields = {DETAIL_KEYS[k]: str(v) for k, v in item.items() if k in DETAIL_KEYS}
        custom = {str(k): v for k, v in item.items() if k != "e" and k not in DETAIL_KEYS}
        try:
            clean = clean_recipient(email, fields, custom)
        except ValueError as exc:
            errors.append((email, str(exc)))
            continue
        if clean.email_key in existing:
            errors.append((clean.email, _("Already in the list.")))
            continue
        if room <= 0:
            errors.append((clean.email, _("The list is full: at most %(n)s addresses.") % {"n": limit}))
            continue
        room -= 1
        existing.add(clean.email_key)
        new.append(Recipient(recipient_list=recipient_list, **_values(clean)))
    Recipient.objects.bulk_create(new)
    if new:
        _recount(recipient_list)
        audit_record(
            actor=actor, action="recipient.add", account=recipient_list.account, target=recipient_list,
            details={"count": len(new), "errors": len(errors)},
        )  # fmt: skip
    return len(new), errors


# -- imports


def import_upload(*, recipient_list: RecipientList, upload, actor: Actor) -> RecipientImport:
    """Keep an uploaded file and read its format; refuses (ServiceError) a file we cannot read, keeping
    nothing. The import then waits for its column mapping (import_start)."""
    if upload.size > settings.LIST_IMPORT_MAX_BYTES:
        raise ServiceError(
            _("The file is larger than %(mb)s MB.") % {"mb": settings.LIST_IMPORT_MAX_BYTES // (1024 * 1024)}
        )

    def pieces():
        upload.seek(0)
        return upload.chunks()

    try:
        found = detect.detect_format(pieces)
    except detect.Unreadable as exc:
        raise ServiceError(str(exc)) from exc
    with transaction.atomic():
        _check_stored_files(lock_account(recipient_list.account), upload.size)
        recipient_import = RecipientImport.objects.create(
            account=recipient_list.account,
            recipient_list=recipient_list,
            created_by=actor.user,
            file_name=(upload.name or "upload.csv")[:255],
            encoding=found.encoding,
            delimiter=found.delimiter,
            has_header=found.has_header,
            mapping=found.guesses,
        )
        recipient_import.file_size = files.store_stream(
            recipient_import, ImportFileChunk.Kind.UPLOAD, pieces()
        )
        recipient_import.save(update_fields=["file_size"])
    return recipient_import


def _check_stored_files(account: Account, adding: int) -> None:
    """An account keeps at most LIST_IMPORT_MAX_STORED_BYTES of uploaded files (imports waiting for their
    columns, or running); the caller holds the account's lock, so parallel uploads are counted too."""
    used = files.stored_uploads(account)
    limit = settings.LIST_IMPORT_MAX_STORED_BYTES
    if used + adding > limit:
        raise ServiceError(
            _(
                "This account keeps %(used)s of import files already, at most %(limit)s: start or cancel "
                "the imports waiting for their columns, or wait for running ones to finish."
            )
            % {"used": filesizeformat(used), "limit": filesizeformat(limit)}
        )


def import_preview(recipient_import: RecipientImport, *, encoding=None, delimiter=None, has_header=None):
    """The file's format and first rows, read from the stored upload with the choices given."""

    def pieces():
        return files.read_chunks(recipient_import, ImportFileChunk.Kind.UPLOAD)

    try:
        if encoding:
            detect.check_encoding(pieces, encoding)
        return detect.detect_format(pieces, encoding=encoding, delimiter=delimiter, has_header=has_header)
    except detect.Unreadable as exc:
        raise ServiceError(str(exc)) from exc


def import_rows_estimate(recipient_import: RecipientImport, *, has_header: bool) -> int:
    """About how many data rows the upload holds (its lines: a quoted field may hold a line break, and
    blank lines count), for the mapping page's warning that the list has no room for them all."""
    lines, last = 0, b"\n"
    for piece in files.read_chunks(recipient_import, ImportFileChunk.Kind.UPLOAD):
        if piece:
            lines += piece.count(b"\n")
            last = piece[-1:]
    lines += last != b"\n"
    return max(0, lines - (1 if has_header else 0))


def check_mapping(mapping: list[str]) -> list[str]:
    """The user's column mapping, refused unless one column is the address and names are usable."""
    if mapping.count("email") != 1:
        raise ServiceError(_("Choose exactly one column with the addresses."))
    seen = set()
    for target in mapping:
        if not target:
            continue  # a column left out
        name = target.removeprefix("custom:")
        custom = target != "email" and target not in DETAIL_KEYS.values()
        if custom and (not target.startswith("custom:") or not valid_custom_name(name)):
            raise ServiceError(
                _("%(name)s cannot be a field name: use letters, digits and underscores.") % {"name": name}
            )
        if name in seen:
            raise ServiceError(_("Two columns both go to %(name)s.") % {"name": name})
        seen.add(name)
    return mapping


@transaction.atomic
def import_start(
    *, recipient_import: RecipientImport, encoding: str, delimiter: str, has_header: bool, mapping: list[str],
    mode: str, actor: Actor, validate_after: bool = False,
) -> RecipientImport:  # fmt: skip
    """Queue the import with the user's choices; the task reads and applies it."""
    if recipient_import.status != ImportStatus.UPLOADED:
        raise ServiceError(_("This import was started already."))
    if mode not in ImportMode.values:
        raise ServiceError(_("Choose how to import."))
    recipient_import.encoding, recipient_import.delimiter = encoding, delimiter
    recipient_import.has_header, recipient_import.mapping = has_header, check_mapping(mapping)
    recipient_import.mode, recipient_import.status = mode, ImportStatus.QUEUED
    recipient_import.validate_after = validate_after
    recipient_import.save()
    transaction.on_commit(lambda: async_task("sending.tasks.import_run", recipient_import.pk))
    return recipient_import


@transaction.atomic
def import_cancel(*, recipient_import: RecipientImport) -> bool:
    """Drop an import that has not started running (its file goes too). True when it was dropped."""
    dropped = RecipientImport.objects.filter(
        pk=recipient_import.pk, status__in=[ImportStatus.UPLOADED, ImportStatus.QUEUED]
    ).update(status=ImportStatus.CANCELLED, finished_at=timezone.now())
    if dropped:
        files.delete_chunks(recipient_import, ImportFileChunk.Kind.UPLOAD)
    return bool(dropped)
