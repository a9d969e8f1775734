"""SQL for append-only tables: a trigger that refuses UPDATE and DELETE (used by migrations)."""

from __future__ import annotations


def append_only_sql(table: str) -> tuple[str, str]:
    """Forward and reverse SQL installing the append-only trigger on `table`."""
    function = f"{table}_append_only"
    forward = f"""
CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'restrict_violation';
END;
$$;
CREATE TRIGGER {function}_trg BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION {function}();
"""
    reverse = f"DROP TRIGGER IF EXISTS {function}_trg ON {table}; DROP FUNCTION IF EXISTS {function}();"
    return forward, reverse


def sealable_append_only_sql(
    table: str, *, once_columns: tuple[str, ...], key_column: str
) -> tuple[str, str]:
    """Forward and reverse SQL replacing the append-only trigger function of `table` with one that also
    allows a single kind of UPDATE: setting `once_columns` on a row whose `key_column` is still NULL,
    with every other column unchanged. DELETE and every other UPDATE stay refused.

    The row is compared as jsonb minus the settable columns, so a column added later is protected
    without touching this function."""
    function = f"{table}_append_only"
    settable = " - ".join(f"'{column}'" for column in once_columns)
    forward = f"""
CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND OLD.{key_column} IS NULL AND NEW.{key_column} IS NOT NULL
       AND (to_jsonb(NEW) - {settable}) = (to_jsonb(OLD) - {settable}) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'restrict_violation';
END;
$$;
"""
    reverse = f"""
CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'restrict_violation';
END;
$$;
"""
    return forward, reverse
