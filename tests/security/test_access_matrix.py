"""The access matrix (issue 8 item 3): every (role, object, action) of tests/security/policy.yaml, sent as a
real request against one world, answers what the policy says: 2xx, 403, 404 (or absent from a list),
401, 409, or a redirect to sign in. A `not_found` never carries the object's title. The meta-tests fail
when a URL, an API or TAXII method, or a workflow action has no entry in the policy."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, resolve

from coordination.models import Delivery
from core.models import AuditEvent
from incidents.workflows import TRANSITIONS
from tests.security import policy
from tests.security.world import INSPECT_LOG, ROLES, World

TAXII_MEDIA_TYPE = "application/taxii+json;version=2.1"
PLACEHOLDER = re.compile(r"\{([a-z_]+)(?::([^}]+))?\}")
CASES = policy.cases()


def _fill(template: Any, w: World, obj: str) -> Any:
    """Replace {attr} with the object's attribute, {attr:other-object} with another object's."""
    if isinstance(template, str):
        return PLACEHOLDER.sub(lambda m: w.objects[m[2] or obj].attrs[m[1]], template)
    if isinstance(template, list):
        return [_fill(item, w, obj) for item in template]
    if isinstance(template, dict):
        return {key: _fill(value, w, obj) for key, value in template.items()}
    return template


def _upload(kind: str) -> ContentFile:
    if kind == "inspect_log":
        log = INSPECT_LOG.with_name("replication_probe_9of10.eval")  # not the one the world imported
        return ContentFile(log.read_bytes(), name=log.name)
    if kind == "text_log":
        return ContentFile(f"matrix evidence {uuid.uuid4()}\n".encode(), name="matrix.log")
    return kind  # type: ignore[return-value]


def _send(w: World, case: policy.Case, item: dict[str, Any]) -> tuple[str, Any]:
    client = w.client(case.role)
    url = _fill(item["url"], w, case.obj)
    route = item["route"]
    headers: dict[str, str] = {}
    if route.startswith("taxii"):
        headers["HTTP_ACCEPT"] = TAXII_MEDIA_TYPE
    if case.method == "POST" and route.startswith("api:"):
        headers["HTTP_IDEMPOTENCY_KEY"] = f"matrix-{uuid.uuid4()}"
    method = case.method.lower()
    if "multipart" in item:
        data = {key: _upload(value) for key, value in _fill(item["multipart"], w, case.obj).items()}
        return url, getattr(client, method)(url, data, format="multipart", **headers)
    if "form" in item:
        return url, getattr(client, method)(
            url, _fill(item["form"], w, case.obj), format="multipart", **headers
        )
    if "content_type" in item:
        raw = json.dumps(_fill(item.get("body", {}), w, case.obj))
        return url, client.generic(case.method, url, raw, content_type=item["content_type"], **headers)
    if "body" in item:
        return url, getattr(client, method)(url, _fill(item["body"], w, case.obj), format="json", **headers)
    return url, getattr(client, method)(url, **headers)


def _expected(case: policy.Case, w: World) -> str:
    if case.rule not in ("visible", "visible_forbidden"):
        return case.rule
    table = policy.visibility_class(case.obj)
    assert table is not None, f"{case.obj} has no TLP: `{case.rule}` needs one"
    sees = w.objects[case.obj].tlp in policy.load()["visibility"][table][case.role]
    if not sees:
        return "not_found"
    return "allowed" if case.rule == "visible" else "forbidden"


def _scalars(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set().union(*(_scalars(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_scalars(v) for v in value)) if value else set()
    return {str(value)}


def _fields(value: Any, name: str) -> set[str]:
    if isinstance(value, dict):
        found = {str(value[name])} if name in value else set()
        return found.union(*(_fields(v, name) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_fields(v, name) for v in value)) if value else set()
    return set()


def _listed(response: Any, needle: str, field: str | None) -> bool:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    kind = response.get("Content-Type", "")
    if "json" in kind and "jsonl" not in kind and "ndjson" not in kind:
        body = json.loads(content)
        return needle in (_fields(body, field) if field else _scalars(body))
    return needle in content.decode()


def _body(response: Any) -> str:
    if response.streaming:
        return ""
    return response.content.decode(errors="replace")


STATUS = {"forbidden": 403, "not_found": 404, "unauthenticated": 401, "conflict": 409, "bad_request": 400}


def _check(w: World, case: policy.Case, item: dict[str, Any]) -> str | None:
    """Send one case; None when the answer is the policy's, else what went wrong."""
    audit_before = AuditEvent.objects.count()
    url, response = _send(w, case, item)
    if resolve(url.split("?")[0]).view_name != case.route:
        return f"{url} is not a URL of {case.route}"
    expected = _expected(case, w)
    got = response.status_code
    where = response.get("Location", "")
    wrong = f"{case.role} on {case.obj}: expected {expected}, got {got} {where} {_body(response)[:200]!r}"
    page = not (case.route.startswith(("api:", "taxii")) or case.route in ("healthz", "json-schema"))
    if item.get("kind") == "list" and expected in ("allowed", "not_found"):
        if got == 404 and expected == "not_found":
            return None  # the list's parent (a report) is out of scope altogether
        if not 200 <= got < 300:
            return wrong
        listed = _listed(response, _fill(item["match"], w, case.obj), item.get("match_field"))
        return None if listed == (expected == "allowed") else wrong + f" (listed: {listed})"
    if expected == "allowed":
        if not 200 <= got < (400 if page else 300) or "/accounts/login" in where:
            return wrong
        did_nothing = AuditEvent.objects.count() == audit_before
        if page and case.method == "POST" and item.get("audited", True) and did_nothing:
            return wrong + " (the page action wrote no audit event: it did nothing)"
        return None
    if expected == "refused":
        redirected = got in (302, 303) and "/accounts/login" not in where
        if not (redirected or got in (400, 403, 404, 409)):
            return wrong
        return None if AuditEvent.objects.count() == audit_before else wrong + " (and wrote an audit event)"
    if expected == "login":
        return None if got == 302 and "/accounts/login" in where else wrong
    if got != STATUS[expected]:
        return wrong
    if not page:
        media = TAXII_MEDIA_TYPE if case.route.startswith("taxii") else "application/problem+json"
        if response["Content-Type"] != media:
            return wrong + f" (media type {response['Content-Type']})"
    title = w.objects[case.obj].attrs.get("title")
    if expected == "not_found" and title and title in _body(response):
        return wrong + " (the 404 names the object)"
    return None


def _grouped() -> dict[str, list[policy.Case]]:
    groups: dict[str, list[policy.Case]] = {}
    for case in CASES:
        groups.setdefault(f"{case.index:03d}-{case.route}-{case.method}-{case.obj}", []).append(case)
    return groups


GROUPS = _grouped()


@pytest.mark.parametrize("group", list(GROUPS))
def test_the_access_matrix_matches_the_policy(w: World, group: str) -> None:
    """Each role in turn, in its own savepoint (a write by one role never changes what the next meets)."""
    cases = GROUPS[group]
    item = policy.entry(cases[0].index)
    known = policy.load().get("known_issues", {})
    failures = []
    for case in cases:
        with transaction.atomic():
            problem = _check(w, case, item)
            transaction.set_rollback(True)
        if case.id in known:
            assert problem is not None, f"{case.id} is fixed: remove it from known_issues"
            continue
        if problem is not None:
            failures.append(problem)
    assert not failures, "\n".join(failures)


def test_webhook_and_email_payloads_match_the_policy(w: World) -> None:
    """The notification channel: who is told of each report's submission (deliveries the outbox handler
    made while the world was built), as the policy's `notifications` table says, and no payload names a
    report its recipient may not see."""
    expected = policy.load()["notifications"]
    told: dict[str, set[str]] = {}
    by_id = {str(w.incidents[f"incident@{tlp}"].pk): tlp for tlp in policy.tlps()}
    for delivery in Delivery.objects.select_related("endpoint", "user"):
        if delivery.user_id is not None:
            recipient = next(r for r, m in w.memberships.items() if m.user_id == delivery.user_id)
        else:
            recipient = next(
                n for n, o in w.objects.items() if o.attrs.get("ref") == str(delivery.endpoint_id)
            )
        tlp = by_id[delivery.payload["data"]["id"]]
        told.setdefault(recipient, set()).add(tlp)
        if tlp in ("red", "amber+strict"):
            assert "title" not in delivery.payload["data"], delivery.payload
    for recipient, levels in expected.items():
        assert told.get(recipient, set()) == set(levels), recipient
    assert set(told) <= set(expected)


# --- the meta-tests: nothing outside the policy -----------------------------------------------------------


def _routes() -> list[tuple[str, str, list[str] | None]]:
    """(route name, URL pattern, methods or None for plain Django views) of every URL, admin and
    allauth excepted."""
    excluded = tuple(policy.load()["excluded_prefixes"])
    found: list[tuple[str, str, list[str] | None]] = []

    def walk(patterns: list[Any], prefix: str, namespace: str | None) -> None:
        for pattern in patterns:
            text = prefix + str(pattern.pattern)
            if text.startswith(excluded):
                continue
            if isinstance(pattern, URLResolver):
                inner = pattern.namespace or namespace
                walk(pattern.url_patterns, text, inner)
                continue
            assert isinstance(pattern, URLPattern)
            callback = pattern.callback
            actions = getattr(callback, "actions", None)
            cls = getattr(callback, "cls", None)
            methods: list[str] | None
            if actions:  # HEAD is GET's twin (the same handler): GET's entry covers it
                methods = sorted(m.upper() for m in actions if m != "head")
            elif cls is not None:
                methods = sorted(
                    m.upper()
                    for m in cls.http_method_names
                    if m not in ("options", "head") and hasattr(cls, m)
                )
            else:
                methods = None
            name = f"{namespace}:{pattern.name}" if namespace else str(pattern.name)
            found.append((name, text, methods))

    walk(get_resolver().url_patterns, "", None)
    return found


def test_every_url_and_method_has_an_entry_in_the_policy(figures: Any) -> None:
    entries = {(item["route"], item["method"]) for item in policy.load()["endpoints"]}
    named = {route for route, _ in entries}
    missing = []
    routes = _routes()
    for name, pattern, methods in routes:
        if methods is None:
            if name not in named:
                missing.append(f"{name} ({pattern})")
            continue
        missing += [f"{name} {method} ({pattern})" for method in methods if (name, method) not in entries]
    assert not missing, "not in tests/security/policy.yaml:\n" + "\n".join(missing)
    known = {name for name, _, _ in routes}
    assert named <= known, f"the policy names routes that do not exist: {named - known}"
    figures("access matrix: routes covered", len(routes))
    figures("access matrix: (role, object, action) cases", len(CASES))
    figures("access matrix: policy entries", len(policy.load()["endpoints"]))


def test_every_workflow_action_has_an_entry_in_the_policy() -> None:
    actions = {item["action"]: item["route"] for item in policy.load()["endpoints"] if "action" in item}
    assert set(actions) == {row.action.value for row in TRANSITIONS}
    for action, route in actions.items():
        assert route == "api:incident-" + action.replace("_", "-")


def test_the_policy_names_every_role_and_a_visibility_for_each() -> None:
    loaded = policy.load()
    assert loaded["roles"] == ROLES
    for table in loaded["visibility"].values():
        assert set(table) == set(ROLES)
        assert all(set(levels) <= set(policy.tlps()) for levels in table.values())
    # Every entry's expectations resolve for every role and object (a typo is a failure here, not a skip).
    assert all(case.rule in policy.RULES for case in CASES)
