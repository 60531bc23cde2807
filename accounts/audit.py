"""The audit log: who (a user or an access key) did what to which object, when and from where."""

from dataclasses import dataclass
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from accounts.models import Account, AuditEntry, User
from accounts.network import client_ip
from directmail.typing import Label


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
        target_type=(target._meta.model_name or "") if target is not None else "",
        target_id=str(getattr(target, "public_id", None) or getattr(target, "pk", "")) if target else "",
        target_repr=str(target)[:200] if target is not None else "",
        details=details or {},
        ip=actor.ip,
    )


# How the audit log page names each action; apps add theirs with `register_action_labels`.
ACTION_LABELS: dict[str, Label] = {
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


def register_action_labels(labels: dict[str, Label]) -> None:
    ACTION_LABELS.update(labels)


def action_label(action: str) -> str:
    return str(ACTION_LABELS.get(action, action))


# How the audit log page names the keys of an entry's details; other keys read as words ("blank_lines":
# "Blank lines").
DETAIL_LABELS: dict[str, Label] = {
    "role": _("Role"),
    "version": _("Version"),
    "selector": _("Selector"),
    "email": _("Email"),
    "count": _("Count"),
    "address": _("Address"),
    "addresses": _("Addresses"),
    "type": _("Type"),
    "kind": _("Type"),
    "status": _("Status"),
    "reply_to": _("Reply-to"),
    "recipients": _("Recipients"),
    "reason": _("Reason"),
    "file": _("File"),
    "fields": _("Fields"),
    "events": _("Events"),
    "blank_lines": _("Blank lines"),
    "imported": _("Added"),
    "updated": _("Updated"),
    "rejected": _("Not imported"),
    "name": _("Name"),
    "description": _("Description"),
    "errors": _("Errors"),
    "duplicates": _("Duplicates"),
    "invalid": _("Invalid"),
    "refused": _("Refused"),
    "mode": _("Mode"),
}


# Stored values the audit log page names, by key ({"type": {"batch": "Batch"}}); apps add theirs with
# `register_detail_values` (accounts' own roles and account types are added in detail_items).
DETAIL_VALUES: dict[str, dict[str, Label]] = {}


def register_detail_values(key: str, names: dict[str, Label]) -> None:
    DETAIL_VALUES.setdefault(key, {}).update(names)


# Keys whose value is a list of things, never an [old, new] change.
_LIST_KEYS = {"addresses", "fields", "events", "recipients"}


def detail_items(details: dict) -> list[tuple[str, str, bool]]:
    """An entry's details as (label, text, literal) for people: an [old, new] pair reads "old → new",
    other lists are joined, true/false read yes/no, a role or account type by its name. `literal` marks
    a key without a label of its own, shown as it is stored."""
    from accounts.models import AccountKind
    from accounts.roles import Role

    names = {key: dict(values) for key, values in DETAIL_VALUES.items()}
    names.setdefault("role", {}).update(Role.choices)
    names.setdefault("kind", {}).update(AccountKind.choices)

    def text(value) -> str:
        if isinstance(value, bool):
            return str(_("yes") if value else _("no"))
        if isinstance(value, list):
            return ", ".join(text(v) for v in value)
        if isinstance(value, dict):
            return ", ".join(f"{k}: {text(v)}" for k, v in value.items())
        return "" if value is None else str(value)

    items = []
    for key, value in (details or {}).items():
        named = names.get(key, {})
        if named:
            value = [named.get(v, v) for v in value] if isinstance(value, list) else named.get(value, value)
        change = isinstance(value, list) and len(value) == 2 and key not in _LIST_KEYS
        shown = f"{text(value[0]) or '—'} → {text(value[1]) or '—'}" if change else text(value)
        label = DETAIL_LABELS.get(key)
        items.append((str(label) if label else key, shown, label is None))
    return items
