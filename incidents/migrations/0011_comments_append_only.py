"""Comments are append-only in the database too (the service never edits or deletes one): a trigger
refuses UPDATE and DELETE, and the author's account is PROTECTed instead of SET_NULL on delete (people are
deactivated, never deleted), as for the workflow transitions."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from core.append_only import append_only_sql

forward, reverse = append_only_sql("incidents_comment")


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0010_list_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="comment",
            name="author_user",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.RunSQL(forward, reverse),
    ]
