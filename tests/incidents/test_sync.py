"""The sync API (issue 6 item 4): every list takes `modified_after` and pages oldest first by
(modified_at, id) under the sync horizon (core.sync); GET /api/v1/incidents/removed gives a mirror its
tombstones. A partner that mirrors with both ends equal to a fresh full list, whatever the labs and
regulators did in between (TLP raised, lowered, a withdrawal), and learns nothing it could never see."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.authentication import principal_for_membership
from accounts.models import ApiKey, Organization, Role
from coordination.models import WebhookEndpoint
from core.audit import audit_record
from incidents import services
from incidents.models import Incident, IncidentVisibilityChange
from registry.models import AgentScaffold, FrontierModel
from tests.conftest import client_for_key
from tests.factories import (
    AgentScaffoldFactory,
    EvaluationResultFactory,
    FrontierModelFactory,
    MembershipFactory,
    OrganizationFactory,
    issue_key,
    sign_in,
)

INCIDENTS = "/api/v1/incidents"
REMOVED = "/api/v1/incidents/removed"
EPOCH = "1970-01-01T00:00:00Z"


def stamp(moment: datetime) -> str:
    return moment.isoformat()


def walk(client: APIClient, url: str, params: dict[str, str], between: Callable[[int], None] | None = None):
    """Every row of a paged list, following `next` to the end; `between(n)` runs after page n."""
    rows: list[dict[str, Any]] = []
    response = client.get(url, params)
    page = 0
    while True:
        assert response.status_code == 200, response.content
        body = response.json()
        rows.extend(body["results"])
        page += 1
        if between is not None:
            between(page)
        if body["next"] is None:
            return rows
        response = client.get(body["next"])


def submit(actor: Any, *, tlp: str, countries: list[str] | None = None, title: str = "Replica") -> Incident:
    return services.incident_submit(
        actor=actor,
        data={
            "record_class": "real_world_incident",
            "title": f"{title} ({tlp})",
            "description": "An agent copied its weights to a rented host.",
            "submitter_capacity": "provider",
            "instruction_provenance": "uninstructed",
            "countries": countries or ["FR"],
            "tlp": tlp,
        },
        links=services.Links(models=[services.InvolvedModel(role="originating", model_name="in-house")]),
    ).incident


class Parties:
    """A lab (FR), the EU regulator (lead for FR), a US regulator, a partner registry (a key of a
    third regulator, EU), and another lab."""

    def __init__(self) -> None:
        org = OrganizationFactory
        self.lab = org(short_name="sync-lab", kind="lab", country="FR")
        self.other_lab = org(short_name="sync-lab-b", kind="lab", country="US")
        self.eu = org(short_name="sync-eu", kind="regulator", country="BE", jurisdictions=["EU"])
        self.us = org(short_name="sync-us", kind="regulator", country="US", jurisdictions=["US"])
        self.partner_org = org(
            short_name="sync-partner", kind="regulator", country="DE", jurisdictions=["EU"]
        )
        self.submitter_m = MembershipFactory(organization=self.lab, role=Role.LAB_SUBMITTER)
        self.submitter = principal_for_membership(self.submitter_m)
        self.eu_regulator_m = MembershipFactory(organization=self.eu, role=Role.REGULATOR)
        self.eu_regulator = principal_for_membership(self.eu_regulator_m)
        _, plaintext = issue_key(self.partner_org, Role.REGULATOR)
        self.partner = client_for_key(plaintext)
        _, us_key = issue_key(self.us, Role.REGULATOR)
        self.us_partner = client_for_key(us_key)

    def client(self, membership: Any) -> APIClient:
        client = APIClient()
        sign_in(client, membership.user)
        return client


@pytest.fixture
def parties(db: Any) -> Parties:
    return Parties()


# --- the mirror ----------------------------------------------------------------------------------------


class Mirror:
    """What a partner keeps: its copy by id, and two bookmarks (the largest modified_at / removed_at)."""

    def __init__(self, client: APIClient) -> None:
        self.client = client
        self.rows: dict[str, dict[str, Any]] = {}
        self.bookmark = EPOCH
        self.removed_bookmark = EPOCH
        self.versions_seen: list[tuple[str, str]] = []

    def sync(self, limit: str = "2") -> None:
        for row in walk(self.client, INCIDENTS, {"modified_after": self.bookmark, "limit": limit}):
            self.versions_seen.append((row["id"], row["modified_at"]))
            self.rows[row["public_id"]] = row
            self.bookmark = max(self.bookmark, row["modified_at"], key=_instant)
        for row in walk(self.client, REMOVED, {"modified_after": self.removed_bookmark, "limit": limit}):
            self.rows.pop(row["public_id"], None)
            self.removed_bookmark = max(self.removed_bookmark, row["removed_at"], key=_instant)

    def state(self) -> set[tuple[str, str, str]]:
        return {(r["public_id"], r["status"], r["tlp"]) for r in self.rows.values()}


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def fresh_list(client: APIClient) -> set[tuple[str, str, str]]:
    return {(r["public_id"], r["status"], r["tlp"]) for r in walk(client, INCIDENTS, {"limit": "200"})}


def test_a_mirror_follows_tlp_changes_and_withdrawals_and_ends_equal_to_a_fresh_list(parties):
    p = parties
    amber = [submit(p.submitter, tlp="amber", title=f"Amber {n}") for n in range(3)]
    strict = submit(p.submitter, tlp="amber+strict")  # the partner (EU) is a lead regulator for FR
    never = submit(p.submitter, tlp="red", title="Always red")  # named to nobody the partner is
    mirror = Mirror(p.partner)

    mirror.sync()
    assert set(mirror.rows) == {i.public_id for i in [*amber, strict]}
    assert never.public_id not in mirror.rows

    # The lab raises one report to red: the partner loses it.
    services.incident_change_tlp(actor=p.submitter, incident=amber[0], tlp="red", reason="")
    mirror.sync()
    assert amber[0].public_id not in mirror.rows
    assert mirror.state() == fresh_list(p.partner)

    # The EU regulator, a named recipient, lowers it again with a reason: the partner regains it.
    services.incident_recipient_add(
        actor=p.submitter, incident=amber[0], username=p.eu_regulator_m.user.username
    )
    services.incident_change_tlp(
        actor=p.eu_regulator, incident=Incident.objects.get(pk=amber[0].pk), tlp="amber", reason="Mitigated."
    )
    mirror.sync()
    assert mirror.rows[amber[0].public_id]["tlp"] == "amber"

    # The lab withdraws another: still visible, with its new status, in the next sync.
    services.incident_transition(
        actor=p.submitter, incident=amber[1], action="withdraw", reason="Wrong model."
    )
    mirror.sync()
    assert mirror.rows[amber[1].public_id]["status"] == "withdrawn"

    # The lab files in the US instead: amber+strict now reaches US leads, not the partner (EU).
    services.incident_amend(actor=p.submitter, incident=strict, changes={"countries": ["US"]}, links=None)
    mirror.sync()
    assert strict.public_id not in mirror.rows

    assert mirror.state() == fresh_list(p.partner)
    assert set(mirror.rows) == {amber[0].public_id, amber[1].public_id, amber[2].public_id}
    assert len(mirror.versions_seen) == len(set(mirror.versions_seen)), "a version came twice"


def test_a_withdrawal_moves_modified_at_and_is_no_removal(parties):
    incident = submit(parties.submitter, tlp="amber")
    before = parties.partner.get(INCIDENTS).json()["results"][0]["modified_at"]

    services.incident_transition(actor=parties.submitter, incident=incident, action="withdraw", reason="Dup.")

    rows = walk(parties.partner, INCIDENTS, {"modified_after": before})
    assert [(r["public_id"], r["status"]) for r in rows] == [(incident.public_id, "withdrawn")]
    assert walk(parties.partner, REMOVED, {"modified_after": EPOCH}) == []


@pytest.mark.parametrize(("old", "new"), [("amber", "red"), ("red", "green")])
def test_a_tlp_change_moves_modified_at(parties, old, new):
    incident = submit(parties.submitter, tlp=old)
    services.incident_recipient_add(
        actor=parties.submitter, incident=incident, username=parties.eu_regulator_m.user.username
    )
    incident.refresh_from_db()
    actor = parties.submitter if new == "red" else parties.eu_regulator
    services.incident_change_tlp(actor=actor, incident=incident, tlp=new, reason="Reviewed.")

    after = Incident.objects.get(pk=incident.pk)
    assert after.modified_at > incident.modified_at
    change = IncidentVisibilityChange.objects.get(incident=incident)
    assert (change.tlp, change.new_tlp) == (old, new)


def test_lowering_tlp_reaches_the_newly_entitled_in_their_next_sync(parties):
    incident = submit(parties.submitter, tlp="red")
    services.incident_recipient_add(
        actor=parties.submitter, incident=incident, username=parties.eu_regulator_m.user.username
    )
    us = Mirror(parties.us_partner)
    us.sync()
    assert us.rows == {}

    services.incident_change_tlp(
        actor=parties.eu_regulator, incident=Incident.objects.get(pk=incident.pk), tlp="amber", reason="Safe."
    )
    us.sync()

    assert set(us.rows) == {incident.public_id}


def test_removed_never_reveals_a_report_the_caller_could_never_see(parties):
    p = parties
    red = submit(p.submitter, tlp="red", title="Red all along")
    strict_us = submit(p.submitter, tlp="amber+strict", countries=["US"], title="US only")
    services.incident_change_tlp(actor=p.submitter, incident=strict_us, tlp="red", reason="")
    services.incident_recipient_add(actor=p.submitter, incident=red, username=p.eu_regulator_m.user.username)
    services.incident_change_tlp(
        actor=p.eu_regulator, incident=Incident.objects.get(pk=red.pk), tlp="amber+strict", reason="Shared."
    )
    services.incident_change_tlp(
        actor=p.submitter, incident=Incident.objects.get(pk=red.pk), tlp="red", reason="Too early."
    )

    # The partner (EU) never saw `strict_us` (amber+strict for US) nor `red` while it was red, but did see
    # `red` while it was amber+strict for FR: that one removal, and only it.
    removed = walk(p.partner, REMOVED, {"modified_after": EPOCH})
    assert [r["public_id"] for r in removed] == [red.public_id]
    assert removed[0]["reason"] == "tlp_raised"
    # Another lab never saw either; the US regulator saw `strict_us` only.
    other_lab = client_for_key(issue_key(p.other_lab, Role.LAB_ADMIN)[1])
    assert walk(other_lab, REMOVED, {}) == []
    assert [r["public_id"] for r in walk(p.us_partner, REMOVED, {})] == [strict_us.public_id]
    assert walk(APIClient(), REMOVED, {}) == []


def test_a_recipient_named_after_a_report_left_red_does_not_learn_it_was_ever_red(parties):
    p = parties
    incident = submit(p.submitter, tlp="red")
    us_member = MembershipFactory(organization=p.us, role=Role.REGULATOR)
    services.incident_recipient_add(
        actor=p.submitter, incident=incident, username=p.eu_regulator_m.user.username
    )
    services.incident_change_tlp(
        actor=p.eu_regulator, incident=Incident.objects.get(pk=incident.pk), tlp="amber+strict", reason="EU."
    )
    services.incident_recipient_add(actor=p.submitter, incident=incident, username=us_member.user.username)

    # At red the US regulator was not named: the red -> amber+strict change took nothing from it.
    assert walk(p.client(us_member), REMOVED, {}) == []


# --- the horizon: out-of-order commits -----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_write_committing_after_a_later_one_is_not_skipped():
    """Two real connections. A stamps report X and holds its transaction open; B then changes report Y
    and commits. A partner syncing now must not be served Y (its bookmark would pass X's earlier stamp);
    once A commits, the next sync from the partner's bookmark has both."""
    p = Parties()
    x = submit(p.submitter, tlp="amber", title="X")
    y = submit(p.submitter, tlp="amber", title="Y")
    mirror = Mirror(p.partner)
    mirror.sync()
    bookmark = mirror.bookmark
    stamped, release, done = threading.Event(), threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def slow_writer() -> None:
        try:
            with transaction.atomic():
                locked = Incident.objects.select_for_update().get(pk=x.pk)
                locked.title = "X, amended slowly"
                locked.save(update_fields=["title", "modified_at"])
                stamped.set()
                release.wait(timeout=30)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()
            done.set()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    try:
        assert stamped.wait(timeout=30)
        Incident.objects.filter(pk=y.pk).update(title="Y, amended fast", modified_at=timezone.now())

        served = walk(p.partner, INCIDENTS, {"modified_after": bookmark})
        assert served == [], "Y was served while an earlier stamp could still commit"
    finally:
        release.set()
        done.wait(timeout=30)
        thread.join(timeout=30)
    assert errors == []

    mirror.sync()
    assert {mirror.rows[i.public_id]["title"] for i in (x, y)} == {"X, amended slowly", "Y, amended fast"}


def test_the_horizon_holds_back_rows_stamped_within_the_settle_window(parties, settings):
    submit(parties.submitter, tlp="amber")
    settings.REDLINE_SYNC_SETTLE_SECONDS = 60

    assert walk(parties.partner, INCIDENTS, {"modified_after": EPOCH}) == []
    assert len(walk(parties.partner, INCIDENTS, {})) == 1  # a plain list is not held back


# --- every list ----------------------------------------------------------------------------------------


class Kind:
    """One list endpoint: how to make a record, how to change one (None: append-only), who reads."""

    def __init__(
        self,
        url: str,
        make: Callable[[Any, int], Any],
        touch: Callable[[Any], None] | None,
        reader: Callable[[Any], APIClient],
        key: str = "id",
    ) -> None:
        self.url, self.make, self.touch, self.reader, self.key = url, make, touch, reader, key


def _save(model: type[Any]) -> Callable[[Any], None]:
    def touch(record: Any) -> None:
        fresh = model.objects.get(pk=record.pk)
        fresh.save(update_fields=["modified_at"])

    return touch


def _lab_admin_client(p: Parties) -> APIClient:
    if not hasattr(p, "_lab_admin"):
        p._lab_admin = client_for_key(issue_key(p.lab, Role.LAB_ADMIN)[1])  # type: ignore[attr-defined]
    return p._lab_admin  # type: ignore[attr-defined,no-any-return]


def _comment_incident(p: Parties) -> Incident:
    if not hasattr(p, "_commented"):
        p._commented = submit(p.submitter, tlp="amber")  # type: ignore[attr-defined]
    return p._commented  # type: ignore[attr-defined,no-any-return]


KINDS = {
    "organizations": Kind(
        "/api/v1/organizations",
        lambda p, n: OrganizationFactory(short_name=f"sync-org-{n}", kind="lab"),
        _save(Organization),
        lambda p: APIClient(),
    ),
    "models": Kind(
        "/api/v1/models",
        lambda p, n: FrontierModelFactory(provider=p.lab, name=f"Sync-{n}"),
        _save(FrontierModel),
        lambda p: APIClient(),
    ),
    "scaffolds": Kind(
        "/api/v1/scaffolds",
        lambda p, n: AgentScaffoldFactory(owner_org=p.lab, name=f"Sync-{n}"),
        _save(AgentScaffold),
        lambda p: APIClient(),
    ),
    "evaluations": Kind(
        "/api/v1/evaluations",
        lambda p, n: EvaluationResultFactory(model=FrontierModelFactory(provider=p.lab, name=f"E-{n}")),
        None,  # append-only: a correction is a new row
        lambda p: APIClient(),
    ),
    "incidents": Kind(
        INCIDENTS,
        lambda p, n: submit(p.submitter, tlp="amber", title=f"Sync {n}"),
        _save(Incident),
        lambda p: p.partner,
    ),
    "api-keys": Kind(
        "/api/v1/api-keys",
        lambda p, n: issue_key(p.lab, Role.LAB_SUBMITTER, name=f"sync-{n}")[0],
        _save(ApiKey),
        _lab_admin_client,
    ),
    "webhooks": Kind(
        "/api/v1/webhooks",
        lambda p, n: WebhookEndpoint.objects.create(
            organization=p.lab, url=f"https://hooks.example.org/{n}", subscriptions=["own_reports"]
        ),
        _save(WebhookEndpoint),
        _lab_admin_client,
    ),
    "audit": Kind(
        "/api/v1/audit",
        lambda p, n: audit_record(
            actor=p.submitter,
            event_code="incident.amended",
            target=_comment_incident(p),
            after={"n": n},
        ),
        None,  # append-only
        lambda p: p.partner,
    ),
    "comments": Kind(
        "/api/v1/incidents/{incident}/comments",
        lambda p, n: services.comment_add(
            actor=p.eu_regulator, incident=_comment_incident(p), visibility="shared", body=f"Comment {n}"
        ),
        None,  # comments are never edited
        lambda p: p.client(p.eu_regulator_m),
    ),
}


def _url(kind: Kind, p: Parties) -> str:
    return kind.url.format(incident=_comment_incident(p).public_id) if "{incident}" in kind.url else kind.url


def _row_time(row: dict[str, Any]) -> datetime:
    for name in ("modified_at", "occurred_at", "created_at"):
        if name in row:
            return _instant(row[name])
    raise AssertionError(f"no timestamp in {sorted(row)}")


@pytest.mark.parametrize("name", sorted(KINDS))
def test_every_list_pages_changes_after_a_time_oldest_first_each_version_once(parties, name):
    kind = KINDS[name]
    client = kind.reader(parties)
    url = _url(kind, parties)
    since = timezone.now() - timedelta(microseconds=1)
    records = [kind.make(parties, n) for n in range(5)]
    ids = {str(r.pk) for r in records}
    late: list[Any] = []

    def between(page: int) -> None:
        if page != 1:
            return
        if kind.touch is not None:
            kind.touch(records[0])  # already read: comes again, in its newer version, at the end
            kind.touch(records[4])  # not read yet: comes once, in its newer version
        else:
            late.append(kind.make(parties, 99))  # a record added while paging comes at the end

    rows = walk(client, url, {"modified_after": stamp(since), "limit": "2"}, between=between)

    keys = [(_row_time(r), str(r[kind.key])) for r in rows]
    assert keys == sorted(keys), "not oldest first by (time, id)"
    assert len(keys) == len(set(keys)), "a version was served twice"
    mine = [str(r[kind.key]) for r in rows if str(r[kind.key]) in ids | {str(x.pk) for x in late}]
    if kind.touch is not None:
        first = str(records[0].pk)
        assert mine.count(first) == 2 and mine[-1] in {first, str(records[4].pk)}
        assert sorted(set(mine)) == sorted(ids) and len(mine) == 6
    else:
        assert sorted(mine) == sorted(ids | {str(late[0].pk)}) and mine[-1] == str(late[0].pk)
    # Resuming from the largest time seen serves nothing new: nothing was missed or is pending.
    bookmark = max(_row_time(r) for r in rows)
    assert walk(client, url, {"modified_after": stamp(bookmark)}) == []


ALL_LISTS = [
    "/api/v1/organizations",
    "/api/v1/models",
    "/api/v1/scaffolds",
    "/api/v1/evaluations",
    INCIDENTS,
    REMOVED,
    "/api/v1/api-keys",
    "/api/v1/webhooks",
    "/api/v1/audit",
    "/api/v1/audit/checkpoints",
]


@pytest.fixture
def platform_admin(db: Any) -> APIClient:
    org = OrganizationFactory(short_name="sync-platform", kind="coordination_body", country="CH")
    return client_for_key(issue_key(org, Role.PLATFORM_ADMIN)[1])


@pytest.mark.parametrize(
    "value",
    ["yesterday", "2026-01-05", "2026-01-05T10:00:00", "2026-02-30T10:00:00Z", "2026-01-05T10:00:00 00:00"],
    ids=["word", "date-only", "no-offset", "no-such-day", "unencoded-plus"],
)
@pytest.mark.parametrize("url", ALL_LISTS)
def test_a_bad_modified_after_is_a_400_problem_on_every_list(platform_admin, url, value):
    response = platform_admin.get(url, {"modified_after": value})

    assert response.status_code == 400, (url, response.content)
    assert response["Content-Type"].startswith("application/problem+json")
    assert "modified_after" in response.content.decode()


@pytest.mark.parametrize("url", ALL_LISTS)
def test_every_list_answers_a_good_modified_after_and_refuses_newest_first_with_it(platform_admin, url):
    assert platform_admin.get(url, {"modified_after": EPOCH}).status_code == 200
    response = platform_admin.get(url, {"modified_after": EPOCH, "ordering": "-modified_at"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_ordering"


def test_the_nested_lists_take_modified_after(parties):
    incident = _comment_incident(parties)
    endpoint = WebhookEndpoint.objects.create(
        organization=parties.lab, url="https://hooks.example.org/x", subscriptions=["own_reports"]
    )
    reviewer = parties.client(parties.eu_regulator_m)
    admin = _lab_admin_client(parties)

    for client, url in [
        (reviewer, f"{INCIDENTS}/{incident.public_id}/comments"),
        (admin, f"/api/v1/webhooks/{endpoint.pk}/deliveries"),
    ]:
        assert client.get(url, {"modified_after": EPOCH}).status_code == 200, url
        assert client.get(url, {"modified_after": "soon"}).status_code == 400, url


# --- cost ------------------------------------------------------------------------------------------------


@pytest.fixture
def many_removed(parties: Parties) -> Iterator[Parties]:
    for n in range(6):
        incident = submit(parties.submitter, tlp="amber", title=f"Raised {n}")
        services.incident_change_tlp(actor=parties.submitter, incident=incident, tlp="red", reason="")
        submit(parties.submitter, tlp="amber", title=f"Kept {n}")
    yield parties


@pytest.mark.parametrize("url", [INCIDENTS, REMOVED])
def test_a_sync_page_costs_the_same_queries_whatever_its_size(
    many_removed, url, django_assert_max_num_queries
):
    client = many_removed.partner
    client.get(url, {"modified_after": EPOCH, "limit": "1"})  # the key's last-used time is written once
    counts = []
    for limit in ("1", "6"):
        with django_assert_max_num_queries(3) as captured:
            response = client.get(url, {"modified_after": EPOCH, "limit": limit})
        assert response.status_code == 200
        assert len(response.json()["results"]) == int(limit)
        counts.append(len(captured.captured_queries))
    assert counts[0] == counts[1], counts
    assert all("count(" not in q["sql"].lower() for q in captured.captured_queries)
