"""django-q2 tasks of `sending`: take ids, fetch, call a service. Every schedule (sending.schedules) and
every task this app queues enters here.

Tasks already queued under a service's own path (from before these wrappers) still run: the services
keep their names."""

from datetime import timedelta

from django.core.cache import cache
from django.utils import timezone

from sending import egress, provider_limits, retention
from sending.api import auth, ratelimit
from sending.delivery import worker
from sending.lists import importer
from sending.models import Domain, SenderAddress, Suspension
from sending.services import batch, domains, idempotency, messages, senders


def check_domain(domain_pk: int) -> str | None:
    domain = Domain.objects.alive().filter(pk=domain_pk).first()
    if domain is None:
        return None
    return domains.domain_check(domain=domain).status


def recheck_domains() -> int:
    return domains.domain_recheck_all()


def recheck_egress() -> int:
    return egress.recheck_all()


def send_reply_to_verification(sender_pk: int, language: str | None = None) -> None:
    sender = SenderAddress.objects.alive().filter(pk=sender_pk).first()
    if sender is not None:
        senders.reply_to_send_verification(sender=sender, language=language)


def deliver_due(kick_slot: int | None = None) -> dict[str, int]:
    """Deliver what is due; started when mail is accepted (see kick_delivery) and every minute. A task
    whose time ran out with mail still due starts the next one at once (not at the next schedule tick)."""
    if kick_slot is not None:
        cache.delete(f"delivery:kick:{kick_slot}")  # mail accepted from now on may start another task
    totals = worker.deliver_due()
    wait = worker.seconds_to_next_due()
    if totals and wait is not None and wait <= worker.NEXT_DUE_WAIT:
        messages.kick_delivery()
    return totals


def purge_api_nonces() -> int:
    """Forget API nonces older than the timestamp window (plus a margin), idempotency keys past 24 h and
    rate counters past a minute."""
    return auth.purge_nonces() + idempotency.purge_expired() + ratelimit.purge()


def batch_tick() -> dict[str, int]:
    """Every minute: start missed jobs, go on with waiting or orphaned fan-outs, mark finished jobs done."""
    return batch.batch_tick()


def batch_job_start(job_id: int) -> None:
    """A confirmed job's one-off schedule, or confirming one for now: its envelope, then its fan-out."""
    batch.job_start(job_id)


def batch_fanout(job_id: int) -> None:
    """Create a sending job's messages (resumed, or started by the API)."""
    batch.fanout(job_id)


def import_run(import_id: int) -> None:
    """Read an uploaded recipient file into its list."""
    importer.import_run(import_id)


def imports_reap() -> int:
    """Every minute: an import whose worker died is marked failed (its list was never touched)."""
    return importer.imports_reap()


def imports_purge() -> int:
    """Daily: uploaded files of finished imports, and uploads nobody went on with, are deleted."""
    return importer.imports_purge()


def purge_content() -> dict[str, int]:
    """Daily: message bodies and Outbox copies older than MESSAGE_CONTENT_RETENTION_DAYS go."""
    return retention.purge_content()


def prune_shaping() -> dict[str, int]:
    """Daily: rate counters of windows long ended, and holds that ended more than 30 days ago."""
    ended = timezone.now() - timedelta(days=30)
    return {
        "counters": provider_limits.prune(),
        "holds": Suspension.objects.filter(until__lt=ended).delete()[0],
    }


def send_tls_reports() -> dict[str, int]:
    """Yesterday's TLS-RPT reports to the recipient domains that ask for them; old session counts go."""
    from sending import tlsrpt

    counts = tlsrpt.send_reports()
    counts["pruned"] = tlsrpt.prune()
    return counts


def validation_file_run(job_id: int) -> None:
    """Validate a file of addresses (SendValidateFile): sending.validation_files."""
    from sending import validation_files

    validation_files.run(job_id)


def graylist_retry_due() -> int:
    """Greylisted probes whose next try is due, each handed to `graylist_retry`
    (sending.validation_graylist)."""
    from sending import validation_graylist

    return validation_graylist.retry_due()


def graylist_retry(pk: int, claim) -> None:
    """Probe one greylisted address again (sending.validation_graylist)."""
    from sending import validation_graylist

    validation_graylist.retry(pk, claim)
