"""What receivers tell us about an account's mail beyond each message's outcome: repeated refusals for
reputation, blocklist or policy reasons at a mailbox provider (sending.feedback)."""

from django.db import models
from django.utils import timezone

from accounts.models import Account


class BounceWarning(models.Model):
    """One day's refusals (UTC) of an account's mail at one provider for one sender-caused category
    (sending.bounce_categories.SENDER_CAUSED): counted as they happen; a warning once `count` reaches
    BOUNCE_WARNING_AFTER (shown on the Overview and Statistics pages, mailed to owners once)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="bounce_warnings")
    day = models.DateField()
    provider = models.CharField(max_length=255)
    category = models.CharField(max_length=16)
    count = models.PositiveIntegerField(default=0)
    last_reply = models.TextField(blank=True)
    first_at = models.DateTimeField(default=timezone.now)
    last_at = models.DateTimeField(default=timezone.now)
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "day", "provider", "category"], name="bounce_warning_unique"
            )
        ]
        ordering = ["-day", "-count"]

    def __str__(self) -> str:
        return f"{self.account_id} {self.day} {self.provider} {self.category}: {self.count}"

    @property
    def provider_label(self) -> str:
        from sending.providers import label_of  # sending.providers reads these models

        return label_of(self.provider)
