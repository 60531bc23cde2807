"""Feed a bounce (a DSN, RFC 3464) from a file or standard input to the bounce processor."""

from sending.delivery.bounces import apply_dsn
from sending.management.intake import IntakeCommand


class Command(IntakeCommand):
    help = "Apply a delivery status notification: failed recipients become failed or invalid (suppressed)."
    to_help = "The envelope recipient (our bounce+... return path), if known."

    def apply(self, raw, to):
        return apply_dsn(raw, envelope_to=to)

    def refusal(self, result):
        return "no message of ours is named in this bounce" if result.message is None else None
