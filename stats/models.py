"""Models of stats: per-day counters, kept up to date as events happen (stats.counters)."""

from django.db import models
from django.utils.translation import gettext_lazy as _

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
)


class DailyCounter(models.Model):
    """What happened on one day (in the account's time zone) to mail of one sender address and tag.

    One row per (account, day, sender address, tag name); each event adds to it with an upsert in the
    transaction that records the event, so the dashboards read few rows and are never behind. A batch
    send's own numbers come from its messages (sending.services.batch.job_counts)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="daily_counters")
    day = models.DateField()
    sender_id = models.BigIntegerField()  # the sender address (kept when the address is deleted)
    tag_name = models.CharField(max_length=128, blank=True)
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

    class Meta:
        verbose_name = _("daily counter")
        constraints = [
            models.UniqueConstraint(
                fields=["account", "day", "sender_id", "tag_name"], name="daily_counter_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.day} {self.sender_id} {self.tag_name}"


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
