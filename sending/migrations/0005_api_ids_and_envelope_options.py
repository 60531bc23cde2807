"""Domains, sender addresses and tags get the numeric ids the DirectMail API shows (DomainId, MailAddressId,
TagId; existing rows get random ones); envelopes remember whether the sender's reply-to applies and whether they are templated."""

from django.db import migrations, models

import accounts.ids

MODELS = ("domain", "senderaddress", "tag")


def fill(apps, schema_editor):
    for name in MODELS:
        for row in apps.get_model("sending", name).objects.filter(api_id__isnull=True):
            row.api_id = accounts.ids.new_api_id()
            row.save(update_fields=["api_id"])


class Migration(migrations.Migration):
    dependencies = [("sending", "0004_idempotency_keys")]

    operations = [
        *(
            migrations.AddField(model_name=name, name="api_id", field=models.BigIntegerField(null=True))
            for name in MODELS
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        *(
            migrations.AlterField(
                model_name=name,
                name="api_id",
                field=models.BigIntegerField(default=accounts.ids.new_api_id, editable=False, unique=True),
            )
            for name in MODELS
        ),
        migrations.AddField(
            model_name="envelope", name="use_sender_reply_to", field=models.BooleanField(default=True)
        ),
        migrations.AddField(
            model_name="envelope", name="templated", field=models.BooleanField(default=False)
        ),
    ]
