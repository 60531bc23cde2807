"""Run every directmail process in one terminal: web, worker and the SMTP server.

This is what `make run` starts. Each process is a child of this one; Ctrl-C (or SIGTERM) stops them all
cleanly, and if one exits on its own the others are stopped too, so nothing is left half-running.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

GRACE_SECONDS = 15


class Command(BaseCommand):
    help = "Run the web server, the django-q2 worker and the SMTP server together in the foreground."

    def add_arguments(self, parser):
        parser.add_argument("--addrport", default="127.0.0.1:8000", help="Where the web process listens.")
        parser.add_argument("--no-worker", action="store_true", help="Do not run the worker.")
        parser.add_argument("--no-smtpd", action="store_true", help="Do not run the SMTP server.")

    def handle(self, *args, **options):
        manage = str(Path(settings.BASE_DIR) / "manage.py")
        processes = {"web": [sys.executable, manage, "runserver", options["addrport"], "--noreload"]}
        if not options["no_worker"]:
            processes["worker"] = [sys.executable, manage, "qcluster"]
        if not options["no_smtpd"]:
            processes["smtpd"] = [sys.executable, manage, "smtpd"]

        # One metrics folder for the three, so the web's /metrics adds up deliveries and SMTP sessions too.
        env = dict(os.environ)
        if not env.get("PROMETHEUS_MULTIPROC_DIR"):
            folder = Path(settings.DATA_DIR) / "prometheus"
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            env["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
        # The children ignore the terminal's Ctrl-C; this process forwards a stop to each of them in order.
        children = {
            name: subprocess.Popen(argv, start_new_session=True, env=env) for name, argv in processes.items()
        }
        self.stdout.write(f"started {', '.join(children)}; press Ctrl-C to stop")

        stopping = False

        def request_stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)

        exit_code = 0
        while not stopping:
            for name, child in children.items():
                if child.poll() is not None:
                    self.stderr.write(f"{name} exited with status {child.returncode}; stopping the others")
                    exit_code = child.returncode or 1
                    stopping = True
                    break
            time.sleep(0.2)

        self._stop_all(children)
        if exit_code:
            sys.exit(exit_code)

    def _stop_all(self, children: dict[str, subprocess.Popen]) -> None:
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + GRACE_SECONDS
        for name, child in children.items():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.stderr.write(f"{name} did not stop in {GRACE_SECONDS}s; killing it")
                child.kill()
                child.wait()
        self.stdout.write("stopped")
