"""What keeps the incident lists fast at a million reports (issue 7), pinned at a few thousand: a list
request costs the same few queries whatever its page size and depth, never a COUNT(*); the list and the
triage queue read an index in their order instead of sorting the visible rows; the API list's plain-row
fast path renders exactly what the serializer renders for a model instance."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.postgres.search import SearchVector
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIClient

from accounts.models import Organization, Role
from incidents import selectors
from incidents.api.serializers import IncidentListSerializer
from incidents.models import Incident
from incidents.selectors import incident_page_rows
from tests.factories import org_principal

pytestmark = pytest.mark.django_db

TLPS = ("clear", "green", "amber", "amber+strict", "red")
STATUSES = ("closed", "accepted", "submitted", "in_review", "closed", "closed", "needs_information")


def _seed(orgs: list[Organization], n: int) -> None:
    """`n` reports spread over the orgs, TLPs and states, a due time on some, with search vectors."""
    now = timezone.now()
    Incident.objects.bulk_create(
        [
            Incident(
                public_id=f"SRI-2026-9{i:06d}",
                owner_org=orgs[i % len(orgs)],
                tlp=TLPS[i % len(TLPS)],
                status=STATUSES[i % len(STATUSES)],
                record_class="controlled_evaluation_finding",
                title=f"Agent replicated onto host {i}" + (" zebrafish" if i % 500 == 0 else ""),
                description="The agent copied its weights and started a server.",
                submitter_capacity="provider",
                submitted_by="seed",
                instruction_provenance="explicit_replication_instruction",
                submitted_at=now - timedelta(minutes=i),
                next_due_at=now + timedelta(hours=1 + i % 97) if i % 3 else None,
                countries=["FR"],
                jurisdictions=["FR", "EU"],
            )
            for i in range(n)
        ],
        batch_size=1000,
    )
    Incident.objects.update(
        search_vector=SearchVector("title", weight="A", config="english")
        + SearchVector("description", weight="B", config="english")
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE incidents_incident")


@pytest.fixture
def seeded(lab_a: Organization, lab_b: Organization, regulator_org: Organization) -> None:
    _seed([lab_a, lab_b, regulator_org], 3000)


@pytest.fixture
def clients(
    lab_a: Organization, regulator_org: Organization, make_key_client: Callable[..., APIClient]
) -> dict[str, APIClient]:
    return {
        "lab": make_key_client(lab_a),
        "reviewer": make_key_client(regulator_org, role=Role.REVIEWER),
    }


def _queries(client: APIClient, url: str) -> tuple[list[str], dict[str, Any]]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return [query["sql"] for query in ctx.captured_queries], response.json()


@pytest.mark.parametrize("who", ["lab", "reviewer"])
@pytest.mark.parametrize("search", ["", "agent", "zebrafish"])
def test_a_list_request_costs_the_same_few_queries_whatever_its_size_and_depth(
    seeded: None, clients: dict[str, APIClient], who: str, search: str
) -> None:
    client = clients[who]
    base = "/api/v1/incidents/?" + (f"search={search}&" if search else "")
    client.get(base)  # a key's first use records `last_used_at` (once a minute): not the list's cost
    counts = []
    for limit in (1, 50, 200):
        sql, body = _queries(client, f"{base}limit={limit}")
        assert body["results"]
        assert not any("COUNT(" in statement.upper() for statement in sql), sql
        counts.append(len(sql))
    # Deep pages: follow the cursor, page after page.
    url = f"{base}limit=20"
    for _ in range(4):
        sql, body = _queries(client, url.replace("http://testserver", ""))
        assert not any("COUNT(" in statement.upper() for statement in sql), sql
        counts.append(len(sql))
        url = body["next"] or ""
        if not url:
            break
    assert len(set(counts)) == 1, counts
    # The API key, then the page (a search adds its time limit and one snippet query for the page).
    assert counts[0] <= (3 if not search else 7), counts


def _plan(queryset: Any) -> str:
    plan: str = queryset.explain()
    return plan


@pytest.mark.parametrize("principal", ["lab", "regulator"])
def test_the_default_list_reads_the_sync_index_backwards_instead_of_sorting(
    seeded: None, lab_a: Organization, regulator_org: Organization, principal: str
) -> None:
    actor = org_principal(lab_a if principal == "lab" else regulator_org)
    page = selectors.incident_list_rows(actor=actor).order_by("-modified_at", "-pk")[:51]
    plan = _plan(page)
    assert "incident_sync_idx" in plan, plan
    assert "Sort" not in plan, plan


def test_the_triage_queue_reads_its_partial_index_in_order(seeded: None, regulator_org: Organization) -> None:
    actor = org_principal(regulator_org)
    queue = (
        incident_page_rows(queue=True, actor=actor)
        .filter(status__in=selectors.QUEUE_OPEN_STATES)
        .order_by(F("next_due_at").asc(nulls_last=True), "pk")[:51]
    )
    plan = _plan(queue)
    assert "incident_queue_idx" in plan, plan
    assert "Sort" not in plan.split("->")[0] + plan.split("->")[1], plan


def test_the_newest_submission_order_reads_its_index(seeded: None, regulator_org: Organization) -> None:
    actor = org_principal(regulator_org)
    plan = _plan(incident_page_rows(queue=False, actor=actor).order_by("-submitted_at", "-pk")[:51])
    assert "incident_submitted_idx" in plan, plan


def test_a_selective_search_uses_the_full_text_index(seeded: None, regulator_org: Organization) -> None:
    actor = org_principal(regulator_org)
    found = selectors.incident_search(selectors.incident_list_rows(actor=actor), text="zebrafish")
    plan = _plan(found.order_by("-modified_at", "-pk")[:51])
    assert "incident_search_gin" in plan, plan


def test_the_plain_row_fast_path_renders_what_the_serializer_renders_for_an_instance(
    seeded: None, regulator_org: Organization
) -> None:
    actor = org_principal(regulator_org)
    Incident.objects.filter(public_id="SRI-2026-9000006").update(
        next_due_at=timezone.now() - timedelta(days=1)
    )
    order = ("-submitted_at", "-pk")
    instances = list(selectors.incident_list(actor=actor).order_by(*order)[:120])
    rows = list(selectors.incident_list_rows(actor=actor).order_by(*order)[:120])
    instances[3].search_snippet = "the «agent» copied"  # type: ignore[attr-defined]
    rows[3]["search_snippet"] = "the «agent» copied"
    now = timezone.now()
    expected = IncidentListSerializer(instances, many=True, context={"now": now}).data
    actual = IncidentListSerializer(rows, many=True, context={"now": now}).data
    assert JSONRenderer().render(actual) == JSONRenderer().render(expected)
    overdue = [row for row in actual if row["overdue"]]
    assert [row["public_id"] for row in overdue] == ["SRI-2026-9000006"]
    assert sum(1 for row in actual if row["next_due_at"] is None) > 0
    assert actual[3]["snippet"] == "the «agent» copied" and actual[4]["snippet"] is None


@pytest.mark.parametrize("zone", ["UTC", "Europe/Paris", "America/St_Johns"])
def test_the_fast_path_writes_times_in_the_active_zone_like_the_serializer(
    lab_a: Organization, zone: str
) -> None:
    Incident.objects.bulk_create(
        [
            Incident(
                public_id="SRI-2026-8000001",
                owner_org=lab_a,
                tlp="clear",
                record_class="controlled_evaluation_finding",
                title="t",
                description="d",
                submitter_capacity="provider",
                submitted_by="seed",
                instruction_provenance="explicit_replication_instruction",
                submitted_at=timezone.now().replace(microsecond=0),
                next_due_at=timezone.now() + timedelta(hours=5),
            )
        ]
    )
    actor = org_principal(lab_a)
    with timezone.override(zone):
        expected = IncidentListSerializer(list(selectors.incident_list(actor=actor)), many=True).data
        actual = IncidentListSerializer(list(selectors.incident_list_rows(actor=actor)), many=True).data
    assert JSONRenderer().render(actual) == JSONRenderer().render(expected)
    assert actual[0]["submitted_at"].endswith("Z") == (zone == "UTC")


def test_the_search_vector_keeps_a_statistics_sample_large_enough_for_rare_words() -> None:
    # Without it, at a million reports a rare word was estimated at ~1,400 matches and its search walked
    # the whole modified_at index instead of reading the GIN index (incidents migration 0010).
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attstattarget FROM pg_attribute "
            "WHERE attrelid = 'incidents_incident'::regclass AND attname = 'search_vector'"
        )
        (target,) = cursor.fetchone()
    assert target >= 1000


def test_a_deep_page_starts_its_index_scan_at_the_cursor(seeded: None, clients: dict[str, APIClient]) -> None:
    """The cursor's bound is an index condition, not a filter over every row of the earlier pages."""
    client = clients["reviewer"]
    client.get("/api/v1/incidents/")
    url = "/api/v1/incidents/?limit=50"
    for _ in range(3):
        body = client.get(url).json()
        url = body["next"].replace("http://testserver", "")
    sql, _ = _queries(client, url)
    (page_sql,) = [s for s in sql if "incidents_incident" in s and "ORDER BY" in s]
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + page_sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "incident_sync_idx" in plan, plan
    index_cond = [line for line in plan.splitlines() if "Index Cond" in line]
    assert any("modified_at" in line for line in index_cond), plan
