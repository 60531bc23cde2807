"""The project itself as an app: the task-queue configuration check and the schedule registry."""

from django.apps import AppConfig, apps
from django.core import checks
from django.db.models.signals import post_migrate


class DirectmailConfig(AppConfig):
    name = "directmail"
    verbose_name = "directmail"

    def ready(self) -> None:
        from directmail import queue

        checks.register(queue.check_cluster_config, checks.Tags.compatibility)
        # post_migrate is sent once per app that has models; django_q's is the one whose tables we fill.
        post_migrate.connect(queue.after_migrate, sender=apps.get_app_config("django_q"))
