"""The RPC endpoint: authenticate, dispatch the action, answer in DirectMail's JSON.

Reached at `/` when a request carries `Action` or `x-acs-action`, and at `/api/`.
"""

import dataclasses
import logging
import uuid
from xml.sax.saxutils import escape

from django.db import DatabaseError, transaction
from django.http import HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from accounts.network import ip_allowed
from directmail.metrics import API_CALLS
from sending.api import idempotency, ratelimit
from sending.api.actions import ACTIONS, Action, load
from sending.api.auth import ApiError, Caller, authenticate, note_use, use_nonce
from sending.api.params import Params
from sending.services import messages as service

log = logging.getLogger(__name__)
load()


def is_api_request(request) -> bool:
    if "Action" in request.GET or "x-acs-action" in request.headers:
        return True
    try:
        return "Action" in request.POST
    except Exception:  # too large or unreadable: only an API call posts to `/`, answered in its JSON
        return request.method == "POST"


def _param(request, name: str) -> str:
    """A parameter read for the answer's sake (Format, Action), also from a request whose body failed."""
    try:
        return request.GET.get(name) or request.POST.get(name, "")
    except Exception:
        return ""


def _xml(value, tag: str) -> str:
    if isinstance(value, dict):
        inner = "".join(_xml(v, k) for k, v in value.items())
    elif isinstance(value, list):
        return "".join(_xml(item, tag) for item in value)
    else:
        inner = escape("" if value is None else str(value))
    return f"<{tag}>{inner}</{tag}>"


def _respond(request, body: dict, root: str, status: int = 200) -> HttpResponse:
    """JSON, or XML when the call asks for Format=XML (as DirectMail answers it)."""
    if _param(request, "Format").upper() == "XML":
        document = '<?xml version="1.0" encoding="UTF-8"?>' + _xml(body, root)
        return HttpResponse(document, status=status, content_type="application/xml; charset=utf-8")
    return JsonResponse(body, status=status)


def _error(request, request_id: str, error: ApiError) -> HttpResponse:
    body = {"RequestId": request_id, "HostId": "directmail", "Code": error.code, "Message": error.message}
    response = _respond(request, body, "Error", error.status)
    if error.retry_after:
        response["x-acs-retry-after"] = str(error.retry_after)
    return response


UNAVAILABLE = ApiError("ServiceUnavailable", "The service is unavailable just now; try again.", 503)


def unavailable(request) -> HttpResponse:
    """The answer to an API call that failed outside any view's care (directmail.urls.server_error)."""
    return _error(request, str(uuid.uuid4()).upper(), UNAVAILABLE)


@csrf_exempt
def rpc(request):
    response, code = _answer(request)
    name = _param(request, "Action") or request.headers.get("x-acs-action", "")
    API_CALLS.labels(name if name in ACTIONS else "other", code).inc()  # names callers send stay out
    return response


def _answer(request) -> tuple[HttpResponse, str]:
    request_id = str(uuid.uuid4()).upper()
    try:
        caller = dataclasses.replace(authenticate(request), request_id=request_id)
        _ip_protection(caller)
        action = ACTIONS.get(caller.action)
        if action is None:
            use_nonce(caller)
            raise ApiError("InvalidAction.NotFound", f"Specified api {caller.action} is not found.", 404)
        body = _run(request, caller, action)
    except ApiError as exc:
        return _error(request, request_id, exc), exc.code
    except service.TemporaryFailure:
        log.exception("API request %s could not be stored", request_id)
        error = ApiError("ServiceUnavailable", "The request could not be stored; try again.", 503)
        return _error(request, request_id, error), error.code
    except Exception:
        # The database or the cache out of reach anywhere else (the key lookup, IP protection, the commit of
        # the call), or a bug: an SDK still gets DirectMail's JSON, temporary, naming nothing of the cause.
        log.exception("API request %s failed", request_id)
        return _error(request, request_id, UNAVAILABLE), UNAVAILABLE.code
    try:
        note_use(caller)
    except Exception:  # bookkeeping only: the call itself succeeded (its mail may be committed)
        log.warning("could not note the use of key %s", caller.key.key_id, exc_info=True)
    return _respond(request, {"RequestId": request_id, **body}, f"{caller.action}Response"), "OK"


def _ip_protection(caller: Caller) -> None:
    """IP protection guards every action of the account's keys, management included: otherwise a key used
    from a refused address could lift the protection itself (AddIpfilter 0.0.0.0/0)."""
    if ip_allowed(caller.key.account, caller.ip):
        return
    _spend_nonce_anyway(caller)
    message = _("%(ip)s is not on this account's IP protection list.") % {"ip": caller.ip or "?"}
    raise ApiError("InvalidIp.Forbidden", message, 403)


def _run(request, caller: Caller, action: Action) -> dict:
    """Run the action. A sending call checks everything first, holding no lock, then stores in ONE short
    transaction: its nonce, its place in the rate limit, its idempotency record and its mail commit
    together or not at all. Other actions spend the nonce first and run on their own (some look DNS up,
    which no transaction should wait for)."""
    params = Params(caller.params)
    if not action.sending:
        use_nonce(caller)
        answer = action.handler(caller, params)
        assert isinstance(answer, dict)  # only a sending action answers with its store step
        return answer
    try:
        key = idempotency.idempotency_key(request, caller)
        replay = idempotency.known(caller, key)
        if replay is not None:
            use_nonce(caller)
            return replay
        store = action.handler(caller, params)
        assert callable(store)  # a sending action answers with its store step
        with transaction.atomic():
            use_nonce(caller)
            ratelimit.take(caller)
            return idempotency.run_once(caller, key, store)
    except (ApiError, service.TemporaryFailure) as exc:
        if getattr(exc, "code", "") != "SignatureNonceUsed":
            _spend_nonce_anyway(caller)
        raise


def _spend_nonce_anyway(caller: Caller) -> None:
    """A refused call's nonce is spent too: replaying it later must not send what was refused."""
    try:
        use_nonce(caller)
    except (ApiError, DatabaseError):
        log.warning("could not record the nonce of a refused call by %s", caller.key.key_id)
