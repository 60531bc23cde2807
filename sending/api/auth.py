"""Who is calling the API: the access key a request is signed with, checked as Alibaba's gateway does.

Both signature schemes, the 15-minute timestamp window, one use per nonce (kept in the database, so every
web process sees it), disabled keys refused. Errors carry DirectMail's codes.

`authenticate` only reads; the caller spends the nonce with `use_nonce`, inside the call's own transaction
for sending calls (one commit per call) or on its own otherwise.
"""

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import AccessKey
from accounts.network import client_ip
from directmail.db import rows
from sending.api import signatures
from sending.models import ApiNonce

WINDOW = timedelta(minutes=15)
# The ACS3 headers a signature must cover: what the call is, when it was made and its one-time nonce.
ACS3_MUST_SIGN = ("x-acs-action", "x-acs-date", "x-acs-signature-nonce")
NONCE_MEMORY = timedelta(minutes=35)


class ApiError(Exception):
    def __init__(self, code: str, message: str, status: int = 400, retry_after: int | None = None):
        super().__init__(message)
        self.code, self.message, self.status, self.retry_after = code, message, status, retry_after


@dataclass(frozen=True)
class Caller:
    key: AccessKey
    action: str
    params: dict[str, str]
    ip: str | None
    nonce: str
    request_id: str = ""  # the RequestId the answer carries (set by sending.api.views)


TOO_LARGE = ApiError(
    "InvalidBody.TooLarge",
    f"The request is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 1024 // 1024} MB; HtmlBody and "
    "TextBody are at most 8 MB, attachments go by URL.",
    413,
)
MALFORMED = ApiError("InvalidParameter.Malformed", "The request could not be read as parameters.", 400)


def request_params(request) -> dict[str, str]:
    """Query and form parameters merged (the SDKs split them differently per action); the body wins. A body
    too large or unreadable is DirectMail's error, never Django's page."""
    try:
        params = {k: v for k, v in request.GET.items()}
        if request.method == "POST" and request.content_type == "application/x-www-form-urlencoded":
            params.update(request.POST.items())
    except RequestDataTooBig as exc:
        raise TOO_LARGE from exc
    except (SuspiciousOperation, UnicodeError, ValueError) as exc:
        raise MALFORMED from exc
    return params


def _timestamp(value: str, name: str) -> None:
    try:
        moment = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError as exc:
        raise ApiError("InvalidTimeStamp.Format", f"{name} must look like 2026-01-31T12:00:00Z.") from exc
    if abs(timezone.now() - moment) > WINDOW:
        raise ApiError(
            "InvalidTimeStamp.Expired", f"{name} {value} is more than 15 minutes from server time."
        )


def _key(key_id: str) -> AccessKey:
    # Read on every call: plain SQL built once (directmail.db.rows), key_id is unique.
    key = rows.select_one(AccessKey, "t0.key_id = %s", [key_id], related=("account",))
    if key is None:
        raise ApiError("InvalidAccessKeyId.NotFound", "Specified access key is not found.", 404)
    if not key.is_active:
        raise ApiError("InvalidAccessKeyId.Inactive", "Specified access key is disabled.", 400)
    return key


# ApiNonce's table; its unique constraint refuses a nonce used before. A plain statement: it runs on every
# call, and the ORM spent several times the insert's own time building it.
_NONCE_SQL = "INSERT INTO sending_apinonce (key_id, nonce, created_at) VALUES (%s, %s, %s)"


def use_nonce(caller: Caller) -> None:
    """Spend the call's nonce, or refuse the call as a replay."""
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    try:
        # No savepoint: inside a sending call's transaction, a replay ends the whole transaction anyway.
        with transaction.atomic(savepoint=False), connection.cursor() as cursor:
            cursor.execute(_NONCE_SQL, [caller.key.key_id, caller.nonce[:128], now])
    except IntegrityError as exc:
        raise ApiError("SignatureNonceUsed", "Specified signature nonce was used already.") from exc


def authenticate(request) -> Caller:
    """The verified caller of a signed request (nothing is written: see use_nonce)."""
    params = request_params(request)
    header = request.headers.get("Authorization", "")
    caller = _acs3(request, params, header) if header.startswith(signatures.ACS3) else _rpc(request, params)
    if not caller.nonce:
        raise ApiError("MissingParameter", "SignatureNonce is mandatory for this action.")
    return caller


def note_use(caller: Caller) -> None:
    """Last use of the key, written at most once a minute: a busy key should not cost a write per call."""
    now = timezone.now()
    last = caller.key.last_used_at
    if last is None or last < now - timedelta(minutes=1) or caller.key.last_used_ip != caller.ip:
        AccessKey.objects.filter(pk=caller.key.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - timedelta(seconds=5))
        ).update(last_used_at=now, last_used_ip=caller.ip)


def _rpc(request, params: dict[str, str]) -> Caller:
    signature = params.pop("Signature", None)
    if signature is None:
        raise ApiError("MissingParameter", "Signature is mandatory for this action.")
    for required in ("AccessKeyId", "Timestamp", "Action"):
        if not params.get(required):
            raise ApiError("MissingParameter", f"{required} is mandatory for this action.")
    if params.get("SignatureMethod", "HMAC-SHA1") != "HMAC-SHA1":
        raise ApiError("InvalidParameter", "SignatureMethod must be HMAC-SHA1.")
    key = _key(params["AccessKeyId"])
    if not signatures.rpc_verify(request.method, params, key.secret(), signature):
        raise ApiError(
            "SignatureDoesNotMatch", "Specified signature is not matched with our calculation.", 400
        )
    _timestamp(params["Timestamp"], "Timestamp")
    return Caller(key, params["Action"], params, client_ip(request), params.get("SignatureNonce", ""))


def _acs3(request, params: dict[str, str], header: str) -> Caller:
    fields = signatures.parse_authorization(header)
    if fields is None:
        raise ApiError("InvalidParameter", "The Authorization header is malformed.")
    try:
        body = request.body
    except RequestDataTooBig as exc:
        raise TOO_LARGE from exc
    if request.headers.get("x-acs-content-sha256", "") != hashlib.sha256(body).hexdigest():
        raise ApiError("SignatureDoesNotMatch", "x-acs-content-sha256 does not match the body.")
    signed = [name.strip().lower() for name in fields["SignedHeaders"].split(";")]
    if missing := [name for name in ACS3_MUST_SIGN if name not in signed]:
        # Unsigned, they could be swapped: a captured request replayed with a new nonce and date, or sent
        # to another action. The official SDKs always sign them.
        raise ApiError(
            "IncompleteSignature",
            f"SignedHeaders must include {', '.join(missing)} (it has {';'.join(signed)}).",
        )
    key = _key(fields["Credential"])
    headers = {name.lower(): value for name, value in request.headers.items()}
    canonical = signatures.acs3_canonical_request(
        request.method, dict(request.GET.items()), headers, signed, body
    )
    if not signatures.acs3_verify(canonical, key.secret(), fields["Signature"]):
        raise ApiError("SignatureDoesNotMatch", "Specified signature is not matched with our calculation.")
    _timestamp(headers.get("x-acs-date", ""), "x-acs-date")
    return Caller(
        key,
        headers.get("x-acs-action", ""),
        params,
        client_ip(request),
        headers.get("x-acs-signature-nonce", ""),
    )


def purge_nonces() -> int:
    deleted, _per_model = ApiNonce.objects.filter(created_at__lt=timezone.now() - NONCE_MEMORY).delete()
    return deleted
