"""`manage.py rebuild_counters [--account PUBLIC_ID]`: recompute the per-day counters from the events."""

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Account
from stats.counters import rebuild


class Command(BaseCommand):
    help = "Recompute the statistics counters from the message events (all accounts, or one)."

    def add_arguments(self, parser):
        parser.add_argument("--account", help="The account's id as the console shows it in URLs.")

    def handle(self, *args, **options):
        account_id = None
        if options["account"]:
            account = Account.objects.filter(public_id=options["account"]).first()
            if account is None:
                raise CommandError(f"no account {options['account']}")
            account_id = account.pk
        rows = rebuild(account_id)
        self.stdout.write(f"rebuilt {rows} counter rows")
