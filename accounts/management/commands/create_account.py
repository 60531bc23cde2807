"""Create a user (or reuse one), an account and its owner membership, for automation; prints the id."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email

from accounts.audit import SYSTEM
from accounts.models import AccountKind
from accounts.services import user_signup


class Command(BaseCommand):
    help = "Create an account with an owner; reuses the user when the email is already registered."

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True)
        parser.add_argument("--password", required=True, help="Ignored when the user already exists.")
        parser.add_argument("--name", required=True, help="The account's name.")
        parser.add_argument("--kind", choices=AccountKind.values, default=AccountKind.PERSONAL)
        parser.add_argument("--full-name", default="")

    def handle(self, *args, **options):
        try:
            validate_email(options["email"])
        except ValidationError as exc:
            raise CommandError(f"--email: {exc.messages[0]}") from exc
        if not options["name"].strip():
            raise CommandError("--name must not be empty.")
        user, account, created = user_signup(
            email=options["email"],
            password=options["password"],
            full_name=options["full_name"],
            account_name=options["name"],
            kind=options["kind"],
            actor=SYSTEM,
            reuse_existing_user=True,
        )
        if not created:
            self.stderr.write(
                f"{user.email} already exists: made owner of the new account, password unchanged."
            )
        self.stdout.write(account.public_id)
