"""Health checks for load balancers and process supervisors.

Web: `/healthz` (liveness: the process answers) and `/readyz` (readiness: the database answers a query and
the task broker a ping; 503 naming what failed). Worker and smtpd: `manage.py healthcheck worker|smtpd`
(exit status 0 or 1), for systemd, Docker or Kubernetes probes.
"""

import smtplib
import time

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache


def check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any failure of the database is "not ready", said with its reason
        return f"error: {type(exc).__name__}: {exc}"[:200]
    return "ok"


def check_broker() -> str:
    from django_q.brokers import get_broker

    try:
        if not get_broker().ping():
            return "error: the broker did not answer"
    except Exception as exc:  # Redis down, refused, timed out
        return f"error: {type(exc).__name__}: {exc}"[:200]
    return "ok"


@never_cache
def readyz(request):
    checks = {"database": check_database(), "broker": check_broker()}
    ready = all(value == "ok" for value in checks.values())
    return JsonResponse({"ready": ready, **checks}, status=200 if ready else 503)


def check_worker(host: str | None = None, max_age: float = 10.0) -> tuple[bool, str]:
    """A django-q2 cluster (on `host`, or anywhere) reported itself in the last `max_age` seconds."""
    from django_q.status import Stat

    stats = [s for s in Stat.get_all() if host is None or getattr(s, "host", None) == host]
    if not stats:
        where = f" on {host}" if host else ""
        return False, f"no worker cluster{where} reported in the last seconds"
    fresh = [s for s in stats if (time.time() - s.timestamp.timestamp()) <= max_age]
    if not fresh:
        return False, "worker clusters are known but none reported recently"
    described = ", ".join(f"{s.host} {s.status} ({len(s.workers)} workers)" for s in fresh)
    return True, described


def check_smtpd(host: str | None = None, port: int | None = None, timeout: float = 5.0) -> tuple[bool, str]:
    """The SMTP server greets with 220 and answers NOOP."""
    host = host or settings.SMTPD_HOST
    port = port or settings.SMTPD_PORT[0]
    try:
        with smtplib.SMTP(host, port, timeout=timeout) as client:
            code, _text = client.noop()
    except (TimeoutError, OSError, smtplib.SMTPException) as exc:
        return False, f"{host}:{port}: {type(exc).__name__}: {exc}"
    if code != 250:
        return False, f"{host}:{port}: NOOP answered {code}"
    return True, f"{host}:{port} answers"
