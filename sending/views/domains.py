"""Domain pages: the list, adding one, the verification wizard, DNS checks, DKIM rotation, deleting, and
the DMARC reports receivers send about it."""

from django.conf import settings
from django.contrib import messages
from django.db.models import Q
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.audit import Actor
from accounts.confirm import confirm_page
from accounts.errors import ServiceError
from accounts.paging import page_of
from accounts.roles import Perm
from accounts.tenancy import account_view, get_for_account
from sending import domain_records, reports
from sending.forms import DomainForm
from sending.models import DkimKey, DkimKeyStatus, DnsRecordCheck, Domain
from sending.services import domains as service


@account_view(Perm.VIEW)
def domain_list(request):
    domains = Domain.objects.alive().filter(account=request.account).order_by("sandbox", "name")
    query = request.GET.get("q", "").strip()
    if query:
        domains = domains.filter(Q(name__icontains=query) | Q(status=query))
    context = {
        "page": page_of(request, domains),
        "has_own": Domain.objects.alive().own().filter(account=request.account).exists(),
        "form": DomainForm() if request.membership.can(Perm.MANAGE_DOMAINS) else None,
        "query": query,
    }
    return render(request, "sending/domain_list.html", context)


@account_view(Perm.MANAGE_DOMAINS)
@require_POST
def domain_create(request):
    form = DomainForm(request.POST)
    if form.is_valid():
        try:
            domain = service.domain_create(
                account=request.account, name=form.cleaned_data["name"], actor=Actor.from_request(request)
            )
        except ServiceError as exc:
            form.add_error("name", str(exc))
        else:
            messages.success(
                request,
                _("%(name)s added. Publish its DNS records, then press Check now.") % {"name": domain},
            )
            return redirect(
                "sending:domain_detail", account_id=request.account.public_id, domain_id=domain.public_id
            )
    domains = Domain.objects.alive().filter(account=request.account).order_by("sandbox", "name")
    has_own = domains.own().exists()
    context = {"page": page_of(request, domains), "form": form, "has_own": has_own}
    return render(request, "sending/domain_list.html", context, status=400)


def _get_domain(request, domain_id: str) -> Domain:
    return get_for_account(Domain.objects.alive(), request.account, public_id=domain_id)


@account_view(Perm.VIEW)
def domain_detail(request, domain_id: str):
    domain = _get_domain(request, domain_id)
    if domain.sandbox:
        senders = domain.sender_addresses.alive().order_by("address")
        return render(request, "sending/sandbox_detail.html", {"domain": domain, "senders": senders})
    checks = {(c.kind, c.dkim_key_id): c for c in DnsRecordCheck.objects.filter(domain=domain)}
    rows = [
        {"spec": spec, "check": checks.get((spec.kind, spec.dkim_key.pk if spec.dkim_key else None))}
        for spec in domain_records.records_to_publish(domain)
    ]
    context = {
        "domain": domain,
        "rows": rows,
        "keys": domain.dkim_keys.all(),
        "can_manage": request.membership.can(Perm.MANAGE_DOMAINS),
        "zone": domain_records.registrable_domain(domain.name),
        "rotation_pending": domain.dkim_keys.filter(status=DkimKeyStatus.PENDING).exists(),
    }
    return render(request, "sending/domain_detail.html", context)


@account_view(Perm.MANAGE_DOMAINS)
@require_POST
def domain_check(request, domain_id: str):
    domain = _get_domain(request, domain_id)
    service.domain_request_check(domain=domain)
    return redirect("sending:domain_detail", account_id=request.account.public_id, domain_id=domain.public_id)


@account_view(Perm.VIEW)
def domain_status(request, domain_id: str):
    """Polled by the wizard while a check runs."""
    domain = _get_domain(request, domain_id)
    return JsonResponse(
        {
            "checking": domain.is_checking,
            "status": domain.status,
            "last_checked_at": domain.last_checked_at.isoformat() if domain.last_checked_at else None,
        }
    )


@account_view(Perm.MANAGE_DOMAINS)
@require_POST
def dkim_rotate(request, domain_id: str):
    domain = _get_domain(request, domain_id)
    try:
        key = service.dkim_rotate(domain=domain, actor=Actor.from_request(request))
    except ServiceError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            _("New key %(selector)s created. Publish its record; it starts signing once a check finds it.")
            % {"selector": key.selector},
        )
    return redirect("sending:domain_detail", account_id=request.account.public_id, domain_id=domain.public_id)


@account_view(Perm.MANAGE_DOMAINS)
@require_POST
def dkim_retire(request, domain_id: str, selector: str):
    domain = _get_domain(request, domain_id)
    key = get_object_or_404(DkimKey, domain=domain, selector=selector)
    try:
        service.dkim_retire(key=key, actor=Actor.from_request(request))
    except ServiceError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, _("Key %(selector)s retired: you may remove its DNS record.") % {"selector": selector}
        )
    return redirect("sending:domain_detail", account_id=request.account.public_id, domain_id=domain.public_id)


@account_view(Perm.MANAGE_DOMAINS)
def domain_delete(request, domain_id: str):
    domain = _get_domain(request, domain_id)
    detail = redirect(
        "sending:domain_detail", account_id=request.account.public_id, domain_id=domain.public_id
    )
    if request.method == "POST":
        try:
            service.domain_delete(domain=domain, actor=Actor.from_request(request))
        except ServiceError as exc:
            messages.error(request, str(exc))
            return detail
        messages.success(request, _("%(name)s deleted.") % {"name": domain})
        return redirect("sending:domains", account_id=request.account.public_id)
    return confirm_page(
        request,
        title=_("Delete domain"),
        question=_("Delete %(name)s?") % {"name": domain},
        explanation=_(
            "Nothing can be sent from it any more, and its DKIM keys are destroyed. "
            "You can add it again later, with new records to publish."
        ),
        button=_("Delete domain"),
        back_url=detail.url,
        back_label=str(domain),
    )


REPORT_PERIODS = (7, 30, 90)


@account_view(Perm.VIEW)
def domain_reports(request, domain_id: str):
    """The DMARC aggregate reports receivers sent about the domain: its sources (ours and others), pass
    and alignment rates, the policy applied, by day; the reports themselves, newest first. Then the TLS
    reports (TLS-RPT) senders sent about its mail server."""
    domain = _get_domain(request, domain_id)
    try:
        days = int(request.GET.get("days", 30))
    except ValueError:
        days = 30
    days = days if days in REPORT_PERIODS else 30
    today = timezone.now().date()  # the reports' days are UTC days
    result = reports.summary(domain, days, today)
    chart = {
        "labels": [d["day"].isoformat() for d in result.days],
        "passed": [d["passed"] for d in result.days],
        "failed": [d["failed"] for d in result.days],
        "names": {"passed": str(_("Passed DMARC")), "failed": str(_("Failed DMARC"))},
    }
    context = {
        "domain": domain,
        "days": days,
        "periods": REPORT_PERIODS,
        "summary": result,
        "chart": chart,
        "address": domain_records.report_address(domain),
        "page": page_of(request, domain.dmarc_reports.all(), per_page=20),
        "tls": reports.tls_summary(domain, days, today),
        "tls_reports": domain.tls_reports.all()[:20],
        "tls_address": f"{settings.TLSRPT_LOCAL_PART}@{domain.name}",
    }
    return render(request, "sending/domain_reports.html", context)
