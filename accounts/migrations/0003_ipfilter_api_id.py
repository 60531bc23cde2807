"""IP protection entries get the numeric id the DirectMail API shows (existing rows get a random one)."""

from django.db import migrations, models

import accounts.ids


def fill(apps, schema_editor):
    for entry in apps.get_model("accounts", "IpFilter").objects.filter(api_id__isnull=True):
        entry.api_id = accounts.ids.new_api_id()
        entry.save(update_fields=["api_id"])


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_access_keys_and_ip_protection")]

    operations = [
        migrations.AddField(model_name="ipfilter", name="api_id", field=models.BigIntegerField(null=True)),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="ipfilter",
            name="api_id",
            field=models.BigIntegerField(default=accounts.ids.new_api_id, editable=False, unique=True),
        ),
    ]
