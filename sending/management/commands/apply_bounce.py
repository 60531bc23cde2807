"""Feed a bounce (a DSN, RFC 3464) from a file or standard input to the bounce processor."""

import sys

from django.core.management.base import BaseCommand, CommandError

from sending.delivery.bounces import apply_dsn


class Command(BaseCommand):
    help = "Apply a delivery status notification: failed recipients become failed or invalid (suppressed)."

    def add_arguments(self, parser):
        parser.add_argument("file", help="The bounce message, or - for standard input.")
        parser.add_argument(
            "--to", default="", help="The envelope recipient (our bounce+... return path), if known."
        )

    def handle(self, *args, **options):
        path = options["file"]
        try:
            raw = sys.stdin.buffer.read() if path == "-" else open(path, "rb").read()  # noqa: SIM115
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc}") from exc
        result = apply_dsn(raw, envelope_to=options["to"] or None)
        if result.message is None:
            raise CommandError("no message of ours is named in this bounce")
        for line in result.applied:
            self.stdout.write(f"applied {line}")
        for line in result.ignored:
            self.stdout.write(f"ignored {line}")
