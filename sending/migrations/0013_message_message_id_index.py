from django.db import migrations, models

from directmail.db.operations import AddIndexWithoutLocking


class Migration(migrations.Migration):
    # PostgreSQL builds the index CONCURRENTLY, which cannot run in a transaction: mail keeps flowing.
    atomic = False

    dependencies = [
        ("sending", "0012_message_subject"),
    ]

    operations = [
        AddIndexWithoutLocking(
            model_name="message",
            index=models.Index(fields=["message_id"], name="message_message_id"),
        ),
    ]
