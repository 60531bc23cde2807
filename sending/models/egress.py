"""The addresses mail leaves from (DirectMail's dedicated IPs), registered by platform staff per host; the
pools an account groups its addresses into, the configuration sets that choose a pool for a sender, and
each address's warm-up day by day (sending.egress and sending.warmup use them)."""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.ids import new_api_id, new_public_id
from accounts.models import Account


class WarmupType(models.TextChoices):
    """DirectMail's WarmupType: caps set by the system per mailbox provider, or none (the customer's)."""

    SYSTEM = "sysCusStream", _("Managed by the system")
    CUSTOMER = "cusSelfManager", _("Managed by you (no caps)")


def new_resource_id() -> str:
    return "dip-" + new_public_id()


class IpPool(models.Model):
    """A named set of an account's dedicated addresses (DirectMail's DedicatedIpPool). `is_default`: the
    pool of the account's mail that names no pool and whose sender has no configuration set."""

    api_id = models.BigIntegerField(unique=True, default=new_api_id, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="ip_pools")
    name = models.CharField(_("name"), max_length=50)
    is_default = models.BooleanField(_("default pool of the account"), default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("IP pool")
        verbose_name_plural = _("IP pools")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["account", "name"], name="ip_pool_unique_per_account"),
            models.UniqueConstraint(
                fields=["account"], condition=Q(is_default=True), name="ip_pool_one_default"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class EgressAddress(models.Model):
    """One source address of one host, with the name it greets receivers with (its PTR should say it).

    `account` set: dedicated to that account (its mail leaves from its own addresses); empty: the shared
    pool. With no address registered for a host, its mail leaves from whatever address the system picks,
    greeting with SMTP_HELO_NAME, as before."""

    address = models.GenericIPAddressField(_("address"), unique=True)
    helo = models.CharField(_("HELO name"), max_length=253)
    host = models.CharField(_("host"), max_length=253, help_text=_("The EGRESS_HOST of the worker machine."))
    account = models.ForeignKey(
        Account,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="egress_addresses",
        verbose_name=_("dedicated to"),
    )
    resource_id = models.CharField(max_length=24, unique=True, default=new_resource_id, editable=False)
    pool = models.ForeignKey(
        IpPool, on_delete=models.SET_NULL, null=True, blank=True, related_name="addresses",
        verbose_name=_("IP pool"),
    )  # fmt: skip
    warmup = models.CharField(
        _("warm-up"), max_length=16, choices=WarmupType.choices, default=WarmupType.CUSTOMER
    )
    warmup_changed_at = models.DateTimeField(null=True, blank=True)
    auto_renewal = models.BooleanField(default=False)  # DedicatedIpAutoRenewal: stored and answered
    created_at = models.DateTimeField(default=timezone.now)
    # The last check (sending.egress.check): forward-confirmed reverse DNS, SPF coverage, DNSBL listings.
    checked_at = models.DateTimeField(null=True, blank=True)
    ptr = models.CharField(max_length=253, blank=True)
    fcrdns = models.BooleanField(default=False)
    spf_covered = models.BooleanField(default=False)
    listings = models.JSONField(default=list, blank=True)  # the DNSBL zones that list it
    # A bind that failed (the address is not on the host): an operator error, shown until it binds again.
    bind_error = models.CharField(max_length=255, blank=True)

    class Meta:
        verbose_name = _("sending IP address")
        verbose_name_plural = _("sending IP addresses")
        ordering = ["host", "address"]

    def __str__(self) -> str:
        return f"{self.address} ({self.helo})"

    def clean(self) -> None:
        """An address is in a pool of the account it is dedicated to (admin's form checks it)."""
        from django.core.exceptions import ValidationError

        pool = self.pool if self.pool_id is not None else None
        if pool is not None and (self.account_id is None or pool.account_id != self.account_id):
            raise ValidationError(
                {"pool": _("The pool must belong to the account the address is dedicated to.")}
            )


class ConfigSet(models.Model):
    """DirectMail's configuration set: the IP pool a sender's mail leaves from, and whether the shared
    addresses may carry what the pool cannot take today (IsPublicChannelBackoff) or it waits."""

    api_id = models.BigIntegerField(unique=True, default=new_api_id, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="config_sets")
    name = models.CharField(_("name"), max_length=50)
    description = models.CharField(_("description"), max_length=50, blank=True)
    ip_pool = models.ForeignKey(
        IpPool, on_delete=models.PROTECT, null=True, blank=True, related_name="config_sets",
        verbose_name=_("IP pool"),
    )  # fmt: skip
    public_channel_backoff = models.BooleanField(_("back off to the shared addresses"), default=False)
    # DirectMail's ValidationOption, as given (address validation before sending comes with validation).
    validation_option = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("configuration set")
        verbose_name_plural = _("configuration sets")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["account", "name"], name="config_set_unique_per_account")
        ]

    def __str__(self) -> str:
        return self.name


class WarmupDay(models.Model):
    """One address's day (UTC) at one mailbox provider (sending.esp): its warm-up step and cap (None: no
    cap), and what it carried. `sent` counts what was handed to the receiver (delivered or not), reserved
    before the connection and given back when it was not used. `held`: why this day's step did not advance
    over the day before ("" when it did, or it is the first)."""

    address = models.ForeignKey(EgressAddress, on_delete=models.CASCADE, related_name="warmup_days")
    esp = models.CharField(max_length=32)
    day = models.DateField()
    step = models.PositiveSmallIntegerField(default=0)
    cap = models.PositiveIntegerField(null=True, blank=True)
    sent = models.PositiveIntegerField(default=0)
    delivered = models.PositiveIntegerField(default=0)
    deferred = models.PositiveIntegerField(default=0)
    bounced = models.PositiveIntegerField(default=0)
    complained = models.PositiveIntegerField(default=0)
    held = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["address", "esp", "day"]
        constraints = [models.UniqueConstraint(fields=["address", "esp", "day"], name="warmup_day_unique")]

    def __str__(self) -> str:
        return f"{self.address_id} {self.esp} {self.day}"
