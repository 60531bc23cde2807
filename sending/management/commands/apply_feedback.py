"""Feed a feedback-loop report (ARF, RFC 5965) from a file or standard input to the complaint processor."""

from sending.complaints import apply_feedback
from sending.management.intake import IntakeCommand


class Command(IntakeCommand):
    help = (
        "Apply a feedback-loop report (a complaint): the message it names records it and its recipient is "
        "suppressed."
    )
    to_help = "The envelope recipient (fbl@<sending domain> or a bounce+... return path), if known."

    def apply(self, raw, to):
        return apply_feedback(raw, envelope_to=to)

    def refusal(self, result):
        return "no message of ours is named in this report" if result.message is None else None
