"""The URL map: the console (accounts and, as they land, the other apps), Django admin, health."""

from django.contrib import admin
from django.http import HttpResponse
from django.urls import include, path

from accounts import views as account_views
from accounts.urls import auth_urlpatterns
from sending.urls import public_urlpatterns as sending_public_urlpatterns


def healthz(request):
    """Liveness for load balancers: the process answers."""
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("", account_views.home, name="home"),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("", include(auth_urlpatterns)),
    path("", include("accounts.urls")),
    path("", include("sending.urls")),
    path("", include(sending_public_urlpatterns)),
]
