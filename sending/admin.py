"""Django admin for platform staff: look up domains, sender addresses and tags across accounts; register
sending IP addresses and see IP pools, configuration sets and warm-up days."""

from django import forms
from django.conf import settings
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from sending import egress
from sending.models import (
    ConfigSet,
    DkimKey,
    DnsRecordCheck,
    Domain,
    EgressAddress,
    IpPool,
    SenderAddress,
    Suspension,
    Tag,
    WarmupDay,
)


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
    """Providers x egress addresses a receiver asked us to leave alone (sending.shaping); delete one to
    lift it early."""

    list_display = ("provider", "egress_ip", "rule", "since", "until")
    list_filter = ("provider", "rule")
    search_fields = ("provider", "egress_ip", "reply")
    readonly_fields = ("provider", "egress_ip", "rule", "reply", "since")
