"""Evidence records are immutable once stored."""

from django.db import migrations

from core.append_only import append_only_sql

forward, reverse = append_only_sql("incidents_evidence")


class Migration(migrations.Migration):
    dependencies = [("incidents", "0003_evidence_comments_assessments")]
    operations = [migrations.RunSQL(forward, reverse)]
