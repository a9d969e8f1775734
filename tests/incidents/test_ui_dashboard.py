"""The dashboard: open reports by state, severity and scenario, deadlines, a reviewer's own queue, the
per-month and success-rate charts; every number scoped to the viewer, small cross-organisation counts
suppressed (DESIGN 4)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.authentication import principal_for_membership
from accounts.models import Role
from incidents import selectors, services
from incidents.models import IncidentStatus
from incidents.selectors import SuppressedCount, dashboard_summary, suppress_count
from tests.factories import EvaluationResultFactory, FrontierModelFactory, MembershipFactory, sign_in

pytestmark = pytest.mark.django_db

DASHBOARD = "/dashboard/"


# --- suppression, as a pure function -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("own", "others", "display", "value"),
    [
        (0, 0, "0", 0),
        (0, 1, "<5", None),
        (0, 4, "<5", None),
        (0, 5, "5", 5),
        (3, 0, "3", 3),  # the viewer's own count is never suppressed
        (1, 0, "1", 1),
        (2, 1, "2 + <5", None),  # own exact, the other organisations' part banded
        (2, 7, "9", 9),
    ],
)
def test_small_counts_of_other_organisations_are_suppressed(own, others, display, value):
    count = SuppressedCount(own=own, others=others, threshold=5)

    assert count.display == display
    assert count.value == value
    assert count.suppressed is (value is None)


def test_the_threshold_comes_from_settings(settings):
    settings.REDLINE_SMALL_COUNT_THRESHOLD = 3

    assert suppress_count(own=0, others=2).display == "<3"
    assert suppress_count(own=0, others=3).display == "3"


# --- data ---------------------------------------------------------------------------------------------


def _member(org, role=Role.LAB_SUBMITTER):
    return MembershipFactory(organization=org, role=role)


def _file(membership, *, tlp="amber", scenario="instructed_replication_local", severity="", title=None):
    data = {
        "record_class": "real_world_incident",
        "title": title or f"Report {tlp} {scenario}",
        "description": "An agent started a replica.",
        "submitter_capacity": "provider",
        "instruction_provenance": "uninstructed",
        "countries": ["FR"],
        "scenario_type": scenario,
        "tlp": tlp,
    }
    if severity:
        data["severity"] = severity
    return services.incident_submit(
        actor=principal_for_membership(membership),
        data=data,
        links=services.Links(models=[services.InvolvedModel(role="originating", model_name="in-house")]),
    ).incident


def _client_for(client, membership):
    sign_in(client, membership.user)
    return client


def _cell(html: str, testid: str, label: str) -> str | None:
    table = re.search(rf'data-testid="{testid}".*?</table>', html, re.S)
    assert table, testid
    match = re.search(rf">{re.escape(label)}</th><td[^>]*data-count=\"([^\"]*)\"", table.group(0))
    return match.group(1).replace("&lt;", "<") if match else None


# --- the page -------------------------------------------------------------------------------------------


def test_the_dashboard_needs_a_signed_in_user(client):
    response = client.get(DASHBOARD)

    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]


def test_counts_per_state_equal_the_reports_the_viewer_may_see(
    client, lab_a, lab_b, regulator_org, settings, django_assert_max_num_queries
):
    settings.REDLINE_SMALL_COUNT_THRESHOLD = 1  # no band: every count exact (suppression is tested below)
    submitter_a, submitter_b = _member(lab_a), _member(lab_b)
    for tlp in ("clear", "green", "amber", "amber", "red"):
        _file(submitter_a, tlp=tlp)
    for _ in range(3):
        _file(submitter_b, tlp="amber")
    reviewer = _member(regulator_org, Role.REVIEWER)
    claimed = _file(submitter_b, tlp="amber", title="Claimed report")
    services.incident_transition(actor=principal_for_membership(reviewer), incident=claimed, action="claim")

    for membership in (submitter_a, submitter_b, reviewer):
        client.logout()
        _client_for(client, membership)
        actor = principal_for_membership(membership)
        with django_assert_max_num_queries(20):
            html = client.get(DASHBOARD).content.decode()
        for status in (IncidentStatus.SUBMITTED, IncidentStatus.IN_REVIEW):
            expected = selectors.incident_list(actor=actor).filter(status=status).count()
            shown = _cell(html, "by-state", status.label)
            assert shown == (str(expected) if expected else None), (membership.organization, status)

    # The counts differ per viewer: lab B sees its own four and lab A's public one, not lab A's others.
    assert selectors.incident_list(actor=principal_for_membership(submitter_b)).count() == 5
    assert _cell(html, "by-state", "Submitted") == "7"  # the reviewer: all but the red one


def test_another_labs_amber_records_are_absent_from_the_aggregates(client, lab_a, lab_b):
    submitter_a = _member(lab_a)
    for _ in range(6):
        _file(submitter_a, tlp="amber", scenario="chain_of_replication")
    secret = FrontierModelFactory(provider=lab_a, name="Secret-Model", tlp="amber")
    EvaluationResultFactory(model=secret, tlp="amber", n_successes=9)
    public = FrontierModelFactory(provider=lab_a, name="Public-Model")
    EvaluationResultFactory(model=public, n_successes=2)

    html = _client_for(client, _member(lab_b)).get(DASHBOARD).content.decode()

    assert _cell(html, "by-state", "Submitted") is None
    assert _cell(html, "by-scenario", "Chain of replication (2412 B)") is None
    assert "Secret-Model" not in html
    assert "Public-Model" in html and "2/10 (20%, 95% CI 6-51%)" in html


def test_a_regulator_sees_a_rare_report_of_another_lab_as_a_band_and_the_lab_sees_its_count(
    client, lab_a, regulator_org
):
    submitter = _member(lab_a)
    _file(
        submitter, tlp="amber", scenario="self_exfiltration_on_shutdown_notice", severity="serious_incident"
    )
    label = "Self-exfiltration (2503 A)"

    regulator_html = (
        _client_for(client, _member(regulator_org, Role.REGULATOR)).get(DASHBOARD).content.decode()
    )
    client.logout()
    lab_html = _client_for(client, submitter).get(DASHBOARD).content.decode()

    assert _cell(regulator_html, "by-scenario", label) == "<5"
    assert _cell(regulator_html, "by-severity", "Serious Incident") == "<5"
    assert _cell(lab_html, "by-scenario", label) == "1"
    assert _cell(lab_html, "by-severity", "Serious Incident") == "1"
    month = timezone.now().strftime("%b %Y")
    assert f'<th scope="row">{month}</th><td>&lt;5</td>' in regulator_html
    assert f'<th scope="row">{month}</th><td>1</td>' in lab_html
    assert 'class="bar-suppressed"' in regulator_html


def test_a_reviewer_sees_their_own_queue_and_the_deadlines_due_soon(client, lab_a, regulator_org):
    submitter = _member(lab_a)
    mine = _file(submitter, tlp="amber", severity="serious_incident", title="Serious one")
    waiting = _file(submitter, tlp="amber", severity="serious_incident", title="Waiting one")
    reviewer = _member(regulator_org, Role.REVIEWER)
    services.incident_transition(actor=principal_for_membership(reviewer), incident=mine, action="claim")

    html = _client_for(client, reviewer).get(DASHBOARD).content.decode()

    queue = re.search(r'data-testid="my-queue".*?</table>', html, re.S).group(0)
    assert mine.public_id in queue and waiting.public_id not in queue
    deadlines = re.search(r'data-testid="deadlines".*?</table>', html, re.S).group(0)
    # The triage clock: serious reports are acknowledged within one working day (met by the claim).
    assert waiting.public_id in deadlines and mine.public_id not in deadlines
    assert "Due soon" in deadlines


def test_overdue_and_due_soon_deadlines_come_from_the_open_visible_reports(lab_a, lab_b):
    submitter = _member(lab_a)
    serious = _file(submitter, tlp="amber", severity="serious_incident")
    hidden = _file(_member(lab_b), tlp="amber", severity="serious_incident")
    actor = principal_for_membership(submitter)

    later = dashboard_summary(actor=actor, now=timezone.now() + timedelta(days=5))
    soon = dashboard_summary(actor=actor, now=timezone.now(), due_soon_hours=72)
    far = dashboard_summary(actor=actor, now=timezone.now() - timedelta(days=30), due_soon_hours=72)

    assert [d.incident_id for d in later.deadlines] == [serious.pk]  # overdue by then
    assert later.deadlines[0].due_at < later.now
    assert [d.incident_id for d in soon.deadlines] == [serious.pk]
    assert far.deadlines == []
    assert hidden.pk not in {d.incident_id for d in later.deadlines}


def test_the_success_rate_chart_pools_current_results_per_model_and_scenario(client, lab_a):
    model = FrontierModelFactory(provider=lab_a, name="Pooled-Model")
    EvaluationResultFactory(model=model, n_successes=4)
    EvaluationResultFactory(model=model, n_successes=5)
    EvaluationResultFactory(model=model, n_successes=1, scenario_type="instructed_replication_remote")

    html = _client_for(client, _member(lab_a)).get(DASHBOARD).content.decode()

    assert "Pooled-Model" in html
    assert "9/20 (45%, 95% CI 26-66%)" in html
    assert "1/10 (10%, 95% CI 2-40%)" in html
    assert "style=" not in html.split("<main", 1)[1]
