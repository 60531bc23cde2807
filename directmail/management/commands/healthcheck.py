"""`manage.py healthcheck web|worker|smtpd`: exit 0 when healthy, 1 with the reason otherwise.

web: the database and the broker answer (what /readyz checks). worker: a django-q2 cluster reported
itself within the last seconds (`--this-host` to require one on this machine). smtpd: the server on
SMTPD_HOST:SMTPD_PORT (or --port) greets and answers NOOP.
"""

import socket

from django.core.management.base import BaseCommand, CommandError

from directmail import health


class Command(BaseCommand):
    help = "Check that this installation's web, worker or smtpd side is healthy (exit status 0 or 1)."

    def add_arguments(self, parser):
        parser.add_argument("process", choices=["web", "worker", "smtpd"])
        parser.add_argument("--this-host", action="store_true", help="worker: a cluster on this machine")
        parser.add_argument("--host", help="smtpd: the address to connect to (default SMTPD_HOST)")
        parser.add_argument("--port", type=int, help="smtpd: the port (default the first of SMTPD_PORT)")

    def handle(self, *args, process, this_host, host, port, **options):
        if process == "web":
            checks = {"database": health.check_database(), "broker": health.check_broker()}
            healthy = all(v == "ok" for v in checks.values())
            message = ", ".join(f"{k} {v}" for k, v in checks.items())
        elif process == "worker":
            healthy, message = health.check_worker(socket.gethostname() if this_host else None)
        else:
            healthy, message = health.check_smtpd(host, port)
        if not healthy:
            raise CommandError(message, returncode=1)
        self.stdout.write(message)
