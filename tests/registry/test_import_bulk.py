"""The bulk evaluation import (issue 7): a fixed number of queries whatever the number of results, the rows
COPY writes equal to what a single `evaluation_create` stores for the same data, one audit event per result
in order, and the model an import names resolved once."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Organization
from core.models import AuditEvent
from registry import selectors, services
from registry.importers.base import ParsedEvaluation
from registry.models import EvaluationResult, FrontierModel
from tests.factories import org_principal

pytestmark = pytest.mark.django_db

DEFAULTS = {"capability_domain": "end_to_end", "scenario_type": "instructed_replication_local"}


def _parsed(n: int, *, model_name: str = "mockllm/bulk-model") -> list[ParsedEvaluation]:
    return [
        ParsedEvaluation(
            source_format="inspect_eval",
            model_name=model_name,
            task=f"task-{i}",
            task_version="2",
            task_family="replication",
            benchmark="replibench",
            dataset_name="rb",
            n_trials=10,
            n_completed=10,
            n_successes=i % 11,
            metric="success_rate",
            metric_name="accuracy",
            metric_value=(i % 11) / 10,
            scorer="match",
            metrics={"match/accuracy": (i % 11) / 10},
            config={"epochs": 1, "time_limit": 600},
            run_started_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
            run_completed_at=datetime(2026, 1, 2, 4, 4, 5, tzinfo=UTC),
            run_id=f"run-{i}",
            log_format_version=2,
        )
        for i in range(n)
    ]


def _import(org: Organization, parsed: list[ParsedEvaluation]) -> services.ImportOutcome:
    actor = org_principal(org)
    return services.evaluation_import(
        actor=actor,
        parsed=parsed,
        raw=os.urandom(32),
        filename="run.eval",
        defaults=DEFAULTS,
        model=None,
        scaffold=None,
        visible_models=selectors.frontier_model_list(actor=actor),
    )


def test_an_import_costs_the_same_queries_for_3_results_as_for_60(lab_a: Organization) -> None:
    _import(lab_a, _parsed(1, model_name="mockllm/warm-up"))  # registers a model: not the import's cost
    counts = []
    for n, name in ((3, "mockllm/warm-up"), (60, "mockllm/warm-up")):
        with CaptureQueriesContext(connection) as ctx:
            outcome = _import(lab_a, _parsed(n, model_name=name))
        assert len(outcome.evaluations) == n
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts


def test_a_copied_row_is_what_evaluation_create_stores(lab_a: Organization) -> None:
    outcome = _import(lab_a, _parsed(5))
    model = FrontierModel.objects.get(name="bulk-model")
    assert outcome.created_models == [model]  # resolved once, registered once
    imported = EvaluationResult.objects.get(public_id=outcome.evaluations[3].public_id)
    item = _parsed(5)[3]
    single = services.evaluation_create(
        actor=org_principal(lab_a), model=model, data={**DEFAULTS, **services._parsed_fields(item)}
    )
    single.refresh_from_db()
    skip = {"id", "public_id", "created_at", "modified_at", "raw_log", "raw_log_name", "raw_log_sha256"}
    skip |= {"raw_log_size", "import_format"}
    fields = [f.attname for f in EvaluationResult._meta.concrete_fields if f.attname not in skip]
    assert {f: getattr(imported, f) for f in fields} == {f: getattr(single, f) for f in fields}
    assert imported.raw_log_name == "run.eval" and imported.import_format == "inspect_eval"
    assert imported.created_at is not None and imported.modified_at is not None


def test_every_imported_result_has_its_audit_event_in_order(lab_a: Organization) -> None:
    outcome = _import(lab_a, _parsed(12))
    ids = [e.public_id for e in outcome.evaluations]
    assert ids == sorted(ids) and len(set(ids)) == 12
    events = list(
        AuditEvent.objects.filter(event_code="evaluation.created", target_public_id__in=ids).order_by("id")
    )
    assert [e.target_public_id for e in events] == ids
    after: dict[str, Any] = events[4].after
    assert after["model"] == outcome.evaluations[4].model.public_id
    assert after["task"] == "task-4" and after["n_successes"] == 4 and after["supersedes"] is None
    assert events[4].actor_org_id == lab_a.pk
