"""The review workflow of templates: who may do what at each state, the four-eyes setting, the approved
version staying in use while a new draft is edited, mails to reviewers and authors, the audit log; and the
console pages that drive it."""

from django.core import mail
from django.test import override_settings

from accounts.access import access_key_create
from accounts.audit import SYSTEM, Actor
from accounts.errors import LimitReached, ServiceError
from accounts.models import AuditEntry
from sending.models import Message
from sending.services.senders import sender_address_create
from templates_app import services
from templates_app.models import Template, VersionStatus
from tests.base import AccountTestCase
from tests.sending.helpers import verified_domain


class WorkflowTests(AccountTestCase):
    def setUp(self):
        super().setUp()
        self.author = Actor(user=self.operator)
        self.reviewer_actor = Actor(user=self.reviewer)
        self.template = services.template_create(
            account=self.account,
            name="welcome",
            subject="Welcome {UserName}",
            html_body="<p>Hello {UserName}</p><script>x()</script>",
            actor=self.author,
        )

    def latest(self):
        return self.template.latest_version()

    def test_a_version_goes_from_draft_to_approved_and_stays_in_use_while_the_next_is_edited(self):
        v1 = self.latest()
        self.assertEqual((v1.number, v1.status), (1, VersionStatus.DRAFT))
        self.assertEqual(v1.html_body, "<p>Hello {UserName}</p>")
        self.assertEqual(v1.removed, ["<script> (1)"])
        services.template_edit(
            template=self.template, subject="Welcome {UserName}", html_body="<p>Hi</p>", actor=self.author
        )
        self.assertEqual(self.template.versions.count(), 1)  # a draft is edited in place

        with self.captureOnCommitCallbacks(execute=True):
            services.version_submit(version=self.latest(), actor=self.author)
        self.assertEqual(self.latest().status, VersionStatus.SUBMITTED)
        self.assertEqual(mail.outbox[-1].subject, "Template welcome v1 waits for your review")
        self.assertNotIn(self.operator.email, mail.outbox[-1].to)
        with self.assertRaisesMessage(ServiceError, "waiting for review"):
            services.template_edit(
                template=self.template, subject="x", html_body="<p>x</p>", actor=self.author
            )

        with self.captureOnCommitCallbacks(execute=True):
            services.version_approve(version=self.latest(), actor=self.reviewer_actor)
        self.template.refresh_from_db()
        self.assertEqual(self.template.approved_version.number, 1)
        self.assertEqual(mail.outbox[-1].to, [self.operator.email])
        self.assertIn("was approved", mail.outbox[-1].subject)

        v2 = services.template_edit(
            template=self.template, subject="New", html_body="<p>New</p>", actor=self.author
        )
        self.assertEqual((v2.number, v2.status), (2, VersionStatus.DRAFT))
        self.template.refresh_from_db()
        self.assertEqual(self.template.approved_version.subject, "Welcome {UserName}")

        services.version_submit(version=v2, actor=self.author)
        with self.assertRaisesMessage(ServiceError, "Say why"):
            services.version_reject(version=v2, comment=" ", actor=self.reviewer_actor)
        services.version_reject(version=v2, comment="Too short", actor=self.reviewer_actor)
        self.assertEqual(self.latest().status, VersionStatus.REJECTED)
        v3 = services.template_edit(
            template=self.template, subject="New", html_body="<p>Longer</p>", actor=self.author
        )
        self.assertEqual(v3.number, 3)
        self.template.refresh_from_db()
        self.assertEqual(self.template.approved_version.number, 1)
        actions = list(
            AuditEntry.objects.filter(target_id=self.template.public_id).values_list(
                "action", "details__version"
            )
        )
        self.assertIn(("template.approve", 1), actions)
        self.assertIn(("template.reject", 2), actions)

    def test_approving_a_newer_version_replaces_the_one_in_use(self):
        services.version_submit(version=self.latest(), actor=self.author)
        services.version_approve(version=self.latest(), actor=self.reviewer_actor)
        v2 = services.template_edit(
            template=self.template, subject="Two", html_body="<p>2</p>", actor=self.author
        )
        services.version_submit(version=v2, actor=self.author)
        services.version_approve(version=v2, actor=self.reviewer_actor)
        self.template.refresh_from_db()
        self.assertEqual(self.template.approved_version.number, 2)
        self.assertEqual(self.template.versions.get(number=1).status, VersionStatus.SUPERSEDED)

    def test_four_eyes_holds_for_whoever_changed_the_version_whatever_the_door(self):
        """An owner who rewrote a draft another submits, or whose API key wrote it, may not approve it."""
        self.account.templates_need_second_person = True
        self.account.save()
        services.template_edit(
            template=self.template, subject="Welcome {UserName}", html_body="<p>Owner's words</p>",
            actor=Actor(user=self.owner),
        )  # fmt: skip
        services.version_submit(version=self.latest(), actor=self.author)
        with self.assertRaisesMessage(ServiceError, "someone other than the author"):
            services.version_approve(version=self.latest(), actor=Actor(user=self.owner))
        services.version_approve(version=self.latest(), actor=self.reviewer_actor)

        key, _secret = access_key_create(account=self.account, actor=Actor(user=self.owner))
        by_api = services.template_create(
            account=self.account, name="from-api", subject="S", html_body="<p>x</p>",
            actor=Actor(key_id=key.key_id, ip="127.0.0.1"),
        )  # fmt: skip
        version = by_api.latest_version()
        self.assertEqual(version.author, None)
        services.version_submit(version=version, actor=Actor(key_id=key.key_id))
        with self.assertRaisesMessage(ServiceError, "someone other than the author"):
            services.version_approve(version=version, actor=Actor(user=self.owner))
        services.version_approve(version=version, actor=self.reviewer_actor)
        self.assertEqual(Template.objects.get(pk=by_api.pk).approved_version, version)

    def test_only_reviewers_review_and_the_four_eyes_setting(self):
        services.version_submit(version=self.latest(), actor=Actor(user=self.admin))
        with self.assertRaisesMessage(ServiceError, "Only reviewers"):
            services.version_approve(version=self.latest(), actor=self.author)
        self.account.templates_need_second_person = True
        self.account.save()
        self.template.refresh_from_db()
        with self.assertRaisesMessage(ServiceError, "someone other than the author"):
            services.version_approve(version=self.latest(), actor=Actor(user=self.admin))
        services.version_approve(version=self.latest(), actor=self.reviewer_actor)

    def test_nothing_to_submit_and_steps_out_of_order_are_refused(self):
        empty = services.template_create(account=self.account, name="empty", actor=self.author)
        with self.assertRaisesMessage(ServiceError, "needs a subject and a body"):
            services.version_submit(version=empty.latest_version(), actor=self.author)
        with self.assertRaisesMessage(ServiceError, "cannot be done now"):
            services.version_approve(version=self.latest(), actor=self.reviewer_actor)

    def test_names_are_unique_and_the_limit_holds(self):
        with self.assertRaisesMessage(ServiceError, "already a template named welcome"):
            services.template_create(account=self.account, name="welcome", actor=self.author)
        with self.assertRaises(ServiceError):
            services.template_create(account=self.account, name="x" * 31, actor=self.author)
        for n in range(9):
            services.template_create(account=self.account, name=f"t{n}", actor=self.author)
        with self.assertRaises(LimitReached):
            services.template_create(account=self.account, name="eleventh", actor=self.author)


class ConsoleTests(AccountTestCase):
    def setUp(self):
        super().setUp()
        self.template = services.template_create(
            account=self.account,
            name="welcome",
            subject="Hi",
            html_body="<p>Hello <b>{UserName}</b></p>",
            actor=Actor(user=self.operator),
        )

    def detail(self):
        return self.url("templates_app:template_detail", self.template.public_id)

    def step(self, name, **data):
        return self.client.post(
            self.url("templates_app:version_step", self.template.public_id, 1, name), data
        )

    def test_an_operator_writes_and_submits_a_reviewer_approves_from_the_queue(self):
        self.client.force_login(self.operator)
        self.assertContains(self.client.get(self.url("templates_app:templates")), "welcome")
        response = self.client.post(
            self.detail(), {"subject": "Hi {UserName}", "html_body": "<p onclick=x>Hey</p>"}
        )
        self.assertRedirects(response, self.detail())
        self.assertContains(self.client.get(self.detail()), "onclick on &lt;p&gt; (1)")
        self.step("submit")
        self.assertEqual(self.step("approve").status_code, 403)  # an operator does not review

        self.client.force_login(self.reviewer)
        queue = self.client.get(self.url("templates_app:review_queue"))
        self.assertContains(queue, "welcome")
        self.client.post(
            self.url("templates_app:version_step", self.template.public_id, 1, "approve"), {"next": "queue"}
        )
        self.template.refresh_from_db()
        self.assertEqual(self.template.approved_version.number, 1)
        self.assertContains(self.client.get(self.url("templates_app:review_queue")), "Nothing waits")

    def test_a_viewer_reads_but_does_not_write(self):
        self.client.force_login(self.viewer)
        self.assertEqual(self.client.get(self.detail()).status_code, 200)
        self.assertEqual(self.client.post(self.detail(), {"subject": "x"}).status_code, 403)
        self.assertEqual(self.client.get(self.url("templates_app:template_create")).status_code, 403)

    def test_the_preview_is_sandboxed_and_escapes_sample_data(self):
        self.client.force_login(self.viewer)
        url = self.url("templates_app:version_preview", self.template.public_id, 1)
        response = self.client.get(url, {"data": '{"UserName": "<img src=x onerror=alert(1)>"}'})
        self.assertIn("sandbox", response["Content-Security-Policy"])
        self.assertIn("default-src 'none'", response["Content-Security-Policy"])
        self.assertContains(response, "Hello <b>&lt;img src=x onerror=alert(1)&gt;</b>")

    def test_create_and_delete(self):
        self.client.force_login(self.operator)
        response = self.client.post(
            self.url("templates_app:template_create"), {"name": "receipt", "kind": "email", "description": ""}
        )
        created = Template.objects.get(name="receipt")
        self.assertRedirects(response, self.url("templates_app:template_detail", created.public_id))
        self.assertContains(
            self.client.get(self.url("templates_app:template_delete", created.public_id)), "Delete"
        )
        self.client.post(self.url("templates_app:template_delete", created.public_id))
        self.assertFalse(Template.objects.filter(name="receipt").exists())


class EditorTests(AccountTestCase):
    def setUp(self):
        super().setUp()
        domain = verified_domain(self.account)
        sender_address_create(
            account=self.account, domain=domain, local_part="noreply", send_type="trigger", actor=SYSTEM
        )
        self.template = services.template_create(
            account=self.account,
            name="welcome",
            subject="Hi {UserName}",
            html_body="<p>{UserName}</p>",
            actor=SYSTEM,
        )
        self.client.force_login(self.operator)

    def url_for(self, name):
        return self.url(f"templates_app:{name}", self.template.public_id)

    def test_the_live_preview_renders_unsaved_content_behind_a_token(self):
        answer = self.client.post(
            self.url_for("template_preview"),
            {
                "subject": "Hi {UserName}",
                "html_body": "<p onclick=x>{UserName} {Code}</p>",
                "data": '{"UserName": "Ann"}',
            },
        ).json()
        self.assertEqual(answer["subject"], "Hi Ann")
        self.assertEqual(answer["missing"], ["Code"])
        self.assertEqual(answer["removed"], ["onclick on <p> (1)"])
        page = self.client.get(answer["url"])
        self.assertContains(page, "<p>Ann </p>")
        self.assertIn("sandbox", page["Content-Security-Policy"])
        self.template.refresh_from_db()
        self.assertEqual(self.template.latest_version().html_body, "<p>{UserName}</p>")  # nothing saved
        self.client.force_login(self.admin)  # the token is the user's own
        self.assertEqual(self.client.get(answer["url"]).status_code, 404)

    def test_a_test_send_goes_through_the_engine_with_the_sample_data(self):
        with override_settings(DELIVERY_MODE="capture"):
            response = self.client.post(
                self.url("sending:template_test_send", self.template.public_id),
                {
                    "sender": "noreply@mail.acme.example",
                    "to": "me@example.org",
                    "data": '{"UserName": "Ann"}',
                },
            )
        self.assertRedirects(response, self.url_for("template_detail"))
        message = Message.objects.get()
        self.assertEqual((message.rcpt, message.variables), ("me@example.org", {"UserName": "Ann"}))
        self.assertTrue(message.envelope.templated)

    def test_the_diff_against_the_approved_version(self):
        services.version_submit(version=self.template.latest_version(), actor=SYSTEM)
        services.version_approve(version=self.template.latest_version(), actor=SYSTEM)
        services.template_edit(
            template=self.template, subject="Hello {UserName}", html_body="<p>{UserName}</p>", actor=SYSTEM
        )
        page = self.client.get(self.url_for("template_detail"))
        self.assertContains(page, '<span class="diff-remove">-Subject: Hi {UserName}</span>', html=False)
        self.assertContains(page, '<span class="diff-add">+Subject: Hello {UserName}</span>', html=False)
        services.version_submit(version=self.template.latest_version(), actor=SYSTEM)
        self.client.force_login(self.reviewer)
        queue = self.client.get(self.url("templates_app:review_queue"))
        self.assertContains(queue, '<span class="diff-add">+Subject: Hello {UserName}</span>', html=False)
