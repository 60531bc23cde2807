"""Operator commands: create_account for automation, ensure_demo for `make run`."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import TestCase, override_settings

from accounts.models import AccessKey, Account, AuditEntry, Membership, User
from accounts.roles import Role


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue().strip(), err.getvalue().strip()


class CreateAccountTests(TestCase):
    def test_creates_user_account_and_owner_and_prints_the_id(self):
        out, _ = run(
            "create_account",
            "--email",
            "ops@example.com",
            "--password",
            "s3cret-Pass!",
            "--name",
            "Ops",
            "--kind",
            "enterprise",
        )
        account = Account.objects.get()
        self.assertEqual(out, account.public_id)
        self.assertEqual(account.kind, "enterprise")
        user = User.objects.get(email="ops@example.com")
        self.assertTrue(user.check_password("s3cret-Pass!"))
        self.assertEqual(Membership.objects.get(account=account).role, Role.OWNER)
        self.assertTrue(AuditEntry.objects.filter(action="account.create", actor_label="system").exists())
        # The printed id works in the console.
        self.client.force_login(user)
        self.assertEqual(self.client.get(f"/a/{out}/").status_code, 200)

    def test_reuses_an_existing_user_and_keeps_the_password(self):
        run("create_account", "--email", "ops@example.com", "--password", "first-Pass!1", "--name", "One")
        out, err = run("create_account", "--email", "OPS@example.com", "--password", "other", "--name", "Two")
        self.assertEqual(User.objects.count(), 1)
        self.assertEqual(Account.objects.count(), 2)
        self.assertIn("password unchanged", err)
        self.assertTrue(User.objects.get().check_password("first-Pass!1"))
        self.assertEqual(Account.objects.get(public_id=out).name, "Two")

    def test_bad_input_is_an_error_and_creates_nothing(self):
        with pytest.raises(CommandError, match="--email"):
            run("create_account", "--email", "nope", "--password", "x", "--name", "N")
        with pytest.raises(CommandError):
            run(
                "create_account",
                "--email",
                "a@example.com",
                "--password",
                "x",
                "--name",
                "N",
                "--kind",
                "galactic",
            )
        self.assertFalse(User.objects.exists())
        self.assertFalse(Account.objects.exists())


class EnsureDemoTests(TestCase):
    def test_creates_the_demo_login_once_and_prints_it_every_time(self):
        import tempfile
        from pathlib import Path

        with tempfile.TemporaryDirectory() as data_dir, override_settings(DATA_DIR=Path(data_dir)):
            first, _ = run("ensure_demo")
            second, _ = run("ensure_demo")
            self.assertEqual(first, second)
            password = first.splitlines()[0].split()[-1]
            self.assertTrue(self.client.login(username="demo@example.com", password=password))
            self.assertEqual(User.objects.count(), 1)
            account = Account.objects.get()
            self.assertEqual(account.name, "Demo")
            # The sandbox's sender, so a new install can send to its Outbox at once, and an API key.
            sender = account.sender_addresses.get()
            self.assertTrue(sender.domain.sandbox and sender.domain.can_send)
            self.assertIn(f"sends from its sandbox, {sender.address}", first)
            key_id = first.split("AccessKeyId ", 1)[1].split(",")[0]
            self.assertTrue(account.access_keys.filter(key_id=key_id).exists())

    def test_an_install_with_users_gets_no_demo(self):
        User.objects.create_user("someone@example.com", "pw")
        out, _ = run("ensure_demo")
        self.assertIn("your own login", out)
        self.assertFalse(User.objects.filter(email="demo@example.com").exists())


class CreateAccessKeyTests(TestCase):
    def test_prints_a_working_key_once_and_refuses_unknown_accounts(self):
        account_id, _ = run(
            "create_account", "--email", "ops@example.com", "--password", "x-Pass-123!", "--name", "Ops"
        )
        out, _ = run("create_access_key", "--account", account_id, "--description", "ci")
        key_id = out.splitlines()[0].removeprefix("AccessKeyId: ")
        secret = out.splitlines()[1].removeprefix("AccessKeySecret: ")
        key = AccessKey.objects.get(key_id=key_id)
        self.assertEqual((key.secret(), key.description, key.account.public_id), (secret, "ci", account_id))
        self.assertTrue(
            AuditEntry.objects.filter(
                action="access_key.create", actor_label="manage.py create_access_key"
            ).exists()
        )
        with pytest.raises(CommandError, match="no account"):
            run("create_access_key", "--account", "nope")
