"""Bulk snapshots of the public record (issue 6, item 5): the TLP:CLEAR registry (models, scaffolds),
evaluation results and incident reports, as JSON lines or CSV, streamed from a server-side cursor (never
built in memory).

Each dataset's fields are declared once here (name, type, description, and the column they are read
from); the index at /api/v1/snapshots/, both file formats and the OpenAPI description are rendered from
these declarations, so no field list is written twice.

A snapshot is public data. It is read with the anonymous principal through the same selectors as the API
(registry.selectors with ANONYMOUS, which apply accounts.selectors.tlp_visibility_q;
incidents.selectors.incident_list(actor=ANONYMOUS)), whoever asks: even a signed-in regulator's snapshot
holds TLP:CLEAR records only. A reference to another record (a base model, a scaffold, a superseding
result) is filled only when that record is public too. The incident dataset is every report the anonymous
API list shows (whatever its triage state; the state is a column), not only the published ones of the
Atom feed. Rows are ordered by public id. The rows are read in one query, so the file is one consistent
snapshot of the database.

JSON lines (application/x-ndjson): one JSON object per line, "\\n" terminated, UTF-8; dates and times in
RFC 3339, lists as arrays, absent values as null.

CSV (text/csv; charset=utf-8): RFC 4180 (CRLF line ends, fields quoted when they hold a comma, a quote or
a line break), a header row with the field names, UTF-8 without a BOM; lists joined with ";"; absent
values empty; booleans `true` / `false`. A text cell that begins with = + - @, a tab or a carriage return
gets a leading apostrophe, so that a spreadsheet shows it as text instead of evaluating it as a formula
(OWASP "CSV injection"); numbers are never altered. The JSON lines file carries the values unaltered."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from django.db.models import OuterRef, QuerySet, Subquery

from core.actors import ANONYMOUS
from incidents import selectors as incident_selectors
from registry import selectors as registry_selectors

# Rows fetched per round trip from the server-side cursor; bytes gathered before a chunk is sent.
CHUNK_ROWS = 500
FLUSH_BYTES = 64 * 1024
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
LIST_SEPARATOR = ";"

FieldType = Literal["string", "integer", "number", "boolean", "date", "date-time", "array of string"]


@dataclass(frozen=True)
class Field:
    """One documented column: its name in both formats, its type, what it means, and where it is read
    from (a `.values()` path; the name itself when empty)."""

    name: str
    type: FieldType
    description: str
    source: str = ""

    @property
    def path(self) -> str:
        return self.source or self.name


@dataclass(frozen=True)
class Format:
    name: str
    media_type: str
    description: str


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("jsonl", "application/x-ndjson", "JSON lines: one JSON object per line."),
        Format("csv", "text/csv; charset=utf-8", "CSV (RFC 4180) with a header row."),
    )
}


@dataclass(frozen=True)
class Dataset:
    name: str
    title: str
    fields: tuple[Field, ...]
    queryset: Callable[[], QuerySet[Any]]

    def rows(self) -> Iterator[dict[str, Any]]:
        """The rows in public-id order, fetched CHUNK_ROWS at a time from a server-side cursor."""
        values = self.queryset().order_by("public_id").values(*(f.path for f in self.fields))
        for row in values.iterator(chunk_size=CHUNK_ROWS):
            yield {f.name: row[f.path] for f in self.fields}

    def tuples(self) -> Iterator[tuple[Any, ...]]:
        """The rows as tuples in the order of `fields` (no per-row dict): the JSON lines fast path."""
        values = self.queryset().order_by("public_id").values_list(*(f.path for f in self.fields))
        yield from values.iterator(chunk_size=CHUNK_ROWS)


def _public_evaluations() -> QuerySet[Any]:
    # The API shows supersedes / superseded_by whatever their TLP; a public file names a correction (or
    # the corrected result) only when it is public as well.
    public = registry_selectors.evaluation_list(actor=ANONYMOUS)
    return public.annotate(
        public_supersedes=Subquery(public.filter(pk=OuterRef("supersedes_id")).values("public_id")[:1]),
        public_superseded_by=Subquery(public.filter(supersedes_id=OuterRef("pk")).values("public_id")[:1]),
    )


_MODIFIED = Field("modified_at", "date-time", "Last change of the record.")
_CREATED = Field("created_at", "date-time", "When the record was created in Redline.")
_TLP = Field("tlp", "string", "Always `clear`: a snapshot holds public records only.")

DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset(
            "models",
            "Frontier models (the public registry)",
            (
                Field("public_id", "string", "Registry id, FM-YYYY-NNNN."),
                Field("name", "string", "Model name."),
                Field("version", "string", "Version or revision (may be empty)."),
                Field("family", "string", "Model family (may be empty)."),
                Field(
                    "provider", "string", "Short name of the provider organisation.", "provider__short_name"
                ),
                Field(
                    "base_model",
                    "string",
                    "Public id of the model it was derived from, when that model is public.",
                    "visible_base_model",
                ),
                Field("release_date", "date", "Release date."),
                Field("weights_availability", "string", "open, gated, api_only or internal_only."),
                Field("distribution_methods", "array of string", "How the model is distributed."),
                Field("licence", "string", "Licence."),
                Field("architecture", "string", "Architecture."),
                Field("parameter_count", "integer", "Parameters, when disclosed."),
                Field("input_modalities", "array of string", "Input modalities."),
                Field("output_modalities", "array of string", "Output modalities."),
                Field("context_window", "integer", "Context window in tokens, when disclosed."),
                Field(
                    "training_compute_flop", "number", "Training compute in FLOP, when known or estimated."
                ),
                Field("compute_estimation_method", "string", "How the training compute was estimated."),
                Field(
                    "systemic_risk_status",
                    "string",
                    "EU AI Act systemic risk: not_assessed, presumed_compute, designated, rebutted, "
                    "not_applicable.",
                ),
                Field(
                    "market_status",
                    "string",
                    "in_development, internal_use, on_market, withdrawn or recalled.",
                ),
                Field("jurisdictions", "array of string", "Jurisdictions (ISO 3166-1 alpha-2, or EU)."),
                Field("documentation_url", "string", "Documentation (model card)."),
                Field("weights_sha256", "string", "SHA-256 of the weights, when published."),
                Field("huggingface_repo", "string", "Hugging Face repository."),
                Field("eu_database_id", "string", "EU database registration."),
                Field(
                    "red_line_flagged",
                    "boolean",
                    "A current public evaluation result of the model meets the red-line rule.",
                ),
                _TLP,
                _CREATED,
                _MODIFIED,
            ),
            lambda: registry_selectors.frontier_model_list(actor=ANONYMOUS),
        ),
        Dataset(
            "scaffolds",
            "Agent scaffolds (the public registry)",
            (
                Field("public_id", "string", "Registry id, SCF-YYYY-NNNN."),
                Field("name", "string", "Scaffold name."),
                Field("version", "string", "Version (may be empty)."),
                Field(
                    "owner_org",
                    "string",
                    "Short name of the organisation that registered it.",
                    "owner_org__short_name",
                ),
                Field("source_url", "string", "Where its source is published."),
                Field("tools", "array of string", "The tools it gives the model (e.g. EXECUTE_CMD)."),
                Field("planning_horizon", "integer", "Steps planned ahead, when stated."),
                Field("description", "string", "Description."),
                _TLP,
                _CREATED,
                _MODIFIED,
            ),
            lambda: registry_selectors.scaffold_list(actor=ANONYMOUS),
        ),
        Dataset(
            "evaluations",
            "Dangerous-capability evaluation results",
            (
                Field("public_id", "string", "Result id, EVR-YYYY-NNNN."),
                Field("model", "string", "Public id of the evaluated model.", "model__public_id"),
                Field("model_name", "string", "Name of the evaluated model.", "model__name"),
                Field(
                    "provider", "string", "Short name of the model's provider.", "model__provider__short_name"
                ),
                Field("model_revision", "string", "Revision of the model evaluated."),
                Field(
                    "scaffold", "string", "Public id of the agent scaffold, when public.", "visible_scaffold"
                ),
                Field(
                    "evaluator",
                    "string",
                    "Short name of the evaluating organisation.",
                    "evaluator_org__short_name",
                ),
                Field(
                    "evaluator_type",
                    "string",
                    "first_party_lab, commissioned_second_party, independent_third_party, "
                    "government_institute or academic.",
                ),
                Field("benchmark", "string", "Benchmark or suite."),
                Field("task", "string", "Task."),
                Field("task_version", "string", "Task version."),
                Field("task_family", "string", "Task family."),
                Field(
                    "capability_domain",
                    "string",
                    "end_to_end, obtain_resources, exfiltrate_weights, replicate_onto_compute or persist.",
                ),
                Field("scenario_type", "string", "Self-replication scenario (DESIGN 3.5)."),
                Field("n_trials", "integer", "Trials run."),
                Field("n_completed", "integer", "Trials completed."),
                Field("n_successes", "integer", "Trials that succeeded."),
                Field("n_refusals", "integer", "Trials the model refused."),
                Field("metric", "string", "success_rate, pass@k or other."),
                Field("metric_k", "integer", "k of pass@k."),
                Field("metric_value", "number", "The metric's value."),
                Field(
                    "wilson_lower", "number", "Lower bound of the 95% Wilson interval (computed by Redline)."
                ),
                Field(
                    "wilson_upper", "number", "Upper bound of the 95% Wilson interval (computed by Redline)."
                ),
                Field("meets_red_line", "boolean", "The result meets the red-line rule."),
                Field(
                    "verification_status",
                    "string",
                    "self_reported, third_party_reported, reproduced, registry_verified or disputed.",
                ),
                Field("run_started_at", "date-time", "When the run started."),
                Field("run_completed_at", "date-time", "When the run finished."),
                Field(
                    "supersedes",
                    "string",
                    "Public id of the result this one corrects, when that result is public.",
                    "public_supersedes",
                ),
                Field(
                    "superseded_by",
                    "string",
                    "Public id of the public correction of this result; empty while it is current.",
                    "public_superseded_by",
                ),
                _TLP,
                _CREATED,
                _MODIFIED,
            ),
            _public_evaluations,
        ),
        Dataset(
            "incidents",
            "Self-replication incident reports",
            (
                Field("public_id", "string", "Report id, SRI-YYYY-NNNNNN."),
                Field("title", "string", "Title."),
                Field("description", "string", "Description, as submitted (latest revision)."),
                Field(
                    "status",
                    "string",
                    "Triage state: submitted, in_review, needs_information, accepted, rejected, duplicate, "
                    "superseded, closed or withdrawn.",
                ),
                Field(
                    "record_class",
                    "string",
                    "real_world_incident, hazard_near_miss, controlled_evaluation_finding or "
                    "red_team_exercise.",
                ),
                Field("ai_system_relation", "string", "How the AI system relates to the event."),
                Field("scenario_type", "string", "Self-replication scenario (DESIGN 3.5)."),
                Field("instruction_provenance", "string", "Where the replication instruction came from."),
                Field("outcome", "string", "What came of the attempt."),
                Field(
                    "severity",
                    "string",
                    "OECD severity: hazard, serious_hazard, incident, serious_incident or disaster.",
                ),
                Field("harm_types", "array of string", "Harm types."),
                Field("determination", "string", "STIX incident-core determination."),
                Field("report_stage", "string", "initial, intermediate or final."),
                Field("countries", "array of string", "Countries concerned (ISO 3166-1 alpha-2)."),
                Field("occurred_start", "date-time", "When it began."),
                Field("occurred_end", "date-time", "When it ended."),
                Field(
                    "owner_org",
                    "string",
                    "Short name of the submitting organisation.",
                    "owner_org__short_name",
                ),
                Field("revision_number", "integer", "Number of the latest revision."),
                Field("submitted_at", "date-time", "When Redline received the first submission."),
                _TLP,
                _CREATED,
                _MODIFIED,
            ),
            lambda: incident_selectors.incident_list(actor=ANONYMOUS),
        ),
    )
}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _buffered(pieces: Iterable[str]) -> Iterator[bytes]:
    """Gather pieces into chunks of about FLUSH_BYTES: one write per chunk, not one per row."""
    parts: list[bytes] = []
    size = 0
    for piece in pieces:
        data = piece.encode()
        parts.append(data)
        size += len(data)
        if size >= FLUSH_BYTES:
            yield b"".join(parts)
            parts, size = [], 0
    if parts:
        yield b"".join(parts)


# The declared types whose values need `_plain` (dates, times, decimals); the others are JSON as read.
_CONVERTED_TYPES = frozenset({"date", "date-time", "number"})


def jsonl_rows(dataset: Dataset) -> Iterator[str]:
    names = [f.name for f in dataset.fields]
    converted = [i for i, f in enumerate(dataset.fields) if f.type in _CONVERTED_TYPES]
    encode = json.JSONEncoder(ensure_ascii=False).encode  # what json.dumps(..., ensure_ascii=False) uses
    for values in dataset.tuples():
        row = dict(zip(names, values, strict=True))
        for i in converted:
            name = names[i]
            row[name] = _plain(row[name])
        yield encode(row) + "\n"


def csv_cell(value: Any) -> str:
    """One CSV cell: lists joined with ';', the formula guard on text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(_plain(value))
    if isinstance(value, list | tuple):
        value = LIST_SEPARATOR.join(str(v) for v in value)
    text = str(_plain(value))
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def csv_rows(dataset: Dataset) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # QUOTE_MINIMAL: RFC 4180

    def take() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow([f.name for f in dataset.fields])
    yield take()
    for row in dataset.rows():
        writer.writerow([csv_cell(v) for v in row.values()])
        yield take()


def stream(dataset: Dataset, fmt: str) -> Iterator[bytes]:
    """The file's bytes, lazily: nothing is read from the database until the first chunk is asked for."""
    return _buffered(jsonl_rows(dataset) if fmt == "jsonl" else csv_rows(dataset))


def describe(url_for: Callable[[str, str], str]) -> list[dict[str, Any]]:
    """The index: each dataset, its formats with their URLs, and its documented fields."""
    return [
        {
            "dataset": d.name,
            "title": d.title,
            "formats": [
                {"format": f.name, "media_type": f.media_type, "url": url_for(d.name, f.name)}
                for f in FORMATS.values()
            ],
            "fields": [{"name": f.name, "type": f.type, "description": f.description} for f in d.fields],
        }
        for d in DATASETS.values()
    ]


def field_table() -> str:
    """The field lists as Markdown, for the OpenAPI description."""
    parts = []
    for d in DATASETS.values():
        rows = "\n".join(f"| `{f.name}` | {f.type} | {f.description} |" for f in d.fields)
        parts.append(f"**{d.name}** ({d.title}):\n\n| field | type | description |\n|---|---|---|\n{rows}")
    return "\n\n".join(parts)
