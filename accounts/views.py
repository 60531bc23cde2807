"""Console views of the accounts area: sign-up, landing, overview, members, invitations, settings, audit log.

Each account-scoped view declares its permission at the top with `account_view(perm)`; the writes go
through `accounts.services`.
"""

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts import services
from accounts.audit import Actor, action_label, audit_record, detail_items
from accounts.filters import between_days
from accounts.forms import (
    AccountCreateForm,
    AccountSettingsForm,
    AuditFilterForm,
    CrispyPasswordChangeForm,
    CrispySetPasswordForm,
    InvitationSignupForm,
    InviteForm,
    RoleForm,
    SignupForm,
)
from accounts.limits import account_limits
from accounts.models import Account, AuditEntry, Invitation, Membership, User
from accounts.network import client_ip
from accounts.onboarding import steps_for
from accounts.roles import PERMISSIONS, Perm, Role, roles_assignable_by
from accounts.tenancy import account_view, current_account_for, get_for_account

AUDIT_PAGE_SIZE = 50


def home(request):
    """`/`: the console of the account used last, or sign-up/log-in for strangers."""
    if not request.user.is_authenticated:
        return redirect("login")
    account = current_account_for(request)
    if account is None:
        return redirect("accounts:account_new")
    return redirect("accounts:overview", account_id=account.public_id)


def signup(request):
    if request.user.is_authenticated:
        return redirect("home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user, account, _created = services.user_signup(
                email=data["email"],
                password=data["password1"],
                full_name=data["full_name"],
                account_name=data["account_name"],
                kind=data["kind"],
                actor=Actor.from_request(request),
            )
        except services.ServiceError as exc:
            form.add_error(None, str(exc))
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(
                request, _("Welcome to directmail! Your account %(name)s is ready.") % {"name": account}
            )
            return redirect("accounts:overview", account_id=account.public_id)
    return render(request, "accounts/signup.html", {"form": form})


@login_required
def account_new(request):
    """Create another account; the user becomes its owner."""
    form = AccountCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        account = services.account_create(
            name=form.cleaned_data["name"],
            kind=form.cleaned_data["kind"],
            owner=request.user,
            actor=Actor.from_request(request),
        )
        messages.success(request, _("Account %(name)s created.") % {"name": account})
        return redirect("accounts:overview", account_id=account.public_id)
    return render(request, "accounts/account_new.html", {"form": form})


@account_view(Perm.VIEW)
def overview(request):
    account = request.account
    steps = steps_for(account)
    # The sandbox's address (read through the relation, not sending's models): the first send needs no DNS.
    sandbox_sender = (
        account.sender_addresses.filter(domain__sandbox=True, deleted_at__isnull=True)
        .order_by("created_at")
        .first()
    )
    context = {
        "steps": steps,
        "sandbox_sender": sandbox_sender if request.membership.can(Perm.SEND) else None,
        "members": account.memberships.count(),
        "pending_invitations": account.invitations.pending().count(),
        "limits": account_limits(account),
        # The account's dedicated sending addresses a DNS blocklist lists (sending.egress's daily check).
        "listed_addresses": [e for e in account.egress_addresses.all() if e.listings],
        # Repeated reputation or policy refusals at a provider this week (sending.feedback), read through
        # the relation like the sandbox above.
        "bounce_warnings": account.bounce_warnings.filter(
            day__gte=timezone.now().date() - timedelta(days=6),
            count__gte=max(1, settings.BOUNCE_WARNING_AFTER),
        ).order_by("-day", "-count")[:5],
    }
    return render(request, "accounts/overview.html", context)


@account_view(Perm.VIEW)
def members(request):
    account = request.account
    can_manage = request.membership.can(Perm.MANAGE_MEMBERS)
    memberships = account.memberships.select_related("user").order_by("created_at")
    invitations = account.invitations.pending().order_by("-created_at")
    assignable = roles_assignable_by(request.membership.role) if can_manage else []
    context = {
        "memberships": memberships,
        "invitations": invitations,
        "can_manage": can_manage,
        "assignable_roles": assignable,
        "invite_form": InviteForm(inviter_role=request.membership.role) if can_manage else None,
        "role_permissions": _role_permission_table(),
        "role_choices": Role.choices,
        "invitation_days": settings.INVITATION_MAX_AGE_DAYS,
    }
    return render(request, "accounts/members.html", context)


def _role_permission_table() -> list[dict]:
    labels = {
        Perm.VIEW: _("Read everything"),
        Perm.MANAGE_ACCOUNT: _("Change account settings"),
        Perm.MANAGE_MEMBERS: _("Manage members"),
        Perm.MANAGE_KEYS: _("Manage API keys and IP protection"),
        Perm.MANAGE_DOMAINS: _("Manage sending domains"),
        Perm.MANAGE_SENDERS: _("Manage sender addresses and tags"),
        Perm.SEND: _("Send mail"),
        Perm.EDIT_CONTENT: _("Edit recipient lists, templates and batch sends"),
        Perm.REVIEW_TEMPLATES: _("Approve templates"),
        Perm.VIEW_AUDIT: _("Read the audit log"),
    }
    return [
        {"label": labels[perm], "roles": [role in roles for role in Role]}
        for perm, roles in PERMISSIONS.items()
    ]


@account_view(Perm.MANAGE_MEMBERS)
@require_POST
def member_invite(request):
    form = InviteForm(request.POST, inviter_role=request.membership.role)
    if form.is_valid():
        try:
            invitation = services.member_invite(
                account=request.account,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                actor=Actor.from_request(request),
            )
        except services.ServiceError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Invitation sent to %(email)s.") % {"email": invitation.email})
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    return redirect("accounts:members", account_id=request.account.public_id)


@account_view(Perm.MANAGE_MEMBERS)
@require_POST
def invitation_revoke(request, invitation_id: str):
    invitation = get_for_account(Invitation, request.account, public_id=invitation_id)
    try:
        services.invitation_revoke(invitation=invitation, actor=Actor.from_request(request))
    except services.ServiceError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Invitation to %(email)s revoked.") % {"email": invitation.email})
    return redirect("accounts:members", account_id=request.account.public_id)


@account_view(Perm.MANAGE_MEMBERS)
@require_POST
def member_role(request, member_id: str):
    membership = get_for_account(
        Membership.objects.select_related("user"), request.account, public_id=member_id
    )
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a valid role."))
    else:
        try:
            services.member_change_role(
                membership=membership, role=form.cleaned_data["role"], actor=Actor.from_request(request)
            )
        except services.ServiceError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request,
                _("%(email)s is now %(role)s.")
                % {"email": membership.user.email, "role": Role(form.cleaned_data["role"]).label},
            )
    return redirect("accounts:members", account_id=request.account.public_id)


@account_view(Perm.VIEW)
def member_remove(request, member_id: str):
    """Confirm, then remove a member. Any member may remove themselves (leave); managers may remove others."""
    membership = get_for_account(
        Membership.objects.select_related("user"), request.account, public_id=member_id
    )
    leaving = membership.user_id == request.user.pk
    if not leaving and not request.membership.can(Perm.MANAGE_MEMBERS):
        raise PermissionDenied(_("Only owners and admins can remove members."))
    if request.method == "POST":
        try:
            services.member_remove(membership=membership, actor=Actor.from_request(request))
        except services.ServiceError as exc:
            messages.error(request, str(exc))
            return redirect("accounts:members", account_id=request.account.public_id)
        if leaving:
            messages.success(request, _("You left %(account)s.") % {"account": request.account})
            return redirect("home")
        messages.success(request, _("%(email)s was removed.") % {"email": membership.user.email})
        return redirect("accounts:members", account_id=request.account.public_id)
    return render(request, "accounts/member_remove.html", {"target": membership, "leaving": leaving})


def invitation_accept(request, token: str):
    """The link in an invitation email: log in or create a login with the invited address, then join."""
    invitation = Invitation.from_token(token)
    if invitation is None or invitation.status != "pending":
        return render(request, "accounts/invitation_invalid.html", {"invitation": invitation}, status=410)

    if request.user.is_authenticated:
        if request.method == "POST":
            try:
                services.invitation_accept(
                    invitation=invitation, user=request.user, actor=Actor.from_request(request)
                )
            except services.ServiceError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, _("You joined %(account)s.") % {"account": invitation.account})
                return redirect("accounts:overview", account_id=invitation.account.public_id)
        return render(request, "accounts/invitation_accept.html", {"invitation": invitation})

    if User.objects.filter(email__iexact=invitation.email).exists():
        login_url = reverse("login") + "?next=" + request.path
        return render(
            request, "accounts/invitation_accept.html", {"invitation": invitation, "login_url": login_url}
        )

    form = InvitationSignupForm(request.POST or None, email=invitation.email)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.invitee_signup(
                invitation=invitation,
                full_name=form.cleaned_data["full_name"],
                password=form.cleaned_data["password1"],
                actor=Actor.from_request(request),
            )
        except services.ServiceError as exc:
            form.add_error(None, str(exc))
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, _("Welcome! You joined %(account)s.") % {"account": invitation.account})
            return redirect("accounts:overview", account_id=invitation.account.public_id)
    return render(request, "accounts/invitation_accept.html", {"invitation": invitation, "form": form})


@account_view(Perm.VIEW)
def account_settings(request):
    can_edit = request.membership.can(Perm.MANAGE_ACCOUNT)
    # The form gets its own copy: an invalid POST must not leave bad values on request.account.
    editable = Account.objects.get(pk=request.account.pk)
    form = AccountSettingsForm(request.POST or None, instance=editable) if can_edit else None
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied(_("Only owners and admins can change account settings."))
        if form.is_valid():
            # Save through the service (audit log), not form.save().
            services.account_update(
                account=request.account,
                name=form.cleaned_data["name"],
                time_zone=form.cleaned_data["time_zone"],
                templates_need_second_person=form.cleaned_data["templates_need_second_person"],
                actor=Actor.from_request(request),
            )
            messages.success(request, _("Account settings saved."))
            return redirect("accounts:settings", account_id=request.account.public_id)
    context = {"form": form, "limits": account_limits(request.account)}
    return render(request, "accounts/settings.html", context)


@account_view(Perm.VIEW_AUDIT)
def audit_log(request):
    form = AuditFilterForm(request.GET or None, account=request.account)
    entries = AuditEntry.objects.filter(account=request.account).select_related("actor_user")
    if form.is_valid():
        data = form.cleaned_data
        if data["action"]:
            entries = entries.filter(action=data["action"])
        if data["actor"]:
            entries = entries.filter(Q(actor_label__icontains=data["actor"]) | Q(actor_key_id=data["actor"]))
        entries = between_days(entries, "created_at", data["since"], data["until"])
    page = Paginator(entries, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    for entry in page:
        entry.action_label = action_label(entry.action)
        entry.detail_items = detail_items(entry.details)
    return render(request, "accounts/audit_log.html", {"form": form, "page": page})


class PasswordChangeView(auth_views.PasswordChangeView):
    form_class = CrispyPasswordChangeForm

    def form_valid(self, form):
        response = super().form_valid(form)
        audit_record(actor=Actor.from_request(self.request), action="user.password_change", target=form.user)
        return response


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    form_class = CrispySetPasswordForm
    post_reset_login = True

    def form_valid(self, form):
        response = super().form_valid(form)
        audit_record(
            actor=Actor(user=form.user, ip=client_ip(self.request)),
            action="user.password_reset",
            target=form.user,
        )
        return response


@require_POST
def language_set(request):
    """The language menu: remembered on the person (signed in) and in a cookie (the login page too); an
    empty choice goes back to the browser's language."""
    code = request.POST.get("language", "")
    if code and code not in dict(settings.LANGUAGES):
        code = ""
    next_url = request.POST.get("next", "/")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = "/"
    if request.user.is_authenticated and request.user.language != code:
        request.user.language = code
        request.user.save(update_fields=["language"])
    response = redirect(next_url)
    if code:
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            code,
            max_age=365 * 24 * 60 * 60,
            samesite="Lax",
            secure=settings.SESSION_COOKIE_SECURE,
        )
    else:
        response.delete_cookie(settings.LANGUAGE_COOKIE_NAME)
    return response
