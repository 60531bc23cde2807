"""Django admin for platform staff: users, accounts with their limits and quotas, the whole audit log."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from accounts.audit import Actor, audit_record
from accounts.models import AccessKey, Account, AuditEntry, Invitation, IpFilter, Membership, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "full_name", "is_staff", "is_active", "date_joined"]
    search_fields = ["email", "full_name"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        (_("Personal info"), {"fields": ["full_name"]}),
        (
            _("Permissions"),
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        (_("Important dates"), {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]
    autocomplete_fields = ["user"]


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["name", "public_id", "kind", "time_zone", "created_at"]
    list_filter = ["kind"]
    search_fields = ["name", "public_id", "memberships__user__email"]
    readonly_fields = ["public_id", "created_at"]
    inlines = [MembershipInline]
    fieldsets = [
        (None, {"fields": ["name", "public_id", "kind", "time_zone", "created_at"]}),
        (
            _("Limits and quotas"),
            {
                "description": _("Leave a field empty to use the platform default."),
                "fields": [
                    "max_domains",
                    "max_sender_addresses",
                    "sender_address_deletions",
                    "max_tags",
                    "max_recipient_lists",
                    "max_recipients_per_list",
                    "max_templates",
                    "daily_quota",
                    "quota_floor",
                    "quota_ceiling",
                    "monthly_quota",
                    "free_daily_sends",
                    "validation_daily_quota",
                    "validation_monthly_quota",
                ],
            },
        ),
    ]

    def save_formset(self, request, form, formset, change):
        """Memberships edited by staff are audited like members' own changes."""
        instances = formset.save(commit=False)
        actor = Actor.from_request(request)
        for membership in formset.deleted_objects:
            audit_record(
                actor=actor,
                action="member.remove",
                account=form.instance,
                target=membership,
                details={"email": membership.user.email, "role": membership.role, "by_staff": True},
            )
            membership.delete()
        for membership in instances:
            is_new = membership.pk is None
            membership.save()
            audit_record(
                actor=actor,
                action="member.add" if is_new else "member.role_change",
                account=form.instance,
                target=membership,
                details={"role": membership.role, "by_staff": True},
            )
        formset.save_m2m()

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and form.changed_data:
            audit_record(
                actor=Actor.from_request(request),
                action="account.staff_update",
                account=obj,
                target=obj,
                details={"fields": form.changed_data},
            )


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "account", "role", "created_at", "expires_at", "accepted_at", "revoked_at"]
    search_fields = ["email", "account__name"]
    readonly_fields = ["public_id"]


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "account", "actor_label", "action", "target_repr", "ip"]
    list_filter = ["action"]
    search_fields = ["actor_label", "target_repr", "account__name", "account__public_id"]
    date_hierarchy = "created_at"

    # The log is written by the services only.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AccessKey)
class AccessKeyAdmin(admin.ModelAdmin):
    list_display = ["key_id", "account", "description", "is_active", "last_used_at", "last_used_ip"]
    list_filter = ["is_active"]
    search_fields = ["key_id", "account__name"]
    readonly_fields = ["key_id", "created_by", "created_at", "last_used_at", "last_used_ip"]
    exclude = ["secret_encrypted"]


@admin.register(IpFilter)
class IpFilterAdmin(admin.ModelAdmin):
    list_display = ["network", "account", "description", "created_at"]
    search_fields = ["network", "account__name"]
