"""The test send of a template's newest version (the button on its page): mail like any other, through the
enqueue service. It lives in `sending` because `templates_app` knows nothing of sending mail."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.errors import ServiceError
from accounts.roles import Perm
from accounts.tenancy import account_view, get_for_account
from sending.models import Envelope
from sending.services import messages as service
from templates_app.forms import TestSendForm
from templates_app.models import Template
from templates_app.rendering import sample_data


@account_view(Perm.SEND)
@require_POST
def template_test_send(request: HttpRequest, template_id: str) -> HttpResponse:
    """Send the newest version (approved or not) to one address, as a test; it counts against the quota."""
    account = request.account  # type: ignore[attr-defined]  # set by account_view
    template = get_for_account(Template.objects.all(), account, public_id=template_id)
    back = redirect(
        "templates_app:template_detail", account_id=account.public_id, template_id=template.public_id
    )
    form = TestSendForm(request.POST, account=account)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return back
    version = template.latest_version()
    to = form.cleaned_data["to"]
    content = service.Content(
        subject=version.subject or template.name,
        html_body=version.html_body,
        text_body=version.text_body,
        templated=True,
    )
    mail = service.Mail(
        account=account,
        sender=form.cleaned_data["sender"],
        to=to,
        content=content,
        variables={to: sample_data(form.cleaned_data["data"])},
        source=Envelope.Source.CONSOLE,
    )
    try:
        result = service.message_enqueue(mail)
    except ServiceError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            _("Test of version %(n)s queued to %(to)s (EnvId %(env)s).")
            % {"n": version.number, "to": to, "env": result.env_id},
        )
    return back
