"""Recurring tasks of `stats` (see directmail.queue)."""

from directmail.queue import ScheduleSpec

SCHEDULES = [
    # Webhook events that are due (their first try, or a retry): a safety net for the kick after commit.
    ScheduleSpec(name="webhooks_due", func="stats.tasks.webhooks_deliver_due", minutes=1),
    # Daily: finished webhook events older than WEBHOOK_EVENT_RETENTION_DAYS go.
    ScheduleSpec(name="webhooks_purge", func="stats.tasks.webhooks_purge", minutes=24 * 60),
    # Weekly: delivery quality moves each account's daily quota a level up or down (catch_up is off).
    ScheduleSpec(name="reputation_review", func="stats.tasks.reputation_review", minutes=7 * 24 * 60),
]
