"""Make django-q2's schedules match the SCHEDULES the apps declare (also done after every migrate)."""

from django.core.management.base import BaseCommand

from directmail.queue import sync_schedules


class Command(BaseCommand):
    help = "Create, update and remove the recurring tasks declared in each app's schedules.py."

    def handle(self, *args, **options):
        counts = sync_schedules()
        self.stdout.write(
            "schedules: {created} created, {updated} updated, {removed} removed".format(**counts)
        )
