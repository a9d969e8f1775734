"""The SRI public id sequence, and revisions made append-only in the database."""

from django.db import migrations

from core.append_only import append_only_sql
from core.public_ids import create_sequence_sql

forward, reverse = append_only_sql("incidents_incidentrevision")


class Migration(migrations.Migration):
    dependencies = [("incidents", "0001_incidents")]
    operations = [
        migrations.RunSQL(*create_sequence_sql("incidents_incident_seq")),
        migrations.RunSQL(forward, reverse),
    ]
