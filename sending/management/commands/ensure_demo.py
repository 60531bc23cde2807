"""`make run`: on first start, a demo login, an account and an API key; the login and key every time.

The demo account sends from its sandbox (sending.services.sandbox): `test@sandbox-….directmail.test`
needs no DNS and its mail lands in the account's Outbox, so a new install can send at once from the
console, the SDK (with the printed key) or SMTP.
"""

import secrets

from django.conf import settings
from django.core.management.base import BaseCommand

from accounts.access import access_key_create
from accounts.audit import SYSTEM
from accounts.models import AccountKind, User
from accounts.services import user_signup
from sending.services.sandbox import sandbox_sender

DEMO_EMAIL = "demo@example.com"


class Command(BaseCommand):
    help = "Create the demo user and account if no user exists yet, and print how to log in."

    def add_arguments(self, parser):
        parser.add_argument("--addrport", default="127.0.0.1:8000", help="Where the web process listens.")

    def handle(self, *args, **options):
        url = f"http://{options['addrport']}/"
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
            key, secret = access_key_create(account=account, description="demo", actor=SYSTEM)
            credentials.write_text(f"{DEMO_EMAIL} {password} {key.key_id} {secret}\n")
            credentials.chmod(0o600)
        user = User.objects.filter(email=DEMO_EMAIL).first()
        if credentials.exists() and user is not None:
            email, password, *key = credentials.read_text().split()
            self.stdout.write(self.style.SUCCESS(f"Log in at {url} as {email} with password {password}"))
            account = user.memberships.select_related("account").first()
            if account is not None:
                sender = sandbox_sender(account.account)
                self.stdout.write(
                    f"The demo account sends from its sandbox, {sender.address}: mail lands in its Outbox."
                )
                if len(key) == 2:
                    self.stdout.write(f"Its API key: AccessKeyId {key[0]}, AccessKeySecret {key[1]}")
        else:
            self.stdout.write(f"Log in at {url} with your own login (or sign up there).")
