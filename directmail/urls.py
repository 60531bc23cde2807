"""The URL map: the console (accounts and, as they land, the other apps), Django admin, health."""

import secrets
import uuid

from django.conf import settings
from django.contrib import admin
from django.http import HttpResponse, JsonResponse
from django.urls import include, path
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt

from accounts import views as account_views
from accounts.urls import auth_urlpatterns
from directmail import health, metrics
from sending.api import views as api_views
from sending.urls import public_urlpatterns as sending_public_urlpatterns


def root(request):
    """`/`: the DirectMail API when the request names an action, else the console's landing."""
    if api_views.is_api_request(request):
        return api_views.rpc(request)
    return account_views.home(request)


root.csrf_exempt = True  # type: ignore[attr-defined]  # the API is signed, not cookie-authenticated; home only redirects


def server_error(request):
    """An error no view answered: DirectMail's JSON for API calls (an SDK reads no HTML page), temporary;
    Django's page for the console."""
    if request.path == "/api/" or api_views.is_api_request(request):
        return api_views.unavailable(request)
    return defaults.server_error(request)


handler500 = server_error


def healthz(request):
    """Liveness for load balancers: the process answers."""
    return HttpResponse("ok", content_type="text/plain")


@csrf_exempt
def bench_insert(request):
    """make bench's API baseline (BENCH_VIEWS only): the request read as the API reads it, one INSERT in
    autocommit, a small JSON answer; what a call costs before any of the API's own work."""
    from sending.models import ApiNonce

    params = request.POST.dict()
    ApiNonce.objects.create(key_id="bench", nonce=params.get("SignatureNonce") or secrets.token_hex(16))
    return JsonResponse({"RequestId": str(uuid.uuid4()).upper()})


urlpatterns = [
    path("", root, name="home"),
    path("api/", api_views.rpc, name="api"),
    path("healthz", healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("", include(auth_urlpatterns)),
    path("", include("accounts.urls")),
    path("", include("sending.urls")),
    path("", include("templates_app.urls")),
    path("", include("stats.urls")),
    path("", include(sending_public_urlpatterns)),
]
if settings.BENCH_VIEWS:  # never in production: make bench turns it on for its own gunicorn
    urlpatterns.append(path("bench/insert", bench_insert))
