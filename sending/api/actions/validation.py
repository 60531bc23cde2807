"""Address validation over the API (sending.validation): ValidateEmail, CheckDisposable and
GetValidationQuota, in the SDK's shapes. A check costs the account's validation quota: one with the SMTP
probe (ProbeType FULL, not metered when it answers UNKNOWN), a third of one without (BASIC_ONLY, the
default). CheckGraylist: a greylisted probe is asked again later (sending.validation_graylist) and its
answer sent as a dm:Validator:GrayListResult webhook event. Files: SendValidateFile
(FileUrl fetched through netguard in the worker), GetValidateFileStatus, GetValidateFile (a signed
download link), ListValidateFile, DeleteValidateFile (sending.validation_files)."""

from datetime import UTC, datetime

from sending import netguard, validation, validation_files, validation_graylist, validation_probe
from sending.api.actions import action
from sending.api.auth import ApiError, Caller
from sending.api.params import Params
from sending.models import ValidationJob

PROBE_TYPES = ("BASIC_ONLY", "FULL")


def _address(p: Params) -> str:
    return p.text("Email", required=True, max_length=320).strip()


def _charge(caller: Caller, thirds: int) -> None:
    try:
        validation.reserve(caller.key.account, thirds)
    except validation.QuotaExhausted as exc:
        which = "today's" if exc.period == "day" else "this month's"
        raise ApiError(
            "Quota.Exhausted",
            f"The account's address validation quota ({which}: {exc.limit}) is used up.",
            403,
        ) from exc


@action("ValidateEmail")
def validate_email(caller: Caller, p: Params) -> dict:
    address = _address(p)
    graylist = p.boolean("CheckGraylist")
    # CheckGraylist asks again a probe that was greylisted: it implies the probe (FULL), and refuses
    # BASIC_ONLY, which has no probe to ask again.
    probe = p.text("ProbeType", max_length=16).strip().upper() or ("FULL" if graylist else "BASIC_ONLY")
    if probe not in PROBE_TYPES:
        raise ApiError("InvalidProbeType.Malformed", "ProbeType is FULL or BASIC_ONLY.")
    if graylist and probe != "FULL":
        raise ApiError(
            "InvalidCheckGraylist.Conflict",
            "CheckGraylist asks a greylisted SMTP probe again: it needs ProbeType FULL (or no ProbeType).",
        )
    # Bounds the probe's SMTP conversation (basic checks end within DNS_TIMEOUT per lookup anyway).
    timeout = p.integer("Timeout", default=60, minimum=1, maximum=600)
    cost = validation.FULL_COST if probe == "FULL" else validation.BASIC_COST
    _charge(caller, cost)
    result = validation.Validator(caller.key.account.pk).validate(address)
    if probe == "FULL" and result.status == validation.Status.VALID:
        result = validation_probe.probe(result, timeout=timeout)
    if graylist and result.sub_status == validation.SubStatus.GREYLISTED:
        # Asked again later; the check's answer settles the quota and goes out as dm:Validator:GrayListResult.
        validation_graylist.schedule(caller.key.account, result.email, request_id=caller.request_id,
                                     timeout=timeout)  # fmt: skip
    elif probe == "FULL" and result.status == validation.Status.UNKNOWN:
        validation.give_back(caller.key.account, cost)  # FULL meters no UNKNOWN answer
    answer = {
        "Status": str(result.status),
        "SubStatus": str(result.sub_status),
        "LocalPart": result.local_part,
        "DomainPart": result.domain_part,
        "IsFreeMail": result.is_free_mail,
        "Provider": result.provider,
    }
    if result.suggestion:
        answer["Suggestion"] = result.suggestion  # ours: the corrected address of a MISSPELLED one
    return answer


@action("CheckDisposable")
def check_disposable(caller: Caller, p: Params) -> dict:
    address = _address(p)
    _charge(caller, validation.BASIC_COST)
    result = validation.Validator().validate(address)
    if result.format_valid and result.mx_valid is None and result.domain_part:
        result.mx_valid, _error = validation.Validator().domain_accepts_mail(result.domain_part)

    def word(value: bool | None) -> str:
        return "true" if value else "false"

    ok = result.format_valid and bool(result.mx_valid) and not result.disposable
    return {
        "IsFormatValid": word(result.format_valid),
        "IsDisposable": word(result.disposable),
        "IsMxValid": word(result.mx_valid),
        "IsOkToSend": word(ok and result.status not in (validation.Status.INVALID,)),
    }


@action("GetValidationQuota")
def get_validation_quota(caller: Caller, p: Params) -> dict:
    used, limit = validation.usage(caller.key.account)["month"]
    return {"TotalQuota": limit, "UsedQuota": used}


# -- files (sending.validation_files)


def _rfc3339(value) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else ""


def _job(caller: Caller, p: Params) -> ValidationJob:
    file_id = p.text("FileId", required=True, max_length=64).strip()
    job = ValidationJob.objects.filter(account=caller.key.account, file_id=file_id).first()
    if job is None:
        raise ApiError("InvalidFileId.NotFound", f"The validation file {file_id} does not exist.", 404)
    return job


def _status(job: ValidationJob) -> dict:
    counts = job.counts or {}
    percent = 100 if job.state == ValidationJob.State.COMPLETED else (
        int(100 * job.processed / job.total) if job.total else 0)  # fmt: skip
    return {
        "FileId": job.file_id,
        "FileName": job.file_name,
        "UploadTime": _rfc3339(job.created_at),
        "Status": job.state,
        "Percentage": f"{percent}%",
        "CompleteTime": _rfc3339(job.completed_at),
        "TotalNum": str(job.total),
        "ProcessedNum": str(job.processed),
        "ValidNum": str(counts.get("VALID", 0)),
        "InvalidNum": str(counts.get("INVALID", 0)),
        "CatchAllNum": str(counts.get("CATCHALL", 0)),
        "DoNotMailNum": str(counts.get("DONOTMAIL", 0)),
        "UnknownNum": str(counts.get("UNKNOWN", 0)),
        **({"ErrorMessage": job.error} if job.error else {}),  # ours: why a failed file stopped
    }


@action("SendValidateFile")
def send_validate_file(caller: Caller, p: Params) -> dict:
    url = p.text("FileUrl", required=True, max_length=2000).strip()
    name = p.text("FileName", required=True, max_length=255).strip()
    column = p.integer("AddressColumn", default=0, minimum=0, maximum=1000)
    if column < 1:
        raise ApiError("MissingParameter", "AddressColumn is mandatory for this action (from 1).")
    has_header = p.boolean("HasHeaderRow")
    dedupe = p.boolean("RemoveDuplicate")
    try:
        job = validation_files.submit(caller.key.account, file_name=name, url=url, address_column=column,
                                      has_header_row=has_header, remove_duplicate=dedupe)  # fmt: skip
    except netguard.UnsafeTarget as exc:
        raise ApiError("InvalidFileUrl.Malformed", f"FileUrl: {exc}") from exc
    return {"FileId": job.file_id}


@action("GetValidateFileStatus")
def get_validate_file_status(caller: Caller, p: Params) -> dict:
    return _status(_job(caller, p))


@action("GetValidateFile")
def get_validate_file(caller: Caller, p: Params) -> dict:
    job = _job(caller, p)
    if job.state != ValidationJob.State.COMPLETED:
        raise ApiError(
            "InvalidFile.NotReady",
            f"The validation file {job.file_id} is {job.state}: no result to get.",
            400,
        )
    return {"FileUrl": validation_files.download_url(job)}


@action("ListValidateFile")
def list_validate_file(caller: Caller, p: Params) -> dict:
    start, end = _moment(p, "StartTime"), _moment(p, "EndTime")
    if end < start:
        raise ApiError("InvalidParameter", "EndTime must not be before StartTime.")
    jobs = ValidationJob.objects.filter(
        account=caller.key.account, created_at__gte=start, created_at__lte=end
    )
    if keyword := p.text("FileKeyword", max_length=255).strip():
        jobs = jobs.filter(file_name__icontains=keyword)
    page = p.integer("Page", default=1, minimum=1, maximum=100_000)
    size = p.integer("PageSize", default=10, minimum=1, maximum=100)
    total = jobs.count()
    rows = list(jobs[(page - 1) * size : page * size])
    pages = -(-total // size)
    files = [{**_status(j), "IsDownloadable": j.state == ValidationJob.State.COMPLETED} for j in rows]
    return {"Files": files, "Page": page, "PageSize": size, "TotalSize": total, "TotalPages": pages,
            "HasNext": page < pages}  # fmt: skip


def _moment(p: Params, name: str) -> datetime:
    value = p.text(name, required=True, max_length=40).strip()
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ApiError(
            "InvalidParameter", f"{name} is an RFC 3339 time, such as 2026-12-01T00:00:00Z."
        ) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@action("DeleteValidateFile")
def delete_validate_file(caller: Caller, p: Params) -> dict:
    validation_files.delete(_job(caller, p))
    return {}
