"""Parse Hugging Face ``model-index`` evaluation results.

Input is either a YAML document with a top-level ``model-index:`` key, or a model card (``README.md``)
whose YAML front matter -- between a leading ``---`` line and the next ``---`` (or ``...``) line --
contains ``model-index``. YAML is only ever loaded with PyYAML's safe loader: libyaml's ``CSafeLoader``
when the installed PyYAML has it (several times faster; libyaml also refuses nesting deeper than 1000
levels), else the pure-Python ``SafeLoader``. Both build only plain data and share one node per alias, so
an alias "bomb" costs no memory; MAX_EVALUATIONS bounds what it expands to here.

Expected shape (https://github.com/huggingface/hub-docs/blob/main/modelcard.md)::

    model-index:
      - name: example-org/replica-probe-7b
        results:
          - task: {type: text-generation, name: Self-replication probe}
            dataset: {type: example-org/replication-probe, name: Replication Probe, split: test}
            metrics:
              - type: accuracy
                value: 0.5
                args: {n_trials: 10, n_successes: 5}

Each ``results[]`` entry x each ``metrics[]`` entry becomes one :class:`ParsedEvaluation`:

* ``model_name`` = ``model-index[].name``; ``task`` = ``task.type`` or else ``task.name``;
  ``benchmark`` and ``dataset_name`` = ``dataset.name`` or else ``dataset.type``;
  ``metric_name`` = ``metric.type``; ``metric_value`` = ``metric.value`` (must be a number).
* ``metric`` is ``"pass_at_k"`` for pass@k-like types, ``"success_rate"`` for accuracy / success-rate
  types whose value lies in [0, 1] (percentages stay ``"other"``: values are never rescaled), else
  ``"other"``.
* Counts: model cards carry no sample counts, so ``n_trials``, ``n_completed`` and ``n_successes`` are
  None unless the metric's ``args`` mapping holds integers ``n_trials`` and/or ``n_successes``
  (``n_completed`` is ``args.n_completed`` if given, else ``n_trials``). Counts must satisfy
  ``0 <= n_successes <= n_completed <= n_trials``, and a success-rate value must equal
  ``n_successes / n_completed`` (within 1e-6).
* Timestamps, run id, scorer, task version/family and log format version are None.
"""

from __future__ import annotations

import re
from typing import Any, Final

import yaml

from .base import (
    METRIC_OTHER,
    METRIC_PASS_AT_K,
    METRIC_SUCCESS_RATE,
    SOURCE_HF_MODEL_INDEX,
    ImportFormatError,
    ParsedEvaluation,
    finite_float,
    looks_like_pass_at_k,
)

__all__ = ["DEFAULT_MAX_BYTES", "MAX_EVALUATIONS", "parse_model_index"]

DEFAULT_MAX_BYTES: Final = 1024 * 1024
#: Upper bound on evaluations produced from one document (YAML aliases can multiply entries cheaply).
MAX_EVALUATIONS: Final = 1000

# The safe loader, in C when PyYAML was built with libyaml (its wheels are).
_SafeLoader: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_FRONT_MATTER_END = re.compile(r"^(?:---|\.\.\.)[ \t]*$", re.MULTILINE)
_SUCCESS_RATE_TYPES: Final = frozenset(
    {
        "accuracy",
        "acc",
        "success_rate",
        "success-rate",
        "successrate",
        "exact_match",
        "pass_rate",
        "solve_rate",
    }
)
_DATASET_CONFIG_KEYS: Final = (
    ("config", "dataset_config"),
    ("split", "dataset_split"),
    ("revision", "dataset_revision"),
)


def parse_model_index(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> list[ParsedEvaluation]:
    """Parse a model-index YAML file or a model card with model-index front matter.

    Returns one :class:`ParsedEvaluation` per (result, metric) pair, in document order. Raises
    :class:`ImportFormatError` with code ``file_too_large`` or ``invalid_model_index``.
    """
    if len(data) > max_bytes:
        raise ImportFormatError(
            "file_too_large", f"model-index input is {len(data)} bytes; the limit is {max_bytes} bytes"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFormatError("invalid_model_index", f"input is not valid UTF-8: {exc.reason}") from exc
    document = _load_yaml(_front_matter(text))
    if not isinstance(document, dict):
        raise ImportFormatError(
            "invalid_model_index",
            "expected a YAML mapping with a top-level 'model-index' key (or a model card whose front "
            f"matter has one), got {_kind(document)}",
        )
    if "model-index" not in document:
        raise ImportFormatError("invalid_model_index", "the YAML has no top-level 'model-index' key")
    models = document["model-index"]
    if not isinstance(models, list) or not models:
        raise ImportFormatError("invalid_model_index", "'model-index' must be a non-empty list of models")

    evaluations: list[ParsedEvaluation] = []
    for model_pos, model in enumerate(models):
        where = f"model-index[{model_pos}]"
        model_map = _mapping(model, where)
        model_name = _text(model_map.get("name"), f"{where}.name")
        results = model_map.get("results")
        if not isinstance(results, list) or not results:
            raise ImportFormatError("invalid_model_index", f"{where}.results must be a non-empty list")
        for result_pos, result in enumerate(results):
            result_where = f"{where}.results[{result_pos}]"
            result_map = _mapping(result, result_where)
            metrics = result_map.get("metrics")
            if not isinstance(metrics, list) or not metrics:
                raise ImportFormatError(
                    "invalid_model_index", f"{result_where}.metrics must be a non-empty list"
                )
            for metric_pos, metric in enumerate(metrics):
                if len(evaluations) >= MAX_EVALUATIONS:
                    raise ImportFormatError(
                        "invalid_model_index", f"the model-index has more than {MAX_EVALUATIONS} results"
                    )
                evaluations.append(
                    _evaluation(model_name, result_map, metric, f"{result_where}.metrics[{metric_pos}]")
                )
    return evaluations


def _front_matter(text: str) -> str:
    """The YAML front matter of a model card, or the whole text when there is no ``---`` ... ``---`` block.

    A plain YAML file may itself begin with the ``---`` document marker; without a closing marker line it is
    read whole.
    """
    lines = text.split("\n", 1)
    if lines[0].rstrip() != "---":
        return text
    body = lines[1] if len(lines) > 1 else ""
    end = _FRONT_MATTER_END.search(body)
    return text if end is None else body[: end.start()]


def _load_yaml(text: str) -> object:
    try:
        return yaml.load(text, Loader=_SafeLoader)  # noqa: S506 - a safe loader (see _SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        position = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or exc.__class__.__name__
        raise ImportFormatError("invalid_model_index", f"invalid YAML{position}: {problem}") from exc
    except RecursionError as exc:
        raise ImportFormatError("invalid_model_index", "invalid YAML: nested too deeply") from exc


def _kind(value: object) -> str:
    if value is None:
        return "an empty document"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "plain text"
    return f"a {type(value).__name__}"


def _mapping(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ImportFormatError("invalid_model_index", f"{where} must be a mapping, got {_kind(value)}")
    return value


def _text(value: object, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float) or not str(value).strip():
        raise ImportFormatError("invalid_model_index", f"{where} must be a non-empty string")
    return str(value).strip()


def _optional_text(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    return str(value).strip() or None


def _count(args: dict[str, Any], key: str, where: str) -> int | None:
    if key not in args or args[key] is None:
        return None
    value: object = args[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ImportFormatError("invalid_model_index", f"{where}.args.{key} must be a non-negative integer")
    return value


def _metric_kind(metric_type: str, value: float) -> str:
    if looks_like_pass_at_k(metric_type):
        return METRIC_PASS_AT_K
    normalised = metric_type.strip().lower().replace(" ", "_")
    if normalised in _SUCCESS_RATE_TYPES and 0.0 <= value <= 1.0:
        return METRIC_SUCCESS_RATE
    return METRIC_OTHER


def _evaluation(model_name: str, result: dict[str, Any], metric: object, where: str) -> ParsedEvaluation:
    result_where = where.rsplit(".metrics[", 1)[0]
    task = _mapping(result.get("task"), f"{result_where}.task")
    task_name = _optional_text(task.get("type")) or _optional_text(task.get("name"))
    if task_name is None:
        raise ImportFormatError("invalid_model_index", f"{result_where}.task needs a 'type' or 'name'")
    dataset_raw = result.get("dataset")
    dataset = _mapping(dataset_raw, f"{result_where}.dataset") if dataset_raw is not None else {}
    dataset_name = _optional_text(dataset.get("name")) or _optional_text(dataset.get("type"))

    metric_map = _mapping(metric, where)
    metric_type = _text(metric_map.get("type"), f"{where}.type")
    raw_value = metric_map.get("value")
    value = finite_float(raw_value)
    if value is None:
        raise ImportFormatError(
            "invalid_model_index", f"{where}.value must be a finite number, got {raw_value!r}"
        )

    args_raw = metric_map.get("args")
    args = args_raw if isinstance(args_raw, dict) else {}
    n_trials = _count(args, "n_trials", where)
    n_successes = _count(args, "n_successes", where)
    n_completed = _count(args, "n_completed", where)
    if n_completed is None:
        n_completed = n_trials
    if n_trials is not None and n_completed is not None and n_completed > n_trials:
        raise ImportFormatError("invalid_model_index", f"{where}.args.n_completed exceeds n_trials")
    if n_successes is not None and n_completed is not None and n_successes > n_completed:
        raise ImportFormatError("invalid_model_index", f"{where}.args.n_successes exceeds the trials run")

    metric_kind = _metric_kind(metric_type, value)
    if (
        metric_kind == METRIC_SUCCESS_RATE
        and n_successes is not None
        and n_completed
        and abs(n_successes / n_completed - value) > 1e-6
    ):
        raise ImportFormatError(
            "invalid_model_index",
            f"{where}.value {value} does not match n_successes/n_completed = {n_successes}/{n_completed}",
        )

    config: dict[str, object] = {}
    for key, config_key in _DATASET_CONFIG_KEYS:
        text = _optional_text(dataset.get(key))
        if text is not None:
            config[config_key] = text
    for key, item in args.items():
        if key not in ("n_trials", "n_successes", "n_completed") and _is_scalar(item):
            config[f"metric_args.{key}"] = item

    return ParsedEvaluation(
        source_format=SOURCE_HF_MODEL_INDEX,
        model_name=model_name,
        task=task_name,
        task_version=None,
        task_family=None,
        benchmark=dataset_name,
        dataset_name=dataset_name,
        n_trials=n_trials,
        n_completed=n_completed,
        n_successes=n_successes,
        metric=metric_kind,
        metric_name=metric_type,
        metric_value=value,
        scorer=None,
        metrics={metric_type: value},
        config=config,
        run_started_at=None,
        run_completed_at=None,
        run_id=None,
        log_format_version=None,
    )


def _is_scalar(value: object) -> bool:
    if isinstance(value, float):
        return finite_float(value) is not None
    return isinstance(value, str | int | bool)
