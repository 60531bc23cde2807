"""The audit log: who (a user or an access key) did what to which object, when and from where."""

from dataclasses import dataclass
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from accounts.models import Account, AuditEntry, User
from accounts.network import client_ip


@dataclass(frozen=True)
class Actor:
    """Who is acting, passed to every service that writes: a user, an API key, or a named process."""

    user: User | None = None
    key_id: str = ""
    ip: str | None = None
    name: str = ""  # for actors that are neither, e.g. "system" or a management command

    @classmethod
    def from_request(cls, request) -> "Actor":
        user = request.user if request.user.is_authenticated else None
        return cls(user=user, ip=client_ip(request))

    @property
    def label(self) -> str:
        if self.key_id:
            return f"key {self.key_id}"
        if self.user is not None:
            return self.user.email
        return self.name or "anonymous"


# Named actors' labels are shown translated (the audit log page), so they are marked here.
SYSTEM = Actor(name=gettext_noop("system"))


def audit_record(
    *,
    actor: Actor,
    action: str,
    account: Account | None = None,
    target: models.Model | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Write one audit entry; call it inside the service's transaction so the log and the change agree."""
    return AuditEntry.objects.create(
        account=account,
        actor_user=actor.user,
        actor_key_id=actor.key_id,
        actor_label=actor.label,
        action=action,
        target_type=target._meta.model_name if target is not None else "",
        target_id=str(getattr(target, "public_id", None) or getattr(target, "pk", "")) if target else "",
        target_repr=str(target)[:200] if target is not None else "",
        details=details or {},
        ip=actor.ip,
    )


# How the audit log page names each action; apps add theirs with `register_action_labels`.
ACTION_LABELS: dict[str, str] = {
    "user.signup": _("Signed up"),
    "user.password_change": _("Changed their password"),
    "user.password_reset": _("Reset their password by email"),
    "user.login_locked": _("Log-in locked after wrong passwords"),
    "account.create": _("Created the account"),
    "account.update": _("Changed account settings"),
    "account.staff_update": _("Staff changed limits or settings"),
    "member.invite": _("Invited a member"),
    "member.invite_revoke": _("Revoked an invitation"),
    "member.add": _("Added a member"),
    "member.role_change": _("Changed a member's role"),
    "member.remove": _("Removed a member"),
    "member.leave": _("Left the account"),
    "access_key.create": _("Created an access key"),
    "access_key.enable": _("Enabled an access key"),
    "access_key.disable": _("Disabled an access key"),
    "access_key.delete": _("Deleted an access key"),
    "ip_filter.add": _("Allowed an address (IP protection)"),
    "ip_filter.delete": _("Removed an address (IP protection)"),
}


def register_action_labels(labels: dict[str, str]) -> None:
    ACTION_LABELS.update(labels)


def action_label(action: str) -> str:
    return str(ACTION_LABELS.get(action, action))
