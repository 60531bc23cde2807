"""`make run`: on first start, a demo login and account with a sandbox sending domain; the login every time.

The demo domain `mail.demo.test` is marked verified without DNS (it is not a real domain), so that a new
install can send at once: in the default capture mode its mail lands in the Outbox.
"""

import secrets

from django.conf import settings
from django.core.management.base import BaseCommand

from accounts.audit import SYSTEM
from accounts.models import AccountKind, User
from accounts.services import user_signup
from sending.models import Domain, DomainStatus
from sending.services.domains import domain_create
from sending.services.senders import sender_address_create

DEMO_EMAIL = "demo@example.com"
DEMO_DOMAIN = "mail.demo.test"


class Command(BaseCommand):
    help = "Create the demo user and account if no user exists yet, and print how to log in."

    def handle(self, *args, **options):
        credentials = settings.DATA_DIR / "demo-login.txt"
        if not User.objects.exists():
            password = secrets.token_urlsafe(12)
            _user, account, _created = user_signup(
                email=DEMO_EMAIL,
                password=password,
                full_name="Demo Operator",
                account_name="Demo",
                kind=AccountKind.ENTERPRISE,
                actor=SYSTEM,
            )
            domain = domain_create(account=account, name=DEMO_DOMAIN, actor=SYSTEM)
            Domain.objects.filter(pk=domain.pk).update(
                status=DomainStatus.VERIFIED, verified_at=domain.created_at
            )
            domain.refresh_from_db()
            sender_address_create(
                account=account, domain=domain, local_part="noreply", send_type="trigger", actor=SYSTEM
            )
            credentials.write_text(f"{DEMO_EMAIL} {password}\n")
            credentials.chmod(0o600)
        if credentials.exists() and User.objects.filter(email=DEMO_EMAIL).exists():
            email, password = credentials.read_text().split()
            self.stdout.write(
                self.style.SUCCESS(f"Log in at http://127.0.0.1:8000/ as {email} with password {password}")
            )
            self.stdout.write(f"The demo account sends from noreply@{DEMO_DOMAIN}; mail lands in its Outbox.")
        else:
            self.stdout.write("Log in at http://127.0.0.1:8000/ with your own login (or sign up there).")
