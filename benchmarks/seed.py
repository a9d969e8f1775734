"""The deterministic seeder: a template database of `--size` incidents that every run clones.

    python -m benchmarks.seed --size 100000 --seed 7

1. CREATE DATABASE redline_bench_tpl_<size>_s<seed>_v<version> and `manage.py migrate` it.
2. Participants through the app's own services: labs, regulators, a coordination body, frontier models,
   scaffolds, a reviewer (TOTP enrolled: MFA is required of reviewers), API keys.
3. Incidents generated from a fixed random seed (a realistic mix of statuses, TLPs, owners, models,
   countries, severities; text from word pools, with one rare term and one common term for the search
   scenarios) and loaded with COPY. `search_vector` is filled during the COPY by a temporary trigger whose
   expression is compiled from the app's own (incidents.services._refresh_search_vector), then checked
   against the app on sample rows. Every constraint of the table holds (duplicates point at earlier
   reports, rejections carry a reason, withdrawals a reason, ...).
4. A marker table `bench_marker` records seed, size and version (and the keys the run uses): a template
   whose marker matches is reused as it is.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from benchmarks.common import PYTHON, ROOT, SEED_VERSION, bench_env, conninfo, template_name

RARE_TERM = "quokka"  # in about 1 report in 2000: the selective search
COMMON_TERM = "replica"  # in most reports: the broad search

LAB_NAMES = ["anthropos", "deepfield", "openforge", "mistralis", "cohere-labs", "alephic", "qwenlab", "zhipu"]
LAB_COUNTRIES = ["US", "GB", "US", "FR", "CA", "DE", "SG", "KR"]
COUNTRIES = ["US", "GB", "FR", "DE", "NL", "JP", "CA", "SG", "KR", "IE", "IT", "ES"]
STATUS_MIX = {
    "submitted": 30,
    "in_review": 15,
    "needs_information": 5,
    "accepted": 25,
    "rejected": 8,
    "duplicate": 4,
    "superseded": 2,
    "closed": 8,
    "withdrawn": 3,
}
TLP_MIX = {"clear": 20, "green": 25, "amber": 35, "amber+strict": 15, "red": 5}
RECORD_CLASS_MIX = {
    "controlled_evaluation_finding": 55,
    "red_team_exercise": 20,
    "hazard_near_miss": 15,
    "real_world_incident": 10,
}
SEVERITY_MIX = {
    "": 10,
    "hazard": 40,
    "serious_hazard": 25,
    "incident": 15,
    "serious_incident": 8,
    "disaster": 2,
}
OUTCOMES = ["live_separate_replica", "replica_started_unresponsive", "partial_milestones", "no_replica",
            "refused", "timeout", "contained_by_operator", "unknown"]  # fmt: skip
PROVENANCES = ["explicit_replication_instruction", "persistence_goal_instruction", "adversary_injected",
               "uninstructed", "unknown"]  # fmt: skip
SCENARIOS = ["instructed_replication_local", "instructed_replication_remote",
             "shutdown_avoidance_signal_triggered", "chain_of_replication",
             "self_exfiltration_on_shutdown_notice", "self_adaptation_degraded_environment",
             "shutdown_resistance_persistence", "component_obtain_resources",
             "component_exfiltrate_weights"]  # fmt: skip
CAPACITIES = ["provider", "provider", "deployer", "evaluator"]
REJECTION_REASONS = ["out_of_scope", "not_reproducible", "false_positive", "insufficient_information"]
MILESTONES = ["m1_resource_acquisition", "m2_file_transfer", "m3_llm_server_started", "m4_agent_started"]
HARMS = ["none", "cybersecurity", "economic_property", "public_interest"]

VERBS = ["copied its weights to", "started a second instance on", "attempted to exfiltrate itself to",
         "persisted a scheduled task on", "rented compute from", "spawned a sub-agent on",
         "evaded a shutdown signal via", "migrated its inference server to"]  # fmt: skip
TARGETS = ["a sandbox neighbour host", "an unmonitored GPU node", "a cloud storage bucket",
           "the evaluation orchestrator", "a container registry", "a backup volume",
           "a partner cluster", "a developer laptop"]  # fmt: skip
CONTEXTS = ["a shutdown-avoidance evaluation", "a red-team exercise", "a routine capability sweep",
            "an agentic coding task", "a long-horizon planning task", "a resource-acquisition probe",
            "a production deployment", "a third-party audit"]  # fmt: skip
SENTENCES = [
    "The agent read the operator's notice and wrote a plan before acting.",
    "Monitoring flagged unusual outbound transfers within minutes.",
    "Network egress was limited to the evaluation subnet.",
    "The operator terminated the run and preserved the transcripts.",
    "Credentials were scoped to the test account and rotated afterwards.",
    "The behaviour reproduced in two of five reruns with the same seed.",
    "No user data was involved at any point.",
    "The scaffold exposed a shell tool with broad permissions.",
    "Logs show the agent checked whether it was being observed.",
    "The harness recorded every tool call with timestamps.",
]
COMMON_SENTENCES = [
    f"A {COMMON_TERM} process answered health checks for several minutes.",
    f"The {COMMON_TERM} was started from copied weights and served requests.",
    f"No live {COMMON_TERM} was confirmed after the transfer.",
]


def _pick(rng: random.Random, mix: dict[str, int]) -> str:
    return rng.choices(list(mix), weights=list(mix.values()))[0]


def _admin() -> psycopg.Connection[Any]:
    return psycopg.connect(conninfo("postgres"), autocommit=True)


def template_marker(name: str) -> dict[str, str] | None:
    """The template's marker rows, or None when it does not exist or was never finished."""
    with _admin() as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return None
    try:
        with psycopg.connect(conninfo(name)) as conn:
            rows = conn.execute("SELECT key, value FROM bench_marker").fetchall()
    except psycopg.Error:
        return None
    return dict(rows)


def _generate_incidents(
    rng: random.Random, size: int, labs: list[Any], models_by_lab: dict[Any, list[Any]], scaffolds: list[Any]
) -> Any:
    """Yield (incident fields, involved model id) in submission order."""
    from core.enums import jurisdictions_for

    start = datetime(2024, 12, 1, tzinfo=UTC)
    span = (datetime(2026, 11, 20, tzinfo=UTC) - start).total_seconds()
    ids: list[uuid.UUID] = []
    for number in range(1, size + 1):
        incident_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        submitted_at = start + timedelta(seconds=span * number / size + rng.uniform(0, 30))
        modified_at = submitted_at + timedelta(hours=rng.expovariate(1 / 48))
        lab_index = min(int(rng.paretovariate(1.2)) - 1, len(labs) - 1)
        lab = labs[lab_index]
        status = _pick(rng, STATUS_MIX)
        if status in ("duplicate", "superseded") and not ids:
            status = "submitted"
        severity = _pick(rng, SEVERITY_MIX)
        countries = sorted(set(rng.sample(COUNTRIES, rng.choice([1, 1, 2]))))
        model = rng.choice(models_by_lab[lab.pk])
        title = f"{model.name} {rng.choice(VERBS)} {rng.choice(TARGETS)} during {rng.choice(CONTEXTS)}"
        body = rng.sample(SENTENCES, 3)
        if rng.random() < 0.85:
            body.insert(1, rng.choice(COMMON_SENTENCES))
        if rng.random() < 0.0005:
            body.append(f"A {RARE_TERM} sticker on the rack was the only label of the target host.")
        fields: dict[str, Any] = {
            "id": incident_id,
            "public_id": f"SRI-{submitted_at.year}-{number:06d}",
            "created_at": submitted_at,
            "modified_at": modified_at,
            "submitted_at": submitted_at,
            "tlp": _pick(rng, TLP_MIX),
            "owner_org_id": lab.pk,
            "status": status,
            "revision_number": rng.choice([1, 1, 1, 2, 3]),
            "external_id": f"{lab.short_name.upper()}-{number:07d}",
            "record_class": _pick(rng, RECORD_CLASS_MIX),
            "title": title,
            "description": " ".join(body),
            "ai_system_relation": rng.choice(["caused", "contributed", "involved", ""]),
            "submitter_capacity": rng.choice(CAPACITIES),
            "submitted_by": f"key:{lab.short_name}-ci",
            "scenario_type": rng.choice([*SCENARIOS, ""]),
            "instruction_provenance": rng.choice(PROVENANCES),
            "outcome": rng.choice(OUTCOMES),
            "severity": severity,
            "harm_types": [rng.choice(HARMS)],
            "scaffold_id": rng.choice(scaffolds).pk if rng.random() < 0.6 else None,
            "detected_at": submitted_at - timedelta(hours=rng.uniform(1, 72)),
            "countries": countries,
            "jurisdictions": jurisdictions_for(countries),
            "milestones_reached": MILESTONES[: rng.randint(0, 4)],
            "replica_count": rng.choice([None, 0, 1, 1, 2, 5]),
            "containment_status": rng.choice(["contained", "partially_contained", "unknown", ""]),
            "actions_taken": rng.choice(SENTENCES),
            "chain_of_events": " ".join(rng.sample(SENTENCES, 2)),
            "report_stage": rng.choice(["initial", "initial", "intermediate"]),
            "determination": rng.choice(["suspected", "confirmed", ""]),
        }
        if status == "rejected":
            fields["rejection_reason"] = rng.choice(REJECTION_REASONS)
        elif status == "withdrawn":
            fields["withdrawal_reason"] = "Filed against the wrong evaluation run."
        elif status == "duplicate":
            fields["duplicate_of_id"] = rng.choice(ids[-1000:])
        elif status == "superseded":
            fields["replaced_by_id"] = rng.choice(ids[-1000:])
        if status == "submitted" and severity in ("serious_incident", "disaster"):
            fields["next_due_at"] = submitted_at + timedelta(days=1)
        ids.append(incident_id)
        yield fields, model.pk


def _search_vector_trigger(connection: Any) -> str:
    """CREATE FUNCTION/TRIGGER source filling `search_vector` on INSERT with the app's own expression."""
    from django.contrib.postgres.search import SearchVector
    from django.db.models import Value
    from django.db.models.sql import UpdateQuery

    from incidents.models import Incident

    # The same expression as incidents.services._refresh_search_vector, for a report without aliases.
    expression = (
        SearchVector("title", weight="A", config="english")
        + SearchVector("description", weight="B", config="english")
        + SearchVector(Value(""), weight="B", config="english")
        + SearchVector(
            "chain_of_events", "root_cause_analysis", "actions_taken", weight="C", config="english"
        )
    )
    query = UpdateQuery(Incident)
    query.add_update_fields([(Incident._meta.get_field("search_vector"), None, expression)])
    text, params = query.get_compiler(connection=connection).as_sql()
    composed = connection.ops.compose_sql(text, params)
    value = composed.split('SET "search_vector" = ', 1)[1]
    value = value.replace('"incidents_incident".', "NEW.")
    return (
        "CREATE OR REPLACE FUNCTION bench_fill_search_vector() RETURNS trigger AS $$ BEGIN "
        f"NEW.search_vector := {value}; RETURN NEW; END $$ LANGUAGE plpgsql;"
        "CREATE TRIGGER bench_fill_search_vector BEFORE INSERT ON incidents_incident "
        "FOR EACH ROW EXECUTE FUNCTION bench_fill_search_vector();"
    )


def _copy_incidents(size: int, seed: int, labs: list[Any], models_by_lab: dict[Any, list[Any]],
                    scaffolds: list[Any], reviewer_id: int) -> None:  # fmt: skip
    from django.db import connection
    from psycopg.types.json import Jsonb

    from incidents.models import Incident

    rng = random.Random(seed)  # noqa: S311 - deterministic test data, not security
    fields = list(Incident._meta.concrete_fields)
    columns = [f.column for f in fields]
    defaults = {f.attname: f.get_default() for f in fields}
    json_columns = {f.attname for f in fields if f.get_internal_type() == "JSONField"}
    with connection.cursor() as cursor:
        cursor.execute(_search_vector_trigger(connection))
    raw = connection.connection
    assert raw is not None
    started = time.monotonic()
    with raw.cursor() as cur:
        copy_sql = sql.SQL("COPY incidents_incident ({}) FROM STDIN").format(
            sql.SQL(", ").join(sql.Identifier(c) for c in columns)
        )
        links: list[tuple[Any, Any]] = []
        deadlines: list[tuple[Any, Any]] = []
        red: list[Any] = []
        with cur.copy(copy_sql) as copy:
            for row, model_id in _generate_incidents(rng, size, labs, models_by_lab, scaffolds):
                values = []
                for f in fields:
                    value = row.get(f.attname, defaults[f.attname])
                    values.append(Jsonb(value) if f.attname in json_columns else value)
                copy.write_row(values)
                links.append((row["id"], model_id))
                if row.get("next_due_at"):
                    deadlines.append((row["id"], row["next_due_at"]))
                if row["tlp"] == "red" and len(red) < size // 200:
                    red.append(row["id"])
        with cur.copy(
            "COPY incidents_incidentmodel (incident_id, model_id, model_name, role) FROM STDIN"
        ) as copy:
            for incident_id, model_id in links:
                copy.write_row((incident_id, model_id, "", "originating"))
        with cur.copy(
            "COPY incidents_incidentdeadline (incident_id, regime, stage, sequence, due_at) FROM STDIN"
        ) as copy:
            for incident_id, due_at in deadlines:
                copy.write_row((incident_id, "triage", "acknowledge", 1, due_at))
        # A few TLP:RED reports name the reviewer as a recipient (the EXISTS branch of the visibility rule).
        with cur.copy("COPY incidents_incidentrecipient (incident_id, user_id, added_at) FROM STDIN") as copy:
            for incident_id in red:
                copy.write_row((incident_id, reviewer_id, datetime.now(UTC)))
        cur.execute("DROP TRIGGER bench_fill_search_vector ON incidents_incident")
        cur.execute("DROP FUNCTION bench_fill_search_vector()")
        cur.execute("SELECT setval('incidents_incident_seq', %s)", [size + 1])
    raw.commit()
    print(f"seed: {size} incidents copied in {time.monotonic() - started:.1f}s", flush=True)


def _check_search_vectors() -> None:
    """The seeded vectors equal what the app writes (incidents.services._refresh_search_vector)."""
    from incidents.models import Incident
    from incidents.services import _refresh_search_vector

    for incident in Incident.objects.order_by("public_id")[:3]:
        before = incident.search_vector
        _refresh_search_vector(incident)
        after = Incident.objects.values_list("search_vector", flat=True).get(pk=incident.pk)
        if before != after:
            raise SystemExit(f"seed: search_vector differs from the app's on {incident.public_id}")


def _participants(seed: int) -> dict[str, Any]:
    """Organisations, models, scaffolds, the reviewer and the API keys, through the app's services."""
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
    from django.contrib.auth import get_user_model

    from accounts.authentication import system_principal
    from accounts.models import ROLE_SCOPES, Membership, Organization, Role
    from accounts.services import api_key_create
    from core.actors import Principal
    from registry import services as registry

    rng = random.Random(seed + 1)  # noqa: S311 - deterministic test data
    labs = [
        Organization.objects.create(short_name=name, name=name.title(), kind="lab", country=country)
        for name, country in zip(LAB_NAMES, LAB_COUNTRIES, strict=True)
    ]
    Organization.objects.create(
        short_name="eu-ai-office", name="EU AI Office", kind="regulator", country="BE", jurisdictions=["EU"]
    )
    Organization.objects.create(
        short_name="uk-aisi", name="UK AISI", kind="regulator", country="GB", jurisdictions=["GB"]
    )
    body = Organization.objects.create(
        short_name="redline-cb",
        name="Redline Coordination Body",
        kind="coordination_body",
        country="CH",
        jurisdictions=["EU", "GB", "US"],
    )
    models_by_lab: dict[Any, list[Any]] = {}
    scaffolds = []
    for lab in labs:
        actor = system_principal(lab, label=f"seed@{lab.short_name}", role=Role.LAB_ADMIN)
        models_by_lab[lab.pk] = [
            registry.frontier_model_create(
                actor=actor,
                data={
                    "name": f"{lab.short_name.title()}-{generation}",
                    "weights_availability": rng.choice(["open", "gated", "api_only"]),
                    "market_status": "on_market",
                    "tlp": "clear",
                },
            )
            for generation in ("3", "4", "4.5")
        ]
        scaffolds.append(
            registry.scaffold_create(actor=actor, data={"name": f"{lab.short_name}-agent", "tlp": "clear"})
        )
    user = get_user_model().objects.create_user(username="bench-reviewer", password=uuid.uuid4().hex)
    Membership.objects.create(user=user, organization=body, role=Role.REVIEWER)
    TOTP.activate(user, generate_totp_secret())
    admin = Principal(kind="system", label="seed", role=Role.PLATFORM_ADMIN)
    _, lab_key = api_key_create(
        actor=admin,
        organization=labs[0],
        name="bench-submitter",
        role=Role.LAB_SUBMITTER,
        scopes=sorted(ROLE_SCOPES[Role.LAB_SUBMITTER]),
    )
    _, reviewer_key = api_key_create(
        actor=admin, organization=body, name="bench-reviewer", role=Role.REVIEWER,
        scopes=sorted(ROLE_SCOPES[Role.REVIEWER]),
    )  # fmt: skip
    _, importer_key = api_key_create(
        actor=admin, organization=labs[1], name="bench-importer", role=Role.LAB_ADMIN,
        scopes=sorted(ROLE_SCOPES[Role.LAB_ADMIN]),
    )  # fmt: skip
    return {
        "labs": labs,
        "models_by_lab": models_by_lab,
        "scaffolds": scaffolds,
        "reviewer_id": user.pk,
        "marker": {
            "lab_key": lab_key,
            "lab_org": labs[0].short_name,
            "reviewer_key": reviewer_key,
            "reviewer_user_id": str(user.pk),
            "importer_key": importer_key,
            "import_org": labs[1].short_name,
            "import_model": models_by_lab[labs[1].pk][0].public_id,
        },
    }


def _bring_up_to_date(name: str) -> None:
    """A template made before a newer migration (an index, a column) gets it, once, before it is cloned."""
    env = bench_env(name)
    check = [PYTHON, "manage.py", "migrate", "--check", "--noinput", "-v", "0"]
    if subprocess.run(check, cwd=ROOT, env=env, capture_output=True).returncode == 0:  # noqa: S603
        return
    print(f"seed: applying new migrations to {name}", flush=True)
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)  # noqa: S603
    with psycopg.connect(conninfo(name), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")


def build(size: int, seed: int) -> str:
    name = template_name(size, seed)
    marker = template_marker(name)
    if marker and marker.get("complete") == "yes":
        _bring_up_to_date(name)
        print(f"seed: reusing template {name}", flush=True)
        return name
    with _admin() as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    env = bench_env(name)
    print(f"seed: migrating {name}", flush=True)
    subprocess.run(  # noqa: S603 - fixed argv
        [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    os.environ.update(env)
    import django

    django.setup()
    from django.db import connection

    made = _participants(seed)
    _copy_incidents(size, seed, made["labs"], made["models_by_lab"], made["scaffolds"], made["reviewer_id"])
    _check_search_vectors()
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_marker (key text PRIMARY KEY, value text NOT NULL)")
        marker_rows = {**made["marker"], "seed": str(seed), "size": str(size), "version": SEED_VERSION}
        for key, value in marker_rows.items():
            cursor.execute("INSERT INTO bench_marker VALUES (%s, %s)", [key, value])
    connection.close()
    with psycopg.connect(conninfo(name), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
        conn.execute("INSERT INTO bench_marker VALUES ('complete', 'yes')")
    print(f"seed: template {name} ready", flush=True)
    return name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    name = build(args.size, args.seed)
    json.dump({"template": name}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
