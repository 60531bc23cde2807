"""System emails (invitations, verification links, notices to members) in each reader's language.

`mail_people` renders `templates/emails/<name>_subject.txt` and `<name>.txt` once per language among the
recipients: a member's chosen language (User.language), else `language` (what the person who caused the
mail was reading), else the installation's LANGUAGE_CODE; times in the account's zone when one is given.
"""

import logging
from collections import defaultdict

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import timezone, translation

from accounts.models import Account, User

log = logging.getLogger(__name__)


def mail_people(
    name: str,
    context: dict,
    recipients: list[str],
    *,
    language: str | None = None,
    account: Account | None = None,
) -> None:
    """Send the email `name` to `recipients` (addresses); errors of the mail server are logged, not raised."""
    chosen = dict(
        User.objects.filter(email__in=[r.lower() for r in recipients])
        .exclude(language="")
        .values_list("email", "language")
    )
    fallback = language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE
    by_language: dict[str, list[str]] = defaultdict(list)
    for address in recipients:
        by_language[chosen.get(address.lower(), fallback)].append(address)
    zone = account.time_zone if account is not None else settings.TIME_ZONE
    for code, addresses in by_language.items():
        with translation.override(code), timezone.override(zone):
            subject = render_to_string(f"emails/{name}_subject.txt", context).strip()
            body = render_to_string(f"emails/{name}.txt", context)
        try:
            send_mail(subject, body, None, addresses)
        except OSError:
            log.exception("could not send %s to %s", name, addresses)
