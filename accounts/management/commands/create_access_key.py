"""Create an API access key for an account, for automation; prints the AccessKey ID and the secret."""

from django.core.management.base import BaseCommand, CommandError

from accounts.access import access_key_create
from accounts.audit import Actor
from accounts.errors import ServiceError
from accounts.models import Account


class Command(BaseCommand):
    help = "Create an access key for the account and print its AccessKey ID and secret (shown this once)."

    def add_arguments(self, parser):
        parser.add_argument("--account", required=True, help="The account id (as create_account prints it).")
        parser.add_argument("--description", default="", help="Where the key is used.")

    def handle(self, *args, **options):
        account = Account.objects.filter(public_id=options["account"]).first()
        if account is None:
            raise CommandError(f"no account with id {options['account']!r}")
        try:
            key, secret = access_key_create(
                account=account,
                description=options["description"],
                actor=Actor(name="manage.py create_access_key"),
            )
        except ServiceError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"AccessKeyId: {key.key_id}")
        self.stdout.write(f"AccessKeySecret: {secret}")
