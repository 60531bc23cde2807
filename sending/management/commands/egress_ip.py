"""manage.py egress_ip add ADDRESS --helo NAME [--host HOST] [--account ACCOUNT_ID] [--warmup system|customer]
| list | check [ADDRESS] | remove ADDRESS: the addresses this platform's mail leaves from (sending.egress).

A dedicated address starts system-managed (warm-up caps, sending.warmup) unless --warmup customer; a shared
one starts customer-managed (no caps: the platform's shared addresses are expected to be warm already)."""

import ipaddress
import re

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Account
from sending import egress
from sending.models import EgressAddress, WarmupType

_HOSTNAME_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"


class Command(BaseCommand):
    help = "Register, list, check or remove the sending IP addresses of the platform's hosts."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="Register an address of a host.")
        add.add_argument("address")
        add.add_argument("--helo", required=True, help="The name it greets with (its PTR should say it).")
        add.add_argument("--host", default="", help="The host it lives on (EGRESS_HOST; default this one).")
        add.add_argument(
            "--account", default="", help="Dedicate it to this account (the id create_account printed)."
        )
        add.add_argument(
            "--warmup", choices=["system", "customer"], default="",
            help="Warm-up caps by the system, or none (default: system when dedicated, else customer).",
        )  # fmt: skip
        sub.add_parser("list", help="Every address with its last check.")
        check = sub.add_parser("check", help="Check reverse DNS, SPF and blocklists now.")
        check.add_argument("address", nargs="?")
        remove = sub.add_parser("remove", help="Stop sending from an address.")
        remove.add_argument("address")

    def handle(self, *args, **options) -> None:
        getattr(self, f"_{options['action']}")(options)

    def _address(self, value: str) -> str:
        try:
            return str(ipaddress.ip_address(value.strip()))
        except ValueError as exc:
            raise CommandError(f"{value} is not an IPv4 or IPv6 address") from exc

    def _add(self, options) -> None:
        address = self._address(options["address"])
        helo = options["helo"].strip().lower().rstrip(".")
        if not re.fullmatch(rf"{_HOSTNAME_LABEL}(\.{_HOSTNAME_LABEL})+", helo):
            raise CommandError(f"--helo {options['helo']} is not a fully qualified host name")
        account = None
        if options["account"]:
            account = Account.objects.filter(public_id=options["account"]).first()
            if account is None:
                raise CommandError(f"there is no account {options['account']}")
        if EgressAddress.objects.filter(address=address).exists():
            raise CommandError(f"{address} is registered already (remove it first to change it)")
        host = options["host"] or settings.EGRESS_HOST
        if host == settings.EGRESS_HOST and (error := egress.bindable(address)):
            raise CommandError(
                f"{address} is not an address of this host ({host}): {error}. Configure it on an interface "
                "first, or give --host the host it lives on"
            )
        managed = options["warmup"] or ("system" if account else "customer")
        entry = EgressAddress.objects.create(
            address=address, helo=helo, host=host, account=account,
            warmup=WarmupType.SYSTEM if managed == "system" else WarmupType.CUSTOMER,
        )  # fmt: skip
        self.stdout.write(f"added {entry.address} ({entry.helo}) on {entry.host}"
                          + (f", dedicated to {account.public_id}" if account else ", shared")
            + f", warm-up {managed}-managed, id {entry.resource_id}")  # fmt: skip
        self._report(entry, egress.check(entry))

    def _list(self, options) -> None:
        entries = EgressAddress.objects.select_related("account", "pool")
        if not entries:
            self.stdout.write("no egress address registered: every host sends from what the system picks")
        for e in entries:
            owner = e.account.public_id if e.account else "shared"
            checked = e.checked_at.strftime("%Y-%m-%d %H:%M") if e.checked_at else "never"
            state = f"BIND ERROR {e.bind_error}" if e.bind_error else "ok"
            self.stdout.write(
                f"{e.address:<40} {e.helo:<30} {e.host:<20} {owner:<16} checked {checked} "
                f"fcrdns={'yes' if e.fcrdns else 'no'} spf={'yes' if e.spf_covered else 'no'} "
                f"listed={','.join(e.listings) or '-'} pool={e.pool.name if e.pool else '-'} "
                f"warmup={'system' if e.warmup == WarmupType.SYSTEM else 'customer'} "
                f"id={e.resource_id} {state}"
            )

    def _check(self, options) -> None:
        entries = EgressAddress.objects.all()
        if options["address"]:
            entries = entries.filter(address=self._address(options["address"]))
            if not entries:
                raise CommandError(f"{options['address']} is not registered")
        for entry in entries:
            EgressAddress.objects.filter(pk=entry.pk).update(bind_error="")  # checked again, tried again
            self._report(entry, egress.check(entry))

    def _report(self, entry: EgressAddress, result: egress.Check) -> None:
        self.stdout.write(
            f"{entry.address}: PTR {result.ptr or 'none'} "
            f"({'forward-confirmed' if result.fcrdns else 'NOT forward-confirmed'}), "
            f"{'covered' if result.spf_covered else 'NOT covered'} by {settings.SPF_INCLUDE}, "
            + (f"LISTED on {', '.join(result.listings)}" if result.listings else "on no blocklist")
        )

    def _remove(self, options) -> None:
        address = self._address(options["address"])
        deleted, _by_model = EgressAddress.objects.filter(address=address).delete()
        if not deleted:
            raise CommandError(f"{address} is not registered")
        self.stdout.write(f"removed {address}")
