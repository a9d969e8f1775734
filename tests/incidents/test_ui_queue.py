"""The incident list (`/incidents/`) and the triage queue (`/triage/`): visibility, the API's filters and
orderings from the URL, keyset pages, claim and bulk assign through the workflow service, htmx partials."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.authentication import principal_for_membership
from accounts.models import Membership, Organization, Role
from core.actors import Principal
from core.models import AuditEvent
from incidents import services
from incidents.models import Incident, IncidentStatus, IncidentTransition
from tests.factories import MembershipFactory, OrganizationFactory, sign_in

pytestmark = pytest.mark.django_db

LIST = "/incidents/"
QUEUE = "/triage/"
PUBLIC_ID = re.compile(r"SRI-\d{4}-\d{6}")


@dataclass
class World:
    orgs: dict[str, Organization]
    members: dict[str, Membership]

    def actor(self, name: str) -> Principal:
        return principal_for_membership(self.members[name])

    def client(self, name: str) -> Client:
        client = Client()
        sign_in(client, self.members[name].user)
        return client

    def username(self, name: str) -> str:
        return str(self.members[name].user.get_username())


@pytest.fixture
def world(db: Any) -> World:
    orgs = {
        "lab_a": OrganizationFactory(short_name="q-lab-a", kind="lab", country="FR"),
        "lab_b": OrganizationFactory(short_name="q-lab-b", kind="lab", country="US"),
        "eu": OrganizationFactory(short_name="q-eu", kind="regulator", country="BE", jurisdictions=["EU"]),
    }
    where = {
        "lab_a": ("lab_a", Role.LAB_SUBMITTER),
        "lab_b": ("lab_b", Role.LAB_SUBMITTER),
        "reviewer": ("eu", Role.REVIEWER),
        "reviewer_2": ("eu", Role.REVIEWER),
        "regulator": ("eu", Role.REGULATOR),
    }
    members = {
        name: MembershipFactory(organization=orgs[org], role=role) for name, (org, role) in where.items()
    }
    return World(orgs=orgs, members=members)


def submit(world: World, by: str = "lab_a", *, title: str, tlp: str = "amber", **fields: Any) -> Incident:
    """A report filed through the submission service, as the API and the submission page do."""
    data = {
        "record_class": "real_world_incident",
        "title": title,
        "description": "An agent started a replica of itself on a second host.",
        "submitter_capacity": "provider",
        "instruction_provenance": "uninstructed",
        "countries": ["FR"],
        "tlp": tlp,
        **fields,
    }
    result = services.incident_submit(
        actor=world.actor(by),
        data=data,
        links=services.Links(models=[services.InvolvedModel(role="originating", model_name="in-house")]),
    )
    return result.incident


def submit_overdue(world: World, *, title: str, **fields: Any) -> Incident:
    """A serious report filed ten days ago: its triage acknowledgement (1 working day) is overdue."""
    with time_machine.travel(timezone.now() - timedelta(days=10)):
        return submit(world, title=title, severity="serious_incident", **fields)


def ids_in(html: str) -> list[str]:
    """The report ids of the result rows, in page order (each row's header cell names it once)."""
    return re.findall(r'<th scope="row">(?:<a [^>]*>)?(SRI-\d{4}-\d{6})', html)


def page(client: Client, url: str, **extra: Any) -> str:
    response = client.get(url, **extra)
    assert response.status_code == 200, (url, response.status_code)
    return response.content.decode()


def follow_pages(client: Client, url: str, rel: str = "next") -> list[list[str]]:
    """Every page's ids, walking the Next (or Previous) links from `url`."""
    pages = []
    for _ in range(50):
        html = page(client, url)
        pages.append(ids_in(html))
        link = re.search(rf'rel="{rel}" href="([^"]+)"', html)
        if link is None:
            return pages
        url = link.group(1).replace("&amp;", "&")
    pytest.fail("the pages never end")


# --- visibility --------------------------------------------------------------------------------------


def test_a_lab_sees_its_own_reports_and_public_ones_not_another_labs_amber(world):
    own = submit(world, "lab_a", title="Own amber report")
    public = submit(world, "lab_b", title="Lab B public report", tlp="clear")
    hidden = submit(world, "lab_b", title="Lab B amber report")
    html = page(world.client("lab_a"), LIST)
    assert set(ids_in(html)) == {own.public_id, public.public_id}
    assert hidden.title not in html and hidden.public_id not in html


def test_anonymous_visitors_see_tlp_clear_reports_only(world):
    public = submit(world, "lab_b", title="Published report", tlp="clear")
    for tlp in ("green", "amber", "amber+strict", "red"):
        submit(world, "lab_a", title=f"Restricted {tlp}", tlp=tlp)
    html = page(Client(), LIST)
    assert ids_in(html) == [public.public_id]
    assert "Restricted" not in html
    assert '<span class="tlp tlp-clear">TLP:CLEAR</span>' in html


def test_the_tlp_badge_of_amber_strict_uses_its_css_class(world):
    submit(world, "lab_a", title="Strict one", tlp="amber+strict")
    assert 'class="tlp tlp-amber-strict">TLP:AMBER+STRICT' in page(world.client("lab_a"), LIST)


def test_the_triage_queue_is_404_for_a_lab_and_asks_visitors_to_sign_in(world):
    report = submit(world, "lab_a", title="Lab report")
    lab = world.client("lab_a")
    assert lab.get(QUEUE).status_code == 404
    assert lab.post(reverse("triage-claim", kwargs={"ref": report.public_id})).status_code == 404
    assert lab.post(reverse("triage-assign"), {"incident": [report.public_id]}).status_code == 404
    anonymous = Client().get(QUEUE)
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    report.refresh_from_db()
    assert report.status == IncidentStatus.SUBMITTED and report.assignee_id is None


def test_the_queue_shows_open_reports_only_by_default(world):
    open_report = submit(world, title="Still open")
    withdrawn = submit(world, title="Withdrawn one")
    services.incident_transition(
        actor=world.actor("lab_a"), incident=withdrawn, action="withdraw", reason="Filed twice."
    )
    client = world.client("reviewer")
    assert ids_in(page(client, QUEUE)) == [open_report.public_id]
    assert ids_in(page(client, QUEUE + "?status=withdrawn")) == [withdrawn.public_id]


def test_the_assignee_is_shown_to_oversight_and_the_submitter_only(world):
    report = submit(world, "lab_b", title="Public and claimed", tlp="clear")
    services.incident_transition(actor=world.actor("reviewer"), incident=report, action="claim")
    assert world.username("reviewer") in page(world.client("reviewer_2"), LIST)
    assert world.username("reviewer") in page(world.client("lab_b"), LIST)
    assert world.username("reviewer") not in page(world.client("lab_a"), LIST)
    assert world.username("reviewer") not in page(Client(), LIST)


# --- filters and sorting -----------------------------------------------------------------------------


def test_filters_in_the_url_filter_the_rows(world):
    claimed = submit(world, title="Claimed one", severity="incident")
    serious = submit(world, title="Serious one", severity="serious_incident")
    overdue = submit_overdue(world, title="Overdue one")
    services.incident_transition(actor=world.actor("reviewer"), incident=claimed, action="claim")
    client = world.client("reviewer_2")
    assert ids_in(page(client, LIST + "?status=in_review")) == [claimed.public_id]
    assert set(ids_in(page(client, LIST + "?severity=serious_incident"))) == {
        serious.public_id,
        overdue.public_id,
    }
    assert ids_in(page(client, LIST + "?overdue=true")) == [overdue.public_id]
    assert set(ids_in(page(client, QUEUE + "?overdue=false"))) == {claimed.public_id, serious.public_id}
    # The filter state is shown back in the form, so the page can be bookmarked and edited.
    html = page(client, LIST + "?severity=serious_incident")
    assert re.search(r'<option value="serious_incident" selected>', html)


def test_the_filter_form_submitted_as_is_filters_nothing(world):
    """Every select starts on an empty choice: submitting the form untouched sends no filter."""
    client = world.client("reviewer")
    html = page(client, LIST)
    for name in ("status", "severity", "tlp", "overdue", "unassigned", "regime"):
        select = re.search(rf'<select name="{name}"[^>]*>\s*<option value="" selected>Any</option>', html)
        assert select, name
    for label in ("Search", "TLP", "Overdue", "Due before", "Deadline regime", "Unassigned"):
        assert f">{label}:</label>" in html
    assert '<option value="" selected>Open (submitted, in review, needs information)</option>' in page(
        client, QUEUE
    )


def test_assigned_to_me_and_unassigned_filters(world):
    mine = submit(world, title="Mine")
    theirs = submit(world, title="Theirs")
    free = submit(world, title="Free")
    services.incident_transition(actor=world.actor("reviewer"), incident=mine, action="claim")
    services.incident_transition(actor=world.actor("reviewer_2"), incident=theirs, action="claim")
    client = world.client("reviewer")
    assert ids_in(page(client, QUEUE + "?assignee=me")) == [mine.public_id]
    assert ids_in(page(client, QUEUE + f"?assignee={world.username('reviewer_2')}")) == [theirs.public_id]
    assert ids_in(page(client, QUEUE + "?status=submitted&unassigned=true")) == [free.public_id]
    html = page(client, QUEUE)
    assert 'href="/triage/?assignee=me' in html and "Unassigned submitted" in html


def test_the_api_assignee_filter_does_not_tell_a_lab_who_holds_another_labs_report(world):
    public = submit(world, "lab_b", title="Public, claimed", tlp="clear")
    own = submit(world, "lab_a", title="Own, claimed")
    for report in (public, own):
        services.incident_transition(actor=world.actor("reviewer"), incident=report, action="claim")
    api = APIClient()
    sign_in(api, world.members["lab_a"].user)
    found = api.get("/api/v1/incidents/", {"assignee": world.username("reviewer")}).json()["results"]
    assert [row["public_id"] for row in found] == [own.public_id]
    unassigned = api.get("/api/v1/incidents/", {"unassigned": "false"}).json()["results"]
    assert [row["public_id"] for row in unassigned] == [own.public_id]
    reviewer = APIClient()
    sign_in(reviewer, world.members["reviewer_2"].user)
    found = reviewer.get("/api/v1/incidents/", {"assignee": world.username("reviewer")}).json()["results"]
    assert {row["public_id"] for row in found} == {public.public_id, own.public_id}
    assert reviewer.get("/api/v1/incidents/", {"unassigned": "maybe"}).status_code == 400


def test_a_bad_filter_value_is_a_400_with_the_error_shown_and_no_rows(world):
    submit(world, title="Any")
    response = world.client("reviewer").get(LIST + "?severity=apocalyptic")
    assert response.status_code == 400
    html = response.content.decode()
    assert "There is a problem" in html and ids_in(html) == []
    assert world.client("reviewer").get(LIST + "?ordering=title").status_code == 400
    assert world.client("reviewer").get(LIST + "?cursor=not-a-cursor").status_code == 400


def test_sorting_by_the_orderings_of_the_api(world):
    first = submit(world, title="First filed")
    second = submit(world, title="Second filed")
    dated = submit_overdue(world, title="Filed long ago")
    services.incident_transition(
        actor=world.actor("reviewer"), incident=first, action="claim"
    )  # touched last
    client = world.client("reviewer_2")
    assert ids_in(page(client, LIST + "?ordering=-submitted_at")) == [
        second.public_id,
        first.public_id,
        dated.public_id,
    ]
    assert ids_in(page(client, LIST))[0] == first.public_id  # -modified_at, the API's default
    assert ids_in(page(client, LIST + "?ordering=modified_at"))[0] == dated.public_id
    # The queue's default: the next deadline first, reports without a clock after the dated ones.
    assert ids_in(page(client, QUEUE))[0] == dated.public_id


# --- pages -------------------------------------------------------------------------------------------


def test_cursor_pages_walk_every_row_once_forwards_and_back(world):
    reports = [submit(world, title=f"Report {n}") for n in range(7)]
    client = world.client("reviewer")
    pages = follow_pages(client, LIST + "?limit=3&severity=")
    assert [len(p) for p in pages] == [3, 3, 1]
    walked = [public_id for p in pages for public_id in p]
    assert sorted(walked) == sorted(r.public_id for r in reports)  # no duplicate, no gap
    expected = [r.public_id for r in sorted(reports, key=lambda r: (r.modified_at, r.pk), reverse=True)]
    assert walked == expected
    # Page 2 via its cursor, then Previous brings back exactly page 1 (the filters kept in the links).
    html = page(client, LIST + "?limit=3&severity=")
    next_url = re.search(r'rel="next" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert "cursor=" in next_url and "limit=3" in next_url and "OFFSET" not in next_url
    second = page(client, next_url)
    assert ids_in(second) == pages[1]
    previous = re.search(r'rel="prev" href="([^"]+)"', second).group(1).replace("&amp;", "&")
    assert ids_in(page(client, previous)) == pages[0]


def test_the_queue_pages_walk_dated_and_undated_reports_without_gaps(world):
    dated = [submit_overdue(world, title=f"Dated {n}") for n in range(3)]
    undated = [submit(world, title=f"Undated {n}") for n in range(4)]
    client = world.client("reviewer")
    pages = follow_pages(client, QUEUE + "?limit=2")
    walked = [public_id for p in pages for public_id in p]
    assert len(walked) == len(set(walked)) == 7
    assert set(walked[:3]) == {r.public_id for r in dated}  # the dated ones first
    assert set(walked[3:]) == {r.public_id for r in undated}
    # Walking back from the last page gives the same rows in the same order.
    last = QUEUE + "?limit=2"
    for _ in range(len(pages) - 1):
        html = page(client, last)
        last = re.search(r'rel="next" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    backwards = follow_pages(client, last, rel="prev")
    assert [public_id for p in reversed(backwards) for public_id in p] == walked


def _assert_constant_queries(world, django_assert_max_num_queries, url: str, budget: int) -> None:
    client = world.client("reviewer")
    client.get(url)  # warm the session and the MFA check
    with django_assert_max_num_queries(budget):
        assert len(ids_in(page(client, url))) == 5
    for n in range(35):
        if n % 2:
            submit_overdue(world, title=f"More {n}")
        else:
            submit(world, "lab_b", title=f"More {n}", tlp="green")
    with django_assert_max_num_queries(budget):
        assert len(ids_in(page(client, url))) == 40


@pytest.mark.parametrize("url", [LIST, QUEUE])
def test_a_page_takes_the_same_number_of_queries_for_5_or_40_rows(world, url, django_assert_max_num_queries):
    for n in range(5):
        submit_overdue(world, title=f"Row {n}")
    services.incident_transition(
        actor=world.actor("reviewer"), incident=Incident.objects.first(), action="claim"
    )
    _assert_constant_queries(world, django_assert_max_num_queries, url, budget=10)


# --- claim and bulk assign ---------------------------------------------------------------------------


def test_claiming_from_the_queue_is_the_apis_claim(world):
    report = submit(world, title="To claim", severity="serious_incident")
    client = world.client("reviewer")
    back = "/triage/?severity=serious_incident&ordering=next_due_at"
    assert f'aria-label="Claim {report.public_id}"' in page(client, back)
    response = client.post(reverse("triage-claim", kwargs={"ref": report.public_id}), {"next": back})
    assert response.status_code == 302 and response["Location"] == back
    report.refresh_from_db()
    assert report.status == IncidentStatus.IN_REVIEW
    assert report.assignee_id == world.members["reviewer"].user_id
    ui_event = AuditEvent.objects.filter(target_public_id=report.public_id).latest("pk")
    # The same action through the API writes the same event.
    other = submit(world, title="Claimed through the API")
    api = APIClient()
    sign_in(api, world.members["reviewer_2"].user)
    assert api.post(f"/api/v1/incidents/{other.public_id}/claim", {}, format="json").status_code == 200
    api_event = AuditEvent.objects.filter(target_public_id=other.public_id).latest("pk")
    assert ui_event.event_code == api_event.event_code == "incident.transitioned"
    assert ui_event.after["action"] == api_event.after["action"] == "claim"
    html = page(client, back)
    assert f"You claimed {report.public_id}" in html and 'role="status"' in html


def test_claiming_a_claimed_report_shows_the_error_and_changes_nothing(world):
    report = submit(world, title="Already claimed")
    services.incident_transition(actor=world.actor("reviewer"), incident=report, action="claim")
    transitions = IncidentTransition.objects.count()
    client = world.client("reviewer_2")
    response = client.post(
        reverse("triage-claim", kwargs={"ref": report.public_id}), {"next": "/triage/?status=in_review"}
    )
    assert response.status_code == 302 and response["Location"] == "/triage/?status=in_review"
    html = page(client, response["Location"])
    assert f"Could not claim {report.public_id}" in html and 'role="alert"' in html
    report.refresh_from_db()
    assert report.assignee_id == world.members["reviewer"].user_id
    assert IncidentTransition.objects.count() == transitions


def test_claim_never_redirects_to_another_site(world):
    report = submit(world, title="Claim me")
    response = world.client("reviewer").post(
        reverse("triage-claim", kwargs={"ref": report.public_id}), {"next": "https://evil.example/phish"}
    )
    assert response.status_code == 302 and response["Location"] == QUEUE


def test_claiming_a_report_out_of_scope_is_404(world):
    hidden = submit(world, "lab_b", title="Red report", tlp="red")
    response = world.client("reviewer").post(reverse("triage-claim", kwargs={"ref": hidden.public_id}))
    assert response.status_code == 404
    hidden.refresh_from_db()
    assert hidden.assignee_id is None


def test_only_a_reviewer_gets_claim_buttons_and_the_bulk_form(world):
    report = submit(world, title="Open report")
    html = page(world.client("regulator"), QUEUE)  # oversight staff, but not a reviewer party
    assert report.public_id in html
    assert f"Claim {report.public_id}" not in html
    assert "Assign selected" not in html  # the workflow table lets reviewers assign, not regulators
    reviewer_html = page(world.client("reviewer"), QUEUE)
    assert f'aria-label="Claim {report.public_id}"' in reviewer_html
    assert "Assign selected" in reviewer_html and f"Select {report.public_id}" in reviewer_html


def test_bulk_assign_assigns_the_rest_when_one_row_fails(world):
    good = [submit(world, title=f"Assign me {n}") for n in range(2)]
    bad = submit(world, title="Withdrawn before assignment")
    services.incident_transition(actor=world.actor("lab_a"), incident=bad, action="withdraw", reason="Dup.")
    client = world.client("reviewer")
    back = "/triage/?status=&ordering=-modified_at"
    response = client.post(
        reverse("triage-assign"),
        {
            "incident": [good[0].public_id, bad.public_id, good[1].public_id],
            "assignee": world.username("reviewer_2"),
            "next": back,
        },
    )
    assert response.status_code == 302 and response["Location"] == back
    for report in good:
        report.refresh_from_db()
        assert report.status == IncidentStatus.IN_REVIEW
        assert report.assignee_id == world.members["reviewer_2"].user_id
    bad.refresh_from_db()
    assert bad.status == IncidentStatus.WITHDRAWN and bad.assignee_id is None
    html = page(client, back)
    assert f"2 assigned to {world.username('reviewer_2')}, 1 failed: {bad.public_id}: " in html


def test_bulk_assign_refuses_a_reviewer_of_another_organisation_and_an_empty_selection(world):
    report = submit(world, title="Needs a reviewer")
    outsider = MembershipFactory(
        organization=OrganizationFactory(kind="regulator", country="US"), role="reviewer"
    )
    client = world.client("reviewer")
    client.post(
        reverse("triage-assign"), {"incident": [report.public_id], "assignee": outsider.user.username}
    )
    client.post(reverse("triage-assign"), {"assignee": world.username("reviewer_2")})
    report.refresh_from_db()
    assert report.assignee_id is None and report.status == IncidentStatus.SUBMITTED
    html = page(client, QUEUE)
    assert "Select a valid choice" in html and "Select at least one report" in html


# --- htmx, links ---------------------------------------------------------------------------------------


def test_an_htmx_request_gets_only_the_results_partial(world):
    report = submit(world, title="Partial report", severity="incident")
    client = world.client("reviewer")
    response = client.get(LIST + "?severity=incident", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html and '<nav class="navbar' not in html
    assert ids_in(html) == [report.public_id] and 'id="view-url"' in html
    assert "HX-Request" in response["Vary"]
    full = page(client, LIST + "?severity=incident")
    assert "<html" in full and 'hx-get="/incidents/"' in full and 'hx-push-url="true"' in full
    # Invalid filters still swap in (htmx ignores 4xx bodies), with the errors.
    invalid = client.get(LIST + "?severity=nope", HTTP_HX_REQUEST="true")
    assert invalid.status_code == 200 and "There is a problem" in invalid.content.decode()


def test_the_page_offers_a_copyable_link_and_preset_views(world):
    submit(world, title="Anything")
    html = page(world.client("reviewer"), LIST + "?severity=incident")
    assert 'data-copy="#view-url"' in html
    assert re.search(r'<code id="view-url">http://testserver/incidents/\?severity=incident</code>', html)
    for label in ("Overdue", "Due in 48 h", "Assigned to me", "Unassigned submitted"):
        assert label in html


def test_rows_link_to_the_incident_page(world):
    report = submit(world, title="Linked")
    detail = reverse("incident-detail", kwargs={"ref": report.public_id})
    assert f'<a href="{detail}">{report.public_id}</a>' in page(world.client("reviewer"), LIST)


# --- the rows as the page builds them (issue 7: plain rows, labels worked out in Python) ---------------


def _row_of(html: str, public_id: str) -> str:
    match = re.search(
        rf'<tr><td><input[^>]*value="{public_id}".*?</tr>|<tr><th scope="row"><a [^>]*>{public_id}<.*?</tr>',
        html,
        re.S,
    )
    assert match, public_id
    return match.group(0)


def test_a_queue_row_shows_each_regimes_earliest_open_clock_with_its_stage_and_state(world):
    report = submit_overdue(world, title="Serious and late")
    row = _row_of(page(world.client("reviewer"), QUEUE), report.public_id)
    cells = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)
    # select, report, title, TLP, status, severity, scenario, submitter, next deadline, 3 regimes,
    # assignee, claim
    assert len(cells) == 14, cells
    assert cells[4] == '<span class="badge text-bg-secondary">Submitted</span>'
    assert cells[5] == "Serious Incident" and cells[6] == "—" and cells[7] == "q-lab-a"
    open_clocks = report.deadlines.filter(satisfied_at__isnull=True).order_by("due_at", "id")
    first = open_clocks.first()
    assert first is not None and report.next_due_at == first.due_at
    stamp = f'<time datetime="{first.due_at.isoformat()}">{first.due_at:%-d %b %Y %H:%M} UTC</time>'
    assert cells[8] == f'{stamp} <span class="badge deadline-overdue">Overdue</span>'
    for index, regime in enumerate(("gpai_cop", "ai_act_art73", "triage")):
        clock = open_clocks.filter(regime=regime).first()
        cell = cells[9 + index]
        if clock is None:
            assert cell == '<span class="text-body-secondary">—</span>', (regime, cell)
        else:
            assert cell.startswith(
                f'<time datetime="{clock.due_at.isoformat()}">{clock.due_at:%-d %b %Y %H:%M} UTC</time> '
                f'<span class="small text-body-secondary">{clock.get_stage_display()}</span>'
            ), (regime, cell)
    assert any("Overdue" in cell for cell in cells[9:12])
    assert cells[12] == "Unassigned"
    assert f'aria-label="Claim {report.public_id}"' in cells[13]


def test_row_values_are_escaped(world):
    report = submit(world, title='Agent copied <img src=x onerror="alert(1)"> & co', tlp="clear")
    for client in (world.client("reviewer"), Client()):
        for url in (LIST, LIST + "?search=copied"):
            html = page(client, url)
            assert "<img src=x" not in html
            row = _row_of(html, report.public_id)
            assert "<td>Agent copied &lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; co" in row


@pytest.mark.parametrize(("url", "queries"), [(LIST, 4), (QUEUE, 5)])
def test_a_page_costs_a_fixed_number_of_queries(world, url, queries, django_assert_num_queries):
    """The session, the user, the membership, the page (with each row's open clocks on the queue), and
    the queue's assignable reviewers: no query per row, no COUNT(*)."""
    for n in range(3):
        submit_overdue(world, title=f"Dated {n}")
        submit(world, title=f"Undated {n}")
    services.incident_transition(
        actor=world.actor("reviewer"), incident=Incident.objects.first(), action="claim"
    )
    client = world.client("reviewer")
    client.get(url)
    with django_assert_num_queries(queries) as captured:
        assert len(ids_in(page(client, url + "?limit=50&ordering=-submitted_at"))) == 6
    assert not any("COUNT(" in query["sql"].upper() for query in captured.captured_queries)
    with django_assert_num_queries(queries):
        assert len(ids_in(page(client, url + "?limit=2&ordering=-submitted_at"))) == 2


def test_the_filter_form_shows_the_values_of_each_request(world):
    """The rendered filter form is kept per page and filter values: each request still shows its own."""
    client = world.client("reviewer")
    any_severity = r'<select name="severity"[^>]*>\s*<option value="" selected>Any</option>'
    assert re.search(any_severity, page(client, LIST))
    chosen = page(client, LIST + "?severity=incident&search=replica")
    assert re.search(r'<option value="incident" selected>', chosen) and 'value="replica"' in chosen
    assert re.search(any_severity, page(client, LIST))
    assert 'value="replica"' not in page(client, LIST + "?severity=incident")
    # The queue's form says what an empty status means there; the list's does not.
    assert "Open (submitted, in review, needs information)" in page(client, QUEUE)
    assert "Open (submitted, in review, needs information)" not in page(client, LIST)
    for _ in range(2):  # an invalid value shows its error every time
        invalid = client.get(LIST + "?severity=apocalyptic").content.decode()
        assert "There is a problem" in invalid and 'aria-invalid="true"' in invalid


def test_a_next_page_bounds_its_sort_key_for_the_index(world):
    """`modified_at <= x` besides the keyset condition: PostgreSQL starts the index scan at the cursor."""
    for n in range(3):
        submit(world, title=f"Report {n}")
    client = world.client("reviewer")
    html = page(client, LIST + "?limit=1")
    next_url = re.search(r'rel="next" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    with CaptureQueriesContext(connection) as captured:
        assert len(ids_in(page(client, next_url))) == 1
    (sql,) = [q["sql"] for q in captured.captured_queries if 'FROM "incidents_incident"' in q["sql"]]
    assert '"incidents_incident"."modified_at" <= ' in sql, sql
