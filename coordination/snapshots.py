"""Bulk snapshots of the public record (issue 6, item 5): the TLP:CLEAR registry, evaluation results and
incident reports, as JSON lines or CSV, streamed row by row from a server-side cursor (never built in
memory).

Each dataset's fields are declared once here (name, source column, description); the index at
/api/v1/snapshots/, both formats and the API documentation are rendered from these declarations. A
snapshot is public data: it is read with the anonymous principal through the same selectors as the API,
whoever asks, so even a regulator's snapshot holds TLP:CLEAR records only. Rows are ordered by public id.

CSV: RFC 4180 quoting, UTF-8, a header row; lists are joined with "; "; a cell that begins with = + - @,
a tab or a carriage return gets a leading apostrophe, so a spreadsheet shows it as text instead of
running it as a formula (OWASP CSV injection)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet

from core.actors import ANONYMOUS
from incidents import selectors as incident_selectors
from registry import selectors as registry_selectors

CHUNK_ROWS = 500
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Field:
    name: str
    source: str  # the .values() path
    description: str


@dataclass(frozen=True)
class Dataset:
    name: str
    title: str
    fields: tuple[Field, ...]
    queryset: Callable[[], QuerySet[Any]]

    def rows(self) -> Iterator[dict[str, Any]]:
        paths = [f.source for f in self.fields]
        values = self.queryset().order_by("public_id").values(*paths)
        for row in values.iterator(chunk_size=CHUNK_ROWS):
            yield {f.name: row[f.source] for f in self.fields}


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset(
            "models",
            "Frontier models (the public registry)",
            (
                Field("public_id", "public_id", "Registry id, FM-YYYY-NNNN."),
                Field("name", "name", "Model name."),
                Field("version", "version", "Model version (may be empty)."),
                Field("provider", "provider__short_name", "The provider organisation's short name."),
                Field("family", "family", "Model family."),
                Field("release_date", "release_date", "Release date (ISO 8601)."),
                Field("weights_availability", "weights_availability", "open / restricted / closed."),
                Field("parameter_count", "parameter_count", "Parameters, if disclosed."),
                Field("systemic_risk_status", "systemic_risk_status", "EU AI Act systemic-risk status."),
                Field("market_status", "market_status", "Market status."),
                Field("red_line_flagged", "red_line_flagged", "Public evidence crosses the red line."),
                Field("modified_at", "modified_at", "Last change (RFC 3339)."),
            ),
            lambda: registry_selectors.frontier_model_list(actor=ANONYMOUS),
        ),
        Dataset(
            "evaluations",
            "Dangerous-capability evaluation results",
            (
                Field("public_id", "public_id", "Result id, EV-YYYY-NNNNNN."),
                Field("model", "model__public_id", "The evaluated model's registry id."),
                Field("evaluator", "evaluator_org__short_name", "The evaluating organisation."),
                Field("benchmark", "benchmark", "Benchmark or suite."),
                Field("task", "task", "Task name."),
                Field("scenario_type", "scenario_type", "Self-replication scenario."),
                Field("n_trials", "n_trials", "Trials run."),
                Field("n_successes", "n_successes", "Trials that succeeded."),
                Field("wilson_lower", "wilson_lower", "Wilson 95% interval, lower bound."),
                Field("wilson_upper", "wilson_upper", "Wilson 95% interval, upper bound."),
                Field("meets_red_line", "meets_red_line", "This result crosses the red line."),
                Field("supersedes", "supersedes__public_id", "The result this one corrects, if any."),
                Field("run_completed_at", "run_completed_at", "When the run finished."),
                Field("modified_at", "modified_at", "Last change (RFC 3339)."),
            ),
            lambda: registry_selectors.evaluation_list(actor=ANONYMOUS),
        ),
        Dataset(
            "incidents",
            "Self-replication incident reports",
            (
                Field("public_id", "public_id", "Report id, SRI-YYYY-NNNNNN."),
                Field("title", "title", "Title."),
                Field("status", "status", "Triage state."),
                Field("record_class", "record_class", "Real-world incident or evaluation finding."),
                Field("scenario_type", "scenario_type", "Self-replication scenario."),
                Field("severity", "severity", "Severity."),
                Field("outcome", "outcome", "What came of the attempt."),
                Field("submitted_by", "owner_org__short_name", "The submitting organisation."),
                Field("occurred_start", "occurred_start", "When it began."),
                Field("submitted_at", "submitted_at", "When Redline received it."),
                Field("modified_at", "modified_at", "Last change (RFC 3339)."),
            ),
            lambda: incident_selectors.incident_list(actor=ANONYMOUS),
        ),
    )
}
FORMATS = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def jsonl_lines(dataset: Dataset) -> Iterator[bytes]:
    for row in dataset.rows():
        yield (json.dumps({k: _plain(v) for k, v in row.items()}, ensure_ascii=False) + "\n").encode()


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        value = "; ".join(str(v) for v in value)
    text = str(_plain(value))
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def csv_lines(dataset: Dataset) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def flush() -> bytes:
        data = buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
        return data

    writer.writerow([f.name for f in dataset.fields])
    yield flush()
    for row in dataset.rows():
        writer.writerow([csv_cell(v) for v in row.values()])
        yield flush()


def describe(base_url: str) -> list[dict[str, Any]]:
    """The index: each dataset, its formats and URLs, and its documented fields."""
    return [
        {
            "dataset": d.name,
            "title": d.title,
            "formats": {fmt: f"{base_url}{d.name}.{fmt}" for fmt in FORMATS},
            "fields": [{"name": f.name, "description": f.description} for f in d.fields],
        }
        for d in DATASETS.values()
    ]


def field_table() -> str:
    """The field lists as Markdown, for the OpenAPI description."""
    parts = []
    for d in DATASETS.values():
        parts.append(
            f"**{d.name}** ({d.title}): " + ", ".join(f"`{f.name}` ({f.description})" for f in d.fields)
        )
    return "\n\n".join(parts)
