"""Recipient lists: the addresses batch sends go to, with DirectMail's fields and custom ones, and imports.

A list holds at most `max_recipients_per_list` addresses (an account limit), unique by case-insensitive
address (`email_key`). An import keeps its uploaded file and its report of rejected rows in the database
(ImportFileChunk), so every web and worker process sees them, wherever it runs.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.ids import new_api_id, new_public_id
from accounts.models import Account

# DirectMail's recipient fields: (model field, template variable, API key in SaveReceiverDetail, max length).
STANDARD_FIELDS = (
    ("user_name", "UserName", "u", 64),
    ("nick_name", "NickName", "n", 64),
    ("gender", "Gender", "g", 16),
    ("birthday", "Birthday", "b", 32),
    ("mobile", "Mobile", "m", 32),
)
MAX_CUSTOM_FIELDS = 20
MAX_CUSTOM_VALUE = 255


class RecipientList(models.Model):
    public_id = models.CharField(max_length=16, unique=True, default=new_public_id, editable=False)
    api_id = models.BigIntegerField(unique=True, default=new_api_id, editable=False)  # ReceiverId
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="recipient_lists")
    name = models.CharField(_("name"), max_length=30)
    alias = models.CharField(
        _("alias address"),
        max_length=254,
        blank=True,
        help_text=_("An address that stands for the list (DirectMail's ReceiversAlias)."),
    )
    description = models.CharField(_("description"), max_length=255, blank=True)
    recipient_count = models.PositiveIntegerField(_("addresses"), default=0)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        verbose_name = _("recipient list")
        verbose_name_plural = _("recipient lists")
        ordering = ["-created_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["account", "name"], name="recipient_list_unique_name")]

    def __str__(self) -> str:
        return self.name


class Recipient(models.Model):
    """One address of a list. Its template variables: EAddr, the standard fields, the custom ones."""

    # No index of its own: the unique (list, address) index serves lookups by list.
    recipient_list = models.ForeignKey(
        RecipientList, on_delete=models.CASCADE, related_name="recipients", db_index=False
    )
    email = models.CharField(_("address"), max_length=254)
    email_key = models.CharField(max_length=254, editable=False)  # the address in lower case
    user_name = models.CharField(_("user name"), max_length=64, blank=True)
    nick_name = models.CharField(_("nickname"), max_length=64, blank=True)
    gender = models.CharField(_("gender"), max_length=16, blank=True)
    birthday = models.CharField(_("birthday"), max_length=32, blank=True)
    mobile = models.CharField(_("mobile"), max_length=32, blank=True)
    custom = models.JSONField(_("custom fields"), default=dict, blank=True)
    created_at = models.DateTimeField(_("added"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        verbose_name = _("recipient")
        verbose_name_plural = _("recipients")
        ordering = ["-pk"]
        constraints = [
            models.UniqueConstraint(fields=["recipient_list", "email_key"], name="recipient_unique_address")
        ]
        indexes = [models.Index(fields=["recipient_list", "id"], name="recipient_list_order")]

    def __str__(self) -> str:
        return self.email

    def variables(self) -> dict[str, str]:
        """The values a template's {Variable}s take for this recipient."""
        values = {"EAddr": self.email}
        for field, variable, _key, _length in STANDARD_FIELDS:
            values[variable] = getattr(self, field)
        values.update({str(k): str(v) for k, v in self.custom.items()})
        return values


class ImportMode(models.TextChoices):
    ADD = "add", _("Add new addresses only (existing ones stay as they are)")
    UPDATE = "update", _("Add new addresses and update existing ones")
    REPLACE = "replace", _("Replace the whole list with the file")


class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded", _("Waiting for the column mapping")
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Importing")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class RecipientImport(models.Model):
    """An upload into a list: detected format, the user's column mapping, then the task's counts."""

    public_id = models.CharField(max_length=16, unique=True, default=new_public_id, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="recipient_imports")
    recipient_list = models.ForeignKey(RecipientList, on_delete=models.CASCADE, related_name="imports")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    file_name = models.CharField(_("file"), max_length=255)
    file_size = models.PositiveBigIntegerField(default=0)
    encoding = models.CharField(_("encoding"), max_length=16)
    delimiter = models.CharField(_("delimiter"), max_length=1, default=",")
    has_header = models.BooleanField(_("the first row is a header"), default=True)
    # One entry per column: "email", a standard field name ("user_name" ...), "custom:<Name>" or "".
    mapping = models.JSONField(default=list, blank=True)
    mode = models.CharField(_("mode"), max_length=8, choices=ImportMode.choices, default=ImportMode.ADD)
    # Validate the list's addresses once the import is done (sending.validation_files).
    validate_after = models.BooleanField(_("validate the addresses after the import"), default=False)
    status = models.CharField(max_length=10, choices=ImportStatus.choices, default=ImportStatus.UPLOADED)
    progress = models.PositiveSmallIntegerField(default=0)  # percent of the file read
    rows_read = models.PositiveIntegerField(default=0)
    imported = models.PositiveIntegerField(_("imported"), default=0)
    updated = models.PositiveIntegerField(_("updated"), default=0)
    duplicates = models.PositiveIntegerField(_("duplicates"), default=0)
    invalid = models.PositiveIntegerField(_("invalid"), default=0)
    refused = models.PositiveIntegerField(_("refused (over the list limit)"), default=0)
    blank_lines = models.PositiveIntegerField(_("blank lines skipped"), default=0)
    error = models.TextField(_("reason"), blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.file_name

    @property
    def rejected(self) -> int:
        return self.duplicates + self.invalid + self.refused

    @property
    def not_taken(self) -> int:
        """Rows whose address is not in the list now (invalid, or over its limit); duplicates are."""
        return self.invalid + self.refused

    @property
    def is_active(self) -> bool:
        return self.status in (ImportStatus.QUEUED, ImportStatus.RUNNING)


class ImportFileChunk(models.Model):
    """A piece of an import's uploaded file or of its rejected-rows report, in order."""

    class Kind(models.TextChoices):
        UPLOAD = "upload"
        REJECTED = "rejected"

    recipient_import = models.ForeignKey(RecipientImport, on_delete=models.CASCADE, related_name="chunks")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    seq = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["recipient_import", "kind", "seq"], name="import_chunk_unique_seq"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.seq}"
