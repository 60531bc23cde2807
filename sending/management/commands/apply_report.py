"""Feed a DMARC aggregate or TLS-RPT report (the mail, or its zip, gzip, XML or JSON file) to the reader."""

from sending.management.intake import IntakeCommand
from sending.reports import apply_report


class Command(IntakeCommand):
    help = (
        "Apply a DMARC aggregate or TLS-RPT report (a mail, or a zip, gzip, XML or JSON file): shown on its "
        "domain's reports page."
    )
    to_help = "The address it was sent to (dmarc-reports@<domain> or tls-reports@<domain>), if known."

    def apply(self, raw, to):
        return apply_report(raw, envelope_to=to)

    def refusal(self, result):
        if result.applied or any(line.endswith("already received") for line in result.ignored):
            return None
        return result.ignored[0] if result.ignored else "nothing applied"
