"""Django admin for platform staff: look up domains, sender addresses and tags across accounts; register
sending IP addresses and see IP pools, configuration sets and warm-up days."""

import re

from django import forms
from django.conf import settings
from django.contrib import admin
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from sending import egress, provider_limits, shaping
from sending.models import (
    ConfigSet,
    DkimKey,
    DnsRecordCheck,
    Domain,
    DomainProvider,
    EgressAddress,
    IpPool,
    ProviderLimit,
    SenderAddress,
    ShapingRule,
    Suspension,
    Tag,
    WarmupDay,
)
from sending.shaping_rules import RULES


class DkimKeyInline(admin.TabularInline):
    model = DkimKey
    extra = 0
    fields = ("selector", "status", "created_at", "activated_at", "retired_at")
    readonly_fields = fields
    can_delete = False


class DnsRecordCheckInline(admin.TabularInline):
    model = DnsRecordCheck
    extra = 0
    fields = ("kind", "dkim_key", "status", "found", "error", "checked_at")
    readonly_fields = fields
    can_delete = False


@admin.register(Domain)
class DomainAdmin(admin.ModelAdmin):
    list_display = ["name", "account", "status", "verified_at", "last_checked_at", "deleted_at"]
    list_filter = ["status"]
    search_fields = ["name", "account__name", "account__public_id"]
    readonly_fields = ["public_id", "ownership_token", "created_at", "verified_at", "last_checked_at"]
    inlines = [DkimKeyInline, DnsRecordCheckInline]


@admin.register(SenderAddress)
class SenderAddressAdmin(admin.ModelAdmin):
    list_display = ["address", "account", "send_type", "reply_to", "created_at", "deleted_at"]
    list_filter = ["send_type"]
    search_fields = ["address", "account__name"]
    readonly_fields = ["public_id", "smtp_password_set_at", "created_at"]
    exclude = ["smtp_password"]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "account", "created_at"]
    search_fields = ["name", "account__name"]


class EgressAddressForm(forms.ModelForm):
    class Meta:
        model = EgressAddress
        fields = ("address", "helo", "host", "account", "pool", "warmup", "auto_renewal")

    def clean(self):
        cleaned = super().clean()
        address, host = cleaned.get("address"), cleaned.get("host")
        if address and host == settings.EGRESS_HOST and (error := egress.bindable(address)):
            raise forms.ValidationError(
                _("%(address)s is not an address of this host (%(host)s): %(error)s.")
                % {"address": address, "host": host, "error": error}
            )
        return cleaned


@admin.register(EgressAddress)
class EgressAddressAdmin(admin.ModelAdmin):
    """The platform's sending addresses (also `manage.py egress_ip`), given to hosts and accounts."""

    form = EgressAddressForm

    list_display = (
        "address", "helo", "host", "account", "pool", "warmup",
        "fcrdns", "spf_covered", "listings", "bind_error",
    )  # fmt: skip
    list_filter = ("host", "warmup", "fcrdns", "spf_covered")
    search_fields = ("address", "helo", "host", "account__name", "resource_id")
    readonly_fields = ("resource_id", "checked_at", "ptr", "fcrdns", "spf_covered", "listings", "bind_error")
    raw_id_fields = ("account", "pool")


@admin.register(IpPool)
class IpPoolAdmin(admin.ModelAdmin):
    list_display = ("name", "account", "api_id", "is_default", "created_at")
    search_fields = ("name", "account__name", "account__public_id")
    readonly_fields = ("api_id", "created_at")
    raw_id_fields = ("account",)


@admin.register(ConfigSet)
class ConfigSetAdmin(admin.ModelAdmin):
    list_display = ("name", "account", "api_id", "ip_pool", "public_channel_backoff")
    search_fields = ("name", "account__name", "account__public_id")
    readonly_fields = ("api_id", "created_at")
    raw_id_fields = ("account", "ip_pool")


@admin.register(WarmupDay)
class WarmupDayAdmin(admin.ModelAdmin):
    """What each address carried per provider and day (sending.warmup): read only."""

    list_display = (
        "address",
        "esp",
        "day",
        "step",
        "cap",
        "sent",
        "delivered",
        "deferred",
        "bounced",
        "held",
    )
    list_filter = ("esp", "day")
    search_fields = ("address__address",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Suspension)
class SuspensionAdmin(admin.ModelAdmin):
    """Holds on the queue and lowered rates (sending.shaping): a receiver's, or an operator's from the
    Queue page or `manage.py queue`; set `until` to now, or delete one, to lift it early."""

    list_display = ("origin", "action", "provider", "egress_ip", "rcpt_domain", "account", "batch", "rule",
                    "since", "until")  # fmt: skip
    list_filter = ("origin", "action", "provider", "rule")
    search_fields = ("provider", "egress_ip", "rcpt_domain", "reply", "created_by")
    readonly_fields = ("origin", "action", "fraction", "provider", "egress_ip", "rcpt_domain", "account",
                       "batch", "rule", "reply", "created_by", "since")  # fmt: skip


class ShapingRuleForm(forms.ModelForm):
    class Meta:
        model = ShapingRule
        fields = ("name", "enabled", "provider", "code", "enhanced", "pattern", "action", "duration",
                  "fraction", "kind", "samples")  # fmt: skip

    def clean_pattern(self):
        pattern = self.cleaned_data["pattern"]
        try:
            re.compile(pattern)
        except re.error as exc:
            raise forms.ValidationError(
                _("Not a valid regular expression: %(error)s") % {"error": exc}
            ) from exc
        return pattern

    def clean_fraction(self):
        fraction = self.cleaned_data["fraction"]
        if not 0.01 <= fraction <= 1:
            raise forms.ValidationError(_("Give a fraction from 0.01 to 1."))
        return fraction

    def clean(self):
        data = super().clean()
        if data.get("action") in (ShapingRule.Action.SUSPEND, ShapingRule.Action.LOWER) and not data.get(
            "duration"
        ):
            self.add_error("duration", _("Suspending and lowering need a duration."))
        if data.get("name") and any(rule.name == data["name"] for rule in RULES):
            self.add_error("name", _("A shipped rule has this name."))
        return data


@admin.register(ShapingRule)
class ShapingRuleAdmin(admin.ModelAdmin):
    """Staff's reply rules, read before the shipped ones (sending.shaping_rules); each is tested on its
    page against its sample replies."""

    form = ShapingRuleForm
    list_display = ("name", "enabled", "provider", "code", "enhanced", "action", "duration", "kind")
    list_filter = ("enabled", "action", "provider")
    search_fields = ("name", "pattern", "samples")
    readonly_fields = ("sample_results",)

    @admin.display(description=_("Sample replies tested"))
    def sample_results(self, rule: ShapingRule) -> str:
        samples = [line.strip() for line in (rule.samples or "").splitlines() if line.strip()]
        if not rule.pk or not samples:
            return str(_("Add sample replies and save to test the rule against them."))
        try:
            own = shaping.rule_of(rule)
            re.compile(rule.pattern)
        except re.error:
            return str(_("The regular expression is not valid."))
        rules = (own, *[r for r in shaping.all_rules() if r.name != rule.name])
        rows = []
        for sample in samples:
            code = int(sample[:3]) if sample[:3].isdigit() else None
            provider = rule.provider
            winner = shaping.classify(provider, code, sample, rules)
            rows.append(
                format_html(
                    "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                    sample[:300],
                    _("yes") if own.matches(provider, code, sample) else _("no"),
                    winner.name if winner else _("none (unclassified)"),
                )
            )
        head = format_html(
            "<tr><th>{}</th><th>{}</th><th>{}</th></tr>",
            _("Reply"),
            _("Matches this rule"),
            _("Rule that wins"),
        )
        return format_html('<table id="sample-results">{}{}</table>', head, mark_safe("".join(rows)))  # noqa: S308 (escaped rows)


@admin.register(ProviderLimit)
class ProviderLimitAdmin(admin.ModelAdmin):
    """Staff's limits per provider (x egress address), over the shipped ones and DELIVERY_PROVIDER_LIMITS
    (sending.provider_limits); every worker reads a change within half a minute."""

    list_display = ("provider", "egress_ip", "connections", "per_connection", "per_second", "per_minute",
                    "per_hour", "per_day", "note")  # fmt: skip
    search_fields = ("provider", "egress_ip", "note")
    readonly_fields = ("in_force",)

    @admin.display(description=_("In force now"))
    def in_force(self, row: ProviderLimit) -> str:
        if not row.pk:
            return "-"
        provider_limits.clear_cache()
        limits = provider_limits.limits_for(row.provider, row.egress_ip or "")
        return ", ".join(f"{key} {getattr(limits, key) or '-'}" for key in provider_limits.KEYS)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        provider_limits.clear_cache()


@admin.register(DomainProvider)
class DomainProviderAdmin(admin.ModelAdmin):
    """Which provider each destination domain was last found to be served by (sending.providers)."""

    list_display = ("domain", "provider", "mx_host", "checked_at")
    list_filter = ("provider",)
    search_fields = ("domain", "mx_host")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
