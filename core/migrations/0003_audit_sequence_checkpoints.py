"""Audit events get a Merkle log position set once at sealing; signed checkpoints, append-only.

No backfill here on purpose: existing events are simply not sealed yet (sequence NULL), and the first
`audit_seal` numbers them in id order and signs a checkpoint over them. Numbering them here, where no
signing key is available, would leave numbered-but-unsigned rows that `audit_verify` must treat as forged.
"""

from django.db import migrations, models

from core.append_only import append_only_sql, sealable_append_only_sql

seal_forward, seal_reverse = sealable_append_only_sql(
    "core_auditevent", once_columns=("sequence", "leaf_hash"), key_column="sequence"
)
checkpoint_forward, checkpoint_reverse = append_only_sql("core_auditcheckpoint")


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0002_audit_append_only"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="leaf_hash",
            field=models.CharField(blank=True, editable=False, max_length=64),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="sequence",
            field=models.BigIntegerField(blank=True, editable=False, null=True, unique=True),
        ),
        migrations.CreateModel(
            name="AuditCheckpoint",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("tree_size", models.BigIntegerField(unique=True)),
                ("root_hash", models.CharField(max_length=64)),
                ("signed_at", models.DateTimeField()),
                ("signature", models.CharField(max_length=128)),
                ("key_id", models.CharField(max_length=64)),
            ],
            options={
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("tree_size__gt", 0)), name="checkpoint_size_gt_0"
                    )
                ],
            },
        ),
        migrations.RunSQL(seal_forward, seal_reverse),
        migrations.RunSQL(checkpoint_forward, checkpoint_reverse),
    ]
