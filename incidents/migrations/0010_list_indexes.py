"""Indexes for the list orderings at a million reports (issue 7): the triage queue's default order over the
open reports, the pages' newest-submission-first order, and the public snapshot's TLP:CLEAR reports in
public-id order. Built CONCURRENTLY (no write lock on a large table), hence a non-atomic migration.

And a larger statistics sample for `search_vector`: with the default (100), ANALYZE keeps too few lexemes
for a rare word's frequency to be told from a fairly common one's, and at a million reports the planner
then estimated a ten-match word at ~1,400 matches and walked the whole modified_at index looking for 51
of them (1.5 s, past the search time limit) instead of reading the GIN index (5 ms)."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("incidents", "0009_visibility_changes"),
    ]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE incidents_incident ALTER COLUMN search_vector SET STATISTICS 1000",
            "ALTER TABLE incidents_incident ALTER COLUMN search_vector SET STATISTICS -1",
        ),
        AddIndexConcurrently(
            model_name="incident",
            index=models.Index(
                condition=models.Q(("status__in", ["submitted", "in_review", "needs_information"])),
                fields=["next_due_at", "id"],
                name="incident_queue_idx",
            ),
        ),
        AddIndexConcurrently(
            model_name="incident",
            index=models.Index(fields=["submitted_at", "id"], name="incident_submitted_idx"),
        ),
        AddIndexConcurrently(
            model_name="incident",
            index=models.Index(
                condition=models.Q(("tlp", "clear")), fields=["public_id"], name="incident_public_clear_idx"
            ),
        ),
    ]
