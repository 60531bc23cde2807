"""Building blocks for sending tests: verified domains without going through DNS."""

from accounts.audit import SYSTEM
from sending.models import Domain, DomainStatus
from sending.services.domains import domain_create


def verified_domain(account, name: str = "mail.acme.example") -> Domain:
    """A domain as if its records had been checked (the wizard's DNS path has tests of its own)."""
    domain = domain_create(account=account, name=name, actor=SYSTEM)
    Domain.objects.filter(pk=domain.pk).update(status=DomainStatus.VERIFIED)
    domain.refresh_from_db()
    return domain
