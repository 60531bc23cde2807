"""Messages and what happens to them: envelopes, one Message per recipient, attempts, events, the outbox,
the suppression list and quota counters.

A message's states: queued -> sending -> delivered | deferred (tried again at next_attempt_at) | failed |
invalid. `sending` holds a lease (lease_owner until lease_until); a worker that dies leaves the lease to
expire, and the message is claimed again.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.ids import new_public_id
from accounts.models import Account
from sending.bounce_categories import Category
from sending.models.identities import SenderAddress, Tag


class Envelope(models.Model):
    """One accepted submission (an API call, an SMTP DATA, a test send): its content and its EnvId."""

    class Source(models.TextChoices):
        API = "api", _("API")
        SMTP = "smtp", _("SMTP")
        CONSOLE = "console", _("Console")
        BATCH = "batch", _("Batch send")
        SERVICE = "service", _("Service call")

    env_id = models.CharField(max_length=20, unique=True)  # digits, like DirectMail's EnvId
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="envelopes")
    sender = models.ForeignKey(SenderAddress, on_delete=models.PROTECT, related_name="envelopes")
    tag = models.ForeignKey(Tag, on_delete=models.SET_NULL, null=True, blank=True, related_name="envelopes")
    tag_name = models.CharField(max_length=128, blank=True)  # kept when the tag is deleted
    source = models.CharField(max_length=16, choices=Source.choices)
    subject = models.TextField(blank=True)
    html_body = models.TextField(blank=True)
    text_body = models.TextField(blank=True)
    from_alias = models.CharField(max_length=64, blank=True)
    reply_to = models.CharField(max_length=254, blank=True)
    reply_to_alias = models.CharField(max_length=64, blank=True)
    headers = models.JSONField(default=dict, blank=True)  # extra headers the sender may set (X-User-*, ...)
    # SMTP submissions keep the client's message; it is relayed with our headers in front.
    raw_message = models.BinaryField(null=True, blank=True)
    click_trace = models.BooleanField(default=False)
    # Whether the sender address's verified reply-to applies when reply_to is empty (API ReplyToAddress).
    use_sender_reply_to = models.BooleanField(default=True)
    # Subject and bodies hold {Variable} placeholders, filled per recipient from Message.variables.
    templated = models.BooleanField(default=False)
    open_trace = models.BooleanField(default=False)
    # Batch mail: List-Unsubscribe headers (RFC 8058 one-click) and a visible link in the body; an
    # unsubscribe stops the mail of the scope's level (see Suppression.scope): account, domain or sender.
    unsubscribe_link = models.BooleanField(default=False)
    unsubscribe_level = models.CharField(max_length=8, default="domain")
    # DirectMail's UnSubscribeLinkType "default": the link only for recipients at the providers it lists.
    unsubscribe_providers_only = models.BooleanField(default=False, db_default=False)
    # DirectMail's UnSubscribeFilterLevel: which unsubscribes stop this mail (see suppression_applies);
    # "" the classic rule, every entry whose scope covers the sender.
    unsubscribe_filter = models.CharField(max_length=16, blank=True, default="", db_default="")
    # API Attachments, fetched at acceptance and stored as EnvelopeAttachment rows (counted here so that
    # delivery looks for them only when there are some).
    attachment_count = models.PositiveSmallIntegerField(default=0, db_default=0)
    # The To header of the Bcc copies (BccAddress): the visible recipients; empty when there are none.
    visible_to = models.TextField(blank=True, default="", db_default="")
    # Which addresses it leaves from (sending.egress.route): the call's IpPoolId, and the sender's
    # configuration set at acceptance (its pool when the call named none, and whether it may back off).
    ip_pool = models.ForeignKey(
        "sending.IpPool", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    config_set = models.ForeignKey(
        "sending.ConfigSet", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # Set when sending.retention emptied the bodies (MESSAGE_CONTENT_RETENTION_DAYS); the log stays.
    content_purged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("envelope")

    def __str__(self) -> str:
        return self.env_id


class EnvelopeAttachment(models.Model):
    """A file sent with every message of an envelope (the API's Attachments), as it was fetched."""

    envelope = models.ForeignKey(Envelope, on_delete=models.CASCADE, related_name="attachments")
    position = models.PositiveSmallIntegerField()  # the order the call gave them in
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=127)
    data = models.BinaryField()

    class Meta:
        verbose_name = _("attachment")
        ordering = ["envelope", "position"]
        constraints = [
            models.UniqueConstraint(fields=["envelope", "position"], name="envelope_attachment_position")
        ]

    def __str__(self) -> str:
        return self.filename


class MessageState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    DELIVERED = "delivered", _("Delivered")
    DEFERRED = "deferred", _("Deferred")
    FAILED = "failed", _("Failed")
    INVALID = "invalid", _("Invalid address")
    PAUSED = "paused", _("Paused")  # a paused batch job's message, not claimed until it resumes
    CANCELLED = "cancelled", _("Cancelled")  # a cancelled batch job's message that was never sent


FINAL_STATES = (MessageState.DELIVERED, MessageState.FAILED, MessageState.INVALID, MessageState.CANCELLED)


class Message(models.Model):
    """One recipient of an envelope, delivered on its own."""

    envelope = models.ForeignKey(Envelope, on_delete=models.CASCADE, related_name="messages")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="messages")
    rcpt = models.CharField(max_length=254)
    rcpt_domain = models.CharField(max_length=253)
    message_id = models.CharField(max_length=255)  # the Message-ID header, without <>
    state = models.CharField(max_length=16, choices=MessageState.choices, default=MessageState.QUEUED)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    give_up_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    # Times a lease ran out (a worker died holding it); bounded, so a message that kills workers stops.
    lost_leases = models.PositiveSmallIntegerField(default=0)
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    # Why it was deferred, failed or found invalid (sending.bounce_categories); "" while nothing went wrong.
    bounce_category = models.CharField(
        max_length=16, blank=True, default="", db_default="", choices=Category.choices
    )
    variables = models.JSONField(default=dict, blank=True)  # per-recipient template data
    # The recipient's own subject when the envelope's has variables ("{UserName}, …"); empty: the envelope's.
    subject = models.CharField(max_length=998, blank=True, default="", db_default="")
    # A Bcc copy (BccAddress): its To header shows the envelope's visible recipients, it is not tracked.
    bcc = models.BooleanField(default=False, db_default=False)
    # Tracking (sending.tracking): hits, and the first of each (set = counted once as unique).
    opens = models.PositiveIntegerField(default=0)
    clicks = models.PositiveIntegerField(default=0)
    first_opened_at = models.DateTimeField(null=True, blank=True)
    first_clicked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("message")
        indexes = [
            # The worker's claim: due messages, oldest first.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(state__in=["queued", "deferred"]),
                name="message_due",
            ),
            models.Index(fields=["lease_until"], condition=Q(state="sending"), name="message_leased"),
            models.Index(fields=["account", "-created_at"], name="message_account_time"),
            models.Index(fields=["account", "rcpt"], name="message_account_rcpt"),
            # A bounce or a complaint names its message by Message-ID (sending.delivery.bounces).
            models.Index(fields=["message_id"], name="message_message_id"),
            # The message log filtered by bounce category.
            models.Index(
                fields=["account", "bounce_category", "-created_at"],
                condition=~Q(bounce_category=""),
                name="message_account_category",
            ),
        ]
        # A recipient once per envelope: a batch job's repeated or resumed fan-out cannot send twice.
        constraints = [models.UniqueConstraint(fields=["envelope", "rcpt"], name="message_unique_rcpt")]

    def __str__(self) -> str:
        return f"{self.envelope_id}:{self.rcpt}"

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES


# The TLS policies a session is held to (sending.tls_policy), as the message page names them.
TLS_POLICY_LABELS = {
    "dane": _("DANE"),
    "mta-sts": _("MTA-STS"),
    "mta-sts-testing": _("MTA-STS (testing)"),
    "opportunistic": _("opportunistic"),
}


class DeliveryAttempt(models.Model):
    """One try at handing a message to the next server."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="delivery_attempts")
    at = models.DateTimeField(default=timezone.now)
    result = models.CharField(max_length=16, choices=MessageState.choices)
    mx_host = models.CharField(max_length=255, blank=True)
    egress_ip = models.GenericIPAddressField(null=True, blank=True)  # the source it left from
    code = models.PositiveSmallIntegerField(null=True, blank=True)
    text = models.TextField(blank=True)
    category = models.CharField(  # the bounce category of a failure
        max_length=16, blank=True, default="", db_default="", choices=Category.choices
    )
    duration_ms = models.PositiveIntegerField(default=0)
    # The session's TLS (sending.tls_policy): version and cipher ("" without TLS), whether the certificate
    # was verified, and by which policy (dane, mta-sts, mta-sts-testing, opportunistic; "" without TLS).
    tls_version = models.CharField(max_length=16, blank=True, default="", db_default="")
    tls_cipher = models.CharField(max_length=64, blank=True, default="", db_default="")
    tls_verified = models.BooleanField(default=False, db_default=False)
    tls_policy = models.CharField(max_length=16, blank=True, default="", db_default="")

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.result} {self.code or ''} {self.mx_host}"

    @property
    def tls_policy_label(self) -> str:
        return str(TLS_POLICY_LABELS.get(self.tls_policy, self.tls_policy))


class EventType(models.TextChoices):
    ACCEPTED = "accepted", _("Accepted")
    DELIVERED = "delivered", _("Delivered")
    DEFERRED = "deferred", _("Deferred")
    FAILED = "failed", _("Failed")
    INVALID = "invalid", _("Invalid address")
    OPENED = "opened", _("Opened")
    CLICKED = "clicked", _("Clicked")
    UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
    COMPLAINED = "complained", _("Complained")


class MessageEvent(models.Model):
    """Something that happened to a message; statistics and webhooks read these."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="events")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="message_events")
    type = models.CharField(max_length=16, choices=EventType.choices)
    at = models.DateTimeField(default=timezone.now)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["account", "at"], name="event_account_time")]

    def __str__(self) -> str:
        return f"{self.type} {self.at:%Y-%m-%d %H:%M:%S}"


class CapturedMessage(models.Model):
    """A message the `capture` transport kept instead of sending: the Outbox of the embedded default."""

    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="captured")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="captured_messages")
    mail_from = models.CharField(max_length=300)
    raw = models.BinaryField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"captured {self.message_id}"


class SuppressionReason(models.TextChoices):
    HARD_BOUNCE = "hard_bounce", _("Hard bounce")
    MAILBOX_FULL = "mailbox_full", _("Mailbox full, repeatedly")
    COMPLAINT = "complaint", _("Complaint")
    UNSUBSCRIBE = "unsubscribe", _("Unsubscribed")
    MANUAL = "manual", _("Added by hand")


class Suppression(models.Model):
    """An address this account no longer sends to (an invalid address, a complaint, ...)."""

    public_id = models.CharField(max_length=16, unique=True, default=new_public_id, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="suppressions")
    address = models.CharField(max_length=254)  # lower case
    # Whose mail it stops (DirectMail's unsubscribe filter levels): "" the account's, "@domain" one sending
    # domain's, "sender@domain" one sender address's. Bounces and complaints are account-wide.
    scope = models.CharField(max_length=254, blank=True, default="")
    reason = models.CharField(max_length=16, choices=SuppressionReason.choices)
    message = models.ForeignKey(Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    detail = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("suppressed address")
        verbose_name_plural = _("suppression list")
        constraints = [
            models.UniqueConstraint(fields=["account", "address", "scope"], name="suppression_unique_scope")
        ]
        # Every account's hard bounces, for accounts at the GLOBAL suppression list level.
        indexes = [models.Index(fields=["address"], name="suppression_address")]

    def __str__(self) -> str:
        return self.address

    def scope_label(self) -> str:
        if not self.scope:
            return str(_("All mail of the account"))
        if self.scope.startswith("@"):
            return str(_("Mail from %(domain)s")) % {"domain": self.scope[1:]}
        return str(_("Mail from %(address)s")) % {"address": self.scope}


def suppression_scopes(sender_address: str) -> list[str]:
    """The scopes whose entries stop mail from `sender_address`."""
    return ["", "@" + sender_address.rpartition("@")[2].lower(), sender_address.lower()]


# DirectMail's UnSubscribeFilterLevel values (the API's, and X-AliDM-Settings' Unsubscribe.FilterLevel).
FILTER_LEVELS = ("disabled", "default", "mailfrom", "mailfrom_domain", "edm_id")


def suppression_applies(scope: str, reason: str, sender_address: str, level: str = "") -> bool:
    """Whether an entry (its scope and reason) stops mail from `sender_address` sent at filter `level`.

    Bounces, complaints and entries made by hand stop the mail their scope covers, always. Unsubscribes
    depend on the level: "" (mail that named none) and mailfrom, those whose scope covers the sender;
    mailfrom_domain, also those made from another address of its domain; edm_id, every unsubscribe of the
    account; disabled, none. "default" has been resolved to one of these when the mail was accepted."""
    sender = sender_address.lower()
    domain = sender.rpartition("@")[2]
    covers = scope in ("", "@" + domain, sender)
    if reason != SuppressionReason.UNSUBSCRIBE or level in ("", "mailfrom"):
        return covers
    if level == "mailfrom_domain":
        return covers or scope.endswith("@" + domain)
    return level == "edm_id"


class QuotaCounter(models.Model):
    """Messages accepted in one day or month (in the account's time zone), reserved atomically."""

    class Period(models.TextChoices):
        DAY = "day", _("Day")
        MONTH = "month", _("Month")

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="quota_counters")
    period = models.CharField(max_length=8, choices=Period.choices)
    start = models.DateField()
    used = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "period", "start"], name="quota_counter_unique")
        ]

    def __str__(self) -> str:
        return f"{self.period} {self.start}: {self.used}"
