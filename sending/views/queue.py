"""The Queue page: the account's waiting mail (owners and admins), or all of it (staff, /staff/queue/),
counted by provider, destination domain, egress address, account and batch send, with the holds in force
and the last replies; suspend, resume, bounce or retry a part of it, each confirmed first. The work is
sending.queue_control's, as `manage.py queue` does it."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.audit import Actor
from accounts.confirm import confirm_page
from accounts.roles import Perm
from accounts.tenancy import account_view
from sending import providers
from sending import queue_control as queue
from sending.queue_control import QueueError, Selection

BY_LABELS = {
    "provider": gettext_lazy("Provider"),
    "domain": gettext_lazy("Destination domain"),
    "egress": gettext_lazy("Egress address"),
    "account": gettext_lazy("Account"),
    "batch": gettext_lazy("Batch send"),
}
DURATIONS = [
    ("30m", gettext_lazy("30 minutes")), ("1h", gettext_lazy("1 hour")), ("2h", gettext_lazy("2 hours")),
    ("6h", gettext_lazy("6 hours")), ("1d", gettext_lazy("1 day")), ("3d", gettext_lazy("3 days")),
]  # fmt: skip
ACTIONS = ("suspend", "resume", "bounce", "retry")


def _staff_only(view):
    @login_required
    def wrapper(request, *args, **kwargs):
        if not request.user.is_staff:
            raise PermissionDenied(_("Only the platform's staff see the whole queue."))
        return view(request, *args, **kwargs)

    return wrapper


def _keys_of(request, staff: bool) -> dict[str, str]:
    wanted = [k for k in queue.KEYS if staff or k != "account"]
    return {key: request.GET.get(key, "").strip()[:255] for key in wanted if request.GET.get(key, "").strip()}


def _page_url(request, staff: bool, **query) -> str:
    base = (
        reverse("sending:staff_queue")
        if staff
        else reverse("sending:queue", args=[request.account.public_id])
    )
    query = {k: v for k, v in query.items() if v}
    return base + ("?" + urlencode(query) if query else "")


def _act_url(request, staff: bool) -> str:
    if staff:
        return reverse("sending:staff_queue_act")
    return reverse("sending:queue_act", args=[request.account.public_id])


def _show(request, staff: bool) -> HttpResponse:
    account = None if staff else request.account
    keys = _keys_of(request, staff)
    by = request.GET.get("by", "provider")
    if by not in queue.KEYS or (by == "account" and not staff):
        by = "provider"
    try:
        selection = Selection.of(account, **keys)
    except QueueError as exc:
        messages.error(request, str(exc))
        return redirect(_page_url(request, staff))
    rows = queue.status(selection, by)
    now = timezone.now()
    for row in rows:
        row.filter_url = _page_url(
            request, staff, **{**keys, by: row.key, "by": "domain" if by != "domain" else ""}
        )
        row.action_keys = urlencode({**keys, by: row.key}) if row.key else ""
    holds = []
    for hold in queue.holds(account):
        liftable = staff or (hold.origin == hold.Origin.OPERATOR and hold.account_id == request.account.pk)
        hold_keys = hold.keys()
        if not staff:
            hold_keys.pop("account", None)
        query = {**hold_keys, "action": "resume"}
        if hold.origin == hold.Origin.REPLY:
            query["receivers"] = "1"
        holds.append({"entry": hold, "keys": hold_keys, "resume": urlencode(query) if liftable else ""})
    by_choices = [(k, v) for k, v in BY_LABELS.items() if staff or k != "account"]
    key_names = [k for k in queue.KEYS if staff or k != "account"]
    return render(request, "sending/queue.html", {
        "staff": staff, "keys": keys, "by": by, "by_label": BY_LABELS[by], "by_choices": by_choices,
        "rows": rows, "total": queue.totals(selection), "holds": holds, "now": now,
        "replies": queue.last_replies(selection), "durations": DURATIONS, "act_url": _act_url(request, staff),
        "page_url": _page_url(request, staff), "key_names": key_names,
        "providers": providers.PROVIDERS,
    })  # fmt: skip


def _act(request, staff: bool) -> HttpResponse:
    account = None if staff else request.account
    action = request.GET.get("action", "")
    keys = _keys_of(request, staff)
    back = _page_url(request, staff, **keys)
    if action not in ACTIONS:
        messages.error(request, _("Choose suspend, resume, bounce or retry."))
        return redirect(back)
    reason = request.GET.get("reason", "").strip()[:500]
    receivers = staff and request.GET.get("receivers") == "1"
    try:
        selection = Selection.of(account, **keys)
        if not selection.named:
            raise QueueError(
                _("Name what it applies to: a provider, domain, egress address, account or batch send.")
            )
        duration = queue.parse_duration(request.GET.get("duration", "")) if action == "suspend" else None
    except QueueError as exc:
        messages.error(request, str(exc))
        return redirect(back)
    shown = ", ".join(f"{BY_LABELS[k]} {v}" for k, v in keys.items()) or _("this account")
    actor = Actor.from_request(request)
    if request.method == "POST":
        if action == "suspend":
            assert duration is not None
            done = queue.suspend(selection, duration, reason, actor)
            messages.success(request, _("Held the mail of %(keys)s for %(duration)s (%(count)s waiting).") % {
                "keys": shown, "duration": request.GET["duration"], "count": done.count})  # fmt: skip
        elif action == "resume":
            done = queue.resume(selection, actor, receivers=receivers)
            text = _("Ended %(holds)s holds on %(keys)s; %(count)s messages are due now.")
            messages.success(
                request, text % {"holds": done.details["holds"], "keys": shown, "count": done.count}
            )
        elif action == "bounce":
            done = queue.bounce(selection, reason, actor)
            text = _("Bounced %(count)s messages of %(keys)s.") % {"count": done.count, "keys": shown}
            if done.skipped:
                text += " " + _("%(count)s being sent right now were left to their worker.") % {
                    "count": done.skipped}  # fmt: skip
            messages.success(request, text)
        else:
            done = queue.retry(selection, actor)
            messages.success(request, _("%(count)s deferred messages of %(keys)s are due now.") % {
                "count": done.count, "keys": shown})  # fmt: skip
        return redirect(back)
    waiting = selection.messages().count()
    questions = {
        "suspend": (_("Hold the mail of %(keys)s for %(duration)s?"),
                    _("%(count)s messages wait now; none is tried until the hold ends or you resume it. "
                      "Waiting spends no attempt and does not bring the give-up time closer."),
                    _("Hold the mail")),
        "resume": (_("End the holds on %(keys)s?"),
                   _("The mail they held is tried again at once."), _("Resume")),
        "bounce": (_("Bounce the waiting mail of %(keys)s?"),
                   _("%(count)s queued and deferred messages fail now, with your reason in their log. "
                     "This cannot be undone."), _("Bounce the mail")),
        "retry": (_("Try the deferred mail of %(keys)s now?"),
                  _("Deferred messages that are not held are tried at once instead of at their next time."),
                  _("Retry now")),
    }  # fmt: skip
    question, explanation, button = questions[action]
    values = {"keys": shown, "duration": request.GET.get("duration", ""), "count": waiting}
    explanation = explanation % values
    if reason:
        explanation += " " + _("Reason: %(reason)s") % {"reason": reason}
    return confirm_page(
        request, question=question % values, explanation=explanation, button=button,
        back_url=back, back_label=_("Queue"),
    )  # fmt: skip


@account_view(Perm.MANAGE_ACCOUNT)
def queue_page(request):
    return _show(request, staff=False)


@account_view(Perm.MANAGE_ACCOUNT)
def queue_act(request):
    return _act(request, staff=False)


@_staff_only
def staff_queue(request):
    return _show(request, staff=True)


@_staff_only
def staff_queue_act(request):
    return _act(request, staff=True)
