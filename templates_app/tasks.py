"""django-q2 tasks of `templates_app`: take ids, fetch, call a service."""

from templates_app import services
from templates_app.models import TemplateVersion


def _version(version_id: int) -> TemplateVersion | None:
    return (
        TemplateVersion.objects.select_related("template__account", "submitted_by", "reviewed_by")
        .filter(pk=version_id)
        .first()
    )


def notify_reviewers(version_id: int) -> None:
    version = _version(version_id)
    if version is not None:
        services.notify_reviewers(version=version)


def notify_author(version_id: int) -> None:
    version = _version(version_id)
    if version is not None:
        services.notify_author(version=version)


def spam_check(version_id: int) -> None:
    """SpamAssassin's score of a submitted version, kept for its reviewer (templates_app.spam)."""
    from templates_app import spam

    version = _version(version_id)
    if version is not None:
        spam.check_version(version)
