"""Run every directmail process in one terminal: web, worker and the SMTP server.

This is what `make run` starts. Each process is a child of this one; Ctrl-C (or SIGTERM) stops them all
cleanly, and if one exits on its own the others are stopped too, so nothing is left half-running. If this
process itself dies (`kill -9`), the kernel stops the children too (Linux's parent-death signal), so the
next start finds its ports free; a port held by something else is named, with the process holding it.
"""

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

GRACE_SECONDS = 15
PR_SET_PDEATHSIG = 1


def _die_with(parent: int):
    """A preexec_fn: a session of its own (Ctrl-C reaches this process only), and SIGTERM when `parent`
    dies however it dies; if it died already, before the signal was armed, exit at once."""

    def arm() -> None:
        os.setsid()
        if sys.platform.startswith("linux"):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:
            os._exit(1)

    return arm


def port_holder(port: int) -> str:
    """Who listens on TCP `port` on this machine, as "process 1234 (its command line)"; "" when unknown."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":  # 0A: LISTEN
                inodes.add(f"socket:[{fields[9]}]")
    for proc in Path("/proc").iterdir() if inodes else ():
        if not proc.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) in inodes for fd in (proc / "fd").iterdir()):
                command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                return f"process {proc.name} ({command.strip()[:120]})"
        except OSError:
            continue
    return ""


def _check_free(host: str, port: int, what: str) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        # As the servers themselves bind: connections of a stopped server waiting out TIME_WAIT do not hold
        # the port, a listener does.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            holder = port_holder(port)
            who = f" by {holder}" if holder else ""
            raise CommandError(
                f"{what} cannot listen on {host}:{port}: it is in use{who}. Stop that process "
                f"(a directmail left running?) or choose another port, then run again."
            ) from exc


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
        host, _colon, port = options["addrport"].rpartition(":")
        _check_free(host.strip("[]") or "127.0.0.1", int(port), "The web process")
        if not options["no_smtpd"]:
            for smtp_port in [*settings.SMTPD_PORT, *settings.SMTPD_TLS_PORT]:
                _check_free(settings.SMTPD_HOST, smtp_port, "The SMTP server")
        # The children ignore the terminal's Ctrl-C; this process forwards a stop to each of them in order.
        arm = _die_with(os.getpid())
        children = {
            name: subprocess.Popen(argv, preexec_fn=arm, env=env)  # preexec_fn: no threads run here yet
            for name, argv in processes.items()
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
