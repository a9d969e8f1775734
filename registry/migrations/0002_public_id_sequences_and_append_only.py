"""Public id sequences, and evaluation results made append-only in the database itself."""

from django.db import migrations

from core.append_only import append_only_sql
from core.public_ids import create_sequence_sql

forward, reverse = append_only_sql("registry_evaluationresult")


class Migration(migrations.Migration):
    dependencies = [("registry", "0001_initial")]
    operations = [
        migrations.RunSQL(*create_sequence_sql("registry_model_seq")),
        migrations.RunSQL(*create_sequence_sql("registry_scaffold_seq")),
        migrations.RunSQL(*create_sequence_sql("registry_evaluation_seq")),
        migrations.RunSQL(forward, reverse),
    ]
