"""Feed a feedback-loop report (ARF, RFC 5965) from a file or standard input to the complaint processor."""

import sys

from django.core.management.base import BaseCommand, CommandError

from sending.complaints import apply_feedback


class Command(BaseCommand):
    help = (
        "Apply a feedback-loop report (a complaint): the message it names records it and its recipient is "
        "suppressed."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="The report message, or - for standard input.")
        parser.add_argument(
            "--to",
            default="",
            help="The envelope recipient (fbl@<sending domain> or a bounce+... return path), if known.",
        )

    def handle(self, *args, **options):
        path = options["file"]
        try:
            raw = sys.stdin.buffer.read() if path == "-" else open(path, "rb").read()  # noqa: SIM115
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc}") from exc
        result = apply_feedback(raw, envelope_to=options["to"] or None)
        for line in result.applied:
            self.stdout.write(f"applied {line}")
        for line in result.ignored:
            self.stdout.write(f"ignored {line}")
        if result.message is None:
            raise CommandError("no message of ours is named in this report")
