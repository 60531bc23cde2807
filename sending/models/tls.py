"""TLS in mx mode (sending.tls_policy): the MTA-STS policies fetched (shared by every worker, kept for their
max_age), and the outcome of every session per day, policy and MX, which TLS-RPT reports (RFC 8460) sum."""

from django.db import models
from django.utils import timezone


class MtaStsPolicy(models.Model):
    """A recipient domain's MTA-STS policy (RFC 8461) as last fetched, with the TXT record id it had."""

    domain = models.CharField(max_length=253, unique=True)
    policy_id = models.CharField(max_length=64)  # the id= of _mta-sts.<domain> when it was fetched
    mode = models.CharField(max_length=8)  # enforce | testing | none
    mx = models.JSONField(default=list)  # the mx: patterns ("mail.example.com", "*.example.net")
    max_age = models.PositiveIntegerField()
    text = models.TextField()  # the policy as served, for TLS-RPT's policy-string
    fetched_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.domain} {self.mode}"


class TlsOutcome(models.Model):
    """Sessions to one MX on one (UTC) day under one policy, by result: "success" or a TLS-RPT result-type
    (starttls-not-supported, certificate-host-mismatch, certificate-expired, certificate-not-trusted,
    validation-failure, tlsa-invalid, dnssec-invalid, sts-policy-fetch-error, sts-policy-invalid,
    sts-webpki-invalid)."""

    day = models.DateField()
    domain = models.CharField(max_length=253)  # the recipient domain (TLS-RPT's policy-domain)
    policy_type = models.CharField(max_length=16)  # tlsa | sts | no-policy-found
    mx_host = models.CharField(max_length=253)
    result = models.CharField(max_length=32)
    sending_ip = models.CharField(max_length=45, blank=True)
    receiving_ip = models.CharField(max_length=45, blank=True)
    count = models.PositiveIntegerField(default=0)
    detail = models.CharField(max_length=255, blank=True)  # the last failure's text

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "domain", "policy_type", "mx_host", "result", "sending_ip", "receiving_ip"],
                name="tls_outcome_unique",
            )
        ]
        indexes = [models.Index(fields=["day", "domain"], name="tls_outcome_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.domain} {self.mx_host} {self.result} x{self.count}"


class TlsReport(models.Model):
    """A TLS-RPT report (RFC 8460) a sender sent about one of our domains: how its sessions to our MX went."""

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="tls_reports")
    domain = models.ForeignKey("sending.Domain", on_delete=models.CASCADE, related_name="tls_reports")
    org_name = models.CharField(max_length=255)
    contact = models.CharField(max_length=255, blank=True)
    report_id = models.CharField(max_length=255)
    begin = models.DateTimeField()
    end = models.DateTimeField()
    successful = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    policies = models.JSONField(default=list)  # as parsedmarc reads them: type, strings, counts, failures
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["domain", "org_name", "report_id"], name="tls_report_unique")
        ]
        ordering = ["-begin", "-pk"]

    def __str__(self) -> str:
        return f"{self.org_name} {self.report_id}"


class TlsReportDelivery(models.Model):
    """One of our daily TLS-RPT reports to one rua destination of a recipient domain (sending.tlsrpt):
    made once per day, domain and destination; a failed https one is tried again by the next run."""

    day = models.DateField()
    domain = models.CharField(max_length=253)
    destination = models.CharField(max_length=500)  # mailto:... or https://...
    report_id = models.CharField(max_length=255)
    sent = models.BooleanField(default=False)
    error = models.CharField(max_length=500, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "domain", "destination"], name="tls_report_delivery_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.domain} -> {self.destination}"
