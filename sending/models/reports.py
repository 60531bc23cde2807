"""Aggregate reports receivers send about an account's domains: DMARC (RFC 7489), read by sending.reports."""

from django.db import models
from django.utils import timezone

from accounts.models import Account
from sending.models.identities import Domain


class DmarcReport(models.Model):
    """One DMARC aggregate report: one receiver (org_name) about one domain over one period."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="dmarc_reports")
    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="dmarc_reports")
    org_name = models.CharField(max_length=255)
    org_email = models.CharField(max_length=254, blank=True)
    report_id = models.CharField(max_length=255)
    begin = models.DateTimeField()
    end = models.DateTimeField()
    policy = models.JSONField(default=dict)  # policy_published: domain, p, sp, pct, adkim, aspf, ...
    messages = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # A receiver sending the same report twice (retries, two rua addresses) counts it once.
            models.UniqueConstraint(fields=["domain", "org_name", "report_id"], name="dmarc_report_unique")
        ]
        indexes = [models.Index(fields=["domain", "-begin"], name="dmarc_report_domain_time")]
        ordering = ["-begin", "-pk"]

    def __str__(self) -> str:
        return f"{self.org_name} {self.report_id}"

    @property
    def policy_text(self) -> str:
        """The published policy as its record says it: "p=quarantine; sp=none; pct=100"."""
        tags = ("p", "sp", "pct", "adkim", "aspf")
        return "; ".join(f"{t}={self.policy[t]}" for t in tags if self.policy.get(t))


class DmarcRow(models.Model):
    """One record of a report: `count` messages from one source address with one set of results."""

    report = models.ForeignKey(DmarcReport, on_delete=models.CASCADE, related_name="rows")
    day = models.DateField()  # the (UTC) day of the record's interval
    source_ip = models.GenericIPAddressField()
    count = models.PositiveIntegerField()
    disposition = models.CharField(max_length=16)  # none | quarantine | reject: the policy applied
    dmarc_pass = models.BooleanField()  # DKIM or SPF passed and aligned
    dkim_aligned = models.BooleanField()
    spf_aligned = models.BooleanField()
    header_from = models.CharField(max_length=253)
    envelope_from = models.CharField(max_length=253, blank=True)
    dkim = models.CharField(max_length=500, blank=True)  # "domain=result" of each signature checked
    spf = models.CharField(max_length=500, blank=True)  # "domain=result"
    override = models.CharField(max_length=255, blank=True)  # the receiver's reasons for another policy

    class Meta:
        indexes = [models.Index(fields=["report", "source_ip"], name="dmarc_row_source")]

    def __str__(self) -> str:
        return f"{self.source_ip} x{self.count}"
