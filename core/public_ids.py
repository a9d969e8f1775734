"""Permanent, human-readable public ids (`FM-2025-0007`), never reused.

Each prefix draws from its own PostgreSQL sequence (created by the owning app's migration), so numbers
are unique even under concurrent inserts and are never handed out twice, even after a rollback.
"""

from __future__ import annotations

from django.db import connection
from django.utils import timezone


def allocate_public_id(*, sequence: str, prefix: str, width: int) -> str:
    """Draw the next number from `sequence` and format it as PREFIX-YEAR-NNNN."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(%s)", [sequence])
        (number,) = cursor.fetchone()
    return f"{prefix}-{timezone.now().year}-{number:0{width}d}"


def create_sequence_sql(sequence: str) -> tuple[str, str]:
    """Forward and reverse SQL for a migration's RunSQL."""
    return (f"CREATE SEQUENCE IF NOT EXISTS {sequence} START 1;", f"DROP SEQUENCE IF EXISTS {sequence};")


def allocate_public_ids(*, sequence: str, prefix: str, width: int, count: int) -> list[str]:
    """`count` public ids from `sequence` in one query (a bulk write), in increasing order."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(%s) FROM generate_series(1, %s)", [sequence, count])
        numbers = sorted(number for (number,) in cursor.fetchall())
    year = timezone.now().year
    return [f"{prefix}-{year}-{number:0{width}d}" for number in numbers]
