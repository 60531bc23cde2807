"""`manage.py smtpd`: the SMTP submission server, in the foreground until SIGTERM or Ctrl-C.

Listeners, TLS and limits come from the SMTPD_* settings (see README). On SIGTERM it stops accepting,
lets sessions in DATA finish (up to --grace seconds), closes the rest with 421, and exits.
"""

import asyncio
import signal

from django.core.management.base import BaseCommand

from sending.smtp.server import SmtpServer


class Command(BaseCommand):
    help = "Run the SMTP submission server (STARTTLS and implicit-TLS listeners from SMTPD_* settings)."

    def add_arguments(self, parser):
        parser.add_argument("--grace", type=float, default=30, help="Seconds to let sessions in DATA finish.")

    def handle(self, *args, **options):
        asyncio.run(self._serve(options["grace"]))

    async def _serve(self, grace: float) -> None:
        server = SmtpServer()
        await server.start()
        ports = server.bound
        self.stdout.write(
            f"smtpd on {server.host}: STARTTLS {ports['starttls']}, implicit TLS {ports['tls']}"
        )
        self.stdout.flush()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        self.stdout.write("smtpd stopping: finishing sessions in DATA")
        await server.stop(grace)
        self.stdout.write("smtpd stopped")
