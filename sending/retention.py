"""How long message content is kept: MESSAGE_CONTENT_RETENTION_DAYS (30 by default, 0 keeps it forever).

Daily, envelopes older than that whose messages are all final lose their bodies (HTML, text, the raw
message of SMTP submissions, attachments) and captured Outbox copies are deleted. What happened stays:
recipients, subject, states, delivery attempts, events and counters; the message page says the content is
gone.
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from sending.models import CapturedMessage, Envelope, EnvelopeAttachment, MessageState
from sending.models.messages import FINAL_STATES

BATCH = 1000


def purge_content() -> dict[str, int]:
    days = settings.MESSAGE_CONTENT_RETENTION_DAYS
    if days <= 0:
        return {"envelopes": 0, "captured": 0}
    now = timezone.now()
    cutoff = now - timedelta(days=days)
    unfinished = [state for state in MessageState if state not in FINAL_STATES]
    candidates = (
        Envelope.objects.filter(created_at__lt=cutoff, content_purged_at__isnull=True)
        .exclude(messages__state__in=unfinished)
        .values_list("pk", flat=True)
    )
    emptied = 0
    while True:
        chunk = list(candidates[:BATCH])
        if not chunk:
            break
        with transaction.atomic():
            EnvelopeAttachment.objects.filter(envelope_id__in=chunk).delete()
            emptied += Envelope.objects.filter(pk__in=chunk).update(
                html_body="", text_body="", raw_message=None, content_purged_at=now
            )
    captured, _by_model = CapturedMessage.objects.filter(created_at__lt=cutoff).delete()
    return {"envelopes": emptied, "captured": captured}
