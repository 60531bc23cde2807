"""The project itself as an app: the task-queue configuration check and the schedule registry."""

from django.apps import AppConfig
from django.core import checks
from django.db.models.signals import post_migrate


class DirectmailConfig(AppConfig):
    name = "directmail"
    verbose_name = "directmail"

    def ready(self) -> None:
        from directmail import queue

        checks.register(queue.check_cluster_config, checks.Tags.compatibility)
        post_migrate.connect(queue.after_migrate, sender=self)
