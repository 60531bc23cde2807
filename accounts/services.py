"""Writes in `accounts` that touch several models or send mail. Each is atomic and audited."""

from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_q.tasks import async_task

from accounts.audit import Actor, audit_record
from accounts.errors import ServiceError
from accounts.mailing import mail_people
from accounts.models import Account, AccountKind, Invitation, Membership, User
from accounts.roles import Role, roles_assignable_by


def _actor_membership(account: Account, actor: Actor) -> Membership | None:
    if actor.user is None:
        return None
    return Membership.objects.filter(account=account, user=actor.user).first()


# What other apps set up in every new account (registered in their AppConfig.ready(): accounts imports no
# other app), e.g. `sending` gives it its sandbox domain. Run inside the account's creation transaction.
_account_setups: list[Callable[[Account], object]] = []


def register_account_setup(setup: Callable[[Account], object]) -> None:
    if setup not in _account_setups:
        _account_setups.append(setup)


@transaction.atomic
def account_create(*, name: str, kind: str, owner: User, actor: Actor) -> Account:
    """Create an account with `owner` as its first owner."""
    account = Account.objects.create(name=name.strip(), kind=kind)
    for setup in _account_setups:
        setup(account)
    membership = Membership.objects.create(account=account, user=owner, role=Role.OWNER)
    audit_record(
        actor=actor, action="account.create", account=account, target=account, details={"kind": kind}
    )
    audit_record(
        actor=actor, action="member.add", account=account, target=membership, details={"role": Role.OWNER}
    )
    return account


@transaction.atomic
def user_signup(
    *,
    email: str,
    password: str | None,
    account_name: str,
    kind: str = AccountKind.PERSONAL,
    full_name: str = "",
    actor: Actor,
    reuse_existing_user: bool = False,
) -> tuple[User, Account, bool]:
    """Sign-up and the `create_account` command: a user (or the existing one), an account, an owner.

    Returns (user, account, user_created). The console refuses an email that is already registered; the
    operator CLI may reuse it (`reuse_existing_user`), leaving that user's password as it was.
    """
    user = User.objects.filter(email__iexact=email.strip()).first()
    created = user is None
    if user is not None and not reuse_existing_user:
        raise ServiceError(_("An account with this email address already exists. Log in instead."))
    acting = actor
    if user is None:
        try:
            with transaction.atomic():
                user = User.objects.create_user(email=email, password=password, full_name=full_name.strip())
        except IntegrityError as exc:  # the same address signed up a moment ago
            raise ServiceError(
                _("An account with this email address already exists. Log in instead.")
            ) from exc
        if actor.user is None and not actor.name:  # someone signing themselves up on the web
            acting = Actor(user=user, ip=actor.ip)
    account = account_create(name=account_name, kind=kind, owner=user, actor=acting)
    if created:
        audit_record(actor=acting, action="user.signup", account=account, target=user)
    return user, account, created


@transaction.atomic
def account_update(
    *,
    account: Account,
    name: str,
    time_zone: str,
    templates_need_second_person: bool | None = None,
    actor: Actor,
) -> Account:
    """Rename an account, change its time zone or its four-eyes rule for templates."""
    changes = {}
    fields: list[tuple[str, object]] = [("name", name.strip()), ("time_zone", time_zone)]
    if templates_need_second_person is not None:
        fields.append(("templates_need_second_person", templates_need_second_person))
    for field, value in fields:
        if getattr(account, field) != value:
            changes[field] = [getattr(account, field), value]
            setattr(account, field, value)
    if changes:
        account.save(update_fields=list(changes))
        audit_record(actor=actor, action="account.update", account=account, target=account, details=changes)
    return account


def invitation_url(invitation: Invitation) -> str:
    return settings.PUBLIC_BASE_URL + reverse("invitation_accept", args=[invitation.token])


@transaction.atomic
def member_invite(*, account: Account, email: str, role: str, actor: Actor) -> Invitation:
    """Invite an email address to the account with a role, and mail the link once the invitation is stored."""
    email = email.strip().lower()
    inviter = _actor_membership(account, actor)
    if inviter is None or role not in roles_assignable_by(inviter.role):
        label = Role(role).label if role in Role.values else role
        raise ServiceError(_("You may not invite someone as %(role)s.") % {"role": label})
    if account.memberships.filter(user__email__iexact=email).exists():
        raise ServiceError(_("%(email)s is already a member of this account.") % {"email": email})
    # An earlier invitation to the same address that was never used is replaced by this one.
    Invitation.objects.filter(
        account=account, email=email, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=timezone.now())
    try:
        with transaction.atomic():
            invitation = Invitation.objects.create(
                account=account, email=email, role=role, invited_by=actor.user
            )
    except IntegrityError as exc:  # a concurrent invite of the same address
        raise ServiceError(_("%(email)s was invited a moment ago.") % {"email": email}) from exc
    audit_record(
        actor=actor, action="member.invite", account=account, target=invitation, details={"role": role}
    )
    # Mailed by the worker once the invitation is committed: a slow mail server never breaks the page.
    language = translation.get_language()  # the inviter's, for someone who has not chosen one yet
    transaction.on_commit(lambda: async_task("accounts.tasks.send_invitation_email", invitation.pk, language))
    return invitation


def invitation_send_email(*, invitation: Invitation, language: str | None = None) -> None:
    """Mail the accept link of a pending invitation (in `language` unless the invitee chose one)."""
    if invitation.status != "pending":
        return
    context = {"invitation": invitation, "url": invitation_url(invitation)}
    mail_people("invitation", context, [invitation.email], language=language, account=invitation.account)


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor: Actor) -> None:
    if invitation.status != "pending":
        raise ServiceError(_("This invitation is no longer pending."))
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    audit_record(actor=actor, action="member.invite_revoke", account=invitation.account, target=invitation)


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: User, actor: Actor) -> Membership:
    """Join the account the invitation names, with its role. The user's email must be the invited one."""
    invitation = Invitation.objects.select_for_update().select_related("account").get(pk=invitation.pk)
    if invitation.status != "pending":
        raise ServiceError(
            _("This invitation is %(status)s. Ask for a new one.")
            % {"status": invitation.get_status_display()}
        )
    if user.email.lower() != invitation.email.lower():
        raise ServiceError(
            _("This invitation is for %(email)s; you are logged in as %(you)s.")
            % {"email": invitation.email, "you": user.email}
        )
    membership, created = Membership.objects.get_or_create(
        account=invitation.account, user=user, defaults={"role": invitation.role}
    )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    if created:
        audit_record(
            actor=actor,
            action="member.add",
            account=invitation.account,
            target=membership,
            details={"role": membership.role, "invitation": invitation.public_id},
        )
    return membership


@transaction.atomic
def invitee_signup(*, invitation: Invitation, full_name: str, password: str, actor: Actor) -> User:
    """Create the login of someone who was invited (no account of their own) and accept the invitation."""
    if User.objects.filter(email__iexact=invitation.email).exists():
        raise ServiceError(_("An account with this email address already exists. Log in instead."))
    user = User.objects.create_user(email=invitation.email, password=password, full_name=full_name.strip())
    acting = Actor(user=user, ip=actor.ip)
    audit_record(actor=acting, action="user.signup", account=invitation.account, target=user)
    invitation_accept(invitation=invitation, user=user, actor=acting)
    return user


def _ensure_another_owner(membership: Membership) -> None:
    # Lock the owners so two owners cannot demote or remove each other at once and leave nobody.
    owners = list(
        Membership.objects.select_for_update().filter(account_id=membership.account_id, role=Role.OWNER)
    )
    if membership.role == Role.OWNER and len(owners) <= 1:
        raise ServiceError(_("An account needs at least one owner. Make someone else owner first."))


def _check_may_manage(membership: Membership, actor: Actor, new_role: str | None = None) -> None:
    manager = _actor_membership(membership.account, actor)
    allowed = roles_assignable_by(manager.role) if manager else []
    if membership.role not in allowed or (new_role is not None and new_role not in allowed):
        raise ServiceError(_("Only an owner can change or remove an owner."))


@transaction.atomic
def member_change_role(*, membership: Membership, role: str, actor: Actor) -> Membership:
    """Give a member another role; owners are changed only by owners, and the last owner stays owner."""
    membership = (
        Membership.objects.select_for_update().select_related("account", "user").get(pk=membership.pk)
    )
    if membership.role == role:
        return membership
    _check_may_manage(membership, actor, new_role=role)
    _ensure_another_owner(membership)
    old = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    audit_record(
        actor=actor,
        action="member.role_change",
        account=membership.account,
        target=membership,
        details={"role": [old, role]},
    )
    return membership


@transaction.atomic
def member_remove(*, membership: Membership, actor: Actor) -> None:
    """Remove a member (or leave, when the actor is that member); never the last owner."""
    membership = (
        Membership.objects.select_for_update().select_related("account", "user").get(pk=membership.pk)
    )
    leaving = actor.user is not None and membership.user_id == actor.user.pk
    if not leaving:
        _check_may_manage(membership, actor)
    _ensure_another_owner(membership)
    audit_record(
        actor=actor,
        action="member.leave" if leaving else "member.remove",
        account=membership.account,
        target=membership,
        details={"email": membership.user.email, "role": membership.role},
    )
    membership.delete()


def invitation_purge_expired(*, older_than_days: int = 30) -> int:
    """Delete invitations that expired or were revoked long ago; accepted ones stay as history."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    expired = Invitation.objects.filter(accepted_at__isnull=True, expires_at__lt=cutoff)
    revoked = Invitation.objects.filter(accepted_at__isnull=True, revoked_at__lt=cutoff)
    deleted, _per_model = (expired | revoked).delete()
    return deleted
