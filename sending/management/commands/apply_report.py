"""Feed a DMARC aggregate report (the mail, or its zip, gzip or XML file) to the report reader."""

import sys

from django.core.management.base import BaseCommand, CommandError

from sending.reports import apply_report


class Command(BaseCommand):
    help = "Apply a DMARC aggregate report (a mail, or a zip, gzip or XML file): shown on its domain's page."

    def add_arguments(self, parser):
        parser.add_argument("file", help="The report (mail, .zip, .gz or .xml), or - for standard input.")
        parser.add_argument(
            "--to", default="", help="The address it was sent to (dmarc-reports@<domain>), if known."
        )

    def handle(self, *args, **options):
        path = options["file"]
        try:
            raw = sys.stdin.buffer.read() if path == "-" else open(path, "rb").read()  # noqa: SIM115
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc}") from exc
        result = apply_report(raw, envelope_to=options["to"] or None)
        for line in result.applied:
            self.stdout.write(f"applied {line}")
        for line in result.ignored:
            self.stdout.write(f"ignored {line}")
        if not result.applied and not (result.ignored and "already received" in result.ignored[0]):
            raise CommandError(result.ignored[0] if result.ignored else "nothing applied")
