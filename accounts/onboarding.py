"""The Overview's first steps. Whether a step is done is known by the app that owns it, which registers a
check here in its AppConfig.ready() (accounts imports no other app)."""

from collections.abc import Callable

from django.utils.translation import gettext_lazy as _

from accounts.models import Account

STEPS = [
    {
        "key": "domain",
        "title": _("Verify a sending domain"),
        "text": _("Add the domain you send from and publish the DNS records we show you (SPF, DKIM, DMARC)."),
        "url_name": "sending:domains",
    },
    {
        "key": "sender",
        "title": _("Create a sender address"),
        "text": _("Choose the From address, like noreply@mail.example.com, for trigger or batch mail."),
        "url_name": "sending:sender_addresses",
    },
    {
        "key": "message",
        "title": _("Send a first message"),
        "text": _("Send from the console, from the DirectMail SDKs with an access key, or over SMTP."),
        "url_name": "sending:messages",
    },
]

_done_checks: dict[str, Callable[[Account], bool]] = {}


def register_step_check(key: str, check: Callable[[Account], bool]) -> None:
    _done_checks[key] = check


def steps_for(account: Account) -> list[dict]:
    def done(key: str) -> bool:
        check = _done_checks.get(key)
        return bool(check and check(account))

    return [{**step, "done": done(str(step["key"]))} for step in STEPS]
