"""The waiting page's QR code gets its own, weaker token (security review: QR approval link).

Rows that exist already get a random hash nobody holds the secret of: their QR code
(if still on screen) stops working, and they expire within minutes anyway.
"""

import hashlib
import secrets

from django.db import migrations, models


def fill_qr_token_hashes(apps, schema_editor):
    LoginRequest = apps.get_model("accounts", "LoginRequest")
    for row in LoginRequest.objects.only("pk").iterator():
        unusable = hashlib.sha256(secrets.token_bytes(32)).hexdigest()
        LoginRequest.objects.filter(pk=row.pk).update(qr_token_hash=unusable)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_api_clients_tokens"),
    ]

    operations = [
        migrations.AddField(
            model_name="loginrequest",
            name="qr_token_hash",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.RunPython(fill_qr_token_hashes, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="loginrequest",
            name="qr_token_hash",
            field=models.CharField(editable=False, max_length=64, unique=True),
        ),
    ]
