"""Members: invitations, accepting them, roles, removal, and who may do which."""

from datetime import timedelta

from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEntry, Invitation, Membership, User
from accounts.roles import Role
from tests.base import PASSWORD, AccountTestCase, make_user


def invitation_path(message) -> str:
    """The path of the accept link in an invitation email."""
    line = next(line for line in message.body.splitlines() if "/invitations/" in line)
    return line[line.index("/invitations/") :].strip()


class InviteTests(AccountTestCase):
    def invite(self, as_user, email="new@example.com", role=Role.OPERATOR):
        self.client.force_login(as_user)
        with self.captureOnCommitCallbacks(execute=True):
            return self.client.post(self.url("accounts:member_invite"), {"email": email, "role": role})

    def test_owner_invites_and_the_link_is_mailed(self):
        response = self.invite(self.owner, email="New@Example.com")
        self.assertRedirects(response, self.url("accounts:members"))
        invitation = Invitation.objects.get()
        self.assertEqual(invitation.email, "new@example.com")
        self.assertEqual(len(mail.outbox), 1)
        self.assertEqual(mail.outbox[0].to, ["new@example.com"])
        self.assertIn("Acme", mail.outbox[0].subject)
        # The mailed link names this invitation (its token is signed with a timestamp, so compare by meaning).
        token = invitation_path(mail.outbox[0]).removeprefix("/invitations/").strip("/")
        self.assertEqual(Invitation.from_token(token), invitation)
        self.assertTrue(AuditEntry.objects.filter(action="member.invite", account=self.account).exists())
        self.assertContains(self.client.get(self.url("accounts:members")), "new@example.com")

    def test_admin_may_not_invite_an_owner(self):
        self.invite(self.admin, role=Role.OWNER)
        self.assertFalse(Invitation.objects.exists())
        self.invite(self.admin, role=Role.ADMIN)
        self.assertTrue(Invitation.objects.exists())

    def test_roles_without_member_management_get_403(self):
        for person in (self.operator, self.reviewer, self.viewer):
            with self.subTest(person=person.email):
                self.assertEqual(self.invite(person).status_code, 403)
        self.assertFalse(Invitation.objects.exists())
        self.assertEqual(len(mail.outbox), 0)

    def test_viewer_sees_members_without_management_controls(self):
        self.client.force_login(self.viewer)
        page = self.client.get(self.url("accounts:members"))
        self.assertContains(page, "owner@example.com")
        self.assertNotContains(page, 'id="invite-form"')
        self.assertNotContains(page, "Revoke")

    def test_inviting_a_member_again_is_refused(self):
        response = self.invite(self.owner, email="viewer@example.com")
        self.assertFalse(Invitation.objects.exists())
        self.assertContains(self.client.get(response.url), "already a member")

    def test_reinviting_replaces_the_pending_invitation(self):
        self.invite(self.owner)
        first = Invitation.objects.get()
        self.invite(self.owner, role=Role.VIEWER)
        first.refresh_from_db()
        self.assertEqual(first.status, "revoked")
        self.assertEqual(Invitation.objects.pending().get().role, Role.VIEWER)

    def test_bad_email_changes_nothing(self):
        response = self.invite(self.owner, email="not an email")
        self.assertFalse(Invitation.objects.exists())
        self.assertContains(self.client.get(response.url), "valid email")

    def test_revoke(self):
        self.invite(self.owner)
        invitation = Invitation.objects.get()
        self.client.post(self.url("accounts:invitation_revoke", invitation.public_id))
        invitation.refresh_from_db()
        self.assertEqual(invitation.status, "revoked")
        self.client.logout()
        self.assertEqual(
            self.client.get(reverse("invitation_accept", args=[invitation.token])).status_code, 410
        )


class AcceptTests(AccountTestCase):
    def setUp(self):
        self.client.force_login(self.owner)
        with self.captureOnCommitCallbacks(execute=True):
            self.client.post(
                self.url("accounts:member_invite"), {"email": "new@example.com", "role": Role.REVIEWER}
            )
        self.client.logout()
        self.path = invitation_path(mail.outbox[0])

    def test_new_person_creates_a_login_and_joins(self):
        page = self.client.get(self.path)
        self.assertContains(page, "new@example.com")
        response = self.client.post(
            self.path, {"full_name": "Nia New", "password1": PASSWORD, "password2": PASSWORD}
        )
        self.assertRedirects(response, self.url("accounts:overview"))
        user = User.objects.get(email="new@example.com")
        self.assertEqual(self.membership(user).role, Role.REVIEWER)
        # No account of their own was made.
        self.assertEqual(user.memberships.count(), 1)
        self.assertEqual(Invitation.objects.get().status, "accepted")
        # The link is spent.
        self.client.logout()
        self.assertEqual(self.client.get(self.path).status_code, 410)

    def test_existing_user_logs_in_then_accepts(self):
        existing = make_user("new@example.com")
        page = self.client.get(self.path)
        self.assertContains(page, "Log in to accept")
        self.client.force_login(existing)
        self.assertRedirects(self.client.post(self.path), self.url("accounts:overview"))
        self.assertEqual(self.membership(existing).role, Role.REVIEWER)

    def test_someone_else_logged_in_cannot_accept(self):
        self.client.force_login(self.outsider)
        response = self.client.post(self.path, follow=True)
        self.assertContains(response, "This invitation is for new@example.com")
        self.assertFalse(Membership.objects.filter(user=self.outsider, account=self.account).exists())

    def test_expired_and_tampered_links_are_refused(self):
        Invitation.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
        self.assertEqual(self.client.get(self.path).status_code, 410)
        self.assertEqual(self.client.get(self.path[:-3] + "abc/").status_code, 410)
        self.assertFalse(User.objects.filter(email="new@example.com").exists())


class RoleAndRemovalTests(AccountTestCase):
    def change_role(self, as_user, target, role):
        self.client.force_login(as_user)
        return self.client.post(
            self.url("accounts:member_role", self.membership(target).public_id), {"role": role}, follow=True
        )

    def test_owner_changes_a_role(self):
        self.change_role(self.owner, self.viewer, Role.OPERATOR)
        self.assertEqual(self.membership(self.viewer).role, Role.OPERATOR)
        entry = AuditEntry.objects.get(action="member.role_change")
        self.assertEqual(entry.details, {"role": ["viewer", "operator"]})
        self.assertEqual(entry.actor_user, self.owner)

    def test_admin_cannot_touch_an_owner_or_make_one(self):
        response = self.change_role(self.admin, self.owner, Role.VIEWER)
        self.assertContains(response, "Only an owner")
        self.change_role(self.admin, self.viewer, Role.OWNER)
        self.assertEqual(self.membership(self.owner).role, Role.OWNER)
        self.assertEqual(self.membership(self.viewer).role, Role.VIEWER)

    def test_last_owner_cannot_be_demoted_or_removed(self):
        response = self.change_role(self.owner, self.owner, Role.ADMIN)
        self.assertContains(response, "at least one owner")
        response = self.client.post(
            self.url("accounts:member_remove", self.membership(self.owner).public_id), follow=True
        )
        self.assertContains(response, "at least one owner")
        self.assertEqual(self.membership(self.owner).role, Role.OWNER)

    def test_with_a_second_owner_the_first_may_step_down(self):
        self.change_role(self.owner, self.admin, Role.OWNER)
        self.change_role(self.admin, self.owner, Role.VIEWER)
        self.assertEqual(self.membership(self.owner).role, Role.VIEWER)

    def test_remove_asks_for_confirmation_then_removes(self):
        self.client.force_login(self.admin)
        url = self.url("accounts:member_remove", self.membership(self.operator).public_id)
        page = self.client.get(url)
        self.assertContains(page, "Remove operator@example.com?")
        self.assertTrue(Membership.objects.filter(user=self.operator, account=self.account).exists())
        self.assertRedirects(self.client.post(url), self.url("accounts:members"))
        self.assertFalse(Membership.objects.filter(user=self.operator, account=self.account).exists())
        self.assertTrue(AuditEntry.objects.filter(action="member.remove").exists())
        # The removed person now gets a 404 for the account.
        self.client.force_login(self.operator)
        self.assertEqual(self.client.get(self.url("accounts:overview")).status_code, 404)

    def test_non_managers_cannot_remove_others_but_may_leave(self):
        self.client.force_login(self.operator)
        url = self.url("accounts:member_remove", self.membership(self.viewer).public_id)
        self.assertEqual(self.client.post(url).status_code, 403)
        own = self.url("accounts:member_remove", self.membership(self.operator).public_id)
        self.assertRedirects(self.client.post(own), reverse("home"), fetch_redirect_response=False)
        self.assertFalse(Membership.objects.filter(user=self.operator, account=self.account).exists())
        self.assertTrue(AuditEntry.objects.filter(action="member.leave").exists())

    def test_operator_cannot_change_roles(self):
        self.client.force_login(self.operator)
        url = self.url("accounts:member_role", self.membership(self.viewer).public_id)
        self.assertEqual(self.client.post(url, {"role": Role.ADMIN}).status_code, 403)
        self.assertEqual(self.membership(self.viewer).role, Role.VIEWER)
