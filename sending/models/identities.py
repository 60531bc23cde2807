"""Sending identities: domains with their DKIM keys and DNS checks, sender addresses, tags."""

from datetime import timedelta

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.ids import new_api_id, new_public_id
from accounts.models import Account
from sending import dkim


class AliveQuerySet(models.QuerySet):
    """Rows that were not soft-deleted."""

    def alive(self):
        return self.filter(deleted_at__isnull=True)


class DomainQuerySet(AliveQuerySet):
    def own(self):
        """The account's own domains: not the sandbox (which limits, first steps and the API leave out)."""
        return self.filter(sandbox=False)


class SenderAddressQuerySet(AliveQuerySet):
    def own(self):
        """Addresses on the account's own domains, not on its sandbox."""
        return self.filter(domain__sandbox=False)


# How long the wizard waits for a requested DNS check before offering "Check now" again.
CHECK_PATIENCE = timedelta(minutes=2)


class DomainStatus(models.TextChoices):
    PENDING = "pending", _("Not verified")
    VERIFIED = "verified", _("Verified")
    FAILING = "failing", _("Failing")


class Domain(models.Model):
    """A domain an account sends from. Verified when its ownership, SPF and DKIM records are published."""

    public_id = models.CharField(max_length=16, unique=True, default=new_public_id, editable=False)
    api_id = models.BigIntegerField(unique=True, default=new_api_id, editable=False)  # DomainId etc.
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="domains")
    # The A-label (punycode) form, lower case, no trailing dot.
    name = models.CharField(_("domain"), max_length=253)
    status = models.CharField(max_length=16, choices=DomainStatus.choices, default=DomainStatus.PENDING)
    ownership_token = models.CharField(max_length=40, default=new_public_id, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    verified_at = models.DateTimeField(null=True, blank=True)
    check_requested_at = models.DateTimeField(null=True, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    # Why sending from a failing domain stopped, for the people reading the page.
    failing_reason = models.TextField(blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    # The account's sandbox (sending.services.sandbox): needs no DNS, is never checked, and its mail goes
    # only into the account's Outbox, whatever DELIVERY_MODE says.
    sandbox = models.BooleanField(default=False, db_default=False, editable=False)
    # DirectMail's domain-level SMTP password (ModifyPWByDomain), hashed: every sender address of the
    # domain may log in with it, besides its own.
    smtp_password = models.CharField(max_length=256, blank=True, default="", db_default="", editable=False)
    smtp_password_set_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = DomainQuerySet.as_manager()

    class Meta:
        verbose_name = _("domain")
        verbose_name_plural = _("domains")
        constraints = [
            models.UniqueConstraint(
                fields=["account", "name"],
                condition=Q(deleted_at__isnull=True),
                name="domain_unique_per_account",
            ),
            # Only one account may have a domain verified at a time.
            models.UniqueConstraint(
                fields=["name"],
                condition=Q(deleted_at__isnull=True, status="verified"),
                name="domain_verified_once",
            ),
        ]

    def __str__(self) -> str:
        return self.unicode_name

    @property
    def unicode_name(self) -> str:
        try:
            return ".".join(
                label.encode().decode("idna") if label.startswith("xn--") else label
                for label in self.name.split(".")
            )
        except UnicodeError:
            return self.name

    @property
    def is_checking(self) -> bool:
        """A check was asked for recently and has not finished yet (an old request counts as lost)."""
        if not self.check_requested_at or self.check_requested_at < timezone.now() - CHECK_PATIENCE:
            return False
        return self.last_checked_at is None or self.last_checked_at < self.check_requested_at

    @property
    def can_send(self) -> bool:
        return self.status == DomainStatus.VERIFIED and self.deleted_at is None

    def active_dkim_key(self) -> "DkimKey | None":
        return self.dkim_keys.filter(status=DkimKeyStatus.ACTIVE).first()


class DkimKeyStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for its DNS record")
    ACTIVE = "active", _("Signing")
    RETIRING = "retiring", _("Replaced, still published")
    RETIRED = "retired", _("Retired")


class DkimKey(models.Model):
    """A 2048-bit RSA key under a selector. The private key is encrypted at rest (accounts.crypto)."""

    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="dkim_keys")
    selector = models.CharField(max_length=63)
    private_key_encrypted = models.TextField(editable=False)
    # Base64 of the DER SubjectPublicKeyInfo: the p= tag of the DKIM record.
    public_key = models.TextField(editable=False)
    status = models.CharField(max_length=16, choices=DkimKeyStatus.choices, default=DkimKeyStatus.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    activated_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("DKIM key")
        verbose_name_plural = _("DKIM keys")
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["domain", "selector"], name="dkim_selector_unique")]

    def __str__(self) -> str:
        return f"{self.selector}._domainkey.{self.domain.name}"

    @property
    def record_name(self) -> str:
        return f"{self.selector}._domainkey.{self.domain.name}"

    @property
    def bits(self) -> int:
        return dkim.key_bits(self.public_key)

    @property
    def record_value(self) -> str:
        return f"v=DKIM1; k=rsa; p={self.public_key}"


class RecordKind(models.TextChoices):
    OWNERSHIP = "ownership", _("Ownership")
    SPF = "spf", _("SPF")
    DKIM = "dkim", _("DKIM")
    DMARC = "dmarc", _("DMARC")
    MX = "mx", _("Return path (MX)")
    TLSRPT = "tlsrpt", _("TLS reports (TLS-RPT)")


class CheckStatus(models.TextChoices):
    UNKNOWN = "unknown", _("Not checked yet")
    VERIFIED = "verified", _("Verified")
    MISSING = "missing", _("Missing")
    MISMATCH = "mismatch", _("Different value")
    ERROR = "error", _("DNS did not answer")


class DnsRecordCheck(models.Model):
    """What the last check of one record of a domain found."""

    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="record_checks")
    kind = models.CharField(max_length=16, choices=RecordKind.choices)
    dkim_key = models.ForeignKey(
        DkimKey, on_delete=models.CASCADE, null=True, blank=True, related_name="checks"
    )
    status = models.CharField(max_length=16, choices=CheckStatus.choices, default=CheckStatus.UNKNOWN)
    found = models.TextField(blank=True)  # what DNS answered
    error = models.TextField(blank=True)
    suggested = models.TextField(blank=True)  # a value to publish instead (an SPF record merged with ours)
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["domain", "kind"], condition=Q(dkim_key__isnull=True), name="record_check_unique"
            ),
            models.UniqueConstraint(fields=["dkim_key"], name="record_check_dkim_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.domain.name} {self.kind}: {self.status}"


class SendType(models.TextChoices):
    TRIGGER = "trigger", _("Trigger (transactional)")
    BATCH = "batch", _("Batch")


class SenderAddress(models.Model):
    """`local@domain` an account sends from. Only reply-to and the SMTP password change after creation."""

    public_id = models.CharField(max_length=16, unique=True, default=new_public_id, editable=False)
    api_id = models.BigIntegerField(unique=True, default=new_api_id, editable=False)  # DomainId etc.
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="sender_addresses")
    domain = models.ForeignKey(Domain, on_delete=models.PROTECT, related_name="sender_addresses")
    address = models.EmailField(_("address"), max_length=254)
    send_type = models.CharField(_("type"), max_length=16, choices=SendType.choices)
    reply_to = models.EmailField(_("reply-to address"), blank=True)
    reply_to_verified_at = models.DateTimeField(null=True, blank=True)
    smtp_password = models.CharField(max_length=128, blank=True, editable=False)  # a Django password hash
    smtp_password_set_at = models.DateTimeField(null=True, blank=True)
    # The configuration set its mail goes by (the IP pool it leaves from): at most one.
    config_set = models.ForeignKey(
        "sending.ConfigSet", on_delete=models.SET_NULL, null=True, blank=True, related_name="senders",
        verbose_name=_("configuration set"),
    )  # fmt: skip
    created_at = models.DateTimeField(default=timezone.now)
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects = SenderAddressQuerySet.as_manager()

    class Meta:
        verbose_name = _("sender address")
        verbose_name_plural = _("sender addresses")
        constraints = [
            models.UniqueConstraint(
                fields=["address"], condition=Q(deleted_at__isnull=True), name="sender_address_unique"
            )
        ]

    def __str__(self) -> str:
        return self.address

    @property
    def reply_to_verified(self) -> bool:
        return bool(self.reply_to) and self.reply_to_verified_at is not None

    @property
    def has_smtp_password(self) -> bool:
        return bool(self.smtp_password)


class Tag(models.Model):
    """A label on messages, for statistics per tag."""

    public_id = models.CharField(max_length=16, unique=True, default=new_public_id, editable=False)
    api_id = models.BigIntegerField(unique=True, default=new_api_id, editable=False)  # DomainId etc.
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(_("name"), max_length=128)
    description = models.CharField(_("description"), max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["account", "name"], name="tag_unique_per_account")]

    def __str__(self) -> str:
        return self.name
