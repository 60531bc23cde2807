"""The import task: read the uploaded file as a stream, check every row, then apply it whole or not at all.

Two phases. Reading holds no lock and writes nothing but progress: rows are parsed with the encoding,
delimiter and column mapping the user confirmed, checked (`fields.clean_recipient`), deduplicated within
the file, and those that will not fit the list are refused; what to apply stays in memory (at most about a
list's limit of rows) and the rejected rows go to a report file. Applying is ONE transaction: the list row
locked, the rows classified again against the list as it is now (new, update, already there, over the
limit), written with two prepared statements, the counts, the report and the audit entry with them.

A worker that dies leaves the list untouched (the transaction never committed); the every-minute
`imports_reap` marks an import whose heartbeat stopped as failed, with the reason, and an import that was
marked failed meanwhile cannot commit (its final update is conditional).
"""

import csv
import io
import logging
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from json.encoder import encode_basestring as _json_string

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import Actor, audit_record
from sending.csv_cells import escape_formula
from sending.lists import fields, files
from sending.lists.detect import codec
from sending.lists.fields import STANDARD_NAMES, InvalidRecipient, valid_custom_name
from sending.models import (
    ImportFileChunk,
    ImportMode,
    ImportStatus,
    Recipient,
    RecipientImport,
    RecipientList,
)

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 1.0


def _to_json(values: dict[str, str]) -> str:
    """A flat object of strings as JSON, the way json.dumps writes it, several times faster per row."""
    return "{" + ", ".join(f"{_json_string(k)}: {_json_string(v)}" for k, v in values.items()) + "}"


STALE_AFTER = timedelta(minutes=2)  # no heartbeat for this long: the worker is gone


class ImportFailed(Exception):
    """The import cannot be applied; the message says why, for people."""


class _Stopped(Exception):
    """The import was cancelled or marked failed while it ran."""


@dataclass
class _Parsed:
    rows: list[tuple] = field(default_factory=list)  # (row number, email, key, *standard values, custom)
    total: int = 0
    invalid: int = 0
    duplicates: int = 0
    refused: int = 0
    blank: int = 0


class _Report:
    """The rejected rows as CSV (UTF-8 with a BOM, so Excel opens it), on disk past 1 MB."""

    def __init__(self, header: list[str]):
        self.file = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)  # noqa: SIM115 - closed in store()
        self.text = io.TextIOWrapper(self.file, encoding="utf-8-sig", newline="")
        self.writer = csv.writer(self.text)
        self.writer.writerow([_("Row"), _("Reason"), *header])
        self.count = 0

    def add(self, number: int, reason: str, cells: list[str]) -> None:
        self.writer.writerow([number, escape_formula(reason), *(escape_formula(cell) for cell in cells)])
        self.count += 1

    def store(self, recipient_import: RecipientImport) -> None:
        self.text.flush()
        self.file.seek(0)
        files.store_stream(
            recipient_import, ImportFileChunk.Kind.REJECTED, iter(lambda: self.file.read(files.CHUNK), b"")
        )
        self.text.close()


def import_run(import_id: int) -> None:
    """The django-q2 task. Runs a queued import once; a repeated delivery of the task finds it claimed."""
    now = timezone.now()
    claimed = RecipientImport.objects.filter(pk=import_id, status=ImportStatus.QUEUED).update(
        status=ImportStatus.RUNNING, started_at=now, heartbeat_at=now
    )
    if not claimed:
        return
    recipient_import = RecipientImport.objects.select_related("recipient_list__account", "created_by").get(
        pk=import_id
    )
    try:
        header, report, parsed = _read(recipient_import)
        _apply(recipient_import, header, report, parsed)
    except _Stopped:
        return
    except ImportFailed as exc:
        _fail(recipient_import, str(exc))
    except Exception:
        log.exception("import %s failed", recipient_import.public_id)
        _fail(
            recipient_import, _("The import stopped on an unexpected error. Nothing was applied; try again.")
        )


def _fail(recipient_import: RecipientImport, reason: str) -> None:
    """Mark a running import failed; its uploaded file goes (nothing will read it again)."""
    failed = RecipientImport.objects.filter(pk=recipient_import.pk, status=ImportStatus.RUNNING).update(
        status=ImportStatus.FAILED, error=reason, finished_at=timezone.now()
    )
    if failed:
        files.delete_chunks(recipient_import, ImportFileChunk.Kind.UPLOAD)


def imports_reap() -> int:
    """Mark imports whose worker stopped (no heartbeat for STALE_AFTER) as failed, deleting their uploaded
    files. Returns how many."""
    stale = RecipientImport.objects.filter(
        status=ImportStatus.RUNNING, heartbeat_at__lt=timezone.now() - STALE_AFTER
    )
    ids = list(stale.values_list("pk", flat=True))
    reaped = RecipientImport.objects.filter(pk__in=ids, status=ImportStatus.RUNNING).update(
        status=ImportStatus.FAILED,
        error=_("The worker running the import stopped (restarted or crashed). Nothing was applied."),
        finished_at=timezone.now(),
    )
    ImportFileChunk.objects.filter(
        recipient_import__in=ids,
        recipient_import__status=ImportStatus.FAILED,
        kind=ImportFileChunk.Kind.UPLOAD,
    ).delete()
    return reaped


KEEP_FILES = timedelta(days=7)  # a finished import's report stays downloadable this long
ABANDONED_AFTER = timedelta(days=1)  # an upload nobody mapped and started


def imports_purge() -> int:
    """Delete old imports' files (the counts stay) and drop abandoned uploads. Returns the imports touched."""
    now = timezone.now()
    abandoned = RecipientImport.objects.filter(
        status=ImportStatus.UPLOADED, created_at__lt=now - ABANDONED_AFTER
    )
    touched = abandoned.update(status=ImportStatus.CANCELLED, finished_at=now)
    old = RecipientImport.objects.filter(finished_at__lt=now - KEEP_FILES, chunks__isnull=False).distinct()
    stale = list(old.values_list("pk", flat=True)[:1000])
    ImportFileChunk.objects.filter(recipient_import__in=stale).delete()
    ImportFileChunk.objects.filter(recipient_import__status=ImportStatus.CANCELLED).delete()
    return touched + len(stale)


def _beat(recipient_import: RecipientImport, reader: files.ChunkReader, rows: int) -> None:
    progress = min(99, reader.position * 100 // max(1, recipient_import.file_size))
    alive = RecipientImport.objects.filter(pk=recipient_import.pk, status=ImportStatus.RUNNING).update(
        heartbeat_at=timezone.now(), progress=progress, rows_read=rows
    )
    if not alive:
        raise _Stopped


def _columns(mapping: list[str]) -> tuple[int, list[tuple[int, str]], list[tuple[int, str]]]:
    if mapping.count("email") != 1:
        raise ImportFailed(_("Choose exactly one column with the addresses."))
    standard = [(i, target) for i, target in enumerate(mapping) if target in STANDARD_NAMES]
    custom = [
        (i, target.split(":", 1)[1]) for i, target in enumerate(mapping) if target.startswith("custom:")
    ]
    for _i, name in custom:
        if not valid_custom_name(name):
            raise ImportFailed(
                _("%(name)s cannot be a field name: use letters, digits and underscores.") % {"name": name}
            )
    return mapping.index("email"), standard, custom


def _read(recipient_import: RecipientImport) -> tuple[list[str], _Report, _Parsed]:
    checker = fields.RowChecker(*_columns(recipient_import.mapping))
    recipient_list = recipient_import.recipient_list
    limit = recipient_list.account.limit("max_recipients_per_list")
    if recipient_import.mode == ImportMode.REPLACE:
        existing: set[str] = set()
    else:
        existing = set(
            Recipient.objects.filter(recipient_list=recipient_list).values_list("email_key", flat=True)
        )
    room = max(0, limit - len(existing))  # new addresses that fit, as the list is now (checked again later)
    reader = files.ChunkReader(recipient_import)
    text = io.TextIOWrapper(
        io.BufferedReader(reader, 256 * 1024), encoding=codec(recipient_import.encoding), newline=""
    )
    rows = csv.reader(text, delimiter=recipient_import.delimiter)
    parsed = _Parsed()
    seen: dict[str, int] = {}
    header: list[str] = []
    report: _Report | None = None
    width = len(recipient_import.mapping)
    next_beat = time.monotonic() + HEARTBEAT_SECONDS
    try:
        for number, row in enumerate(rows, start=1):
            if number == 1:
                header = [cell.strip() for cell in row] if recipient_import.has_header else []
                header += [_("Column %(n)s") % {"n": i + 1} for i in range(len(header), width)]
                report = _Report(header)
                if recipient_import.has_header:
                    continue
            if time.monotonic() >= next_beat:
                _beat(recipient_import, reader, parsed.total)
                next_beat = time.monotonic() + HEARTBEAT_SECONDS
            if not any(cell.strip() for cell in row):
                parsed.blank += 1
                continue
            parsed.total += 1
            assert report is not None  # made with the first row
            cells = row + [""] * (width - len(row)) if len(row) < width else row
            try:
                email, key, values, custom = checker.check(cells)
            except InvalidRecipient as exc:
                parsed.invalid += 1
                report.add(number, str(exc), row)
                continue
            if key in seen:
                parsed.duplicates += 1
                report.add(number, _("The same address as row %(n)s.") % {"n": seen[key]}, row)
                continue
            seen[key] = number
            if key not in existing:
                if room <= 0:
                    parsed.refused += 1
                    report.add(number, _("The list is full: at most %(n)s addresses.") % {"n": limit}, row)
                    continue
                room -= 1
            # The row's cells are kept only where applying may still reject it (already in the list):
            # they are a third of the memory a row takes.
            kept = row if key in existing else None
            parsed.rows.append((number, email, key, *values, _to_json(custom) if custom else "{}", kept))
    except csv.Error as exc:
        raise ImportFailed(
            _("Row %(n)s cannot be read as CSV (%(error)s). Nothing was applied.")
            % {"n": rows.line_num, "error": exc}
        ) from exc
    except UnicodeDecodeError as exc:
        raise ImportFailed(
            _("The file is not valid %(encoding)s text.") % {"encoding": recipient_import.encoding}
        ) from exc
    if report is None:
        raise ImportFailed(_("The file has no rows."))
    _beat(recipient_import, reader, parsed.total)
    return header, report, parsed


_COLUMNS = ("recipient_list_id", "email", "email_key", *STANDARD_NAMES, "custom", "created_at", "updated_at")


def _insert_sql() -> str:
    quote = connection.ops.quote_name
    return (
        f"INSERT INTO {quote(Recipient._meta.db_table)} ({', '.join(quote(c) for c in _COLUMNS)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(_COLUMNS))})"
    )


def _insert(cursor, rows: list[tuple]) -> None:
    """SQLite runs executemany in C, the fastest way there; PostgreSQL takes the rows by COPY (one
    statement streaming them all; parsing a statement with thousands of parameters costs more)."""
    if connection.vendor != "postgresql":
        cursor.executemany(_insert_sql(), rows)
        return
    quote = connection.ops.quote_name
    columns = ", ".join(quote(c) for c in _COLUMNS)
    with cursor.cursor.copy(f"COPY {quote(Recipient._meta.db_table)} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _update_sql() -> str:
    quote = connection.ops.quote_name
    custom = "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"
    assignments = [f"{quote(c)} = %s" for c in ("email", *STANDARD_NAMES)]
    assignments += [f"{quote('custom')} = {custom}", f"{quote('updated_at')} = %s"]
    return (
        f"UPDATE {quote(Recipient._meta.db_table)} SET {', '.join(assignments)} "  # noqa: S608
        f"WHERE {quote('recipient_list_id')} = %s AND {quote('email_key')} = %s"
    )


def _apply(recipient_import: RecipientImport, header: list[str], report: _Report, parsed: _Parsed) -> None:
    now = timezone.now()
    stamp = connection.ops.adapt_datetimefield_value(now)
    with transaction.atomic():
        recipient_list = RecipientList.objects.select_for_update().get(pk=recipient_import.recipient_list_id)
        limit = recipient_list.account.limit("max_recipients_per_list")
        replace = recipient_import.mode == ImportMode.REPLACE
        if replace:
            Recipient.objects.filter(recipient_list=recipient_list)._raw_delete(connection.alias)
            existing: set[str] = set()
        else:
            existing = set(
                Recipient.objects.filter(recipient_list=recipient_list).values_list("email_key", flat=True)
            )
        inserts, updates = [], []
        room = limit - len(existing)
        duplicates = refused = 0
        for number, email, key, *values, custom, kept in parsed.rows:
            cells = kept if kept is not None else [email, *values, custom]
            if key in existing:
                if recipient_import.mode == ImportMode.ADD:
                    duplicates += 1
                    report.add(number, _("Already in the list."), cells)
                else:
                    updates.append((email, *values, custom, stamp, recipient_list.pk, key))
            elif room <= 0:
                refused += 1
                report.add(number, _("The list is full: at most %(n)s addresses.") % {"n": limit}, cells)
            else:
                room -= 1
                inserts.append((recipient_list.pk, email, key, *values, custom, stamp, stamp))
        parsed.rows.clear()
        with connection.cursor() as cursor:
            if inserts:
                _insert(cursor, inserts)
            if updates:
                cursor.executemany(_update_sql(), updates)
        recipient_list.recipient_count = len(existing) + len(inserts)
        recipient_list.updated_at = now
        recipient_list.save(update_fields=["recipient_count", "updated_at"])
        report.store(recipient_import)
        files.delete_chunks(recipient_import, ImportFileChunk.Kind.UPLOAD)
        counts = {
            "imported": len(inserts),
            "updated": len(updates),
            "duplicates": parsed.duplicates + duplicates,
            "invalid": parsed.invalid,
            "refused": parsed.refused + refused,
            "blank_lines": parsed.blank,
        }
        finished = RecipientImport.objects.filter(pk=recipient_import.pk, status=ImportStatus.RUNNING).update(
            status=ImportStatus.DONE,
            progress=100,
            rows_read=parsed.total,
            finished_at=timezone.now(),
            **counts,
        )
        if not finished:
            transaction.set_rollback(True)  # marked failed or cancelled meanwhile: apply nothing
            return
        user = recipient_import.created_by
        audit_record(
            actor=Actor(user=user, name="" if user else "import"),
            action="recipient_list.import",
            account=recipient_list.account,
            target=recipient_list,
            details={"file": recipient_import.file_name, "mode": recipient_import.mode, **counts},
        )
        if recipient_import.validate_after:
            from sending import validation_files  # it reads files as imports do (sending.lists.detect)

            validation_files.submit(recipient_list.account, file_name=recipient_list.name,
                                    recipient_list=recipient_list)  # fmt: skip
