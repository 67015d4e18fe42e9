# The failed-login counter was one row per user name; it becomes one row per (kind, key): an
# account, its second factor, or a client address. The counts are short-lived: not carried over.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("access", "0001_initial"),
    ]

    operations = [
        migrations.DeleteModel(name="LoginThrottle"),
        migrations.CreateModel(
            name="LoginThrottle",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("kind", models.CharField(choices=[("account", "Account"), ("second_factor", "Second factor"), ("address", "Address")], max_length=20)),
                ("key", models.CharField(max_length=150)),
                ("failures", models.PositiveIntegerField(default=0)),
                ("forgive_from", models.DateTimeField(blank=True, null=True)),
                ("locked_until", models.DateTimeField(blank=True, null=True)),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("kind", "key"), name="access_throttle_unique_key")],
            },
        ),
    ]
