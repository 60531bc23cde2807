"""Aggregate reports about our domains: DMARC (RFC 7489) and TLS-RPT (RFC 8460), read with parsedmarc.

Receivers send a DMARC aggregate report a day per domain to the `rua` address of its DMARC record; the
record the domain page proposes names `dmarc-reports@<domain>` (DMARC_REPORT_LOCAL_PART), which
`manage.py smtpd` takes since the domain's MX points at it. `manage.py apply_report FILE` takes a saved one
(the mail, or its zip, gzip or XML attachment). parsedmarc parses them offline: no DNS, no downloads.

A report belongs to the account's domain it is about (its policy domain, else a record's header From),
and, when it came by mail, only to a domain of the account that owns the address it came to. Each is kept
once per receiver and report id; its records become DmarcRows, shown on the domain's reports page
(`summary`): sources by address, ours (an egress address, or DMARC_OUR_NETWORKS) marked as such, others
highlighted; alignment and pass rates; the policy applied; by day.

TLS-RPT reports (how other senders' TLS sessions to our MX went) come to `tls-reports@<domain>`, named by
the `_smtp._tls` record the domain page proposes; each policy domain of ours in one becomes a TlsReport,
kept once per sender and report id, shown on the same page.
"""

import ipaddress
import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, Sum

from sending.models import DmarcReport, DmarcRow, Domain, EgressAddress, TlsReport

log = logging.getLogger(__name__)

DISPOSITIONS = ("none", "quarantine", "reject")


class ReportError(ValueError):
    """Not a report we can read; its text says why."""


@dataclass
class ReportResult:
    kind: str  # "dmarc", "tlsrpt", or "" when nothing was read
    domain: Domain | None = None
    applied: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def parse(raw: bytes) -> dict[str, Any]:
    """parsedmarc's reading of a report mail or file: {"report_type": "aggregate" | "smtp_tls" |
    "failure" | "forensic", "report": ...}. Offline: it asks no DNS and downloads nothing."""
    import parsedmarc  # heavy to import; only the report paths need it

    try:
        return dict(parsedmarc.parse_report_file(raw, offline=True, always_use_local_files=True))
    except (parsedmarc.ParserError, parsedmarc.InvalidDMARCReport, KeyError, ValueError, TypeError) as exc:
        raise ReportError(str(exc).splitlines()[0][:300] if str(exc) else "not a report") from exc


def _local_time(value: str) -> datetime:
    """parsedmarc writes times as "YYYY-MM-DD HH:MM:SS" in the process's time zone (TIME_ZONE)."""
    return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").astimezone(UTC)


def _domain_for(report: dict, envelope_to: str | None) -> Domain | None:
    names = [str(report["policy_published"].get("domain") or "").lower()]
    names += [str(r["identifiers"].get("header_from") or "").lower() for r in report["records"]]
    names = [n for n in dict.fromkeys(names) if n]
    domains = Domain.objects.alive().filter(name__in=names)
    if envelope_to:
        arrived = Domain.objects.alive().filter(name=envelope_to.rpartition("@")[2].lower()).first()
        if arrived is None:
            return None
        domains = domains.filter(account_id=arrived.account_id)
    by_name = {d.name: d for d in domains}
    return next((by_name[n] for n in names if n in by_name), None)


def _results(items: list[dict]) -> str:
    return ", ".join(f"{i.get('domain') or '?'}={i.get('result') or '?'}" for i in items)[:500]


def _row(report: DmarcReport, record: dict) -> DmarcRow:
    alignment, evaluated = record["alignment"], record["policy_evaluated"]
    reasons = evaluated.get("policy_override_reasons") or []
    return DmarcRow(
        report=report,
        day=_local_time(record.get("interval_begin") or report.begin.strftime("%Y-%m-%d %H:%M:%S")).date(),
        source_ip=record["source"]["ip_address"],
        count=int(record["count"] or 0),
        disposition=str(evaluated.get("disposition") or "none").lower()[:16],
        dmarc_pass=bool(alignment.get("dmarc")),
        dkim_aligned=bool(alignment.get("dkim")),
        spf_aligned=bool(alignment.get("spf")),
        header_from=str(record["identifiers"].get("header_from") or "")[:253],
        envelope_from=str(record["identifiers"].get("envelope_from") or "")[:253],
        dkim=_results(record["auth_results"].get("dkim") or []),
        spf=_results(record["auth_results"].get("spf") or []),
        override=", ".join(str(r.get("type") or "") for r in reasons)[:255],
    )


def _apply_dmarc(report: dict, envelope_to: str | None) -> ReportResult:
    meta = report["report_metadata"]
    title = f"DMARC report {meta.get('report_id')} from {meta.get('org_name')}"
    domain = _domain_for(report, envelope_to)
    if domain is None:
        about = report["policy_published"].get("domain")
        return ReportResult("dmarc", ignored=[f"{title}: {about} is not a domain of ours"])
    try:
        with transaction.atomic():
            stored = DmarcReport.objects.create(
                account_id=domain.account_id,
                domain=domain,
                org_name=str(meta.get("org_name") or "")[:255],
                org_email=str(meta.get("org_email") or "")[:254],
                report_id=str(meta.get("report_id") or "")[:255],
                begin=_local_time(meta["begin_date"]),
                end=_local_time(meta["end_date"]),
                policy={k: v for k, v in report["policy_published"].items() if v is not None},
                messages=sum(int(r["count"] or 0) for r in report["records"]),
                errors=list(meta.get("errors") or [])[:20],
            )
            DmarcRow.objects.bulk_create([_row(stored, r) for r in report["records"]])
    except IntegrityError:
        return ReportResult("dmarc", domain, ignored=[f"{title}: already received"])
    return ReportResult(
        "dmarc",
        domain,
        applied=[f"{title}: {stored.messages} messages from {len(report['records'])} records"],
    )


def apply_report(raw: bytes, *, envelope_to: str | None = None) -> ReportResult:
    """Read a report mail or file and keep what it says about our domains (see the module docstring)."""
    try:
        parsed = parse(raw)
    except ReportError as exc:
        return ReportResult("", ignored=[f"not a report we read: {exc}"])
    kind = parsed.get("report_type")
    if kind == "aggregate":
        return _apply_dmarc(parsed["report"], envelope_to)
    if kind == "smtp_tls":
        return _apply_tls(parsed["report"], envelope_to)
    return ReportResult("", ignored=[f"a {kind} report: only aggregate DMARC and TLS reports are read"])


def _iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _apply_tls(report: dict, envelope_to: str | None) -> ReportResult:
    title = f"TLS report {report.get('report_id')} from {report.get('organization_name')}"
    result = ReportResult("tlsrpt")
    by_domain: dict[str, list[dict]] = {}
    for policy in report.get("policies") or []:
        by_domain.setdefault(str(policy.get("policy_domain") or "").lower(), []).append(policy)
    domains = Domain.objects.alive().filter(name__in=by_domain)
    if envelope_to:
        arrived = Domain.objects.alive().filter(name=envelope_to.rpartition("@")[2].lower()).first()
        domains = domains.filter(account_id=arrived.account_id) if arrived else domains.none()
    found = {d.name: d for d in domains}
    for name, policies in by_domain.items():
        domain = found.get(name)
        if domain is None:
            result.ignored.append(f"{title}: {name} is not a domain of ours")
            continue
        result.domain = domain
        try:
            with transaction.atomic():
                TlsReport.objects.create(
                    account_id=domain.account_id,
                    domain=domain,
                    org_name=str(report.get("organization_name") or "")[:255],
                    contact=str(report.get("contact_info") or "")[:255],
                    report_id=str(report.get("report_id") or "")[:255],
                    begin=_iso(report["begin_date"]),
                    end=_iso(report["end_date"]),
                    successful=sum(int(p.get("successful_session_count") or 0) for p in policies),
                    failed=sum(int(p.get("failed_session_count") or 0) for p in policies),
                    policies=policies,
                )
        except IntegrityError:
            result.ignored.append(f"{title}: already received")
            continue
        sessions = sum(int(p.get(k) or 0) for p in policies for k in ("successful_session_count",
                                                                       "failed_session_count"))  # fmt: skip
        result.applied.append(f"{title}: {sessions} sessions to {name}")
    return result


# -- what the domain's reports page shows


class OurSources:
    """Whether a source address is ours: one of the egress addresses, or in DMARC_OUR_NETWORKS (a relay
    or smarthost that sends our mail, the mail servers of the company)."""

    @cached_property
    def addresses(self) -> set[str]:
        return {str(ipaddress.ip_address(a)) for a in EgressAddress.objects.values_list("address", flat=True)}

    @cached_property
    def networks(self) -> list:
        return [ipaddress.ip_network(n, strict=False) for n in settings.DMARC_OUR_NETWORKS]

    def __contains__(self, ip: str) -> bool:
        address = ipaddress.ip_address(ip)
        return str(address) in self.addresses or any(address in n for n in self.networks)


def _rate(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


@dataclass
class Summary:
    since: date
    totals: dict[str, Any]
    dispositions: dict[str, int]
    days: list[dict]  # {"day", "passed", "failed"}, every day of the period
    sources: list[dict]  # by address, most messages first
    foreign: dict[str, int]  # messages and sources not ours


def summary(domain: Domain, days: int, today: date) -> Summary:
    """The domain's DMARC results over the last `days` days (by the reports' UTC days)."""
    since = today - timedelta(days=days - 1)
    rows = DmarcRow.objects.filter(report__domain=domain, day__gte=since, day__lte=today)
    counted = {
        "messages": Sum("count"),
        "passed": Sum("count", filter=Q(dmarc_pass=True)),
        "dkim": Sum("count", filter=Q(dkim_aligned=True)),
        "spf": Sum("count", filter=Q(spf_aligned=True)),
        **{d: Sum("count", filter=Q(disposition=d)) for d in DISPOSITIONS},
    }
    sums = {k: v or 0 for k, v in rows.aggregate(**counted).items()}
    messages = sums["messages"]
    totals = {
        "messages": messages,
        "passed": sums["passed"],
        "pass_rate": _rate(sums["passed"], messages),
        "dkim_rate": _rate(sums["dkim"], messages),
        "spf_rate": _rate(sums["spf"], messages),
    }
    by_day = {
        r["day"]: r
        for r in rows.values("day").annotate(m=Sum("count"), p=Sum("count", filter=Q(dmarc_pass=True)))
    }
    series, day = [], since
    while day <= today:
        found = by_day.get(day, {})
        passed = found.get("p") or 0
        series.append({"day": day, "passed": passed, "failed": (found.get("m") or 0) - passed})
        day += timedelta(days=1)
    ours = OurSources()
    sources = []
    for r in rows.values("source_ip").annotate(**counted).order_by("-messages", "source_ip"):
        values = {k: r[k] or 0 for k in counted}
        sources.append({
            "ip": r["source_ip"],
            "ours": r["source_ip"] in ours,
            **values,
            "pass_rate": _rate(values["passed"], values["messages"]),
            "dkim_rate": _rate(values["dkim"], values["messages"]),
            "spf_rate": _rate(values["spf"], values["messages"]),
        })  # fmt: skip
    foreign = [s for s in sources if not s["ours"]]
    return Summary(
        since,
        totals,
        {d: sums[d] for d in DISPOSITIONS},
        series,
        sources,
        {"messages": sum(s["messages"] for s in foreign), "sources": len(foreign)},
    )


def tls_summary(domain: Domain, days: int, today: date) -> dict[str, Any]:
    """The TLS reports about the domain's mail server over the last `days` days: sessions that succeeded
    and failed, and the failures by result type and sender."""
    since = today - timedelta(days=days - 1)
    found = list(TlsReport.objects.filter(domain=domain, begin__date__gte=since))
    failures: dict[tuple[str, str, str], int] = {}
    for report in found:
        for policy in report.policies:
            for detail in policy.get("failure_details") or []:
                key = (report.org_name, str(detail.get("result_type") or ""),
                       str(detail.get("receiving_mx_hostname") or ""))  # fmt: skip
                failures[key] = failures.get(key, 0) + int(detail.get("failed_session_count") or 0)
    successful, failed = sum(r.successful for r in found), sum(r.failed for r in found)
    return {
        "reports": len(found),
        "successful": successful,
        "failed": failed,
        "failure_rate": _rate(failed, successful + failed),
        "failures": [
            {"reporter": k[0], "result": k[1], "mx": k[2], "sessions": n}
            for k, n in sorted(failures.items(), key=lambda item: -item[1])
        ],
    }
