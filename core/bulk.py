"""Bulk inserts through PostgreSQL COPY: for a service that writes thousands of new rows at once (the
evaluation import). The rows are built and validated by the service as model instances, exactly as for
`save()`; only the transport differs: one COPY ... FROM STDIN stream instead of a multi-row INSERT whose
SQL text grows with every value.

Each field's `pre_save` (auto_now / auto_now_add) and `get_db_prep_save` run as in an INSERT, so the stored
values are the same; psycopg adapts them (JSON, arrays, UUIDs, times) for the COPY stream. Nothing is
returned from the database: primary keys must be set in Python (UUID defaults), as they are here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, models
from psycopg import sql


def copy_insert(objects: Sequence[models.Model]) -> None:
    """INSERT `objects` (all of one model, primary keys already set) with COPY, in their order."""
    if not objects:
        return
    model = type(objects[0])
    meta = model._meta
    fields = [field for field in meta.concrete_fields if not field.generated]
    if any(field.primary_key and getattr(obj, field.attname) is None for obj in objects for field in fields):
        raise ValueError("copy_insert needs every primary key set in Python.")
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(meta.db_table), sql.SQL(", ").join(sql.Identifier(field.column) for field in fields)
    )
    # The connection itself, not the `django.db.connection` proxy: the fields consult it for every value
    # (tens of thousands of lookups through the proxy's thread-local for an import of a thousand rows).
    db = connections[DEFAULT_DB_ALIAS]
    db.ensure_connection()
    steps = [(field.pre_save, field.get_db_prep_save) for field in fields]
    with db.cursor() as cursor:
        raw: Any = cursor.cursor  # the psycopg cursor under Django's wrapper
        with raw.copy(statement) as copy:
            for obj in objects:
                copy.write_row([prep_save(pre_save(obj, True), db) for pre_save, prep_save in steps])
