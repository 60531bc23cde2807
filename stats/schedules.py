"""Recurring tasks of `stats` (see directmail.queue)."""

from directmail.queue import ScheduleSpec

SCHEDULES = [
    # Weekly: delivery quality moves each account's daily quota a level up or down (catch_up is off).
    ScheduleSpec(name="reputation_review", func="stats.reputation.review_all", minutes=7 * 24 * 60),
]
