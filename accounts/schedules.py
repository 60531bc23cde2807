"""Recurring tasks of `accounts` (see directmail.queue for how schedules are registered)."""

from directmail.queue import ScheduleSpec

SCHEDULES = [
    ScheduleSpec(
        name="purge_expired_invitations", func="accounts.tasks.purge_expired_invitations", minutes=24 * 60
    ),
    ScheduleSpec(name="purge_login_throttles", func="accounts.tasks.purge_login_throttles", minutes=24 * 60),
]
