"""Models of stats: per-day counters, kept up to date as events happen (stats.counters)."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.ids import new_public_id
from accounts.models import Account

COUNTER_FIELDS = (
    "requests",  # messages accepted (one per recipient)
    "sent",  # of those, queued for delivery (the rest were suppressed at acceptance)
    "delivered",
    "deferred",  # deferrals (a message may be deferred several times)
    "failed",
    "invalid",  # invalid addresses: suppressed at acceptance, 5.1.x, or bounced as such
    "opens",
    "unique_opens",  # messages opened for the first time that day
    "clicks",
    "unique_clicks",
    "unsubscribes",
    "complaints",
    "tracked",  # delivered messages that carried open or click tracking: the divisor of those rates
)


class DailyCounter(models.Model):
    """What happened on one day (in the account's time zone) to mail of one sender address and tag.

    One row per (account, day, sender address, tag name, recipients' ESP); each event adds to it with an
    upsert in the transaction that records the event, so the dashboards read few rows and are never
    behind. A batch send's own numbers come from its messages (sending.services.batch.job_counts)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="daily_counters")
    day = models.DateField()
    sender_id = models.BigIntegerField()  # the sender address (kept when the address is deleted)
    tag_name = models.CharField(max_length=128, blank=True)
    # The recipients' mailbox provider (sending.esp): DirectMail's Esp filter; "" in rows counted before it.
    esp = models.CharField(max_length=16, blank=True, default="", db_default="")
    requests = models.PositiveBigIntegerField(default=0)
    sent = models.PositiveBigIntegerField(default=0)
    delivered = models.PositiveBigIntegerField(default=0)
    deferred = models.PositiveBigIntegerField(default=0)
    failed = models.PositiveBigIntegerField(default=0)
    invalid = models.PositiveBigIntegerField(default=0)
    opens = models.PositiveBigIntegerField(default=0)
    unique_opens = models.PositiveBigIntegerField(default=0)
    clicks = models.PositiveBigIntegerField(default=0)
    unique_clicks = models.PositiveBigIntegerField(default=0)
    unsubscribes = models.PositiveBigIntegerField(default=0)
    complaints = models.PositiveBigIntegerField(default=0)
    tracked = models.PositiveBigIntegerField(default=0, db_default=0)  # older processes insert without it

    class Meta:
        verbose_name = _("daily counter")
        constraints = [
            models.UniqueConstraint(
                fields=["account", "day", "sender_id", "tag_name", "esp"], name="daily_counter_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.day} {self.sender_id} {self.tag_name} {self.esp}"


class CategoryCounter(models.Model):
    """Deferrals, failures and invalid addresses of one day (the account's time zone) by bounce category
    (sending.bounce_categories), counted with the daily counters (stats.counters)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="category_counters")
    day = models.DateField()
    category = models.CharField(max_length=16)
    deferred = models.PositiveBigIntegerField(default=0)
    failed = models.PositiveBigIntegerField(default=0)
    invalid = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "day", "category"], name="category_counter_unique")
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.day} {self.category}"


class ReputationReview(models.Model):
    """One weekly look at an account's delivery quality, and what it did to the daily quota."""

    class Move(models.TextChoices):
        UP = "up", _("Raised")
        DOWN = "down", _("Lowered")
        STAY = "stay", _("Kept")

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="reputation_reviews")
    at = models.DateTimeField()
    requests = models.PositiveBigIntegerField()
    delivery_rate = models.FloatField(null=True)
    invalid_rate = models.FloatField(null=True)
    complaint_rate = models.FloatField(null=True)
    old_quota = models.PositiveIntegerField()
    new_quota = models.PositiveIntegerField()
    move = models.CharField(max_length=4, choices=Move.choices)
    reason = models.CharField(max_length=255)

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.account_id} {self.at:%Y-%m-%d} {self.move}"


class WebhookEndpoint(models.Model):
    """Where an account wants its mail's events: POSTed to a URL, signed with a secret shown once, or added
    to a Redis stream (stats.webhooks)."""

    class Kind(models.TextChoices):
        WEBHOOK = "webhook", _("Webhook (HTTPS POST)")
        REDIS = "redis", _("Redis stream")

    public_id = models.CharField(max_length=16, unique=True, default=new_public_id, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="webhook_endpoints")
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.WEBHOOK)
    url = models.URLField(_("URL"), max_length=500, blank=True)
    stream = models.CharField(_("stream name"), max_length=64, blank=True)  # Redis endpoints
    event_types = models.JSONField(_("events"), default=list)  # EventType values
    sender_address = models.CharField(_("only mail from"), max_length=254, blank=True)
    tag_name = models.CharField(_("only mail tagged"), max_length=128, blank=True)
    secret_encrypted = models.TextField(editable=False)
    enabled = models.BooleanField(_("enabled"), default=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.url or self.stream_key

    @property
    def stream_key(self) -> str:
        """The Redis key a Redis endpoint adds to: one namespace per account."""
        return f"directmail:{self.account.public_id}:{self.stream}" if self.kind == self.Kind.REDIS else ""


class WebhookEvent(models.Model):
    """One event for one endpoint; `public_id` is the CloudEvents id receivers deduplicate on."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")

    public_id = models.CharField(max_length=32, unique=True, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="webhook_events")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=32)  # dm:Deliver:Succeed ...
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)
    # Retries stop 24 hours after this: the creation, or the last replay.
    retry_from = models.DateTimeField(default=timezone.now)
    is_test = models.BooleanField(default=False)  # "send test event": one attempt, no retries
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"], condition=models.Q(status="pending"), name="webhook_due"
            ),
            models.Index(fields=["endpoint", "created_at"], name="webhook_event_log"),
        ]

    def __str__(self) -> str:
        return self.public_id


class WebhookAttempt(models.Model):
    """One POST (or stream append) of an event, with the answer."""

    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response = models.TextField(blank=True)  # the start of the body, or the error
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.event_id} {self.status_code}"
