"""Parse Inspect (``inspect_ai``) evaluation logs without importing ``inspect_ai``.

Two on-disk formats are supported, both log format version 2:

``.eval`` (zip archive, detected by the ``PK\\x03\\x04`` magic bytes, never by file name)
    ``header.json``          the finished log without samples: ``version``, ``status``, ``eval``, ``plan``,
                             ``results``, ``stats``, ``invalidated``, ``metadata`` ... (written at the end)
    ``summaries.json``       list of per-sample summaries (``id``, ``epoch``, ``scores`` ...)
    ``reductions.json``      per-scorer epoch reductions
    ``samples/<id>_epoch_<n>.json``  full samples (only checked, never parsed)
    ``_journal/start.json``  ``version``, ``eval``, ``plan`` written when the run starts; an archive that has
                             this but no ``header.json`` is a run that never finished
    ``_journal/summaries/<n>.json``  summaries flushed during the run

    Current Inspect compresses members with zstandard (zip method 93); older versions used deflate. Members
    are located through the central directory and decompressed here with a hard output bound, and checked
    against their declared size and CRC-32. zstandard members need the optional ``zstandard`` package.

``.json``
    A single JSON object with the same top-level keys as ``header.json`` plus ``samples`` and
    ``reductions``.

Only the header, and when useful the sample summaries, are parsed: never the full samples. Every member of
an archive is still checked against its size and CRC-32 (streamed, within the decompression budget), since
the file is kept as the evidence of the result.
"""

from __future__ import annotations

import io
import json
import re
import struct
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from typing import Any, Final

from .base import (
    METRIC_PASS_AT_K,
    METRIC_SUCCESS_RATE,
    SOURCE_INSPECT_EVAL,
    SOURCE_INSPECT_JSON,
    ImportFormatError,
    ParsedEvaluation,
    finite_float,
    looks_like_pass_at_k,
    parse_timestamp,
    whole_count,
)

__all__ = ["DEFAULT_MAX_UNCOMPRESSED", "SUPPORTED_LOG_VERSION", "parse_inspect_log"]

DEFAULT_MAX_UNCOMPRESSED: Final = 50 * 1024 * 1024
SUPPORTED_LOG_VERSION: Final = 2

ZIP_MAGIC: Final = b"PK\x03\x04"
_EOCD_SIGNATURE: Final = b"PK\x05\x06"
_EOCD_SIZE: Final = 22
_EOCD_SEARCH_WINDOW: Final = _EOCD_SIZE + 65535  # end-of-central-directory record + maximum comment length
_LOCAL_HEADER_SIZE: Final = 30
_METHOD_STORED: Final = 0
_METHOD_DEFLATED: Final = 8
_METHOD_ZSTANDARD: Final = 93
_READ_CHUNK: Final = 64 * 1024

HEADER_JSON: Final = "header.json"
START_JSON: Final = "_journal/start.json"
SUMMARIES_JSON: Final = "summaries.json"
_JOURNAL_SUMMARY = re.compile(r"^_journal/summaries/(\d+)\.json$")

# Per-sample score values Inspect's value_to_float maps to exactly 1 or 0.
_CORRECT_STRINGS: Final = frozenset({"c", "yes", "true"})
_INCORRECT_STRINGS: Final = frozenset({"i", "n", "no", "false"})
_BINARY_METRICS: Final = ("accuracy", "mean")
_CONFIG_KEYS: Final = (
    "epochs",
    "epochs_reducer",
    "limit",
    "time_limit",
    "working_limit",
    "message_limit",
    "token_limit",
    "turn_limit",
    "cost_limit",
)

JsonDict = dict[str, Any]
SampleScores = dict[str, list[object]]


def parse_inspect_log(
    data: bytes,
    filename: str | None = None,
    *,
    max_uncompressed: int = DEFAULT_MAX_UNCOMPRESSED,
    scorer: str | None = None,
) -> ParsedEvaluation:
    """Parse an Inspect ``.eval`` archive or ``.json`` log into a :class:`ParsedEvaluation`.

    ``filename`` is only used in error messages; the format is detected from the content.
    ``max_uncompressed`` bounds the JSON size and the total bytes decompressed from an archive.
    ``scorer`` picks a scorer by its results name (or scorer name) when a log has several; by default the
    headline scorer, then the first scorer, whose ``accuracy`` (or ``mean``) is a binary success rate.

    ``n_successes`` is ``round(value * n_completed)`` when that is a whole number within 1e-6 (and epochs
    were reduced by ``mean``), otherwise the count of per-sample scores equal to correct (``"C"``, 1,
    ``True``) when sample scores are present. A scorer whose per-sample values are not all binary
    (e.g. partial credit ``"P"``) is not treated as binary.

    Raises :class:`ImportFormatError` (see ``base.ERROR_CODES``) for anything that cannot be imported.
    """
    label = f"'{filename}'" if filename else "the file"
    if data[:4] == ZIP_MAGIC:
        log, sample_scores = _read_eval_archive(data, label, max_uncompressed)
        source_format = SOURCE_INSPECT_EVAL
    else:
        log = _read_json_log(data, label, max_uncompressed)
        sample_scores = _sample_scores(log.get("samples"))
        source_format = SOURCE_INSPECT_JSON
    return _build(log, sample_scores, source_format, label, scorer)


# --------------------------------------------------------------------------------------------- JSON


class _DuplicateKeyError(ValueError):
    pass


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> JsonDict:
    result: JsonDict = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKeyError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _load_json(raw: bytes, where: str) -> object:
    """Strictly decode UTF-8 JSON (duplicate keys rejected). NaN/Infinity constants are accepted."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ImportFormatError("invalid_json", f"{where} is not valid UTF-8: {exc.reason}") from exc
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        return json.loads(text, object_pairs_hook=_reject_duplicate_keys)
    except _DuplicateKeyError as exc:
        raise ImportFormatError("invalid_json", f"{where} is ambiguous JSON: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ImportFormatError(
            "invalid_json", f"{where} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    except (ValueError, RecursionError) as exc:
        raise ImportFormatError("invalid_json", f"{where} is not valid JSON: {exc}") from exc


def _read_json_log(data: bytes, label: str, max_uncompressed: int) -> JsonDict:
    if len(data) > max_uncompressed:
        raise ImportFormatError(
            "file_too_large", f"{label} is {len(data)} bytes; the limit is {max_uncompressed} bytes"
        )
    stripped = data.lstrip(b" \t\r\n")
    if stripped.startswith(b"\xef\xbb\xbf"):
        stripped = stripped[3:].lstrip(b" \t\r\n")
    if not stripped.startswith(b"{"):
        raise ImportFormatError(
            "not_inspect_log", f"{label} is neither an Inspect .eval archive (zip) nor an Inspect JSON log"
        )
    return _require_inspect_log(_load_json(data, label), label)


def _require_inspect_log(value: object, where: str) -> JsonDict:
    if isinstance(value, dict):
        spec = value.get("eval")
        if (
            isinstance(spec, dict)
            and isinstance(spec.get("task"), str)
            and isinstance(spec.get("model"), str)
        ):
            return value
    raise ImportFormatError(
        "not_inspect_log",
        f"{where} is JSON but not an Inspect log (expected an object with eval.task and eval.model)",
    )


# ------------------------------------------------------------------------------------------ archive


def _looks_truncated(data: bytes) -> bool:
    """True when the archive's end-of-central-directory record is missing or cut short."""
    tail_start = max(0, len(data) - _EOCD_SEARCH_WINDOW)
    position = data.rfind(_EOCD_SIGNATURE, tail_start)
    if position < 0 or position + _EOCD_SIZE > len(data):
        return True
    comment_length = int.from_bytes(data[position + 20 : position + 22], "little")
    return position + _EOCD_SIZE + comment_length > len(data)


class _ArchiveReader:
    """Reads members of an in-memory zip with a shared decompression budget."""

    def __init__(self, data: bytes, label: str, budget: int) -> None:
        self.data = data
        self.label = label
        self.remaining = budget
        self.budget = budget
        self.decoded: set[str] = set()
        try:
            self.zip = zipfile.ZipFile(io.BytesIO(data))
            self.infos = {info.filename: info for info in self.zip.infolist()}
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, struct.error) as exc:
            if _looks_truncated(data):
                raise ImportFormatError(
                    "truncated_archive",
                    f"{label} is an incomplete zip archive (no end-of-central-directory record); "
                    "was the upload cut short?",
                ) from exc
            raise ImportFormatError("corrupt_archive", f"{label} is a damaged zip archive: {exc}") from exc

    def names(self) -> Iterable[str]:
        return self.infos.keys()

    def fits(self, name: str) -> bool:
        return self.infos[name].file_size <= self.remaining

    def read(self, name: str) -> bytes:
        """The member's content, checked against its declared size and CRC-32."""
        content = self._decode(name, keep=True)
        assert content is not None
        return content

    def verify_unread(self) -> None:
        """Check every member not read yet against its declared size and CRC-32, without keeping it.

        The parser only needs the header and the summaries, but the whole file is kept as the evidence of
        the result: a damaged sample must be refused as firmly as a damaged header. Streams in chunks, so
        memory stays small; the decompression budget still bounds the total work (zip bombs)."""
        for name, info in self.infos.items():
            if name not in self.decoded and not info.is_dir():
                self._decode(name, keep=False)

    def _decode(self, name: str, *, keep: bool) -> bytes | None:
        info = self.infos[name]
        where = f"member {name!r} of {self.label}"
        if info.flag_bits & 0x1:
            raise ImportFormatError("unsupported_archive", f"{where} is encrypted")
        if info.file_size > self.remaining:
            raise ImportFormatError(
                "file_too_large",
                f"{where} declares {info.file_size} uncompressed bytes, beyond the remaining "
                f"{self.remaining} of the {self.budget}-byte limit",
            )
        raw = self._compressed_bytes(info, where)
        limit = info.file_size + 1  # one byte more than declared reveals a lying header
        if info.compress_type == _METHOD_STORED:
            chunks = self._stored(raw, limit)
        elif info.compress_type == _METHOD_DEFLATED:
            chunks = self._inflate(raw, limit, where)
        elif info.compress_type == _METHOD_ZSTANDARD:
            chunks = self._unzstd(raw, limit, where)
        else:
            raise ImportFormatError(
                "unsupported_archive", f"{where} uses unsupported zip compression method {info.compress_type}"
            )
        kept: list[bytes] = []
        size = 0
        crc = 0
        for chunk in chunks:
            size += len(chunk)
            crc = zlib.crc32(chunk, crc)
            if keep:
                kept.append(chunk)
        if size != info.file_size:
            raise ImportFormatError(
                "corrupt_archive",
                f"{where} decompresses to {'more' if size > info.file_size else 'fewer'} bytes "
                f"than the {info.file_size} it declares",
            )
        if crc != info.CRC:
            raise ImportFormatError("corrupt_archive", f"{where} fails its CRC-32 check")
        self.remaining -= size
        self.decoded.add(name)
        return b"".join(kept) if keep else None

    def _compressed_bytes(self, info: zipfile.ZipInfo, where: str) -> memoryview:
        offset = info.header_offset
        header = self.data[offset : offset + _LOCAL_HEADER_SIZE]
        if len(header) != _LOCAL_HEADER_SIZE or header[:4] != ZIP_MAGIC:
            raise ImportFormatError("corrupt_archive", f"{where} has no valid local file header")
        name_length, extra_length = struct.unpack("<HH", header[26:30])
        start = offset + _LOCAL_HEADER_SIZE + name_length + extra_length
        end = start + info.compress_size
        if end > len(self.data):
            raise ImportFormatError("corrupt_archive", f"{where} extends past the end of the archive")
        return memoryview(self.data)[start:end]

    @staticmethod
    def _stored(raw: memoryview, limit: int) -> Iterator[bytes]:
        content = raw[:limit]
        for start in range(0, len(content), _READ_CHUNK):
            yield bytes(content[start : start + _READ_CHUNK])

    @staticmethod
    def _inflate(raw: memoryview, limit: int, where: str) -> Iterator[bytes]:
        decompressor = zlib.decompressobj(-zlib.MAX_WBITS)
        pending: bytes | memoryview = raw
        total = 0
        try:
            while total < limit and not decompressor.eof:
                chunk = decompressor.decompress(pending, min(_READ_CHUNK, limit - total))
                pending = decompressor.unconsumed_tail
                if not chunk and not pending:
                    break
                total += len(chunk)
                yield chunk
        except zlib.error as exc:
            raise ImportFormatError("corrupt_archive", f"{where} has invalid deflate data: {exc}") from exc
        if total < limit and not decompressor.eof:
            raise ImportFormatError("corrupt_archive", f"{where} has an incomplete deflate stream")

    @staticmethod
    def _unzstd(raw: memoryview, limit: int, where: str) -> Iterator[bytes]:
        try:
            import zstandard
        except ImportError as exc:  # pragma: no cover - depends on the installed packages
            raise ImportFormatError(
                "unsupported_archive",
                f"{where} is zstandard-compressed (current Inspect default) but the 'zstandard' package "
                "is not installed on this server",
            ) from exc
        total = 0
        try:
            reader = zstandard.ZstdDecompressor().stream_reader(bytes(raw), read_across_frames=True)
            with reader:
                while total < limit:
                    chunk = reader.read(min(_READ_CHUNK, limit - total))
                    if not chunk:
                        break
                    total += len(chunk)
                    yield chunk
        except zstandard.ZstdError as exc:
            raise ImportFormatError("corrupt_archive", f"{where} has invalid zstandard data: {exc}") from exc


def _read_eval_archive(
    data: bytes, label: str, max_uncompressed: int
) -> tuple[JsonDict, SampleScores | None]:
    archive = _ArchiveReader(data, label, max_uncompressed)
    names = set(archive.names())
    if HEADER_JSON in names:
        header_name = HEADER_JSON
    elif START_JSON in names:
        header_name = START_JSON  # the run started but never wrote its final header
    else:
        raise ImportFormatError(
            "not_inspect_log",
            f"{label} is a zip archive but not an Inspect .eval log (no {HEADER_JSON} or {START_JSON})",
        )
    where = f"{header_name} in {label}"
    log = _require_inspect_log(_load_json(archive.read(header_name), where), where)
    if header_name == START_JSON:
        log = {**log, "status": "started"}
    sample_scores = _archive_sample_scores(archive, names)
    archive.verify_unread()
    return log, sample_scores


def _archive_sample_scores(archive: _ArchiveReader, names: set[str]) -> SampleScores | None:
    """Per-sample scores from the summaries; None when absent or too large for the remaining budget."""
    if SUMMARIES_JSON in names:
        members = [SUMMARIES_JSON]
    else:
        numbered = [(int(m.group(1)), name) for name in names if (m := _JOURNAL_SUMMARY.match(name))]
        members = [name for _, name in sorted(numbered)]
    if not members or not all(archive.fits(name) for name in members):
        return None
    summaries: list[object] = []
    for name in members:
        content = _load_json(archive.read(name), f"{name} in {archive.label}")
        if not isinstance(content, list):
            return None
        summaries.extend(content)
    return _sample_scores(summaries)


# ------------------------------------------------------------------------------------------ results


def _sample_scores(samples: object) -> SampleScores | None:
    """Map score name -> per-sample(-epoch) score values, from samples or sample summaries."""
    if not isinstance(samples, list):
        return None
    values: SampleScores = {}
    for sample in samples:
        scores = sample.get("scores") if isinstance(sample, dict) else None
        if not isinstance(scores, dict):
            continue
        for name, score in scores.items():
            if isinstance(score, dict) and "value" in score:
                values.setdefault(name, []).append(score["value"])
    return values


def _binary_value(value: object) -> int | None:
    """1 for a correct per-sample value, 0 for an incorrect one, None when not binary (e.g. "P", 0.5)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return int(value) if value in (0, 1) else None
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _CORRECT_STRINGS:
            return 1
        if lowered in _INCORRECT_STRINGS:
            return 0
    return None


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _dict(value: object) -> JsonDict:
    return value if isinstance(value, dict) else {}


def _flatten_metrics(score_name: str, metrics: JsonDict) -> dict[str, float]:
    flat: dict[str, float] = {}
    for key, metric in metrics.items():
        value = metric.get("value") if isinstance(metric, dict) else metric
        number = finite_float(value)
        if number is not None:
            flat[f"{score_name}/{key}"] = number
        elif isinstance(value, dict):
            for sub_key, sub_value in value.items():
                sub_number = finite_float(sub_value)
                if sub_number is not None:
                    flat[f"{score_name}/{key}/{sub_key}"] = sub_number
    return flat


class _Choice:
    def __init__(
        self, score_name: str, metric_key: str, value: float, n_successes: int | None, metric: str
    ) -> None:
        self.score_name = score_name
        self.metric_key = metric_key
        self.value = value
        self.n_successes = n_successes
        self.metric = metric


def _metric_value(metrics: JsonDict, key: str) -> float | None:
    metric = metrics.get(key)
    return finite_float(metric.get("value") if isinstance(metric, dict) else metric)


def _choose_scorer(
    score_entries: list[JsonDict],
    sample_scores: SampleScores | None,
    n_denominator: int | None,
    mean_reduced: bool,
    requested: str | None,
    label: str,
) -> tuple[JsonDict, _Choice]:
    available = [str(entry.get("name")) for entry in score_entries]
    if requested is not None:
        score_entries = [e for e in score_entries if requested in (e.get("name"), e.get("scorer"))]
        if not score_entries:
            raise ImportFormatError(
                "scorer_not_found",
                f"scorer {requested!r} is not in the results of {label} (available: {', '.join(available)})",
            )
    reasons: list[str] = []
    for entry in score_entries:
        name = str(entry.get("name"))
        metrics = _dict(entry.get("metrics"))
        for key in _BINARY_METRICS:
            value = _metric_value(metrics, key)
            if value is None:
                continue
            if not 0.0 <= value <= 1.0:
                reasons.append(f"{name}/{key}={value} is outside [0, 1]")
                continue
            per_sample = sample_scores.get(name) if sample_scores is not None else None
            counted: int | None = None
            if per_sample:
                flags = [_binary_value(v) for v in per_sample]
                if any(flag is None for flag in flags):
                    odd = next(v for v, flag in zip(per_sample, flags, strict=True) if flag is None)
                    reasons.append(f"{name} has non-binary sample scores such as {odd!r}")
                    continue
                counted = sum(flag for flag in flags if flag is not None)
            derived = (
                whole_count(value, n_denominator) if n_denominator is not None and mean_reduced else None
            )
            n_successes = derived if derived is not None else counted
            if n_successes is None or (n_denominator is not None and n_successes > n_denominator):
                reasons.append(
                    f"{name}/{key}={value} does not correspond to a whole number of the "
                    f"{n_denominator} samples and no per-sample scores are available"
                )
                continue
            return entry, _Choice(name, key, value, n_successes, METRIC_SUCCESS_RATE)
    for entry in score_entries:
        name = str(entry.get("name"))
        metrics = _dict(entry.get("metrics"))
        for key in metrics:
            value = _metric_value(metrics, key)
            if looks_like_pass_at_k(key) and value is not None and 0.0 <= value <= 1.0:
                return entry, _Choice(name, key, value, None, METRIC_PASS_AT_K)
    detail = "; ".join(reasons) if reasons else "no scorer reports an accuracy or mean metric"
    raise ImportFormatError("no_binary_scorer", f"{label} has no binary scorer: {detail}")


def _ordered_scores(results: JsonDict) -> list[JsonDict]:
    entries = [
        e for e in results.get("scores") or [] if isinstance(e, dict) and isinstance(e.get("name"), str)
    ]
    headline = _dict(results.get("headline")).get("score")
    if isinstance(headline, str):
        entries.sort(key=lambda entry: entry.get("name") != headline)  # stable: headline first
    return entries


def _config(eval_config: JsonDict) -> dict[str, object]:
    config: dict[str, object] = {}
    for key in _CONFIG_KEYS:
        value = eval_config.get(key)
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int | float | str):
            config[key] = value
        elif isinstance(value, list) and all(isinstance(item, str | int) for item in value):
            config[key] = list(value)
    return config


def _check_status(log: JsonDict, label: str) -> None:
    version = log.get("version")
    if isinstance(version, bool) or version != SUPPORTED_LOG_VERSION:
        raise ImportFormatError(
            "unsupported_log_version",
            f"{label} is Inspect log format version {version!r}; only version {SUPPORTED_LOG_VERSION} "
            "is supported (re-save it with a current inspect_ai, e.g. `inspect log convert`)",
        )
    status = log.get("status")
    if status != "success":
        error_message = _str_or_none(_dict(log.get("error")).get("message"))
        suffix = f" ({error_message[:200]})" if error_message else ""
        raise ImportFormatError(
            "log_not_successful",
            f"{label} records an Inspect run with status {status!r}; only status 'success' can be "
            f"imported{suffix}",
        )
    if log.get("invalidated") is True:
        raise ImportFormatError("log_invalidated", f"{label} has been marked invalidated")


def _build(
    log: JsonDict,
    sample_scores: SampleScores | None,
    source_format: str,
    label: str,
    requested_scorer: str | None,
) -> ParsedEvaluation:
    _check_status(log, label)
    spec = _dict(log.get("eval"))
    dataset = _dict(spec.get("dataset"))
    eval_config = _dict(spec.get("config"))
    results = _dict(log.get("results"))
    stats = _dict(log.get("stats"))

    epochs = _int_or_none(eval_config.get("epochs")) or 1
    reducer = eval_config.get("epochs_reducer")
    mean_reduced = epochs <= 1 or reducer in (None, [], ["mean"])

    dataset_samples = _int_or_none(dataset.get("samples"))
    n_trials = _int_or_none(results.get("total_samples"))
    if n_trials is None and dataset_samples is not None:
        n_trials = dataset_samples * epochs
    n_completed = _int_or_none(results.get("completed_samples"))
    if n_completed == 0 or (n_completed is None and n_trials == 0):
        raise ImportFormatError("no_completed_samples", f"{label} completed no samples")
    denominator = n_completed if n_completed is not None else n_trials

    entry, choice = _choose_scorer(
        _ordered_scores(results), sample_scores, denominator, mean_reduced, requested_scorer, label
    )

    metadata = _dict(spec.get("metadata")) or _dict(log.get("metadata"))
    task_version = spec.get("task_version")
    dataset_name = _str_or_none(dataset.get("name"))
    return ParsedEvaluation(
        source_format=source_format,
        model_name=str(spec["model"]),
        task=str(spec["task"]),
        task_version=None if isinstance(task_version, bool) or task_version is None else str(task_version),
        task_family=_str_or_none(metadata.get("task_family")),
        benchmark=dataset_name,
        dataset_name=dataset_name,
        n_trials=n_trials,
        n_completed=n_completed,
        n_successes=choice.n_successes,
        metric=choice.metric,
        metric_name=choice.metric_key,
        metric_value=choice.value,
        scorer=choice.score_name,
        metrics=_flatten_metrics(choice.score_name, _dict(entry.get("metrics"))),
        config=_config(eval_config),
        run_started_at=parse_timestamp(stats.get("started_at")) or parse_timestamp(spec.get("created")),
        run_completed_at=parse_timestamp(stats.get("completed_at")),
        run_id=_str_or_none(spec.get("run_id")) or _str_or_none(spec.get("eval_id")),
        log_format_version=_int_or_none(log.get("version")),
    )
