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


def smtp_sender(
    email: str, password: str, local_part: str = "noreply", domain_name: str = "mail.example.com"
):
    """A new account with a verified domain and a trigger sender address that logs in to SMTP with
    `password`; returns the sender (its account is `sender.account`)."""
    from accounts.services import user_signup
    from sending.services.senders import sender_address_create, sender_address_set_smtp_password

    _user, account, _created = user_signup(email=email, password=None, account_name=email, actor=SYSTEM)
    domain = verified_domain(account, domain_name)
    sender = sender_address_create(
        account=account, domain=domain, local_part="noreply", send_type="trigger", actor=SYSTEM
    )
    sender_address_set_smtp_password(sender=sender, password=password, actor=SYSTEM)
    return sender


def send(sender, rcpts: list[str]) -> list:
    """Enqueue a plain message from `sender` to `rcpts` (delivered inline unless the kick is patched);
    returns its messages in recipient order."""
    from sending.models import Message
    from sending.services import messages as mail

    enqueued = mail.message_enqueue(
        mail.Mail(account=sender.account, sender=sender, to=rcpts,
                  content=mail.Content(subject="Hi", text_body="Hello"))
    )  # fmt: skip
    return list(Message.objects.filter(envelope__env_id=enqueued.env_id).order_by("pk"))
