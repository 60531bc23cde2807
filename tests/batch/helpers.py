"""A ready account for batch sends: a verified domain, a batch sender, an approved template, a list."""

from accounts.audit import SYSTEM, Actor
from sending.models import BatchJob, RecipientList
from sending.services import lists as list_service
from sending.services.batch import job_save
from sending.services.senders import sender_address_create
from templates_app.services import template_create, version_approve, version_submit
from tests.sending.helpers import verified_domain


class BatchSetup:
    """For test classes with People (create_people has run): call self.batch_setup() in setUp."""

    def batch_setup(self, recipients: int = 3) -> None:
        domain = verified_domain(self.account)
        self.sender = sender_address_create(
            account=self.account, domain=domain, local_part="news", send_type="batch", actor=SYSTEM
        )
        self.trigger_sender = sender_address_create(
            account=self.account, domain=domain, local_part="noreply", send_type="trigger", actor=SYSTEM
        )
        self.template = template_create(
            account=self.account,
            name="newsletter",
            subject="Hello {UserName}",
            html_body="<p>Dear {UserName} in {City}</p>",
            text_body="Dear {UserName} in {City}",
            actor=SYSTEM,
        )
        version = version_submit(version=self.template.latest_version(), actor=SYSTEM)
        version_approve(version=version, actor=Actor(user=self.reviewer))
        self.template.refresh_from_db()
        self.recipient_list = list_service.list_create(account=self.account, name="News", actor=SYSTEM)
        self.add_recipients(self.recipient_list, recipients)

    def add_recipients(self, recipient_list: RecipientList, count: int, start: int = 0) -> None:
        details = [
            {"e": f"user{n}@dest.test", "u": f"User {n}", "City": f"City {n}"}
            for n in range(start, start + count)
        ]
        for at in range(0, len(details), 500):
            list_service.recipients_save(
                recipient_list=recipient_list, details=details[at : at + 500], actor=SYSTEM
            )

    def draft(self, **fields) -> BatchJob:
        values = {
            "name": "November news",
            "template": self.template,
            "recipient_list": self.recipient_list,
            "sender": self.sender,
            "created_by": self.owner,
            **fields,
        }
        job = BatchJob(account=self.account, **values)
        return job_save(job=job, actor=SYSTEM)
