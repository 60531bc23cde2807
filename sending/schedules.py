"""Recurring tasks of `sending` (see directmail.queue)."""

from directmail.queue import ScheduleSpec

SCHEDULES = [
    ScheduleSpec(name="purge_api_nonces", func="sending.tasks.purge_api_nonces", minutes=10),
    # Deferred messages come due and dead workers' leases run out: this picks them up.
    ScheduleSpec(name="deliver_due", func="sending.tasks.deliver_due", minutes=1),
    # Verified domains are checked daily: one whose ownership, SPF or DKIM record disappears stops sending.
    ScheduleSpec(name="recheck_domains", func="sending.tasks.recheck_domains", minutes=24 * 60),
]
