"""What the benchmarks share (Django lists no command here: the module name starts with _)."""

from accounts.audit import SYSTEM
from accounts.services import user_signup
from sending.models import Domain, DomainStatus, SenderAddress
from sending.services.domains import domain_create
from sending.services.senders import sender_address_create


def bench_sender(email: str, domain_name: str) -> SenderAddress:
    """A new account without practical quotas and a trigger sender on a domain marked verified."""
    _user, account, _created = user_signup(email=email, password=None, account_name=email, actor=SYSTEM)
    account.daily_quota = account.monthly_quota = 10**9
    account.save()
    domain = domain_create(account=account, name=domain_name, actor=SYSTEM)
    Domain.objects.filter(pk=domain.pk).update(status=DomainStatus.VERIFIED)
    domain.refresh_from_db()
    return sender_address_create(
        account=account, domain=domain, local_part="noreply", send_type="trigger", actor=SYSTEM
    )
