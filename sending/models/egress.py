"""The addresses mail leaves from (DirectMail's dedicated IPs): registered by platform staff, per host."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Account


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
