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


def _address(email: str) -> str:
    email = email.strip()
    if not email:
        raise InvalidRecipient(_("No address."))
    try:
        return normalize_address(email)
    except ValidationError as exc:
        raise InvalidRecipient(_("%(address)s is not a valid address.") % {"address": email}) from exc


def _no_nul(name: str, value: str) -> str:
    """A NUL character is no text (PostgreSQL cannot even store it): the row is refused, naming the field."""
    if "\x00" in value:
        raise InvalidRecipient(_("%(field)s contains a NUL character.") % {"field": name})
    return value


def _too_long(name: str, length: int) -> InvalidRecipient:
    return InvalidRecipient(_("%(field)s is longer than %(n)s characters.") % {"field": name, "n": length})


def clean_recipient(
    email: str, fields: dict[str, str], custom: dict[str, str] | None = None
) -> CleanRecipient:
    """The recipient as stored (values stripped, the address normalized), or InvalidRecipient."""
    email = _address(email or "")
    clean = {}
    for field, variable, _key, length in STANDARD_FIELDS:
        value = _no_nul(variable, (fields.get(field) or "").strip())
        if len(value) > length:
            raise _too_long(variable, length)
        clean[field] = value
    custom = {str(k): ("" if v is None else str(v)).strip() for k, v in (custom or {}).items()}
    if len(custom) > MAX_CUSTOM_FIELDS:
        raise InvalidRecipient(_("At most %(n)s custom fields.") % {"n": MAX_CUSTOM_FIELDS})
    for name, value in custom.items():
        if not valid_custom_name(name):
            raise InvalidRecipient(
                _("%(name)s cannot be a field name: use letters, digits and underscores.") % {"name": name}
            )
        if len(_no_nul(name, value)) > MAX_CUSTOM_VALUE:
            raise _too_long(name, MAX_CUSTOM_VALUE)
    return CleanRecipient(email=email, email_key=email.lower(), fields=clean, custom=custom)


class RowChecker:
    """clean_recipient's rules for many rows with the same columns (an import), set up once: the column
    of the address, (column, standard field) pairs and (column, custom name) pairs, names already checked.

    `check(cells)` gives (address, key, the standard values in STANDARD_FIELDS order, the custom fields)."""

    def __init__(self, email_at: int, standard_at: list[tuple[int, str]], custom_at: list[tuple[int, str]]):
        if len(custom_at) > MAX_CUSTOM_FIELDS:
            raise InvalidRecipient(_("At most %(n)s custom fields.") % {"n": MAX_CUSTOM_FIELDS})
        slots = {field: n for n, (field, _v, _k, _l) in enumerate(STANDARD_FIELDS)}
        limits = {field: (variable, length) for field, variable, _k, length in STANDARD_FIELDS}
        self.email_at = email_at
        self.standard = [(i, slots[field], *limits[field]) for i, field in standard_at]
        self.custom = custom_at

    def check(self, cells: list[str]) -> tuple[str, str, list[str], dict[str, str]]:
        email = _address(cells[self.email_at])
        values = [""] * len(STANDARD_FIELDS)
        for i, slot, variable, length in self.standard:
            value = _no_nul(variable, cells[i].strip())
            if len(value) > length:
                raise _too_long(variable, length)
            values[slot] = value
        custom = {}
        for i, name in self.custom:
            value = _no_nul(name, cells[i].strip())
            if len(value) > MAX_CUSTOM_VALUE:
                raise _too_long(name, MAX_CUSTOM_VALUE)
            custom[name] = value
        return email, email.lower(), values, custom
