"""Batch jobs: one approved template sent to a recipient list from a batch sender address, now or later.

A job's way: draft (saved, not confirmed) -> scheduled (confirmed, waiting for its time) -> sending (its
messages are being created in chunks, the fan-out, and delivered) -> done; paused and resumed on the way, or
cancelled; failed when it cannot start. When it starts it gets an Envelope holding the template's approved
content; its messages are that envelope's, one per recipient, created at most once each (the envelope and
recipient address are unique together, and the fan-out's cursor advances in the same transaction).
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.ids import new_public_id
from accounts.models import Account
from sending.models.identities import SenderAddress, Tag
from sending.models.lists import RecipientList
from sending.models.messages import Envelope


class UnsubscribeLevel(models.TextChoices):
    """Whose mail an unsubscribe stops (DirectMail's UnSubscribeFilterLevel)."""

    ACCOUNT = "account", _("All mail of this account")
    DOMAIN = "domain", _("Mail from the sending domain")
    SENDER = "sender", _("Mail from the sender address")


class BatchStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SCHEDULED = "scheduled", _("Scheduled")
    SENDING = "sending", _("Sending")
    PAUSED = "paused", _("Paused")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")
    FAILED = "failed", _("Failed")


class BatchJob(models.Model):
    public_id = models.CharField(max_length=16, unique=True, default=new_public_id, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="batch_jobs")
    name = models.CharField(_("name"), max_length=100)
    template = models.ForeignKey(
        "templates_app.Template", on_delete=models.SET_NULL, null=True, related_name="batch_jobs"
    )
    recipient_list = models.ForeignKey(
        RecipientList, on_delete=models.SET_NULL, null=True, blank=True, related_name="batch_jobs"
    )
    sender = models.ForeignKey(SenderAddress, on_delete=models.PROTECT, related_name="batch_jobs")
    tag = models.ForeignKey(Tag, on_delete=models.SET_NULL, null=True, blank=True, related_name="batch_jobs")
    # BatchSendMail's IpPoolId (else the sender's configuration set decides; sending.egress.route_of)
    ip_pool = models.ForeignKey(
        "sending.IpPool", on_delete=models.SET_NULL, null=True, blank=True, related_name="batch_jobs"
    )
    open_trace = models.BooleanField(_("track opens"), default=False)
    click_trace = models.BooleanField(_("track clicks"), default=False)
    unsubscribe_link = models.BooleanField(_("unsubscribe link"), default=True)
    unsubscribe_level = models.CharField(
        _("an unsubscribe stops"),
        max_length=8,
        choices=UnsubscribeLevel.choices,
        default=UnsubscribeLevel.DOMAIN,
    )
    rate_per_minute = models.PositiveIntegerField(_("at most per minute"), null=True, blank=True)
    spread_days = models.BooleanField(
        _("spread over several days when the daily quota runs out"), default=False
    )
    scheduled_at = models.DateTimeField(_("send at"), null=True, blank=True)  # None: at once
    # Given by the API's BatchSendMail for a stored list: the envelope's Reply-To and extra headers.
    reply_to = models.CharField(max_length=254, blank=True, default="", db_default="")
    reply_to_alias = models.CharField(max_length=64, blank=True, default="", db_default="")
    headers = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=BatchStatus.choices, default=BatchStatus.DRAFT)
    envelope = models.OneToOneField(
        Envelope, on_delete=models.SET_NULL, null=True, blank=True, related_name="batch_job"
    )
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    # The fan-out: recipients are read in pk order after `fanout_cursor`; `fanout_owner` holds it until
    # `fanout_until` (a worker that dies lets it expire); `waiting_until` is the quota's next reset.
    fanout_cursor = models.BigIntegerField(default=0)
    fanout_done = models.BooleanField(default=False)
    fanout_owner = models.CharField(max_length=64, blank=True)
    fanout_until = models.DateTimeField(null=True, blank=True)
    waiting_until = models.DateTimeField(null=True, blank=True)
    # When the next message may go under rate_per_minute (messages are spaced out by next_attempt_at).
    pace_at = models.DateTimeField(null=True, blank=True)
    total = models.PositiveIntegerField(default=0)  # recipients when it started
    queued = models.PositiveIntegerField(default=0)  # messages created
    skipped = models.PositiveIntegerField(default=0)  # suppressed or unsubscribed recipients

    class Meta:
        verbose_name = _("batch send")
        verbose_name_plural = _("batch sends")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "scheduled_at"], name="batch_job_due")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_editable(self) -> bool:
        return self.status in (BatchStatus.DRAFT, BatchStatus.SCHEDULED)

    @property
    def is_final(self) -> bool:
        return self.status in (BatchStatus.DONE, BatchStatus.CANCELLED, BatchStatus.FAILED)
