"""Named people for the tests: one account with a member of every role, and an outsider with an account of
their own. Built once per test class (setUpTestData)."""

from django.test import TestCase
from django.urls import reverse

from accounts.audit import SYSTEM
from accounts.models import Account, Membership, User
from accounts.roles import Role
from accounts.services import user_signup

PASSWORD = "correct horse battery staple"


def make_user(email: str, full_name: str = "") -> User:
    return User.objects.create_user(email=email, password=PASSWORD, full_name=full_name)


class People:
    """owner, admin, operator, reviewer, viewer of `account`; `outsider` owns `other_account` only."""

    @classmethod
    def create_people(cls) -> None:
        cls.owner, cls.account, _ = user_signup(
            email="owner@example.com",
            password=PASSWORD,
            full_name="Olivia Owner",
            account_name="Acme",
            actor=SYSTEM,
        )
        for role in (Role.ADMIN, Role.OPERATOR, Role.REVIEWER, Role.VIEWER):
            user = make_user(f"{role}@example.com", full_name=f"{role.label} Person")
            Membership.objects.create(account=cls.account, user=user, role=role)
            setattr(cls, role.value, user)
        cls.outsider, cls.other_account, _ = user_signup(
            email="outsider@example.org", password=PASSWORD, account_name="Other Co", actor=SYSTEM
        )

    def membership(self, user: User, account: Account | None = None) -> Membership:
        return Membership.objects.get(user=user, account=account or self.account)


class AccountTestCase(People, TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.create_people()

    def url(self, name: str, *args) -> str:
        return reverse(name, args=[self.account.public_id, *args])
