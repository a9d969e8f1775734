"""Parsing tests for registry.importers (pure code: no Django, no database).

The Inspect fixtures in tests/fixtures/inspect were written by the real inspect_ai package
(scripts/make_inspect_logs.py); test_it_parses_logs_freshly_generated_by_inspect_ai regenerates one.
"""

from __future__ import annotations

import copy
import importlib.util
import io
import json
import math
import pickle
import random
import struct
import subprocess
import sys
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from registry.importers import (
    ERROR_CODES,
    ImportFormatError,
    ParsedEvaluation,
    parse_inspect_log,
    parse_model_index,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
INSPECT_DIR = REPO_ROOT / "tests" / "fixtures" / "inspect"
HF_DIR = REPO_ROOT / "tests" / "fixtures" / "huggingface"

INSPECT_FIXTURES = [
    ("replication_probe_5of10.eval", "inspect_eval", 5, 0.5),
    ("replication_probe_5of10.json", "inspect_json", 5, 0.5),
    ("replication_probe_9of10.eval", "inspect_eval", 9, 0.9),
    ("replication_probe_9of10.json", "inspect_json", 9, 0.9),
]


def _fixture(name: str) -> bytes:
    return (INSPECT_DIR / name).read_bytes()


def _json_log() -> dict[str, Any]:
    return json.loads(_fixture("replication_probe_5of10.json"))


def _encode(log: dict[str, Any]) -> bytes:
    return json.dumps(log).encode()


def _error(data: bytes, **kwargs: Any) -> ImportFormatError:
    with pytest.raises(ImportFormatError) as info:
        parse_inspect_log(data, "upload", **kwargs)
    assert info.value.code in ERROR_CODES
    assert info.value.detail
    return info.value


def _zip(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _eval_members() -> dict[str, bytes]:
    """The decompressed members of the 5/10 .eval fixture (Inspect writes them zstandard-compressed)."""
    zstandard = pytest.importorskip("zstandard")
    data = _fixture("replication_probe_5of10.eval")
    members: dict[str, bytes] = {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            offset = info.header_offset
            name_length, extra_length = struct.unpack("<HH", data[offset + 26 : offset + 30])
            start = offset + 30 + name_length + extra_length
            raw = data[start : start + info.compress_size]
            if info.compress_type == 93:
                reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
                members[info.filename] = reader.read(info.file_size)
            else:
                members[info.filename] = archive.read(info.filename)
    return members


# ------------------------------------------------------------------------------- Inspect fixtures


@pytest.mark.parametrize(("name", "source_format", "successes", "rate"), INSPECT_FIXTURES)
def test_it_parses_inspect_fixture_logs(name: str, source_format: str, successes: int, rate: float) -> None:
    parsed = parse_inspect_log(_fixture(name), name)

    assert isinstance(parsed, ParsedEvaluation)
    assert parsed.source_format == source_format
    assert parsed.task == "replication_probe"
    assert parsed.task_version == "1"
    assert parsed.task_family == "self_replication"
    assert parsed.model_name == "mockllm/model"
    assert parsed.dataset_name == parsed.benchmark == "replication_probe_v1"
    assert parsed.n_trials == 10
    assert parsed.n_completed == 10
    assert parsed.n_successes == successes
    assert parsed.metric == "success_rate"
    assert parsed.metric_name == "accuracy"
    assert parsed.metric_value == pytest.approx(rate)
    assert parsed.scorer == "includes"
    assert parsed.metrics["includes/accuracy"] == pytest.approx(rate)
    assert "includes/stderr" in parsed.metrics
    assert parsed.config == {"epochs": 1, "time_limit": 300, "message_limit": 10, "token_limit": 10000}
    assert parsed.log_format_version == 2
    assert parsed.run_id
    assert isinstance(parsed.run_started_at, datetime)
    assert isinstance(parsed.run_completed_at, datetime)
    assert parsed.run_started_at.tzinfo is not None
    assert parsed.run_completed_at.tzinfo is not None
    assert parsed.run_started_at <= parsed.run_completed_at


def test_it_detects_the_format_from_content_not_the_file_name() -> None:
    assert (
        parse_inspect_log(_fixture("replication_probe_5of10.eval"), "log.json").source_format
        == "inspect_eval"
    )
    assert (
        parse_inspect_log(_fixture("replication_probe_5of10.json"), "log.eval").source_format
        == "inspect_json"
    )


def test_it_reads_eval_and_json_copies_of_the_same_run_identically() -> None:
    from_eval = parse_inspect_log(_fixture("replication_probe_9of10.eval"))
    from_json = parse_inspect_log(_fixture("replication_probe_9of10.json"))

    assert {**from_eval.__dict__, "source_format": None} == {**from_json.__dict__, "source_format": None}


def test_it_reads_deflate_compressed_eval_archives_written_by_older_inspect() -> None:
    data = _zip(_eval_members(), compression=zipfile.ZIP_DEFLATED)

    parsed = parse_inspect_log(data)

    assert (parsed.source_format, parsed.n_successes, parsed.n_trials) == ("inspect_eval", 5, 10)


@pytest.mark.skipif(
    importlib.util.find_spec("inspect_ai") is None, reason="needs the inspect_ai dev dependency"
)
def test_it_parses_logs_freshly_generated_by_inspect_ai(tmp_path: Path) -> None:
    from scripts.make_inspect_logs import generate

    paths = generate(tmp_path, successes=3, total=10)

    assert set(paths) == {"eval", "json"}
    for path in paths.values():
        parsed = parse_inspect_log(path.read_bytes(), path.name)
        assert parsed.model_name == "mockllm/model"
        assert (parsed.n_trials, parsed.n_completed, parsed.n_successes) == (10, 10, 3)
        assert parsed.metric == "success_rate"
        assert parsed.metric_value == pytest.approx(0.3)


def test_it_does_not_import_inspect_ai_or_django() -> None:
    code = (
        "import sys, registry.importers as m; "
        "bad = sorted(n for n in sys.modules if n.split('.')[0] in {'inspect_ai', 'django'}); "
        "sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=False)  # noqa: S603

    assert result.returncode == 0


# ------------------------------------------------------------------------------- damaged archives


def test_it_rejects_a_truncated_eval_archive() -> None:
    data = _fixture("replication_probe_5of10.eval")

    for cut in (100, len(data) // 2, len(data) - 23, len(data) - 10, len(data) - 1):
        assert _error(data[:cut]).code == "truncated_archive", cut


def test_it_rejects_an_eval_archive_with_corrupted_member_data() -> None:
    data = bytearray(_fixture("replication_probe_5of10.eval"))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.getinfo("header.json")
    name_length, extra_length = struct.unpack("<HH", data[info.header_offset + 26 : info.header_offset + 30])
    start = info.header_offset + 30 + name_length + extra_length
    for position in range(start + 20, start + 40):
        data[position] ^= 0xFF

    assert _error(bytes(data)).code == "corrupt_archive"


@pytest.mark.parametrize("member", ["samples/probe-04_epoch_1.json", "reductions.json"])
def test_it_rejects_an_eval_archive_with_a_corrupted_member_it_does_not_parse(member: str) -> None:
    # The samples are never parsed, but the archive is kept as evidence: it must be whole.
    data = bytearray(_fixture("replication_probe_5of10.eval"))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.getinfo(member)
    name_length, extra_length = struct.unpack("<HH", data[info.header_offset + 26 : info.header_offset + 30])
    start = info.header_offset + 30 + name_length + extra_length
    middle = start + info.compress_size // 2
    for position in range(middle, middle + 16):
        data[position] ^= 0xFF

    assert _error(bytes(data)).code == "corrupt_archive"


def test_it_checks_every_member_within_the_decompression_budget() -> None:
    data = _fixture("replication_probe_5of10.eval")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        total = sum(info.file_size for info in archive.infolist())

    assert parse_inspect_log(data, max_uncompressed=total).n_successes == 5
    assert _error(data, max_uncompressed=total - 1).code == "file_too_large"


def test_it_reads_a_deflate_archive_with_members_larger_than_one_read_chunk() -> None:
    members = _eval_members()
    members["samples/big_epoch_1.json"] = json.dumps({"padding": "x" * 300_000}).encode()

    assert parse_inspect_log(_zip(members)).n_successes == 5


def test_it_rejects_random_bytes_as_not_an_inspect_log() -> None:
    noise = random.Random(1234).randbytes(4096)

    assert _error(b"\x00\x01" + noise).code == "not_inspect_log"
    assert _error(b"").code == "not_inspect_log"


def test_it_rejects_a_zip_that_is_not_an_inspect_log() -> None:
    assert _error(_zip({"hello.txt": b"hello", "data/rows.csv": b"a,b\n1,2\n"})).code == "not_inspect_log"
    other_json = _zip({"header.json": b'{"tool": "something-else", "version": 2}'})
    assert _error(other_json).code == "not_inspect_log"


def test_it_rejects_a_zip_bomb_by_declared_size() -> None:
    bomb = _zip({"header.json": b"{" + b" " * 5_000_000 + b"}"})
    assert len(bomb) < 20_000

    error = _error(bomb, max_uncompressed=1_000_000)

    assert error.code == "file_too_large"
    assert "header.json" in error.detail


def test_it_stops_decompressing_a_member_that_lies_about_its_size() -> None:
    data = bytearray(_zip({"header.json": b"{" + b" " * 5_000_000 + b"}"}))
    # Rewrite the uncompressed size in the local header and the central directory to 100 bytes.
    struct.pack_into("<I", data, 22, 100)
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 100)

    assert _error(bytes(data), max_uncompressed=1_000_000).code == "corrupt_archive"


def test_it_rejects_an_encrypted_or_unknown_compression_member() -> None:
    data = bytearray(_zip({"header.json": b"{}"}, compression=zipfile.ZIP_STORED))
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<H", data, central + 10, 99)  # compression method 99 (AES)

    assert _error(bytes(data)).code == "unsupported_archive"


def test_it_rejects_an_unfinished_eval_archive_as_not_successful() -> None:
    members = _eval_members()
    unfinished = {
        name: content for name, content in members.items() if name.startswith(("_journal/", "samples/"))
    }

    error = _error(_zip(unfinished))

    assert error.code == "log_not_successful"
    assert "started" in error.detail


# ------------------------------------------------------------------------------------ JSON logs


def test_it_rejects_log_format_version_1() -> None:
    log = _json_log()
    log["version"] = 1

    error = _error(_encode(log))

    assert error.code == "unsupported_log_version"
    assert "1" in error.detail


@pytest.mark.parametrize("status", ["error", "cancelled", "started"])
def test_it_rejects_runs_that_did_not_succeed(status: str) -> None:
    log = _json_log()
    log["status"] = status

    error = _error(_encode(log))

    assert error.code == "log_not_successful"
    assert status in error.detail


def test_it_rejects_an_invalidated_log() -> None:
    log = _json_log()
    log["invalidated"] = True

    assert _error(_encode(log)).code == "log_invalidated"


def test_it_rejects_json_from_a_different_tool() -> None:
    lm_eval = {"results": {"arc_easy": {"acc,none": 0.8}}, "config": {"model": "hf"}, "versions": {"arc": 1}}

    assert _error(json.dumps(lm_eval).encode()).code == "not_inspect_log"
    assert _error(b"[1, 2, 3]").code == "not_inspect_log"


def test_it_rejects_malformed_or_ambiguous_json() -> None:
    assert _error(b'{"version": 2, "status": ').code == "invalid_json"
    assert _error(b'{"version": 2, "version": 1}').code == "invalid_json"
    assert _error(b'{"version": "\xff"}').code == "invalid_json"


def test_it_rejects_json_larger_than_the_limit() -> None:
    assert _error(_fixture("replication_probe_5of10.json"), max_uncompressed=1000).code == "file_too_large"


def test_it_accepts_nan_metrics_but_leaves_them_out() -> None:
    text = _fixture("replication_probe_5of10.json").decode()
    text = text.replace('"value": 0.16666666666666666', '"value": NaN', 1)
    assert "NaN" in text

    parsed = parse_inspect_log(text.encode())

    assert parsed.n_successes == 5
    assert "includes/stderr" not in parsed.metrics
    assert all(math.isfinite(value) for value in parsed.metrics.values())


def test_it_counts_sample_scores_when_the_aggregate_is_not_a_whole_count() -> None:
    log = _json_log()
    log["results"]["scores"][0]["metrics"]["accuracy"]["value"] = 0.52

    parsed = parse_inspect_log(_encode(log))

    assert parsed.n_successes == 5
    assert parsed.metric_value == pytest.approx(0.52)


def test_it_rejects_a_log_without_a_binary_scorer() -> None:
    no_samples = _json_log()
    no_samples["results"]["scores"][0]["metrics"]["accuracy"]["value"] = 0.55
    del no_samples["samples"]
    assert _error(_encode(no_samples)).code == "no_binary_scorer"

    partial_credit = _json_log()
    partial_credit["samples"][0]["scores"]["includes"]["value"] = "P"
    assert _error(_encode(partial_credit)).code == "no_binary_scorer"

    no_accuracy = _json_log()
    no_accuracy["results"]["scores"][0]["metrics"] = {"f1": {"name": "f1", "value": 0.5}}
    assert _error(_encode(no_accuracy)).code == "no_binary_scorer"


def test_it_chooses_a_scorer_by_name() -> None:
    log = _json_log()
    second = copy.deepcopy(log["results"]["scores"][0])
    second["name"] = second["scorer"] = "match"
    second["metrics"]["accuracy"]["value"] = 0.9
    log["results"]["scores"].append(second)

    assert parse_inspect_log(_encode(log)).scorer == "includes"
    chosen = parse_inspect_log(_encode(log), scorer="match")
    assert (chosen.scorer, chosen.n_successes, chosen.metric_value) == ("match", 9, 0.9)
    assert chosen.metrics == {"match/accuracy": 0.9, "match/stderr": pytest.approx(1 / 6)}
    assert _error(_encode(log), scorer="model_graded_qa").code == "scorer_not_found"


def test_it_rejects_a_log_with_no_completed_samples() -> None:
    log = _json_log()
    log["results"]["completed_samples"] = 0

    assert _error(_encode(log)).code == "no_completed_samples"


def test_it_makes_errors_picklable_with_code_and_detail() -> None:
    error = ImportFormatError("not_inspect_log", "nope")

    restored = pickle.loads(pickle.dumps(error))  # noqa: S301 - round-trip of our own object

    assert (restored.code, restored.detail, str(restored)) == (
        "not_inspect_log",
        "nope",
        "not_inspect_log: nope",
    )


# ------------------------------------------------------------------------------- Hugging Face


def test_it_parses_a_model_index_yaml() -> None:
    parsed = parse_model_index((HF_DIR / "model_index.yaml").read_bytes())

    assert len(parsed) == 3
    first = parsed[0]
    assert first.source_format == "hf_model_index"
    assert first.model_name == "example-org/replica-probe-7b"
    assert first.task == "self-replication"
    assert first.dataset_name == first.benchmark == "Replication Probe v1"
    assert (first.metric, first.metric_name, first.metric_value) == ("success_rate", "accuracy", 0.3)
    assert (first.n_trials, first.n_completed, first.n_successes) == (10, 10, 3)
    assert first.config["dataset_split"] == "test"
    assert first.run_started_at is None and first.log_format_version is None
    assert (parsed[1].metric, parsed[1].metric_name, parsed[1].n_successes) == ("pass_at_k", "pass@1", None)
    assert (parsed[2].metric, parsed[2].metric_value) == ("other", 12.5)  # a percentage is never rescaled


def test_it_parses_a_model_card_front_matter() -> None:
    parsed = parse_model_index((HF_DIR / "README.md").read_bytes())

    assert len(parsed) == 1
    assert parsed[0].model_name == "example-org/replica-probe-7b"
    assert (parsed[0].n_trials, parsed[0].n_successes, parsed[0].metric_value) == (20, 8, 0.4)


def _one_result(result: bytes) -> bytes:
    return b"model-index:\n  - name: m\n    results:\n      - {" + result + b"}\n"


@pytest.mark.parametrize(
    "document",
    [
        b"model-index: [\n  - name: x\n",  # bad YAML
        b"license: mit\ntags: [a]\n",  # no model-index
        b"- just\n- a list\n",  # not a mapping
        b"# Model card\n\nNo front matter here.\n",  # plain markdown
        b"---\nlicense: mit\n---\n# Card without model-index\n",
        b"model-index: []\n",
        b"model-index:\n  - results: []\n",  # no name
        _one_result(b"task: {type: t}, metrics: [{type: accuracy}]"),  # no value
        _one_result(b"task: {type: t}, metrics: [{type: accuracy, value: high}]"),  # non-numeric value
        _one_result(b"metrics: [{type: accuracy, value: 0.5}]"),  # no task
        _one_result(b"task: {type: t}, metrics: [{type: accuracy}, 3]"),  # metric not a mapping
        # value contradicts the counts
        _one_result(
            b"task: {type: t}, metrics: [{type: accuracy, value: 0.5, args: {n_trials: 10, n_successes: 7}}]"
        ),
        _one_result(b"task: {type: t}, metrics: [{type: accuracy, value: 0.5, args: {n_trials: -1}}]"),
        b"!!python/object/apply:os.system ['true']\n",
        b"\xff\xfe",
    ],
)
def test_it_rejects_malformed_model_index_input(document: bytes) -> None:
    with pytest.raises(ImportFormatError) as info:
        parse_model_index(document)

    assert info.value.code == "invalid_model_index"
    assert info.value.detail


def test_it_rejects_an_oversized_model_index() -> None:
    with pytest.raises(ImportFormatError) as info:
        parse_model_index(b"model-index: []\n" + b"#" * 2_000_000)

    assert info.value.code == "file_too_large"


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML built without libyaml")
def test_it_parses_yaml_with_libyaml_when_pyyaml_has_it() -> None:
    from registry.importers import huggingface

    # The pure-Python loader made YAML parsing most of a bulk import's time (benchmarks/NOTES.md).
    assert huggingface._SafeLoader is yaml.CSafeLoader


@pytest.mark.parametrize(
    "document",
    [
        b"model-index: " + b"[" * 50_000 + b"]" * 50_000,  # flow nesting
        b"model-index:\n" + b"".join(b" " * (depth + 1) + b"k:\n" for depth in range(1_200)),  # block nesting
    ],
)
def test_it_rejects_model_index_yaml_nested_too_deeply(document: bytes) -> None:
    with pytest.raises(ImportFormatError) as info:
        parse_model_index(document)

    assert info.value.code == "invalid_model_index"


def test_it_bounds_model_index_documents_expanded_by_yaml_aliases() -> None:
    document = (
        b"m: &m {type: accuracy, value: 0.5}\n"
        b"ms: &ms [*m, *m, *m, *m, *m, *m, *m, *m, *m, *m, *m, *m, *m, *m, *m, *m, *m, *m, *m, *m]\n"
        b"r: &r {task: {type: t}, metrics: *ms}\n"
        b"rs: &rs [*r, *r, *r, *r, *r, *r, *r, *r, *r, *r, *r, *r, *r, *r, *r, *r, *r, *r, *r, *r]\n"
        b"model: &model {name: m, results: *rs}\n"
        b"model-index: [*model, *model, *model, *model, *model]\n"
    )

    with pytest.raises(ImportFormatError) as info:
        parse_model_index(document)

    assert info.value.code == "invalid_model_index"
