"""What the API must remember across processes: nonces of signed requests (replays are refused), sending
calls per account and second (the rate limit), idempotency keys."""

from django.db import models
from django.utils import timezone


class ApiNonce(models.Model):
    """A SignatureNonce seen with a key; kept longer than the 15-minute timestamp window, then purged."""

    key_id = models.CharField(max_length=32)
    nonce = models.CharField(max_length=128)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key_id", "nonce"], name="api_nonce_unique")]

    def __str__(self) -> str:
        return f"{self.key_id}:{self.nonce}"


class IdempotencyRecord(models.Model):
    """A sending call made with an Idempotency-Key: the same key within 24 hours returns the same EnvId."""

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=128)
    request_hash = models.CharField(max_length=64)  # SHA-256 of the call's parameters
    env_id = models.CharField(max_length=20)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "key"], name="idempotency_key_unique")]

    def __str__(self) -> str:
        return f"{self.key} -> {self.env_id}"


class ApiRateCounter(models.Model):
    """Sending calls an account made in one second, counted in the call's own transaction (purged soon)."""

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    second = models.BigIntegerField()  # Unix time
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "second"], name="api_rate_counter_unique")]

    def __str__(self) -> str:
        return f"{self.second}: {self.count}"
