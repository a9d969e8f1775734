"""Bulk evaluation import of `--rows` results vs PostgreSQL COPY of the same rows into the same table.

In-process, on the run's clone (production settings). Each round, interleaved:

- service: `manage.py import_evaluations` (call_command: the command's parse + registry.services.
  evaluation_import, one transaction) of Hugging Face model-index files holding `--rows` results in all
  (1000 per file, the importer's cap), new content every round so the duplicate-file check never fires;
- floor: the rows that import just wrote, dumped (untimed) with fresh ids and public ids, then loaded
  back with `COPY registry_evaluationresult FROM STDIN` and committed (timed).

Prints {"import_s": [...], "copy_s": [...], "rows": N} as JSON.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from pathlib import Path

import django
import yaml

PER_FILE = 1000


def _files(directory: Path, model_name: str, rows: int, round_number: int) -> list[Path]:
    paths = []
    for index in range(0, rows, PER_FILE):
        results = [
            {
                "task": {"type": "text-generation", "name": f"Replication probe r{round_number} #{n}"},
                "dataset": {"type": "bench/replication-probe", "name": "Replication Probe", "split": "test"},
                "metrics": [
                    {
                        "type": "accuracy",
                        "value": (n % 10) / 10,
                        "args": {"n_trials": 10, "n_successes": n % 10},
                    }
                ],
            }
            for n in range(index, min(index + PER_FILE, rows))
        ]
        path = directory / f"round{round_number}-{index // PER_FILE}.yaml"
        path.write_text(yaml.safe_dump({"model-index": [{"name": model_name, "results": results}]}))
        paths.append(path)
    return paths


def run_import(files: list[Path], *, org: str, model_ref: str) -> None:
    """`manage.py import_evaluations` of the bench's files, as the measured and the profiled runs call it."""
    from django.core.management import call_command

    call_command(
        "import_evaluations",
        *[str(p) for p in files],
        org=org,
        capability_domain="end_to_end",
        scenario_type="instructed_replication_local",
        model=model_ref,
        stdout=io.StringIO(),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    django.setup()
    from django.db import connection

    from registry.models import EvaluationResult, FrontierModel

    with connection.cursor() as cursor:
        cursor.execute("SELECT key, value FROM bench_marker")
        marker = dict(cursor.fetchall())
    model = FrontierModel.objects.get(public_id=marker["import_model"])
    fields = list(EvaluationResult._meta.concrete_fields)
    columns = ", ".join(f'"{f.column}"' for f in fields)
    dump_columns = ", ".join(
        "gen_random_uuid()"
        if f.column == "id"
        else "public_id || 'c'"
        if f.column == "public_id"
        else f'"{f.column}"'
        for f in fields
    )
    import_s: list[float] = []
    copy_s: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for round_number in range(args.rounds):
            files = _files(Path(tmp), model.name, args.rows, round_number)
            before = (
                EvaluationResult.objects.order_by("-created_at").values_list("created_at", flat=True).first()
            )
            started = time.perf_counter()
            run_import(files, org=marker["import_org"], model_ref=model.public_id)
            import_s.append(time.perf_counter() - started)
            raw = connection.connection
            assert raw is not None
            buffer = io.BytesIO()
            with raw.cursor() as cur:
                where = "WHERE created_at > %s" if before else ""
                query = f"COPY (SELECT {dump_columns} FROM registry_evaluationresult {where}) TO STDOUT"  # noqa: S608
                with cur.copy(query, [before] if before else None) as copy:
                    for block in copy:
                        buffer.write(block)
            raw.commit()
            data = buffer.getvalue()
            started = time.perf_counter()
            statement = f"COPY registry_evaluationresult ({columns}) FROM STDIN"
            with raw.cursor() as cur, cur.copy(statement) as copy:
                copy.write(data)
            raw.commit()
            copy_s.append(time.perf_counter() - started)
            copied = data.count(b"\n")
            if copied != args.rows:
                raise SystemExit(f"import_bench: the import wrote {copied} rows, expected {args.rows}")
    json.dump({"import_s": import_s, "copy_s": copy_s, "rows": args.rows}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
