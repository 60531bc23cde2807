"""The RPC endpoint: authenticate, dispatch the action, answer in DirectMail's JSON.

Reached at `/` when a request carries `Action` or `x-acs-action`, and at `/api/`.
"""

import logging
import time
import uuid
from xml.sax.saxutils import escape

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from sending.api import idempotency
from sending.api.actions import ACTIONS, load
from sending.api.auth import ApiError, Caller, authenticate
from sending.api.params import Params
from sending.services import messages as service

log = logging.getLogger(__name__)
load()


def is_api_request(request) -> bool:
    return "Action" in request.GET or "x-acs-action" in request.headers or "Action" in request.POST


def _rate_limit(caller: Caller) -> None:
    """Sending calls per account and second, counted in the shared cache (DirectMail allows 100/s)."""
    limit = settings.API_SEND_RATE_PER_SECOND
    if not limit:
        return
    key = f"api:rate:{caller.key.account_id}:{int(time.time())}"
    cache.add(key, 0, timeout=5)
    try:
        count = cache.incr(key)
    except ValueError:  # the second ended between add and incr
        return
    if count > limit:
        raise ApiError(
            "Throttling.User", f"Request was denied: more than {limit} sending calls a second.", 400, 1
        )


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
    if request.GET.get("Format", request.POST.get("Format", "")).upper() == "XML":
        document = '<?xml version="1.0" encoding="UTF-8"?>' + _xml(body, root)
        return HttpResponse(document, status=status, content_type="application/xml; charset=utf-8")
    return JsonResponse(body, status=status)


def _error(request, request_id: str, error: ApiError) -> HttpResponse:
    body = {"RequestId": request_id, "HostId": "directmail", "Code": error.code, "Message": error.message}
    response = _respond(request, body, "Error", error.status)
    if error.retry_after:
        response["x-acs-retry-after"] = str(error.retry_after)
    return response


@csrf_exempt
def rpc(request):
    request_id = str(uuid.uuid4()).upper()
    try:
        caller = authenticate(request)
        action = ACTIONS.get(caller.action)
        if action is None:
            raise ApiError("InvalidAction.NotFound", f"Specified api {caller.action} is not found.", 404)
        params = Params(caller.params)
        if action.sending:
            _rate_limit(caller)
            body = idempotency.run_once(
                caller, idempotency.idempotency_key(request, caller), lambda: action.handler(caller, params)
            )
        else:
            body = action.handler(caller, params)
    except ApiError as exc:
        return _error(request, request_id, exc)
    except service.TemporaryFailure:
        log.exception("API request %s could not be stored", request_id)
        return _error(
            request,
            request_id,
            ApiError("ServiceUnavailable", "The request could not be stored; try again.", 503),
        )
    return _respond(request, {"RequestId": request_id, **body}, f"{caller.action}Response")
