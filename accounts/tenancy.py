"""Tenancy for views: resolve the account from the URL, check the role, look objects up through the account.

Every account-scoped view is decorated with `account_view(perm)`. Someone who is not a member of the account
gets a 404 (the account's existence is not revealed); a member whose role lacks `perm` gets a 403 page that
says which permission is missing.
"""

from functools import wraps
from typing import TypeVar

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Account, Membership
from accounts.roles import Perm

SESSION_ACCOUNT_KEY = "current_account"
M = TypeVar("M", bound=Model)


def account_view(perm: Perm = Perm.VIEW):
    """Decorate a view taking `account_id` from the URL; sets request.account and request.membership."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request, account_id: str, *args, **kwargs):
            membership = (
                Membership.objects.select_related("account")
                .filter(account__public_id=account_id, user=request.user)
                .first()
            )
            if membership is None:
                raise Http404(_("No such account."))
            request.account = membership.account
            request.membership = membership
            request.session[SESSION_ACCOUNT_KEY] = account_id
            if not membership.can(perm):
                raise PermissionDenied(
                    _("Your role (%(role)s) does not allow this.") % {"role": membership.get_role_display()}
                )
            # Every time on the page is shown in the account's time zone.
            timezone.activate(membership.account.time_zone)
            try:
                return view(request, *args, **kwargs)
            finally:
                timezone.deactivate()

        wrapper.account_perm = perm
        return wrapper

    return decorator


def get_for_account(queryset: type[M] | QuerySet[M], account: Account, **lookup) -> M:
    """Fetch one object of `account` or raise 404, whoever else's it may be."""
    if isinstance(queryset, type):
        queryset = queryset._default_manager.all()
    return get_object_or_404(queryset, account=account, **lookup)


def current_account_for(request) -> Account | None:
    """The account to land on: the one used last in this session, else the user's first."""
    memberships = (
        Membership.objects.filter(user=request.user).select_related("account").order_by("created_at")
    )
    remembered = request.session.get(SESSION_ACCOUNT_KEY)
    if remembered:
        match = memberships.filter(account__public_id=remembered).first()
        if match:
            return match.account
    first = memberships.first()
    return first.account if first else None
