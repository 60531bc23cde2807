"""What manage.py apply_bounce, apply_feedback and apply_report share: a message or file read from a path
or standard input, handed to its processor, and what it applied and ignored printed one per line."""

import sys

from django.core.management.base import BaseCommand, CommandError


class IntakeCommand(BaseCommand):
    """`apply(raw, to)` returns a result with `applied` and `ignored` lines; `refusal(result)` says why
    the command fails (None: it did not)."""

    to_help = "The envelope recipient, if known."

    def add_arguments(self, parser):
        parser.add_argument("file", help="The message or file, or - for standard input.")
        parser.add_argument("--to", default="", help=self.to_help)

    def apply(self, raw: bytes, to: str | None):
        raise NotImplementedError

    def refusal(self, result) -> str | None:
        raise NotImplementedError

    def handle(self, *args, **options):
        path = options["file"]
        try:
            raw = sys.stdin.buffer.read() if path == "-" else open(path, "rb").read()  # noqa: SIM115
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc}") from exc
        result = self.apply(raw, options["to"] or None)
        for line in result.applied:
            self.stdout.write(f"applied {line}")
        for line in result.ignored:
            self.stdout.write(f"ignored {line}")
        refusal = self.refusal(result)
        if refusal:
            raise CommandError(refusal)
