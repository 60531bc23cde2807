"""Tags: labels on messages for statistics. At most `max_tags` per account."""

import re

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from accounts.audit import Actor, audit_record
from accounts.errors import ServiceError
from accounts.limits import enforce_limit, lock_account
from accounts.models import Account
from sending.models import Tag

TAG_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


def validate_tag_name(name: str) -> str:
    name = name.strip()
    if not TAG_NAME.match(name):
        raise ServiceError(_("A tag name is 1 to 128 letters, digits, underscores, hyphens or dots."))
    return name


@transaction.atomic
def tag_create(*, account: Account, name: str, description: str = "", actor: Actor) -> Tag:
    name = validate_tag_name(name)
    account = lock_account(account)
    if account.tags.filter(name=name).exists():
        raise ServiceError(_("There is already a tag named %(name)s.") % {"name": name})
    enforce_limit(account, "max_tags", account.tags.count())
    tag = Tag.objects.create(account=account, name=name, description=description.strip())
    audit_record(actor=actor, action="tag.create", account=account, target=tag)
    return tag


@transaction.atomic
def tag_update(*, tag: Tag, name: str, description: str, actor: Actor) -> Tag:
    name = validate_tag_name(name)
    changes = {}
    for field, value in (("name", name), ("description", description.strip())):
        if getattr(tag, field) != value:
            changes[field] = [getattr(tag, field), value]
            setattr(tag, field, value)
    if changes:
        try:
            with transaction.atomic():
                tag.save()
        except IntegrityError as exc:
            raise ServiceError(_("There is already a tag named %(name)s.") % {"name": name}) from exc
        audit_record(actor=actor, action="tag.update", account=tag.account, target=tag, details=changes)
    return tag


@transaction.atomic
def tag_delete(*, tag: Tag, actor: Actor) -> None:
    audit_record(actor=actor, action="tag.delete", account=tag.account, target=tag)
    tag.delete()
