"""Time incident full-text search on a large seed (not run in CI; the numbers are in README "Search").

Creates a throwaway database next to the one DATABASE_URL names (dropping it first if it exists),
migrates it, seeds N incidents with bulk_create (the search vector filled with the same weights as
incidents.services), then times the list path of `GET /api/v1/incidents/?search=` (visibility rule,
search filter, keyset page of 50 ordered by modified_at, snippets for the page) for a selective term, a
term in every row, a term in half the rows, a rare term whose rows are all the oldest (the worst case for
an ORDER BY ... LIMIT plan) and a hostile query, for three principals, with the search time limit off
(raw cost) and on. Drops the database at the end unless --keep.

Usage::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python scripts/search_bench.py [--n 100000] [--db redline_search_bench] [--keep]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from core.actors import Principal

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TERMS = {
    "selective (10 rows)": "zebrafish",
    "every row": "agent",
    "half the rows": "replica",
    "rare, all oldest (50 rows)": "heliotrope",
    "phrase in most rows": '"agent started"',
    "hostile (no lexemes)": "&|:*",
}
_WORDS = [f"w{n:04d}" for n in range(3000)]


def _admin_url(url: str, dbname: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{dbname}", parts.query, parts.fragment))


def _recreate(url: str, db: str, *, drop_only: bool = False) -> None:
    import psycopg

    with psycopg.connect(_admin_url(url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{db}"')


def _text(rng: random.Random, n_words: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(n_words))


def seed(n: int) -> None:
    from django.contrib.postgres.search import SearchVector

    from accounts.models import Membership, Organization, Role
    from incidents.models import Incident
    from tests.factories import MembershipFactory

    labs = [
        Organization.objects.create(short_name=f"bench-lab-{i}", name=f"Lab {i}", kind="lab", country="FR")
        for i in range(5)
    ]
    eu = Organization.objects.create(
        short_name="bench-eu", name="EU", kind="regulator", country="BE", jurisdictions=["EU"]
    )
    for org, role in ((labs[0], Role.LAB_SUBMITTER), (eu, Role.REGULATOR)):
        MembershipFactory(organization=org, role=role)
    rng = random.Random(7)  # noqa: S311 - seed text, not secrets
    start = datetime(2024, 1, 1, tzinfo=UTC)
    tlps = ["clear", "green", "amber", "amber+strict", "red"]
    batch: list[Incident] = []
    began = time.perf_counter()
    for i in range(n):
        words = ["agent", "started"] + (["replica"] if i % 2 else [])
        if i % (n // 10) == 3:
            words.append("zebrafish")
        if i < 50:
            words.append("heliotrope")
        title = f"{_text(rng, 6)} {' '.join(words[:2])}"
        stamp = start + timedelta(minutes=i)
        batch.append(
            Incident(
                public_id=f"SRI-BENCH-{i:07d}",
                owner_org=labs[i % 5],
                record_class="controlled_evaluation_finding",
                title=title,
                description=f"{_text(rng, 40)} {' '.join(words)} {_text(rng, 20)}",
                chain_of_events=_text(rng, 30),
                submitter_capacity="provider",
                submitted_by="bench",
                instruction_provenance="unknown",
                submitted_at=stamp,
                countries=["FR"],
                jurisdictions=["FR", "EU"],
                tlp=tlps[i % 5],
            )
        )
        if len(batch) == 5000:
            Incident.objects.bulk_create(batch)
            batch = []
    Incident.objects.bulk_create(batch)
    # modified_at is auto_now: spread it so that the keyset order means something (and "heliotrope"
    # rows are the oldest).
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("UPDATE incidents_incident SET modified_at = submitted_at, created_at = submitted_at")
    Incident.objects.update(
        search_vector=SearchVector("title", weight="A", config="english")
        + SearchVector("description", weight="B", config="english")
        + SearchVector(
            "chain_of_events", "root_cause_analysis", "actions_taken", weight="C", config="english"
        )
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE incidents_incident")
    print(
        f"seeded {n} incidents in {time.perf_counter() - began:.1f}s ({Membership.objects.count()} members)"
    )


def time_search(principal_name: str, actor: Principal, text: str, timeout_ms: int | None, runs: int) -> str:
    from core.errors import ServiceUnavailable
    from incidents import selectors

    samples = []
    hits = 0
    for _ in range(runs):
        began = time.perf_counter()
        try:
            with selectors.incident_search_time_limit(timeout_ms=timeout_ms if timeout_ms else 600_000):
                queryset = selectors.incident_search(selectors.incident_list(actor=actor), text=text)
                page = list(queryset.order_by("-modified_at", "-pk")[:51])
                selectors.incident_search_snippets(actor=actor, incidents=page[:50], text=text)
                hits = len(page[:50])
        except ServiceUnavailable:
            samples.append(time.perf_counter() - began)
            return f"{principal_name:<14} {text!r:<18} timeout after {1000 * samples[-1]:.0f} ms"
        samples.append(time.perf_counter() - began)
    return (
        f"{principal_name:<14} {text!r:<18} page={hits:<3} median {1000 * statistics.median(samples):7.1f} ms"
        f"  max {1000 * max(samples):7.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--db", default="redline_search_bench")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    base_url = os.environ.get("DATABASE_URL")
    if not base_url:
        sys.exit("Set DATABASE_URL to a PostgreSQL server where a throwaway database may be created.")
    _recreate(base_url, args.db)
    os.environ["DATABASE_URL"] = _admin_url(base_url, args.db)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    seed(args.n)

    from accounts.authentication import principal_for_membership
    from accounts.models import Membership
    from core.actors import ANONYMOUS
    from incidents import selectors

    principals: dict[str, Principal] = {"anonymous": ANONYMOUS}
    for membership in Membership.objects.select_related("organization", "user"):
        principals[f"{membership.organization.short_name}"] = principal_for_membership(membership)
    for timeout in (None, selectors.SEARCH_TIMEOUT_MS):
        print(f"\nstatement_timeout: {f'{timeout} ms' if timeout else 'off'}")
        for label, text in TERMS.items():
            print(f"-- {label}")
            for name, actor in principals.items():
                print("  " + time_search(name, actor, text, timeout, args.runs))
    from django.db import connections

    connections.close_all()
    if not args.keep:
        _recreate(base_url, args.db, drop_only=True)


if __name__ == "__main__":
    main()
