"""The django-q2 cluster: its configuration check and the schedule registry."""

from datetime import timedelta

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import TestCase, override_settings
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task, result

from accounts.models import Account, Invitation
from directmail.queue import SCHEDULE_PREFIX, check_cluster_config, sync_schedules


class ClusterCheckTests(TestCase):
    def test_the_shipped_config_passes(self):
        self.assertEqual(check_cluster_config(), [])

    @override_settings(Q_CLUSTER={**settings.Q_CLUSTER, "timeout": 300, "retry": 300})
    def test_retry_not_above_timeout_is_an_error(self):
        errors = check_cluster_config()
        self.assertEqual([e.id for e in errors], ["directmail.E001"])
        self.assertIn("retry (300) must be greater than timeout (300)", errors[0].msg)

    @override_settings(Q_CLUSTER={**settings.Q_CLUSTER, "max_attempts": 0, "catch_up": True})
    def test_unbounded_attempts_and_catch_up_are_errors(self):
        self.assertEqual({e.id for e in check_cluster_config()}, {"directmail.E002", "directmail.E003"})

    def test_manage_check_refuses_a_bad_config(self):
        with (
            override_settings(Q_CLUSTER={**settings.Q_CLUSTER, "retry": 10}),
            self.assertRaises(SystemCheckError),
        ):
            call_command("check")


class ScheduleTests(TestCase):
    def test_schedules_are_registered_by_migrate_and_sync_is_idempotent(self):
        # migrate (run for the test database) already registered them.
        names = set(Schedule.objects.values_list("name", flat=True))
        self.assertIn(SCHEDULE_PREFIX + "purge_expired_invitations", names)
        self.assertEqual(sync_schedules(), {"created": 0, "updated": 0, "removed": 0})

    def test_a_new_schedule_first_runs_one_interval_away(self):
        """On a fresh install the daily recheck of domains must not run before a domain could need it."""
        Schedule.objects.filter(name__startswith=SCHEDULE_PREFIX).delete()
        sync_schedules()
        rows = {row.name: row.next_run for row in Schedule.objects.filter(name__startswith=SCHEDULE_PREFIX)}
        now = timezone.now()
        self.assertGreater(rows[SCHEDULE_PREFIX + "recheck_domains"], now + timedelta(hours=23))
        self.assertLess(rows[SCHEDULE_PREFIX + "deliver_due"], now + timedelta(minutes=1, seconds=5))

    def test_sync_repairs_edits_and_removes_stale_schedules_but_not_hand_made_ones(self):
        Schedule.objects.filter(name=SCHEDULE_PREFIX + "purge_expired_invitations").update(minutes=5)
        Schedule.objects.create(
            name=SCHEDULE_PREFIX + "gone", func="math.floor", schedule_type=Schedule.MINUTES
        )
        Schedule.objects.create(name="operator's own", func="math.floor", schedule_type=Schedule.MINUTES)
        self.assertEqual(sync_schedules(), {"created": 0, "updated": 1, "removed": 1})
        self.assertEqual(
            Schedule.objects.get(name=SCHEDULE_PREFIX + "purge_expired_invitations").minutes, 24 * 60
        )
        self.assertTrue(Schedule.objects.filter(name="operator's own").exists())

    def test_the_example_task_runs_through_the_queue(self):
        account = Account.objects.create(name="A")
        old = Invitation.objects.create(account=account, email="old@example.com", role="viewer")
        Invitation.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(days=40))
        fresh = Invitation.objects.create(account=account, email="new@example.com", role="viewer")
        task_id = async_task("accounts.tasks.purge_expired_invitations")  # sync mode in tests
        self.assertEqual(result(task_id), 1)
        self.assertEqual(list(Invitation.objects.all()), [fresh])
