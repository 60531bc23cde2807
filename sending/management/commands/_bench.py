"""What the benchmarks share (Django lists no command here: the module name starts with _)."""

import socket
import threading
import time

from django.core.management.base import CommandError

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise CommandError(f"{what} did not start")


def run_clients(count: int, client) -> float:
    """Run `client(number)` in `count` threads at once; the seconds until the last one is done."""
    threads = [threading.Thread(target=client, args=(number,)) for number in range(count)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started
