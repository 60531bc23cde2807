"""Prometheus metrics at `/metrics`.

Counted where they happen, in whichever process: API calls by action and code (web), SMTP sessions and
submissions by result (smtpd), delivery attempts by result (worker), plus django-prometheus's request and
database metrics. With several processes per machine, set PROMETHEUS_MULTIPROC_DIR to one empty directory
for all of them (cleared at boot): the web process's `/metrics` then adds up every process of the machine.
Read from the database at scrape time, the same for every scraper: the queue by state, how late its most
overdue message is, webhook events waiting.

`/metrics` answers clients in METRICS_ALLOWED_IPS (default loopback; the client as TRUSTED_PROXIES
reveal it, so a local nginx does not make everyone loopback) or with `Authorization: Bearer
<METRICS_TOKEN>`; anyone else gets 404.
"""

import hmac
import ipaddress
import os
from collections.abc import Callable, Iterable

from django.conf import settings
from django.http import Http404, HttpResponse
from django.views.decorators.cache import never_cache
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

from accounts.network import client_ip

API_CALLS = Counter("directmail_api_calls", "DirectMail API calls answered", ["action", "code"])
SMTP_SESSIONS = Counter("directmail_smtp_sessions", "SMTP connections accepted", ["port"])
SMTP_MESSAGES = Counter("directmail_smtp_messages", "SMTP submissions by result", ["result"])
DELIVERIES = Counter("directmail_deliveries", "Delivery attempts by result", ["result"])
REPLIES = Counter(
    "directmail_replies",
    "Receivers' refusals in mx mode, by the class of the reply rule they matched",
    ["class"],
)


Gauges = Callable[[], Iterable[GaugeMetricFamily]]
_gauges: list[Gauges] = []


def register_gauges(gauges: Gauges) -> None:
    """Add gauges read at scrape time (an app's AppConfig.ready: sending its queue, stats its webhooks), so
    this module imports no app and every app may count here."""
    if gauges not in _gauges:
        _gauges.append(gauges)


class QueueCollector:
    """The state of the whole installation, from the database: the gauges apps registered."""

    def collect(self):
        for gauges in _gauges:
            yield from gauges()


def allowed(ip: str | None, authorization: str) -> bool:
    """The scraper at `ip` (the real client) is in METRICS_ALLOWED_IPS or sent the METRICS_TOKEN."""
    token = settings.METRICS_TOKEN
    if token and hmac.compare_digest(authorization.encode(), f"Bearer {token}".encode()):
        return True
    try:
        address = ipaddress.ip_address(ip or "")
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net, strict=False) for net in settings.METRICS_ALLOWED_IPS)


def page() -> bytes:
    """The exposition: the counters of this host's processes (or this process's), then the queue."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    queue = CollectorRegistry()
    queue.register(QueueCollector())
    return generate_latest(registry) + generate_latest(queue)


@never_cache
def metrics_view(request):
    # Behind TRUSTED_PROXIES the client is the real one, so a local nginx does not make everyone loopback.
    if not allowed(client_ip(request), request.headers.get("Authorization", "")):
        raise Http404
    return HttpResponse(page(), content_type=CONTENT_TYPE_LATEST)
