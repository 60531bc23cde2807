"""Files of addresses validated in the worker (SendValidateFile and its family; sending.validation).

`submit` records the job and queues `run` in the worker: the file is fetched through netguard (at most
VALIDATION_FILE_MAX_BYTES), decoded like a recipient import (UTF-8, GBK or UTF-16), its addresses read
from `address_column` (from 1, after an optional header row), duplicates dropped when asked, the quota
taken for all of them at once (a third of a check each), and each address validated without a probe by one
Validator (DNS asked once per domain). Progress is saved every PROGRESS_EVERY rows; the result file is the
rows as given with Status, SubStatus and Suggestion added, kept gzipped on the job and downloaded through a
signed link (`download_url`) for DOWNLOAD_HOURS.
"""

import csv
import gzip
import io
import logging

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django_q.tasks import async_task

from sending import netguard, validation
from sending.lists import detect
from sending.models import ValidationJob

log = logging.getLogger(__name__)

PROGRESS_EVERY = 500
DOWNLOAD_HOURS = 24
_SALT = "sending.validation_files.download"


class FileError(ValueError):
    """What stopped a file; its text is for people."""


def submit(
    account,
    *,
    file_name: str,
    url: str = "",
    data: bytes | None = None,
    recipient_list=None,
    address_column: int = 1,
    has_header_row: bool = False,
    remove_duplicate: bool = False,
) -> ValidationJob:
    """Record the job and queue it: a file at `url` (checked now, so a bad one is refused at once), a file
    uploaded (`data`), or a recipient list's addresses."""  # fmt: skip
    if url:
        netguard.check_url(url)  # raises netguard.UnsafeTarget
    job = ValidationJob.objects.create(
        account=account,
        file_name=file_name[:255],
        source_url=url[:2000],
        source_data=data,
        recipient_list=recipient_list,
        address_column=address_column,
        has_header_row=has_header_row,
        remove_duplicate=remove_duplicate or recipient_list is not None,
    )
    transaction.on_commit(lambda: async_task("sending.tasks.validation_file_run", job.pk))
    return job


def results(job: ValidationJob) -> list[tuple[str, str, str]]:
    """(address, Status, SubStatus) of each row of a completed job."""
    rows = list(csv.reader(io.StringIO(result_csv(job).decode("utf-8"))))
    if job.has_header_row and rows:
        rows.pop(0)
    column = job.address_column - 1
    return [(r[column] if column < len(r) else "", r[-3], r[-2]) for r in rows if len(r) >= 3]


def breakdown(job: ValidationJob) -> list[dict]:
    """The counts by Status and SubStatus, most first: {"status", "sub_status", "count", "percent"}."""
    rows = []
    for key, count in (job.counts or {}).items():
        if "/" in key:
            status, sub_status = key.split("/", 1)
            rows.append({"status": status, "sub_status": sub_status, "count": count,
                         "percent": round(100 * count / job.total, 1) if job.total else 0})  # fmt: skip
    return sorted(rows, key=lambda r: (-r["count"], r["status"], r["sub_status"]))


def _rows(data: bytes) -> list[list[str]]:
    try:
        encoding = detect.detect_encoding(lambda: [data])
    except detect.Unreadable as exc:
        raise FileError(str(exc)) from exc
    text = data.decode(detect.codec(encoding), errors="replace")
    delimiter = detect.detect_delimiter(text[:65536], complete=len(text) <= 65536)
    return [row for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter) if any(row)]


def run(job_id: int) -> None:
    """Validate the job's file (see the module docstring); a failure is kept on the job, never raised."""
    job = ValidationJob.objects.select_related("account", "recipient_list").get(pk=job_id)
    if job.state != ValidationJob.State.PROCESSING:
        return
    try:
        _run(job)
    except (FileError, netguard.FetchError, netguard.UnsafeTarget, validation.QuotaExhausted) as exc:
        text = str(exc)
        if isinstance(exc, validation.QuotaExhausted):
            text = f"the account's address validation quota for this {exc.period} is used up"
        ValidationJob.objects.filter(pk=job.pk).update(
            state=ValidationJob.State.FAILED, error=text[:500], completed_at=timezone.now()
        )


def _source_rows(job: ValidationJob) -> list[list[str]]:
    if job.recipient_list is not None:
        return [
            [email] for email in job.recipient_list.recipients.order_by("pk").values_list("email", flat=True)
        ]
    if job.source_data is not None:
        return _rows(bytes(job.source_data))
    return _rows(netguard.fetch(job.source_url, max_bytes=settings.VALIDATION_FILE_MAX_BYTES).data)


def _run(job: ValidationJob) -> None:
    rows = _source_rows(job)
    header = rows.pop(0) if job.has_header_row and rows else None
    column = job.address_column - 1
    if job.remove_duplicate:
        seen: set[str] = set()
        unique = []
        for row in rows:
            key = (row[column] if column < len(row) else "").strip().lower()
            if key not in seen:
                seen.add(key)
                unique.append(row)
        rows = unique
    validation.reserve(job.account, validation.BASIC_COST * len(rows))
    ValidationJob.objects.filter(pk=job.pk).update(total=len(rows))
    validator = validation.Validator(job.account_id)
    validator.prefetch([row[column] for row in rows if column < len(row)])
    out = io.StringIO()
    writer = csv.writer(out)
    if header is not None:
        writer.writerow([*header, "Status", "SubStatus", "Suggestion"])
    counts: dict[str, int] = {}
    for number, row in enumerate(rows, start=1):
        address = row[column].strip() if column < len(row) else ""
        result = validator.validate(address)
        writer.writerow([*row, str(result.status), str(result.sub_status), result.suggestion])
        for key in (str(result.status), f"{result.status}/{result.sub_status}"):
            counts[key] = counts.get(key, 0) + 1
        if number % PROGRESS_EVERY == 0:
            ValidationJob.objects.filter(pk=job.pk).update(processed=number, counts=counts)
    ValidationJob.objects.filter(pk=job.pk, state=ValidationJob.State.PROCESSING).update(
        processed=len(rows),
        counts=counts,
        result=gzip.compress(out.getvalue().encode("utf-8")),
        state=ValidationJob.State.COMPLETED,
        completed_at=timezone.now(),
    )


def delete(job: ValidationJob) -> None:
    """The job goes (its result with it); it still answers as deleted."""
    ValidationJob.objects.filter(pk=job.pk).update(state=ValidationJob.State.DELETED, result=None)


def download_url(job: ValidationJob) -> str:
    token = signing.TimestampSigner(salt=_SALT).sign(job.file_id)
    return settings.PUBLIC_BASE_URL + reverse("validation_file_download", args=[token])


def job_from_token(token: str) -> ValidationJob | None:
    try:
        file_id = signing.TimestampSigner(salt=_SALT).unsign(token, max_age=DOWNLOAD_HOURS * 3600)
    except signing.BadSignature:
        return None
    return ValidationJob.objects.filter(file_id=file_id, state=ValidationJob.State.COMPLETED).first()


def result_csv(job: ValidationJob) -> bytes:
    return gzip.decompress(bytes(job.result)) if job.result else b""
