"""Re-authentication before anything secret is created or shown ("sudo mode", as GitHub calls it).

A view decorated with `recent_password_required` runs only if the user typed their password in the last
REAUTH_SECONDS; otherwise they are sent to confirm it and come back.
"""

import time
from functools import wraps
from urllib.parse import urlencode

from django.shortcuts import redirect
from django.urls import reverse

SESSION_KEY = "reauth_at"
REAUTH_SECONDS = 10 * 60


def mark_recent(request) -> None:
    request.session[SESSION_KEY] = time.time()


def is_recent(request) -> bool:
    return time.time() - request.session.get(SESSION_KEY, 0) < REAUTH_SECONDS


def recent_password_required(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not is_recent(request):
            # A POST is not replayed: the person confirms, lands on the page, and submits again.
            return redirect(reverse("confirm_password") + "?" + urlencode({"next": request.path}))
        return view(request, *args, **kwargs)

    return wrapper
