"""django-q2 tasks of `accounts`: thin wrappers that call a service."""

from accounts import services, throttle
from accounts.models import Invitation


def purge_expired_invitations() -> int:
    """Daily: forget invitations that expired or were revoked more than 30 days ago."""
    return services.invitation_purge_expired()


def purge_login_throttles() -> int:
    """Daily: forget counts of password attempts whose window ended a day ago."""
    return throttle.throttles_purge()


def send_invitation_email(invitation_pk: int, language: str | None = None) -> None:
    invitation = Invitation.objects.select_related("account", "invited_by").filter(pk=invitation_pk).first()
    if invitation is not None:
        services.invitation_send_email(invitation=invitation, language=language)
