"""What every console page needs: the current account, the account switcher and the navigation."""

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from accounts.models import Membership
from accounts.roles import Perm

# The left navigation, by area. An entry whose URL does not exist yet (its app has not built it) is left out,
# so the menu only ever offers pages that work.
NAVIGATION = [
    ("overview", _("Overview"), "accounts:overview", Perm.VIEW),
    ("domains", _("Domains"), "sending:domains", Perm.VIEW),
    ("sender_addresses", _("Sender addresses"), "sending:sender_addresses", Perm.VIEW),
    ("tags", _("Tags"), "sending:tags", Perm.VIEW),
    ("recipient_lists", _("Recipient lists"), "sending:recipient_lists", Perm.VIEW),
    ("templates", _("Templates"), "templates_app:templates", Perm.VIEW),
    ("batch_sends", _("Batch sends"), "sending:batch_jobs", Perm.VIEW),
    ("messages", _("Messages"), "sending:messages", Perm.VIEW),
    ("outbox", _("Outbox"), "sending:outbox", Perm.VIEW),
    ("queue", _("Queue"), "sending:queue", Perm.MANAGE_ACCOUNT),
    ("suppressions", _("Suppression list"), "sending:suppressions", Perm.VIEW),
    ("validation", _("Address validation"), "sending:validation", Perm.VIEW),
    ("statistics", _("Statistics"), "stats:dashboard", Perm.VIEW),
]
SETTINGS_NAVIGATION = [
    ("settings", _("Account"), "accounts:settings", Perm.VIEW),
    ("members", _("Members"), "accounts:members", Perm.VIEW),
    ("access_keys", _("Access keys"), "accounts:access_keys", Perm.MANAGE_KEYS),
    ("ip_protection", _("IP protection"), "accounts:ip_protection", Perm.MANAGE_KEYS),
    ("webhooks", _("Webhooks"), "stats:webhooks", Perm.MANAGE_KEYS),
    ("dedicated_ips", _("Dedicated IPs"), "sending:dedicated_ips", Perm.VIEW),
    ("audit_log", _("Audit log"), "accounts:audit_log", Perm.VIEW_AUDIT),
]


def _entries(spec, membership, path):
    entries = []
    for key, label, url_name, perm in spec:
        if not membership.can(perm):
            continue
        try:
            url = reverse(url_name, kwargs={"account_id": membership.account.public_id})
        except NoReverseMatch:
            continue
        # The overview's URL is the prefix of every account page, so it is active only on itself.
        active = path == url or (key != "overview" and path.startswith(url))
        entries.append({"key": key, "label": label, "url": url, "active": active})
    return entries


def console(request):
    membership = getattr(request, "membership", None)
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    context = {
        "user_memberships": Membership.objects.filter(user=request.user)
        .select_related("account")
        .order_by("account__name"),
    }
    if membership is not None:
        context.update(
            current_account=membership.account,
            current_membership=membership,
            navigation=_entries(NAVIGATION, membership, request.path),
            settings_navigation=_entries(SETTINGS_NAVIGATION, membership, request.path),
        )
    return context
