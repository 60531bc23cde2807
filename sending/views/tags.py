"""Tag pages: list with search, create, edit, delete."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from accounts.audit import Actor
from accounts.confirm import confirm_page
from accounts.errors import ServiceError
from accounts.paging import page_of
from accounts.roles import Perm
from accounts.tenancy import account_view, get_for_account
from sending.forms import TagForm
from sending.models import Tag
from sending.services import tags as service


@account_view(Perm.VIEW)
def tag_list(request):
    account = request.account
    can_manage = request.membership.can(Perm.MANAGE_SENDERS)
    form = TagForm(request.POST or None) if can_manage else None
    if request.method == "POST":
        if not can_manage:
            return redirect("sending:tags", account_id=account.public_id)
        if form.is_valid():
            try:
                tag = service.tag_create(
                    account=account,
                    name=form.cleaned_data["name"],
                    description=form.cleaned_data["description"],
                    actor=Actor.from_request(request),
                )
            except ServiceError as exc:
                form.add_error("name", str(exc))
            else:
                messages.success(request, _("Tag %(name)s created.") % {"name": tag})
                return redirect("sending:tags", account_id=account.public_id)
    tags = account.tags.all()
    query = request.GET.get("q", "").strip()
    if query:
        tags = tags.filter(name__icontains=query)
    context = {
        "page": page_of(request, tags),
        "form": form,
        "can_manage": can_manage,
        "used": account.tags.count(),
        "limit": account.limit("max_tags"),
    }
    return render(request, "sending/tag_list.html", context, status=400 if form and form.errors else 200)


@account_view(Perm.MANAGE_SENDERS)
def tag_edit(request, tag_id: str):
    tag = get_for_account(Tag, request.account, public_id=tag_id)
    form = TagForm(request.POST or None, initial={"name": tag.name, "description": tag.description})
    if request.method == "POST" and form.is_valid():
        try:
            service.tag_update(
                tag=tag,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                actor=Actor.from_request(request),
            )
        except ServiceError as exc:
            form.add_error("name", str(exc))
        else:
            messages.success(request, _("Tag %(name)s saved.") % {"name": tag})
            return redirect("sending:tags", account_id=request.account.public_id)
    return render(request, "sending/tag_edit.html", {"tag": tag, "form": form})


@account_view(Perm.MANAGE_SENDERS)
def tag_delete(request, tag_id: str):
    tag = get_for_account(Tag, request.account, public_id=tag_id)
    back = redirect("sending:tags", account_id=request.account.public_id)
    if request.method == "POST":
        service.tag_delete(tag=tag, actor=Actor.from_request(request))
        messages.success(request, _("Tag %(name)s deleted.") % {"name": tag.name})
        return back
    return confirm_page(
        request,
        title=_("Delete tag"),
        question=_("Delete tag %(name)s?") % {"name": tag.name},
        explanation=_("Statistics already counted under it stay; new mail can no longer use it."),
        button=_("Delete tag"),
        back_url=back.url,
        back_label=_("Tags"),
    )
