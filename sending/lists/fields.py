"""What a recipient may hold, checked the same way wherever it comes from (console, API, import)."""

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from sending.models import STANDARD_FIELDS
from sending.models.lists import MAX_CUSTOM_FIELDS, MAX_CUSTOM_VALUE
from sending.services.messages import normalize_address
from templates_app.rendering import PLACEHOLDER

STANDARD_NAMES = [field for field, _variable, _key, _length in STANDARD_FIELDS]
VARIABLE_OF = {field: variable for field, variable, _key, _length in STANDARD_FIELDS}
RESERVED_VARIABLES = {"EAddr", *VARIABLE_OF.values()}


class InvalidRecipient(ValueError):
    """A recipient that cannot be stored; the message says why, for people."""


@dataclass(frozen=True)
class CleanRecipient:
    email: str
    email_key: str
    fields: dict[str, str]  # standard field name -> value
    custom: dict[str, str]


def valid_custom_name(name: str) -> bool:
    """A custom field's name is a template variable: `{Name}` must be able to reach it."""
    return bool(PLACEHOLDER.fullmatch("{" + name + "}")) and name not in RESERVED_VARIABLES


def clean_recipient(
    email: str, fields: dict[str, str], custom: dict[str, str] | None = None
) -> CleanRecipient:
    email = (email or "").strip()
    if not email:
        raise InvalidRecipient(_("No address."))
    try:
        email = normalize_address(email)
    except ValidationError as exc:
        raise InvalidRecipient(_("%(address)s is not a valid address.") % {"address": email}) from exc
    clean = {}
    for field, variable, _key, length in STANDARD_FIELDS:
        value = (fields.get(field) or "").strip()
        if len(value) > length:
            raise InvalidRecipient(
                _("%(field)s is longer than %(n)s characters.") % {"field": variable, "n": length}
            )
        clean[field] = value
    custom = {str(k): ("" if v is None else str(v)).strip() for k, v in (custom or {}).items()}
    if len(custom) > MAX_CUSTOM_FIELDS:
        raise InvalidRecipient(_("At most %(n)s custom fields.") % {"n": MAX_CUSTOM_FIELDS})
    for name, value in custom.items():
        if not valid_custom_name(name):
            raise InvalidRecipient(
                _("%(name)s cannot be a field name: use letters, digits and underscores.") % {"name": name}
            )
        if len(value) > MAX_CUSTOM_VALUE:
            raise InvalidRecipient(
                _("%(field)s is longer than %(n)s characters.") % {"field": name, "n": MAX_CUSTOM_VALUE}
            )
    return CleanRecipient(email=email, email_key=email.lower(), fields=clean, custom=custom)
