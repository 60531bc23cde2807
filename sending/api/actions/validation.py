"""Address validation over the API (sending.validation): ValidateEmail, CheckDisposable and
GetValidationQuota, in the SDK's shapes. A check costs the account's validation quota: one with the SMTP
probe (ProbeType FULL, not metered when it answers UNKNOWN), a third of one without (BASIC_ONLY, the
default). CheckGraylist is refused with a clear code until greylist retries land; the file actions still
answer that validation files are not available yet."""

from sending import validation, validation_probe
from sending.api.actions import action
from sending.api.auth import ApiError, Caller
from sending.api.params import Params

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
    probe = p.text("ProbeType", max_length=16).strip().upper() or "BASIC_ONLY"
    if probe not in PROBE_TYPES:
        raise ApiError("InvalidProbeType.Malformed", "ProbeType is FULL or BASIC_ONLY.")
    p.integer("Timeout", default=60, minimum=1, maximum=600)  # basic checks end within DNS_TIMEOUT each
    if p.boolean("CheckGraylist"):
        raise ApiError(
            "InvalidCheckGraylist.NotYetAvailable",
            "CheckGraylist (retrying a greylisted probe, reported as dm:Validator:GrayListResult) is not "
            "available on this server yet; a greylisted probe answers UNKNOWN / GREYLISTED.",
            501,
        )
    cost = validation.FULL_COST if probe == "FULL" else validation.BASIC_COST
    _charge(caller, cost)
    result = validation.Validator(caller.key.account.pk).validate(address)
    if probe == "FULL" and result.status == validation.Status.VALID:
        result = validation_probe.probe(result)
    if probe == "FULL" and result.status == validation.Status.UNKNOWN:
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
