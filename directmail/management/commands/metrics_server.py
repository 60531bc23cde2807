"""`manage.py metrics_server`: this host's `/metrics` on a port of its own, for hosts that run no web process.

Counters live in the process that counts them: deliveries in the workers, SMTP sessions in smtpd. With
PROMETHEUS_MULTIPROC_DIR shared by the processes of a host, this server adds them up, as the web's
`/metrics` does, so Prometheus scrapes every host the same way (`<host>:9108/metrics`) whatever it runs,
without nginx or a Host that ALLOWED_HOSTS must know. The same rule lets scrapers in: METRICS_ALLOWED_IPS
or the METRICS_TOKEN (the peer's address is the client here: nothing proxies this port).
"""

import signal
import threading
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from django.core.management.base import BaseCommand
from django.db import close_old_connections
from prometheus_client import CONTENT_TYPE_LATEST

from directmail import metrics


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # one line per scrape would drown the journal
        pass


def metrics_app(environ, start_response):
    if environ.get("PATH_INFO") != "/metrics" or not metrics.allowed(
        environ.get("REMOTE_ADDR"), environ.get("HTTP_AUTHORIZATION", "")
    ):
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"Not found\n"]
    close_old_connections()
    try:
        body = metrics.page()
    finally:
        close_old_connections()
    start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST), ("Cache-Control", "no-store")])
    return [body]


class Command(BaseCommand):
    help = "Serve this host's Prometheus metrics (every directmail process on it) at /metrics."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on (0.0.0.0: all).")
        parser.add_argument("--port", type=int, default=9108)

    def handle(self, *args, host, port, **options):
        server = make_server(host, port, metrics_app, server_class=WSGIServer, handler_class=_QuietHandler)
        # SIGTERM (systemd) and Ctrl-C stop the loop from another thread: shutdown() waits for it.
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        worker = threading.Thread(target=server.serve_forever, daemon=True)
        worker.start()
        self.stdout.write(f"metrics on http://{host}:{port}/metrics")
        stop.wait()
        server.shutdown()
        server.server_close()
        self.stdout.write("metrics server stopped")
