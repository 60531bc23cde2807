"""`make bench`: how fast the SMTP server accepts mail, against a bare aiosmtpd server in the same run.

Both servers get the same clients: N concurrent smtplib connections, each with STARTTLS and AUTH once,
then its share of M messages over the same connection. The bare server (aiosmtpd with TLS and an
authenticator that says yes) accepts and discards; ours, `manage.py smtpd` in its own processes as in
production, stores every message durably before answering. It prints accepted messages/s and the ratio;
it asserts nothing, but says whether every accepted message left an envelope behind.
Run it on an empty database (make bench makes one).
"""

import os
import signal
import smtplib
import ssl
import subprocess
import sys
import threading
from email.message import EmailMessage
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from accounts.audit import SYSTEM
from sending.management.commands._bench import bench_sender, free_port, record, run_clients, wait_for_port
from sending.models import Envelope
from sending.services.senders import sender_address_set_smtp_password
from sending.smtp import tls

PASSWORD = "bench-smtp-password"  # noqa: S105 - a throwaway account on a throwaway database
PARAGRAPH = "Your order has shipped and is on its way. Track it any time in your account.\n"


# The baseline server, in a process of its own like ours: aiosmtpd with TLS, any login accepted, mail dropped.
BARE_SERVER = """
import asyncio, logging, ssl, sys
from aiosmtpd.smtp import SMTP, AuthResult
logging.getLogger("mail.log").setLevel(logging.ERROR)
class Discard:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"
async def main(port, cert, key):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    factory = lambda: SMTP(Discard(), tls_context=context, authenticator=lambda *a: AuthResult(success=True))
    server = await asyncio.get_running_loop().create_server(factory, "127.0.0.1", port)
    await server.serve_forever()
asyncio.run(main(int(sys.argv[1]), sys.argv[2], sys.argv[3]))
"""


class Command(BaseCommand):
    help = "Measure SMTP messages/s accepted (durably) against a bare aiosmtpd server (prints results)."

    def add_arguments(self, parser):
        parser.add_argument("--messages", type=int, default=3000)
        parser.add_argument("--connections", type=int, default=8)
        parser.add_argument(
            "--processes", type=int, default=os.cpu_count() or 1, help="smtpd processes sharing the port."
        )

    def handle(self, *args, **options):
        if Envelope.objects.exists():
            raise CommandError("bench_smtp needs an empty database (make bench makes one)")
        sender = bench_sender("bench-smtp@example.com", "bench.example.com")
        sender_address_set_smtp_password(sender=sender, password=PASSWORD, actor=SYSTEM)
        count, connections = options["messages"], options["connections"]
        self.stdout.write(
            f"SMTP benchmark on {connection.vendor}: {count} messages over {connections} connections "
            f"(STARTTLS + AUTH once each), {options['processes']} smtpd processes"
        )
        cert, key = tls.certificate_files()
        baseline_port = free_port()
        bare = subprocess.Popen([sys.executable, "-c", BARE_SERVER, str(baseline_port), str(cert), str(key)])
        try:
            wait_for_port(baseline_port, "the bare aiosmtpd server")
            baseline = self._load(baseline_port, sender.address, count, connections)
        finally:
            bare.kill()
            bare.wait()
        self._report("bare aiosmtpd (accept and discard)", baseline)

        port = free_port()
        servers = [self._start_smtpd(port) for _ in range(options["processes"])]
        try:
            wait_for_port(port, "smtpd")
            ours = self._load(port, sender.address, count, connections)
        finally:
            for server in servers:
                server.send_signal(signal.SIGTERM)
            for server in servers:
                server.wait(timeout=60)
        self._report("directmail smtpd (stored before 250)", ours)
        stored = Envelope.objects.count()
        self.stdout.write(f"  ratio: {ours['rate'] / max(baseline['rate'], 1e-9):.2f}")
        self.stdout.write(f"  every accepted message stored its envelope: {stored == ours['ok']} ({stored})")
        record("smtp", ours["rate"], "messages/s", baseline=baseline["rate"], baseline_name="bare aiosmtpd")

    def _start_smtpd(self, port: int) -> subprocess.Popen:
        env = {
            **os.environ,
            "DEBUG": "false",
            "DATA_DIR": str(settings.DATA_DIR),
            "SMTPD_PORT": str(port),
            "SMTPD_TLS_PORT": "",
            "Q_SYNC": "false",
        }
        manage = str(Path(settings.BASE_DIR) / "manage.py")
        return subprocess.Popen([sys.executable, manage, "smtpd"], env=env, stdout=subprocess.DEVNULL)

    @staticmethod
    def _load(port: int, sender: str, total: int, connections: int) -> dict:
        client_context = ssl.create_default_context()
        client_context.check_hostname = False
        client_context.verify_mode = ssl.CERT_NONE
        lock = threading.Lock()
        remaining, failed = [total], [0]
        errors: dict[str, None] = {}

        def client(number: int) -> None:
            # Built once: the benchmark measures the servers, not Python's email package in the clients.
            mail = EmailMessage()
            mail["From"], mail["To"], mail["Subject"] = sender, f"user{number}@example.org", "Your receipt"
            mail.set_content(PARAGRAPH * 25)  # about 2 KB
            data = mail.as_bytes(policy=mail.policy.clone(linesep="\r\n"))
            with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
                smtp.starttls(context=client_context)
                smtp.login(sender, PASSWORD)
                while True:
                    with lock:
                        if remaining[0] <= 0:
                            return
                        remaining[0] -= 1
                    try:
                        smtp.sendmail(sender, [f"user{number}@example.org"], data)
                    except smtplib.SMTPException as exc:
                        with lock:
                            failed[0] += 1
                            errors.setdefault(str(exc)[:200], None)

        wall = run_clients(connections, client)
        rate = (total - failed[0]) / wall
        return {"rate": rate, "failed": failed[0], "ok": total - failed[0], "errors": list(errors)[:3]}

    def _report(self, name: str, result: dict) -> None:
        self.stdout.write(f"  {name}: {result['rate']:.0f} messages/s, {result['failed']} failed")
        for error in result["errors"]:
            self.stdout.write(f"    for example: {error}")
