"""Settings -> Dedicated IPs: the account sees its own addresses with checks and warm-up, makes pools and
configuration sets, and is refused clearly (nothing changed) where DirectMail refuses."""

from django.utils import timezone

from accounts.audit import SYSTEM
from accounts.models import AuditEntry
from sending.models import ConfigSet, EgressAddress, IpPool, SenderAddress, WarmupDay, WarmupType
from sending.services import egress as service
from sending.services.senders import sender_address_create
from tests.base import AccountTestCase
from tests.sending.helpers import verified_domain


class DedicatedIpPages(AccountTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        domain = verified_domain(cls.account)
        cls.sender = sender_address_create(
            account=cls.account, domain=domain, local_part="news", send_type="batch", actor=SYSTEM
        )
        cls.first = EgressAddress.objects.create(
            address="127.0.0.2", helo="mta2.example.test", host="h1", account=cls.account,
            warmup=WarmupType.SYSTEM, fcrdns=True, listings=["bl.test"], checked_at=timezone.now(),
        )  # fmt: skip
        cls.second = EgressAddress.objects.create(
            address="127.0.0.3", helo="mta3.example.test", host="h1", account=cls.account
        )
        cls.theirs = EgressAddress.objects.create(
            address="127.0.0.9", helo="x.example.test", host="h1", account=cls.other_account
        )

    def test_the_page_shows_only_the_accounts_addresses_with_checks_and_warm_up(self):
        self.client.force_login(self.viewer)
        page = self.client.get(self.url("sending:dedicated_ips")).content.decode()
        assert "127.0.0.2" in page and "127.0.0.3" in page and "127.0.0.9" not in page
        assert "Listed on bl.test" in page and "day 1 of 30: 0 of 50" in page
        assert "New IP pool" not in page  # a viewer changes nothing

    def test_make_a_pool_and_a_configuration_set_bound_to_a_sender(self):
        self.client.force_login(self.operator)
        response = self.client.post(
            self.url("sending:dedicated_ips"),
            {"pool-name": "campaigns", "pool-addresses": [self.first.pk, self.second.pk]},
        )
        assert response.status_code == 302
        pool = IpPool.objects.get(account=self.account)
        assert set(pool.addresses.values_list("address", flat=True)) == {"127.0.0.2", "127.0.0.3"}
        response = self.client.post(
            self.url("sending:dedicated_ips"),
            {
                "set-name": "batch",
                "set-ip_pool": pool.pk,
                "set-backoff": "on",
                "set-senders": [self.sender.pk],
            },
        )
        assert response.status_code == 302
        config = ConfigSet.objects.get(account=self.account)
        assert (config.ip_pool, config.public_channel_backoff) == (pool, True)
        assert SenderAddress.objects.get(pk=self.sender.pk).config_set == config
        assert AuditEntry.objects.filter(action="config_set.bind", actor_user=self.operator).exists()

    def test_bad_input_is_a_form_error_and_changes_nothing(self):
        service.pool_create(account=self.account, name="taken", addresses=[], actor=SYSTEM)
        self.client.force_login(self.operator)
        for data in (
            {"pool-name": "taken"},
            {"pool-name": "has space"},
            {"pool-name": "x", "pool-addresses": [self.theirs.pk]},  # another account's address
        ):
            response = self.client.post(self.url("sending:dedicated_ips"), data)
            assert response.status_code == 400, data
        assert list(IpPool.objects.values_list("name", flat=True)) == ["taken"]
        assert EgressAddress.objects.get(pk=self.theirs.pk).pool is None

    def test_a_pool_in_use_is_not_deleted(self):
        pool = service.pool_create(account=self.account, name="used", addresses=[self.first, self.second],
                                   actor=SYSTEM)  # fmt: skip
        service.config_set_create(account=self.account, name="s", pool=pool, actor=SYSTEM)
        service.config_set_create(account=self.account, name="t", pool=pool, actor=SYSTEM)
        self.client.force_login(self.admin)
        page = self.client.get(self.url("sending:dedicated_ips")).content.decode()
        row = page.split('id="ip-pools-table"')[1].split("</tr>")[1]
        assert '<td class="text-end">2</td>' in row  # two addresses, counted once each
        assert "sending:ip_pool_delete" not in row and "/delete/" not in row  # used: no delete button
        response = self.client.post(self.url("sending:ip_pool_delete", pool.api_id), follow=True)
        assert "is used by the configuration sets s, t" in response.content.decode()
        assert IpPool.objects.filter(pk=pool.pk).exists()

    def test_an_other_accounts_pool_is_not_found(self):
        theirs = service.pool_create(account=self.other_account, name="theirs", addresses=[], actor=SYSTEM)
        self.client.force_login(self.owner)
        assert self.client.get(self.url("sending:ip_pool_edit", theirs.api_id)).status_code == 404
        assert self.client.get(self.url("sending:dedicated_ip", self.theirs.resource_id)).status_code == 404

    def test_the_address_page_shows_the_curve_and_changes_the_warm_up(self):
        WarmupDay.objects.create(
            address=self.first, esp="gmail.com", day="2026-11-30", step=0, cap=50, sent=40, delivered=39
        )
        self.client.force_login(self.owner)
        page = self.client.get(self.url("sending:dedicated_ip", self.first.resource_id)).content.decode()
        assert "2026-11-30" in page and "300,000" in page and "100,000" in page
        response = self.client.post(
            self.url("sending:dedicated_ip_warmup", self.first.resource_id), {"warmup": WarmupType.CUSTOMER}
        )
        assert response.status_code == 302
        assert EgressAddress.objects.get(pk=self.first.pk).warmup == WarmupType.CUSTOMER
