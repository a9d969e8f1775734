"""Prepare one run's clone, in-process, with the production settings (run by benchmarks.run):

- capture the SQL the service sends for the triage list and for a submission (django's
  CaptureQueriesContext): the raw floors (benchmarks.floor_app, the psycopg loop) replay exactly it;
- count the queries of list page 1 and of a deep page (followed through the `next` links);
- check every scenario URL answers 200, and sign the reviewer in (a session with the MFA flag set as a real
  sign-in leaves it) for the web triage page.

    python -m benchmarks.capture --out capture.json --deep-page 500
"""

from __future__ import annotations

import argparse
import copy
import json
import uuid
from typing import Any
from urllib.parse import urlsplit

import django

LIST_URL = "/api/v1/incidents/"


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def submission_body(model_ref: str, external_id: str) -> dict[str, Any]:
    from api_docs import examples

    body: dict[str, Any] = copy.deepcopy(examples.INCIDENT_CREATE)
    body["models"] = [{"model": model_ref, "role": "originating"}]
    body["external_id"] = external_id
    return body


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--deep-page", type=int, default=500)
    args = parser.parse_args()
    django.setup()
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.mfa import remember_enrolment
    from accounts.models import ApiKey, Organization
    from registry.models import AgentScaffold, FrontierModel

    with connection.cursor() as cursor:
        cursor.execute("SELECT key, value FROM bench_marker")
        marker = dict(cursor.fetchall())
    client = Client(HTTP_X_FORWARDED_PROTO="https", HTTP_HOST="127.0.0.1")
    reviewer = {"HTTP_AUTHORIZATION": f"Api-Key {marker['reviewer_key']}"}
    lab = {"HTTP_AUTHORIZATION": f"Api-Key {marker['lab_key']}"}
    out: dict[str, Any] = {"marker": {k: v for k, v in marker.items() if not k.endswith("_key")}}

    # The triage list: page 1, then `next` links down to the deep page.
    # Once before capturing: the first request of a minute also stamps the key's last_used_at.
    assert client.get(LIST_URL, **reviewer).status_code == 200
    with CaptureQueriesContext(connection) as page_one:
        response = client.get(LIST_URL, **reviewer)
    assert response.status_code == 200, response.content[:500]
    first = response.json()
    out["list_rows"] = len(first["results"])
    out["list_sql"] = [q["sql"] for q in page_one.captured_queries]
    out["list_queries_page1"] = len(page_one.captured_queries)
    url, page, queries_deep = LIST_URL, 1, len(page_one.captured_queries)
    body = first
    while page < args.deep_page and body.get("next"):
        url = _path(body["next"])
        page += 1
        with CaptureQueriesContext(connection) as deep:
            response = client.get(url, **reviewer)
        assert response.status_code == 200, response.content[:500]
        body = response.json()
        queries_deep = len(deep.captured_queries)
    out["deep_page"] = page
    out["deep_url"] = url
    out["list_queries_deep"] = queries_deep
    out["visible_total_estimate"] = page * out["list_rows"]

    # Searches: a selective term and one matching most rows.
    from benchmarks.seed import COMMON_TERM, RARE_TERM

    for name, term in (("search_rare", RARE_TERM), ("search_common", COMMON_TERM)):
        response = client.get(f"{LIST_URL}?search={term}", **reviewer)
        assert response.status_code == 200, response.content[:500]
        out[f"{name}_url"] = f"{LIST_URL}?search={term}"
        out[f"{name}_rows"] = len(response.json()["results"])

    # A submission, as the lab's key sends it.
    lab_org = Organization.objects.get(short_name=marker["lab_org"])
    lab_model = FrontierModel.objects.filter(provider=lab_org).order_by("public_id").first()
    assert lab_model is not None
    model_ref = lab_model.public_id
    out["submission_model"] = model_ref
    out["submission_body"] = submission_body(model_ref, "BENCH-__UNIQUE__")
    token = uuid.uuid4().hex[:12]
    external_id, idempotency_key = f"BENCH-CAPTURE-{token}", f"bench-capture-{token}"
    with CaptureQueriesContext(connection) as submit:
        response = client.post(
            LIST_URL,
            json.dumps(submission_body(model_ref, external_id)),
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY=idempotency_key,
            **lab,
        )
    assert response.status_code == 201, response.content[:500]
    receipt = response.json()
    out["submit_sql"] = [q["sql"] for q in submit.captured_queries]
    out["submit_public_id"] = receipt["public_id"]
    out["submit_tokens"] = {"external_id": external_id, "idempotency_key": idempotency_key}
    # Ids of rows that existed before the submission stay; the floor gives every other id a fresh value.
    keep: set[str] = set()
    for model in (Organization, ApiKey, FrontierModel, AgentScaffold):
        keep.update(uuid.UUID(str(pk)).hex for pk in model.objects.values_list("pk", flat=True))
    out["keep_uuids"] = sorted(keep)

    # The web triage page, signed in as the reviewer (MFA enrolled, remembered in the session).
    user = get_user_model().objects.get(pk=int(marker["reviewer_user_id"]))
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    remember_enrolment(session, user)
    session.create()
    client.cookies["sessionid"] = session.session_key or ""
    with CaptureQueriesContext(connection) as triage:
        response = client.get("/triage/")
    assert response.status_code == 200, (response.status_code, response.get("Location"))
    client.cookies.clear()
    out["session_cookie"] = f"sessionid={session.session_key}"
    out["triage_queries"] = len(triage.captured_queries)

    response = client.get("/api/v1/incidents/stix?limit=200", **reviewer)
    assert response.status_code == 200, response.content[:300]
    response = client.get("/api/v1/snapshots/")
    assert response.status_code == 200, response.content[:300]
    with open(args.out, "w") as handle:  # noqa: PTH123
        json.dump(out, handle, indent=1)
    print(
        f"capture: list {out['list_queries_page1']} queries (page {page}: {queries_deep}), "
        f"submission {len(out['submit_sql'])} statements, triage page {out['triage_queries']} queries"
    )


if __name__ == "__main__":
    main()
