"""Recurring tasks of `sending` (see directmail.queue)."""

from directmail.queue import ScheduleSpec

SCHEDULES = [
    # Verified domains are checked daily: one whose ownership, SPF or DKIM record disappears stops sending.
    ScheduleSpec(name="recheck_domains", func="sending.tasks.recheck_domains", minutes=24 * 60),
]
