"""The statistics dashboard: a date range (presets or custom, at most 90 days), sender and tag filters,
totals with rates, a chart by day and one by tag with their tables, the complaint rate against Gmail's and
Yahoo's lines per day, sender and tag, and the CSV of what is shown."""

import csv
from datetime import timedelta

from django import forms
from django.http import HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.roles import Perm
from accounts.tenancy import account_view
from sending import feedback
from sending.csv_cells import escape_formula
from sending.models import SenderAddress
from sending.services import egress
from stats import dashboard
from stats.models import COUNTER_FIELDS

LABELS = {
    "requests": gettext_lazy("Requests"),
    "sent": gettext_lazy("Sent"),
    "delivered": gettext_lazy("Delivered"),
    "deferred": gettext_lazy("Deferred"),
    "failed": gettext_lazy("Failed"),
    "invalid": gettext_lazy("Invalid addresses"),
    "opens": gettext_lazy("Opens"),
    "unique_opens": gettext_lazy("Unique opens"),
    "clicks": gettext_lazy("Clicks"),
    "unique_clicks": gettext_lazy("Unique clicks"),
    "unsubscribes": gettext_lazy("Unsubscribes"),
    "complaints": gettext_lazy("Complaints"),
    "tracked": gettext_lazy("Delivered with tracking"),
}


class RangeForm(forms.Form):
    range = forms.ChoiceField(
        label=gettext_lazy("Period"),
        required=False,
        initial="7d",
        choices=[
            ("today", gettext_lazy("Today")),
            ("7d", gettext_lazy("Last 7 days")),
            ("30d", gettext_lazy("Last 30 days")),
            ("90d", gettext_lazy("Last 90 days")),
            ("custom", gettext_lazy("From - to")),
        ],
    )
    start = forms.DateField(
        label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label=gettext_lazy("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    sender = forms.ChoiceField(label=gettext_lazy("Sender address"), required=False)
    tag = forms.ChoiceField(label=gettext_lazy("Tag"), required=False)
    # The egress filters (shown when the account has dedicated addresses, pools or configuration sets).
    dedicated_ip = forms.ChoiceField(label=gettext_lazy("Dedicated IP"), required=False)
    ip_pool = forms.ChoiceField(label=gettext_lazy("IP pool"), required=False)
    config_set = forms.ChoiceField(label=gettext_lazy("Configuration set"), required=False)

    def __init__(self, *args, account, **kwargs):
        super().__init__(*args, **kwargs)
        self.account = account
        self.today = account.today()
        addresses = (
            egress.account_addresses(account).order_by("address").values_list("resource_id", "address")
        )
        self.fields["dedicated_ip"].choices = [("", _("Every address")), *addresses]
        pools = account.ip_pools.values_list("api_id", "name")
        self.fields["ip_pool"].choices = [("", _("Every IP pool")), *((str(i), n) for i, n in pools)]
        sets = account.config_sets.values_list("api_id", "name")
        self.fields["config_set"].choices = [
            ("", _("Every configuration set")),
            *((str(i), n) for i, n in sets),
        ]
        self.has_egress = bool(addresses or pools or sets)
        senders = account.sender_addresses.order_by("address").values_list("pk", "address")
        self.fields["sender"].choices = [
            ("", _("Every sender address")),
            *((str(pk), a) for pk, a in senders),
        ]
        tags = account.daily_counters.values_list("tag_name", flat=True).distinct().order_by("tag_name")
        self.fields["tag"].choices = [("", _("Every tag")), *((t or "-", t or _("(no tag)")) for t in tags)]
        for field in self.fields.values():
            select = isinstance(field, forms.ChoiceField)
            field.widget.attrs.setdefault(
                "class", "form-select form-select-sm" if select else "form-control form-control-sm"
            )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("range") == "custom":
            start, end = cleaned.get("start"), cleaned.get("end")
            if not start or not end:
                raise forms.ValidationError(_("Give both days of the period."))
            if start > end:
                raise forms.ValidationError(_("The period starts after it ends."))
            if (end - start).days + 1 > dashboard.MAX_DAYS:
                raise forms.ValidationError(_("At most %(n)s days at a time.") % {"n": dashboard.MAX_DAYS})
        return cleaned

    def period(self):
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        if data.get("range") == "custom":
            return data["start"], data["end"]
        days = dashboard.PRESETS.get(data.get("range") or "7d", 7)
        return self.today - timedelta(days=days - 1), self.today

    def filters(self) -> dict:
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        sender = data.get("sender")
        tag = data.get("tag")
        filters = {
            "sender_id": int(sender) if sender else None,
            "tag_name": None if not tag else ("" if tag == "-" else tag),
        }
        messages = egress.egress_filter(
            self.account,
            dedicated_ip=data.get("dedicated_ip", ""),
            pool_id=data.get("ip_pool", ""),
            config_set_id=data.get("config_set", ""),
            message_field="message_id",
        )  # the choices are the account's own: nothing unknown gets here
        if messages is not None:
            filters["messages"] = messages
        return filters


def _report(request):
    form = RangeForm(request.GET or None, account=request.account)
    start, end = form.period()
    return form, dashboard.report(request.account, start, end, **form.filters())


def _percent(rate: float | None, digits: int) -> float | None:
    return None if rate is None else round(100 * rate, digits)


def _complaints(account, report: dashboard.Report) -> dict:
    """The complaint section: the rate per day for the chart, the lines, and the rows per sender and tag."""
    names = dict(
        SenderAddress.objects.filter(
            account=account, pk__in=[s["sender_id"] for s in report.senders]
        ).values_list("pk", "address")
    )
    senders = dashboard.complaint_rows(report.senders, "sender_id")
    for row in senders:
        row["name"] = names.get(row["sender_id"], f"#{row['sender_id']}")
    tags = dashboard.complaint_rows(report.tags, "tag_name")
    for rows in (senders, tags):
        for row in rows:
            row["percent"] = _percent(row["rate"], 2)
    watch, limit = _percent(dashboard.COMPLAINT_WATCH, 1), _percent(dashboard.COMPLAINT_LIMIT, 1)
    return {
        "watch": watch,
        "limit": limit,
        "level": dashboard.complaint_level(report.rates["complaint"]),
        "senders": senders,
        "tags": tags,
        "chart": {
            "rates": [_percent(dashboard.rates(d)["complaint"], 3) for d in report.days],
            "watch": watch,
            "limit": limit,
            "names": {
                "rate": str(_("Complaint rate (%)")),
                "watch": str(_("Keep under %(rate)s%%") % {"rate": watch}),
                "limit": str(_("Never reach %(rate)s%%") % {"rate": limit}),
            },
        },
    }


@account_view(Perm.VIEW)
def stats_dashboard(request):
    form, report = _report(request)
    complaints = _complaints(request.account, report)
    chart = {
        "labels": [d["day"].isoformat() for d in report.days],
        "series": {
            f: [d[f] for d in report.days]
            for f in ("requests", "delivered", "failed", "invalid", "unique_opens", "unique_clicks")
        },
        "names": {f: str(LABELS[f]) for f in COUNTER_FIELDS},
        "tags": {
            "labels": [t["tag_name"] or str(_("(no tag)")) for t in report.tags],
            "requests": [t["requests"] for t in report.tags],
            "delivered": [t["delivered"] for t in report.tags],
        },
        "complaints": complaints.pop("chart"),
    }
    rates = {k: _percent(v, 1) for k, v in report.rates.items()}
    rates["complaint"] = _percent(report.rates["complaint"], 2)
    context = {
        "form": form,
        "report": report,
        "rates": rates,
        "complaints": complaints,
        "complaint_tables": [
            (_("By sender address"), complaints["senders"], "sender"),
            (_("By tag"), complaints["tags"], "tag"),
        ],
        "columns": [LABELS[f] for f in COUNTER_FIELDS],
        "day_rows": [(d["day"], [d[f] for f in COUNTER_FIELDS]) for d in reversed(report.days)],
        "chart": chart,
        "query": request.GET.urlencode(),
        "deferrals": dashboard.deferrals_by_provider(request.account, report.start, report.end),
        "categories": dashboard.by_category(request.account, report.start, report.end),
        "bounce_warnings": feedback.warnings(request.account),
    }
    return render(request, "stats/dashboard.html", context, status=400 if form.errors else 200)


@account_view(Perm.VIEW)
def stats_export(request):
    """The days of the dashboard as CSV, for the same period and filters."""
    _form, report = _report(request)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="statistics-{report.start}-{report.end}.csv"'
    response.write("\ufeff")
    writer = csv.writer(response)
    writer.writerow([str(_("Day")), *(str(LABELS[f]) for f in COUNTER_FIELDS)])
    for day in report.days:
        writer.writerow([day["day"].isoformat(), *(day[f] for f in COUNTER_FIELDS)])
    writer.writerow([])
    writer.writerow([str(_("Tag")), *(str(LABELS[f]) for f in COUNTER_FIELDS)])
    for tag in report.tags:
        writer.writerow([escape_formula(tag["tag_name"]), *(tag[f] for f in COUNTER_FIELDS)])
    return response


@account_view(Perm.VIEW)
def stats_usage(request):
    """Messages per month for billing: the free allowance used and the billable count."""
    rows = dashboard.monthly_usage(request.account)
    free = request.account.limit("free_daily_sends")
    return render(request, "stats/usage.html", {"rows": rows, "free_per_day": free})
