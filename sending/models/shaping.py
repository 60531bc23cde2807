"""Traffic shaping's state (sending.shaping, sending.provider_limits): what is held and why, the rules
staff add, limits staff override, which provider serves each destination domain, and the shared session
slots and rate counters that keep the limits across workers and hosts."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Suspension(models.Model):
    """Mail is held back until `until`: because a receiver said so (origin "reply": `reply`, matched by
    `rule`, for a provider x egress address, "" for the address the system picks), or because an operator
    said so (origin "operator": every non-blank key must match the message; `reply` holds their reason).
    Action "lower" does not hold: the provider x address sends at `fraction` of its limits meanwhile.
    Waiting costs the mail no attempt and does not bring its give-up time closer."""

    class Origin(models.TextChoices):
        REPLY = "reply", _("Receiver's answer")
        OPERATOR = "operator", _("Operator")

    class Action(models.TextChoices):
        SUSPEND = "suspend", _("Suspend")
        LOWER = "lower", _("Lower the rate")

    origin = models.CharField(max_length=8, choices=Origin.choices, default=Origin.REPLY)
    action = models.CharField(max_length=8, choices=Action.choices, default=Action.SUSPEND)
    fraction = models.FloatField(default=1.0)  # for "lower": the share of the normal limits
    provider = models.CharField(max_length=255, blank=True)
    egress_ip = models.CharField(max_length=45, blank=True)
    rcpt_domain = models.CharField(max_length=253, blank=True)
    account = models.ForeignKey(
        "accounts.Account", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    batch = models.ForeignKey(
        "sending.BatchJob", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    rule = models.CharField(max_length=64, blank=True)
    reply = models.TextField(blank=True)
    created_by = models.CharField(max_length=255, blank=True)
    since = models.DateTimeField(default=timezone.now)
    until = models.DateTimeField()

    class Meta:
        verbose_name = _("suspension")
        verbose_name_plural = _("suspensions")
        ordering = ["-until"]
        indexes = [
            models.Index(fields=["provider", "egress_ip", "until"], name="suspension_lookup"),
            models.Index(fields=["origin", "until"], name="suspension_origin"),
        ]

    def __str__(self) -> str:
        keys = " ".join(str(k) for k in self.keys().values()) or "-"
        return f"{self.get_action_display()} {keys} until {self.until:%Y-%m-%d %H:%M}"

    def keys(self) -> dict[str, str]:
        """What the suspension applies to, by key (only those it names)."""
        found = {
            "provider": self.provider, "domain": self.rcpt_domain, "egress": self.egress_ip,
            "account": self.account.public_id if self.account_id else "",  # type: ignore[union-attr]
            "batch": self.batch.public_id if self.batch_id else "",  # type: ignore[union-attr]
        }  # fmt: skip
        return {key: value for key, value in found.items() if value}


class ShapingRule(models.Model):
    """A rule staff add (Django admin) for what a receiver's answer means; read before the shipped rules of
    sending.shaping_rules. `samples` are replies the rule is meant to match: its admin page shows, for
    each, whether it matches and which rule wins."""

    class Action(models.TextChoices):
        SUSPEND = "suspend", _("Suspend the provider x address")
        LOWER = "lower", _("Lower its rate")
        CLASSIFY = "classify", _("Only classify")

    name = models.SlugField(_("name"), max_length=64, unique=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    provider = models.CharField(
        _("provider"), max_length=255, blank=True, help_text=_("Empty: any provider.")
    )
    code = models.PositiveSmallIntegerField(_("reply code"), null=True, blank=True)
    enhanced = models.CharField(
        _("enhanced status code prefix"),
        max_length=16,
        blank=True,
        help_text=_('For example "4.7." or "5.7.1".'),
    )
    pattern = models.CharField(
        _("regular expression"), max_length=500, help_text=_("Searched in the reply text, ignoring case.")
    )
    action = models.CharField(_("action"), max_length=8, choices=Action.choices, default=Action.CLASSIFY)
    duration = models.DurationField(
        _("for"), null=True, blank=True, help_text=_("Suspend and lower: how long.")
    )
    fraction = models.FloatField(
        _("fraction of the rate"), default=0.5, help_text=_("Lower: from 0.01 to 1.")
    )
    kind = models.CharField(_("class"), max_length=32, default="other")
    samples = models.TextField(
        _("sample replies"), blank=True, help_text=_('One per line, e.g. "421 4.7.0 Try again later".')
    )

    class Meta:
        verbose_name = _("reply rule")
        verbose_name_plural = _("reply rules")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ProviderLimit(models.Model):
    """Staff's override of a provider's limits (sending.provider_limits), for every egress address or one;
    an empty field keeps the value from the settings."""

    provider = models.CharField(
        _("provider"), max_length=255, help_text=_('A provider\'s name, or "*" for every one.')
    )
    egress_ip = models.GenericIPAddressField(_("egress address"), null=True, blank=True,
                                             help_text=_("Empty: every address."))  # fmt: skip
    connections = models.PositiveIntegerField(_("concurrent connections"), null=True, blank=True)
    per_connection = models.PositiveIntegerField(_("messages per connection"), null=True, blank=True)
    per_second = models.PositiveIntegerField(_("messages per second"), null=True, blank=True)
    per_minute = models.PositiveIntegerField(_("messages per minute"), null=True, blank=True)
    per_hour = models.PositiveIntegerField(_("messages per hour"), null=True, blank=True)
    per_day = models.PositiveIntegerField(_("messages per day"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("provider limit")
        verbose_name_plural = _("provider limits")
        ordering = ["provider", "egress_ip"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "egress_ip"], name="provider_limit_unique"),
            models.UniqueConstraint(fields=["provider"], condition=models.Q(egress_ip__isnull=True),
                                    name="provider_limit_unique_any_ip"),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.provider} {self.egress_ip or '*'}"


class DomainProvider(models.Model):
    """Which provider serves a destination domain, as sending.providers last found it (shared by every
    process: the queue page and queue actions group and select mail by provider with it)."""

    domain = models.CharField(max_length=253, primary_key=True)
    provider = models.CharField(max_length=255, db_index=True)
    mx_host = models.CharField(max_length=255, blank=True)
    checked_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.domain} -> {self.provider}"


class ShapingSlot(models.Model):
    """One of a provider x egress address's concurrent connections: held by the worker session `owner`
    while it renews `alive_until` (a dead worker's slot is free again then)."""

    provider = models.CharField(max_length=255)
    egress_ip = models.CharField(max_length=45, blank=True)
    number = models.PositiveSmallIntegerField()
    owner = models.CharField(max_length=64, blank=True)
    alive_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "egress_ip", "number"], name="shaping_slot_unique")
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.egress_ip or '-'} #{self.number}"


class ShapingCounter(models.Model):
    """Messages handed to a provider from an egress address in one window of a unit (minute, hour, day;
    `window` counts units since the epoch), shared by every worker."""

    provider = models.CharField(max_length=255)
    egress_ip = models.CharField(max_length=45, blank=True)
    unit = models.CharField(max_length=8)
    window = models.BigIntegerField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "egress_ip", "unit", "window"],
                                    name="shaping_counter_unique")
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.provider} {self.egress_ip or '-'} {self.unit} {self.window}: {self.count}"
