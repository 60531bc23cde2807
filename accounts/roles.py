"""Roles and the one permission table that every view and service consults."""

from enum import StrEnum

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    ADMIN = "admin", _("Admin")
    OPERATOR = "operator", _("Operator")
    REVIEWER = "reviewer", _("Reviewer")
    VIEWER = "viewer", _("Viewer")


class Perm(StrEnum):
    VIEW = "view"  # read everything in the account
    MANAGE_ACCOUNT = "manage_account"  # account name, time zone
    MANAGE_MEMBERS = "manage_members"  # invite, change roles, remove
    MANAGE_KEYS = "manage_keys"  # API access keys, IP protection, webhook endpoints
    MANAGE_DOMAINS = "manage_domains"  # sending domains and their DKIM keys
    MANAGE_SENDERS = "manage_senders"  # sender addresses and tags
    SEND = "send"  # test sends, batch jobs
    EDIT_CONTENT = "edit_content"  # recipient lists, templates, batch jobs
    REVIEW_TEMPLATES = "review_templates"  # approve or reject templates
    VIEW_AUDIT = "view_audit"  # read the audit log


_ALL = frozenset(Role)
_MANAGERS = frozenset({Role.OWNER, Role.ADMIN})
_SENDERS = frozenset({Role.OWNER, Role.ADMIN, Role.OPERATOR})

PERMISSIONS: dict[Perm, frozenset[Role]] = {
    Perm.VIEW: _ALL,
    Perm.MANAGE_ACCOUNT: _MANAGERS,
    Perm.MANAGE_MEMBERS: _MANAGERS,
    Perm.MANAGE_KEYS: _MANAGERS,
    Perm.MANAGE_DOMAINS: _MANAGERS,
    Perm.MANAGE_SENDERS: _SENDERS,
    Perm.SEND: _SENDERS,
    Perm.EDIT_CONTENT: _SENDERS,
    Perm.REVIEW_TEMPLATES: frozenset({Role.OWNER, Role.ADMIN, Role.REVIEWER}),
    Perm.VIEW_AUDIT: _MANAGERS,
}


def role_can(role: str, perm: Perm) -> bool:
    return role in PERMISSIONS[perm]


def roles_assignable_by(role: str) -> list[Role]:
    """Owners may grant any role; admins every role but owner."""
    if role == Role.OWNER:
        return list(Role)
    if role == Role.ADMIN:
        return [r for r in Role if r != Role.OWNER]
    return []
