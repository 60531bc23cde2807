"""django-q2 tasks of `sending`: take ids, fetch, call a service."""

from sending.delivery import worker
from sending.models import Domain, SenderAddress
from sending.services import domains, senders


def check_domain(domain_pk: int) -> str | None:
    domain = Domain.objects.alive().filter(pk=domain_pk).first()
    if domain is None:
        return None
    return domains.domain_check(domain=domain).status


def recheck_domains() -> int:
    return domains.domain_recheck_all()


def send_reply_to_verification(sender_pk: int) -> None:
    sender = SenderAddress.objects.alive().filter(pk=sender_pk).first()
    if sender is not None:
        senders.reply_to_send_verification(sender=sender)


def deliver_due() -> dict[str, int]:
    """Deliver what is due; started after each accepted message and every minute by the schedule."""
    return worker.deliver_due()
