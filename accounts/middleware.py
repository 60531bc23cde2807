"""Middleware of the console: the language a signed-in person chose, and the Content-Security-Policy of
every page."""

from django.conf import settings
from django.utils import translation


class UserLanguageMiddleware:
    """The language a signed-in person chose in the user menu wins over the browser's Accept-Language (which
    Django's LocaleMiddleware applied before); people who chose nothing keep the browser's."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.language:
            translation.activate(user.language)
            request.LANGUAGE_CODE = translation.get_language()
        return self.get_response(request)


class ContentSecurityPolicyMiddleware:
    """CONTENT_SECURITY_POLICY on every HTML page that sets none of its own: scripts only from our static
    files (no inline script, no event handler attributes), no plugins, no framing by other sites, forms
    posting only to us. Styles may be inline (Bootstrap's utilities and mail previews use them); images
    may come from anywhere a previewed message points."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if settings.CONTENT_SECURITY_POLICY and response.get("Content-Type", "").startswith("text/html"):
            response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        return response
