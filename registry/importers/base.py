"""Shared types for the evaluation-result importers.

Everything in :mod:`registry.importers` is pure parsing: bytes in, :class:`ParsedEvaluation` out, or an
:class:`ImportFormatError` with a stable ``code``. No Django, no database, no network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

SOURCE_INSPECT_EVAL: Final = "inspect_eval"
SOURCE_INSPECT_JSON: Final = "inspect_json"
SOURCE_HF_MODEL_INDEX: Final = "hf_model_index"

METRIC_SUCCESS_RATE: Final = "success_rate"
METRIC_PASS_AT_K: Final = "pass_at_k"  # noqa: S105 - a metric kind, not a secret
METRIC_OTHER: Final = "other"

#: Every error code an importer can raise, with its meaning. Codes are stable API: clients may branch on them.
ERROR_CODES: Final[dict[str, str]] = {
    "empty_file": "The uploaded file is empty.",
    "unknown_format": "The requested import format is not one of auto, inspect, huggingface.",
    "file_too_large": (
        "The upload, or the content it would decompress to, exceeds the size limit (this includes zip bombs)."
    ),
    "not_inspect_log": "The file is neither an Inspect .eval archive nor an Inspect JSON log.",
    "unrecognized_format": (
        "The file is binary data that is neither an Inspect log nor a Hugging Face model-index (format auto)."
    ),
    "invalid_json": "The file looks like JSON but is not valid, strict UTF-8 JSON (or is nested too deeply).",
    "truncated_archive": "The zip archive is cut short: its end-of-central-directory record is missing.",
    "corrupt_archive": "The zip archive is damaged: bad headers, bad compressed data or a CRC mismatch.",
    "unsupported_archive": (
        "The zip archive uses a feature the importer does not read (encryption, or a compression method "
        "other than stored/deflate/zstandard, or zstandard without the 'zstandard' package installed)."
    ),
    "unsupported_log_version": "The Inspect log format version is not 2.",
    "log_not_successful": "The Inspect run did not finish successfully (status started, error or cancelled).",
    "log_invalidated": "The Inspect log has been marked invalidated.",
    "no_completed_samples": "The Inspect run completed no samples, so there is no result to record.",
    "scorer_not_found": "The scorer requested by name is not present in the log's results.",
    "no_binary_scorer": (
        "No scorer in the log reports a binary success rate (accuracy or mean in [0, 1] that corresponds to "
        "a whole number of successful samples)."
    ),
    "invalid_model_index": (
        "The Hugging Face input is not valid YAML, has no model-index, or a model-index entry is malformed."
    ),
}


class ImportFormatError(Exception):
    """An uploaded file cannot be imported. ``code`` is a stable snake_case key of :data:`ERROR_CODES`."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(code, detail)
        self.code = code
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"


@dataclass(frozen=True)
class ParsedEvaluation:
    """One evaluation result extracted from an uploaded file, before any database mapping."""

    source_format: str  # "inspect_eval" | "inspect_json" | "hf_model_index"
    model_name: str  # model as named in the file, e.g. "mockllm/model"; HF: model-index[].name
    task: str
    task_version: str | None
    task_family: str | None
    benchmark: str | None  # dataset name (Inspect) or HF dataset name
    dataset_name: str | None
    n_trials: int | None  # samples x epochs attempted
    n_completed: int | None  # samples x epochs completed
    n_successes: int | None  # successful trials, derived from a binary scorer
    metric: str  # "success_rate" | "pass_at_k" | "other"
    metric_name: str  # e.g. "accuracy"
    metric_value: float | None
    scorer: str | None
    metrics: dict[str, float]  # every finite numeric metric of the chosen scorer, keyed "scorer/metric"
    config: dict[str, object]  # epochs, time_limit, message_limit, token_limit ... when present
    run_started_at: datetime | None  # timezone-aware
    run_completed_at: datetime | None  # timezone-aware
    run_id: str | None
    log_format_version: int | None


def is_number(value: object) -> bool:
    """True for int/float values (bool excluded)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def finite_float(value: object) -> float | None:
    """``value`` as a float if it is a finite number (bool excluded), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def whole_count(value: float, total: int, tolerance: float = 1e-6) -> int | None:
    """``value * total`` as an int if it is within ``tolerance`` of a whole number in ``[0, total]``."""
    if not (0.0 <= value <= 1.0) or total < 0:
        return None
    product = value * total
    nearest = round(product)
    if abs(product - nearest) <= tolerance and 0 <= nearest <= total:
        return int(nearest)
    return None


def looks_like_pass_at_k(name: str) -> bool:
    """True for metric names such as ``pass@1``, ``pass_at_5``, ``pass@k``."""
    lowered = name.strip().lower().replace(" ", "")
    for prefix in ("pass@", "pass_at_", "pass_at", "passat"):
        if lowered.startswith(prefix):
            rest = lowered[len(prefix) :]
            return rest == "k" or rest.isdigit()
    return False


def parse_timestamp(value: object) -> datetime | None:
    """Parse an ISO 8601 timestamp into an aware datetime. Naive timestamps are taken as UTC."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed
