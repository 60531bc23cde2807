"""Address validation (sending.validation): the account's use of its quota (thirds of a check per day and
month, in the account's time zone, reserved atomically like the sending quota), and files validated in
the worker."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

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


def new_file_id() -> str:
    """DirectMail's FileId shape: four groups of four hex digits."""
    import secrets

    return "-".join(secrets.token_hex(2) for _ in range(4))


class ValidationJob(models.Model):
    """A file of addresses validated in the worker (SendValidateFile): its progress, the count of each
    Status, and the result file (the rows with Status, SubStatus and Suggestion added)."""

    class State(models.TextChoices):
        # The values are DirectMail's (GetValidateFileStatus); the labels are the console's.
        PROCESSING = "processing", _("Processing")
        COMPLETED = "completed", _("Completed")
        FAILED = "failed", _("Failed")
        DELETED = "deleted", _("Deleted")

    file_id = models.CharField(max_length=32, unique=True, default=new_file_id)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="validation_jobs")
    file_name = models.CharField(max_length=255)
    source_url = models.CharField(max_length=2000, blank=True)  # SendValidateFile's FileUrl
    source_data = models.BinaryField(null=True, blank=True)  # a file uploaded in the console
    # A recipient list validated from the console: its addresses, and the list the invalid ones may leave.
    recipient_list = models.ForeignKey(
        "sending.RecipientList", on_delete=models.SET_NULL, null=True, blank=True, related_name="validations"
    )
    address_column = models.PositiveSmallIntegerField(default=1)  # from 1
    has_header_row = models.BooleanField(default=False)
    remove_duplicate = models.BooleanField(default=False)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PROCESSING)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict)  # Status -> number, and "Status/SubStatus" -> number
    error = models.CharField(max_length=500, blank=True)
    result = models.BinaryField(null=True, blank=True)  # gzip of the result CSV (UTF-8)
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["account", "-created_at"], name="validation_job_account")]

    def __str__(self) -> str:
        return f"{self.file_id} {self.file_name}"


class GraylistCheck(models.Model):
    """A probe that was greylisted (ValidateEmail with CheckGraylist), asked again later by
    sending.validation_graylist until the server answers or the retries run out; the answer goes to the
    account's webhooks as dm:Validator:GrayListResult."""

    class State(models.TextChoices):
        PENDING = "pending", "pending"
        DONE = "done", "done"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="graylist_checks")
    email = models.CharField(max_length=320)
    request_id = models.CharField(max_length=64, blank=True)  # the ValidateEmail call's RequestId
    timeout = models.PositiveSmallIntegerField(default=60)  # the call's Timeout, for each retry
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)  # retries made (the call's probe not counted)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=16, blank=True)  # the final Status and SubStatus
    sub_status = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=models.Q(state="pending"), name="graylist_due")
        ]

    def __str__(self) -> str:
        return f"{self.email} ({self.state})"
