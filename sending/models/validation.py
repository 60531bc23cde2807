"""Address validation's use of the account's quota (sending.validation): thirds of a check per day and
month (in the account's time zone), reserved atomically like the sending quota."""

from django.db import models

from accounts.models import Account


class ValidationCounter(models.Model):
    class Period(models.TextChoices):
        DAY = "day", "day"
        MONTH = "month", "month"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="validation_counters")
    period = models.CharField(max_length=8, choices=Period.choices)
    start = models.DateField()
    thirds = models.PositiveIntegerField(default=0)  # a check with an SMTP probe costs 3, without 1

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "period", "start"], name="validation_counter_unique")
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.period} {self.start}: {self.thirds}/3"
