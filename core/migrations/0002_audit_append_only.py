"""Audit events can be added, never changed or removed."""

from django.db import migrations

from core.append_only import append_only_sql

forward, reverse = append_only_sql("core_auditevent")


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]
    operations = [migrations.RunSQL(forward, reverse)]
