"""What the API must remember across processes: nonces of signed requests (replays are refused)."""

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
