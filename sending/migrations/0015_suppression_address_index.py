from django.db import migrations, models

from directmail.db.operations import AddIndexWithoutLocking


class Migration(migrations.Migration):
    # PostgreSQL builds the index CONCURRENTLY, which cannot run in a transaction: mail keeps flowing.
    atomic = False

    dependencies = [
        ("sending", "0014_envelope_attachments_and_bcc"),
    ]

    operations = [
        AddIndexWithoutLocking(
            model_name="suppression",
            index=models.Index(fields=["address"], name="suppression_address"),
        ),
    ]
