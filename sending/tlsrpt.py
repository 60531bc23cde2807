"""TLS-RPT (RFC 8460): our daily reports to the recipient domains that ask for them, and theirs about ours.

Sending: `send_reports(day)` (the daily schedule runs it for yesterday, UTC) sums the sessions of that day
(TlsOutcome, counted by sending.tls_policy) per recipient domain that publishes `_smtp._tls` with
`v=TLSRPTv1; rua=...`, builds the RFC's JSON report (one policy per policy type and MX, with its failure
details) and sends it, gzipped, to each rua destination: `mailto:` as a multipart/report mail from
TLSRPT_SENDER (a sender address of a verified domain, so the worker DKIM-signs it and delivers it like
any mail), `https:` as a POST of application/tlsrpt+gzip (through netguard). Each destination gets a day's
report once (TlsReportDelivery); a failed POST is tried again by the next run.

Receiving: reports about our domains come to `tls-reports@<domain>` (TLSRPT_LOCAL_PART), which the
`_smtp._tls` record the domain page proposes names, and are read with the DMARC reports
(sending.reports), shown on the domain's reports page.
"""

import gzip
import json
import logging
import re
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from sending import dns, netguard
from sending.models import Envelope, MtaStsPolicy, SenderAddress, TlsOutcome, TlsReportDelivery

log = logging.getLogger(__name__)

_RUA = re.compile(r"(?:^|;)\s*rua\s*=\s*([^;]+)")


def rua_of(domain: str) -> list[str]:
    """The destinations `_smtp._tls.<domain>` names ([] without a valid TLSRPTv1 record)."""
    found = dns.lookup(f"_smtp._tls.{domain}", "TXT")
    records = [r for r in found.records if r.replace(" ", "").startswith("v=TLSRPTv1")]
    if len(records) != 1:
        return []  # none, or several: RFC 8460 3 says to use none
    match = _RUA.search(records[0])
    if not match:
        return []
    destinations = [d.strip() for d in match.group(1).split(",")]
    return [d for d in destinations if d.startswith(("mailto:", "https://"))]


def report_id(domain: str, day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z.{domain}@{settings.TLSRPT_SUBMITTER}"


def build(domain: str, day: date) -> dict:
    """The RFC 8460 report of our sessions to `domain`'s MX hosts on `day` (UTC)."""
    rows = TlsOutcome.objects.filter(day=day, domain=domain)
    policies: dict[tuple[str, str], dict] = {}
    sts = MtaStsPolicy.objects.filter(domain=domain).first()
    for row in rows.order_by("policy_type", "mx_host", "result"):
        mx = row.mx_host if row.policy_type == "tlsa" else ""
        entry = policies.setdefault((row.policy_type, mx), _policy(domain, row.policy_type, row.mx_host, sts))
        summary = entry["summary"]
        if row.result == "success":
            summary["total-successful-session-count"] += row.count
            continue
        summary["total-failure-session-count"] += row.count
        detail = {"result-type": row.result, "failed-session-count": row.count}
        if row.sending_ip:
            detail["sending-mta-ip"] = row.sending_ip
        if row.receiving_ip:
            detail["receiving-ip"] = row.receiving_ip
        if row.mx_host:
            detail["receiving-mx-hostname"] = row.mx_host
        if row.detail:
            detail["failure-reason-code"] = row.detail[:255]
        entry.setdefault("failure-details", []).append(detail)
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return {
        "organization-name": settings.TLSRPT_ORGANIZATION,
        "date-range": {
            "start-datetime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end-datetime": (start + timedelta(days=1, seconds=-1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "contact-info": settings.TLSRPT_CONTACT,
        "report-id": report_id(domain, day),
        "policies": list(policies.values()),
    }


def _policy(domain: str, policy_type: str, mx_host: str, sts: MtaStsPolicy | None) -> dict:
    policy: dict = {"policy-type": policy_type, "policy-domain": domain}
    if policy_type == "sts" and sts is not None:
        policy["policy-string"] = [line for line in sts.text.splitlines() if line.strip()]
        policy["mx-host"] = list(sts.mx)
    elif policy_type == "tlsa":
        found = dns.lookup(f"_25._tcp.{mx_host}", "TLSA")
        policy["policy-string"] = found.records
        policy["mx-host"] = [mx_host]
    summary = {"total-successful-session-count": 0, "total-failure-session-count": 0}
    return {"policy": policy, "summary": summary}


def _filename(domain: str, day: date) -> str:
    """RFC 8460 5.3: submitter!policy-domain!begin!end!unique-id.json.gz"""
    begin = int(datetime.combine(day, time.min, tzinfo=UTC).timestamp())
    return f"{settings.TLSRPT_SUBMITTER}!{domain}!{begin}!{begin + 86399}!{day:%Y%m%d}.json.gz"


def report_mail(sender: str, to: str, domain: str, day: date, body: bytes) -> bytes:
    """The report as RFC 8460 5.3 mails it: multipart/report; report-type="tlsrpt", the gzipped JSON."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    submitter = settings.TLSRPT_SUBMITTER
    mail["Subject"] = f"Report Domain: {domain} Submitter: {submitter} Report-ID: <{report_id(domain, day)}>"

    mail["Date"] = format_datetime(timezone.now())
    mail["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    mail["TLS-Report-Domain"] = domain
    mail["TLS-Report-Submitter"] = settings.TLSRPT_SUBMITTER
    mail.set_content(
        f"This is an aggregate TLS report (RFC 8460) from {settings.TLSRPT_ORGANIZATION} about the SMTP "
        f"sessions to the mail servers of {domain} on {day.isoformat()} (UTC)."
    )
    mail.add_attachment(body, maintype="application", subtype="tlsrpt+gzip", filename=_filename(domain, day))
    mail.set_type("multipart/report")  # RFC 8460 5.3, in place of add_attachment's multipart/mixed
    mail.set_param("report-type", "tlsrpt")
    return mail.as_bytes(policy=SMTP)


def _deliver(destination: str, domain: str, day: date, body: bytes) -> None:
    """Send one report to one destination; raises with a reason when it could not be handed over."""
    if destination.startswith("https://"):
        response = netguard.post(
            destination, body, {"Content-Type": "application/tlsrpt+gzip", "User-Agent": "directmail"}
        )
        if not 200 <= response.status < 300:
            raise RuntimeError(f"HTTP {response.status}")
        return
    from sending.services import messages as service  # the enqueue service reads much of sending

    sender = (
        SenderAddress.objects.alive()
        .select_related("account", "domain")
        .filter(address=settings.TLSRPT_SENDER.lower())
        .first()
    )
    if sender is None:
        raise RuntimeError("TLSRPT_SENDER is not a sender address here: reports by mail are not sent")
    to = destination.removeprefix("mailto:").split("?", 1)[0]
    raw = report_mail(sender.address, to, domain, day, body)
    service.message_enqueue(
        service.Mail(
            account=sender.account,
            sender=sender,
            to=to,
            content=service.Content(subject=f"TLS report for {domain}", raw_message=raw),
            source=Envelope.Source.SMTP,  # relayed as built, like a submission: signed, never rebuilt
        )
    )


def send_reports(day: date | None = None) -> dict[str, int]:
    """Send `day`'s reports (yesterday, UTC, by default): {"sent", "failed", "skipped"} destinations."""
    day = day or (timezone.now().astimezone(UTC).date() - timedelta(days=1))
    counts = {"sent": 0, "failed": 0, "skipped": 0}
    domains = (
        TlsOutcome.objects.filter(day=day)
        .values("domain")
        .annotate(n=Sum("count"))
        .values_list("domain", flat=True)
    )
    for domain in sorted(set(domains)):
        destinations = rua_of(domain)
        if not destinations:
            continue
        body = gzip.compress(json.dumps(build(domain, day), indent=1).encode())
        for destination in destinations:
            delivery, _new = TlsReportDelivery.objects.get_or_create(
                day=day,
                domain=domain,
                destination=destination[:500],
                defaults={"report_id": report_id(domain, day)},
            )
            if delivery.sent:
                counts["skipped"] += 1
                continue
            delivery.attempts += 1
            try:
                _deliver(destination, domain, day, body)
            except Exception as exc:  # one destination's trouble never stops the others
                log.warning("TLS report for %s to %s: %s", domain, destination, exc)
                delivery.error, delivery.sent = str(exc)[:500], False
                counts["failed"] += 1
            else:
                delivery.error, delivery.sent = "", True
                counts["sent"] += 1
            delivery.updated_at = timezone.now()
            delivery.save()
    return counts


KEEP_DAYS = 35


def prune() -> int:
    """Session counts older than KEEP_DAYS, whose reports are long sent."""
    cutoff = timezone.now().date() - timedelta(days=KEEP_DAYS)
    deleted, _ = TlsOutcome.objects.filter(day__lt=cutoff).delete()
    TlsReportDelivery.objects.filter(day__lt=cutoff).delete()
    return deleted
