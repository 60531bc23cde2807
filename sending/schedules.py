"""Recurring tasks of `sending` (see directmail.queue)."""

from directmail.queue import ScheduleSpec

SCHEDULES = [
    ScheduleSpec(name="purge_api_nonces", func="sending.tasks.purge_api_nonces", minutes=10),
    # Deferred messages come due and dead workers' leases run out: this picks them up.
    ScheduleSpec(name="deliver_due", func="sending.tasks.deliver_due", minutes=1),
    # Verified domains are checked daily: one whose ownership, SPF or DKIM record disappears stops sending.
    ScheduleSpec(name="recheck_domains", func="sending.tasks.recheck_domains", minutes=24 * 60),
    # Sending addresses: reverse DNS, SPF and blocklists daily; a new listing is mailed to staff.
    ScheduleSpec(name="recheck_egress", func="sending.tasks.recheck_egress", minutes=24 * 60),
    # Batch jobs: start any whose one-off schedule was missed, go on with waiting or orphaned fan-outs,
    # mark finished jobs done.
    ScheduleSpec(name="batch_tick", func="sending.tasks.batch_tick", minutes=1),
    # An import whose worker died is marked failed (its list was never touched).
    ScheduleSpec(name="imports_reap", func="sending.tasks.imports_reap", minutes=1),
    # Uploaded files of finished imports, and uploads nobody went on with, are deleted after a while.
    ScheduleSpec(name="imports_purge", func="sending.tasks.imports_purge", minutes=24 * 60),
    # Message bodies and Outbox copies older than MESSAGE_CONTENT_RETENTION_DAYS go; the log stays.
    ScheduleSpec(name="purge_content", func="sending.tasks.purge_content", minutes=24 * 60),
    # Shaping's per-minute/hour/day counters of ended windows, and holds that ended a month ago.
    ScheduleSpec(name="prune_shaping", func="sending.tasks.prune_shaping", minutes=24 * 60),
    # TLS-RPT: yesterday's TLS outcomes to the recipient domains that publish _smtp._tls (sending.tlsrpt).
    ScheduleSpec(name="send_tls_reports", func="sending.tasks.send_tls_reports", minutes=24 * 60),
    # ValidateEmail with CheckGraylist: greylisted probes asked again (sending.validation_graylist).
    ScheduleSpec(name="graylist_retry", func="sending.tasks.graylist_retry_due", minutes=1),
]
