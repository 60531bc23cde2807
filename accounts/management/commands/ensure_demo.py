"""`make run`: create a demo login and account on first start, and print the login every time."""

import secrets

from django.conf import settings
from django.core.management.base import BaseCommand

from accounts.audit import SYSTEM
from accounts.models import AccountKind, User
from accounts.services import user_signup

DEMO_EMAIL = "demo@example.com"


class Command(BaseCommand):
    help = "Create the demo user and account if no user exists yet, and print how to log in."

    def handle(self, *args, **options):
        credentials = settings.DATA_DIR / "demo-login.txt"
        if not User.objects.exists():
            password = secrets.token_urlsafe(12)
            user_signup(
                email=DEMO_EMAIL,
                password=password,
                full_name="Demo Operator",
                account_name="Demo",
                kind=AccountKind.ENTERPRISE,
                actor=SYSTEM,
            )
            credentials.write_text(f"{DEMO_EMAIL} {password}\n")
            credentials.chmod(0o600)
        if credentials.exists() and User.objects.filter(email=DEMO_EMAIL).exists():
            email, password = credentials.read_text().split()
            self.stdout.write(
                self.style.SUCCESS(f"Log in at http://127.0.0.1:8000/ as {email} with password {password}")
            )
        else:
            self.stdout.write("Log in at http://127.0.0.1:8000/ with your own login (or sign up there).")
