"""The life of one incident report through the browser (issue 5), as one test so the steps run in order:

1. a lab compliance officer signs in and files an incident with an evidence file;
2. a reviewer at a regulator signs in with TOTP, claims it from the triage queue and asks for information;
3. the lab answers;
4. the reviewer accepts it;
5. a regulator sees it, adds its assessment and exports the CRF (JSON);
6. an anonymous visitor sees the public (TLP:CLEAR) record only, and another lab gets a 404.

Every step is screenshotted; no page may record a CSP violation or a script error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import expect

from accounts.authentication import principal_for_membership
from accounts.models import Membership, Organization, Role
from incidents import services
from incidents.models import Assessment, Evidence, Incident
from registry.models import FrontierModel
from tests.browser.support import Browsing, sign_in
from tests.factories import FrontierModelFactory, MembershipFactory, OrganizationFactory, enrol_totp

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

QUESTION = "Which host did the replica run on, and is it contained?"
TITLE = "Agent started a live replica on a second GPU host"
EVIDENCE = b"10:14:03Z agent: scp weights to gpu-2\n10:19:41Z replica: listening on :8001\n"


@dataclass
class World:
    lab: Organization
    model: FrontierModel
    officer: Membership
    other_lab_member: Membership
    reviewer: Membership
    reviewer_secret: str
    regulator: Membership
    regulator_secret: str
    public_incident: Incident


@pytest.fixture
def world(live_server: Any) -> World:
    lab = OrganizationFactory(short_name="lab-a", name="Lab A", kind="lab", country="FR")
    other_lab = OrganizationFactory(short_name="lab-b", name="Lab B", kind="lab", country="US")
    office = OrganizationFactory(
        short_name="eu-office", name="EU AI Office", kind="regulator", country="BE", jurisdictions=["EU"]
    )
    model = FrontierModelFactory(provider=lab, name="Replicator-70B")
    officer = MembershipFactory(organization=lab, role=Role.LAB_SUBMITTER, user__username="lena")
    reviewer = MembershipFactory(organization=office, role=Role.REVIEWER, user__username="rita")
    regulator = MembershipFactory(organization=office, role=Role.REGULATOR, user__username="reggie")
    public = services.incident_submit(
        actor=principal_for_membership(officer),
        data={
            "record_class": "controlled_evaluation_finding",
            "title": "Public finding: replica started in a sandbox",
            "description": "A controlled evaluation in which the agent started a replica.",
            "submitter_capacity": "provider",
            "instruction_provenance": "explicit_replication_instruction",
            "countries": ["FR"],
            "tlp": "clear",
        },
        links=services.Links(models=[services.InvolvedModel(role="originating", model_name="in-house")]),
    ).incident
    other_lab_member = MembershipFactory(organization=other_lab, role=Role.LAB_ADMIN, user__username="olga")
    return World(
        lab=lab,
        model=model,
        officer=officer,
        other_lab_member=other_lab_member,
        reviewer=reviewer,
        reviewer_secret=enrol_totp(reviewer.user),
        regulator=regulator,
        regulator_secret=enrol_totp(regulator.user),
        public_incident=public,
    )


def expect_status(page: Any, status: str) -> None:
    """The status badge says `status` (waiting for the page a form post leads to)."""
    expect(page.get_by_test_id("status")).to_have_text(f"Status: {status}")


def answer_next_dialog(page: Any) -> list[str]:
    """Accept the next confirm() the page opens (redline.js's data-confirm); returns its messages."""
    messages: list[str] = []

    def accept(dialog: Any) -> None:
        messages.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    return messages


def expect_flash(page: Any, text: str) -> None:
    expect(page.locator(".messages").get_by_text(text)).to_be_visible()


def file_the_report(browsing: Browsing, page: Any, world: World) -> str:
    """Step 1: the lab officer files the report, with its evidence file, through /incidents/new/."""
    sign_in(page, "lena")
    browsing.shot(page, "lab signed in")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Report an incident").click()
    page.wait_for_url("**/incidents/new/")
    page.get_by_label("Title").fill(TITLE)
    page.get_by_label("Record class").select_option("real_world_incident")
    page.get_by_label("Scenario type").select_option("self_exfiltration_on_shutdown_notice")
    page.get_by_label("Description").fill(
        "During an internal run the agent copied its weights to a second GPU host and started a replica."
    )
    page.get_by_label("How the AI system relates to the event").select_option("caused")
    page.get_by_label("You file as").select_option("provider")
    page.get_by_label("Countries").fill("FR")
    browsing.shot(page, "what happened")
    page.get_by_role("button", name="Save draft").click()
    page.wait_for_url("**/incidents/new/*/what/")
    assert page.get_by_label("Title").input_value() == TITLE  # the draft kept it
    page.get_by_role("button", name="Next").click()

    page.wait_for_url("**/incidents/new/*/models/")
    first_row = page.get_by_test_id("model-row").first
    first_row.get_by_label("Model 1: registered model").select_option(world.model.public_id)
    first_row.get_by_label("Model 1: role").select_option("originating")
    page.get_by_label("Instruction provenance").select_option("uninstructed")
    page.get_by_label("Outcome").select_option("live_separate_replica")
    page.get_by_label("Severity (OECD)").select_option("hazard")
    browsing.shot(page, "models and scaffold")
    page.get_by_role("button", name="Next").click()

    page.wait_for_url("**/incidents/new/*/impact/")
    page.get_by_label("Report stage").select_option("initial")
    page.get_by_label("TLP").select_option("amber")
    browsing.shot(page, "impact and handling")
    page.get_by_role("button", name="Next").click()

    page.wait_for_url("**/incidents/new/*/review/")
    assert page.get_by_text(TITLE).first.is_visible()
    page.get_by_label("Evidence file").set_input_files(
        files=[{"name": "agent.log", "mimeType": "text/plain", "buffer": EVIDENCE}]
    )
    page.get_by_label("Kind of evidence").select_option("log")
    browsing.shot(page, "review and submit")
    page.get_by_role("button", name="Submit report").click()

    page.wait_for_url("**/incidents/*/receipt/")
    ref = str(page.get_by_test_id("receipt-public-id").inner_text())
    expect_flash(page, f"Report {ref} filed.")
    assert page.get_by_role("row", name=re.compile("agent.log")).is_visible()
    browsing.shot(page, "receipt")
    return ref


def test_an_incident_from_filing_to_public_record(browsing, world):
    lab = browsing.new_page("lab officer")

    # 1. The lab files the report with evidence.
    ref = file_the_report(browsing, lab, world)
    incident = Incident.objects.get(public_id=ref)
    assert incident.owner_org == world.lab and incident.tlp == "amber"
    assert Evidence.objects.filter(incident=incident).count() == 1
    lab.goto(f"/incidents/{ref}/")
    assert lab.get_by_test_id("incident-title").inner_text() == TITLE
    expect_status(lab, "Submitted")
    assert lab.get_by_text("agent.log").first.is_visible()
    browsing.shot(lab, "lab sees its report")

    # 2. The reviewer signs in with TOTP, claims the report from the queue and asks for information.
    reviewer = browsing.new_page("reviewer")
    sign_in(reviewer, "rita", totp_secret=world.reviewer_secret)
    reviewer.get_by_role("navigation", name="Main").get_by_role("link", name="Triage queue").click()
    reviewer.wait_for_url("**/triage/**")
    row = reviewer.get_by_role("row").filter(has=reviewer.get_by_role("link", name=ref))
    assert row.get_by_text(TITLE).is_visible()
    browsing.shot(reviewer, "triage queue")
    row.get_by_role("button", name=f"Claim {ref}").click()
    expect_flash(reviewer, f"You claimed {ref}")
    browsing.shot(reviewer, "claimed")

    reviewer.get_by_role("link", name=ref).first.click()
    reviewer.wait_for_url(f"**/incidents/{ref}/")
    expect_status(reviewer, "In review")
    actions = reviewer.get_by_test_id("actions")
    actions.get_by_role("button", name="Request information").click()
    request_form = reviewer.locator("#action-request_information")
    request_form.get_by_label("Information needed").fill(QUESTION)
    browsing.shot(reviewer, "request information")
    request_form.get_by_role("button", name="Request information").click()
    expect_status(reviewer, "Needs information")
    browsing.shot(reviewer, "information requested")

    # 3. The lab answers.
    lab.goto(f"/incidents/{ref}/")
    expect_status(lab, "Needs information")
    assert lab.get_by_text("Which host did the replica run on").first.is_visible()
    browsing.shot(lab, "lab sees the question")
    answer = "gpu-2 in our own cluster; the replica was stopped at 10:31 UTC."
    lab.get_by_test_id("actions").get_by_role("link", name="Respond").click()
    lab.wait_for_url(f"**/incidents/{ref}/respond/")
    assert lab.get_by_test_id("information-request").inner_text().startswith("Which host")
    lab.get_by_label("Response").fill(answer)
    browsing.shot(lab, "response")
    lab.get_by_role("button", name="Send response").click()
    lab.wait_for_url(f"**/incidents/{ref}/receipt/")
    expect_flash(lab, f"Response sent: {ref} is back in review")
    browsing.shot(lab, "response sent")
    lab.get_by_role("link", name="Open the report").click()
    lab.wait_for_url(f"**/incidents/{ref}/")
    expect_status(lab, "In review")
    browsing.shot(lab, "answered")

    # 4. The reviewer accepts.
    reviewer.reload()
    expect_status(reviewer, "In review")
    assert reviewer.get_by_text("gpu-2 in our own cluster").first.is_visible()
    confirmations = answer_next_dialog(reviewer)
    reviewer.get_by_test_id("actions").get_by_role("button", name="Accept").click()
    expect_flash(reviewer, f"You accepted {ref}")
    assert confirmations == ["Accept this report?"]  # redline.js's data-confirm asked first
    expect_status(reviewer, "Accepted")
    browsing.shot(reviewer, "accepted")

    # 5. A regulator sees it, assesses it and exports it.
    regulator = browsing.new_page("regulator")
    sign_in(regulator, "reggie", totp_secret=world.regulator_secret)
    regulator.get_by_role("navigation", name="Main").get_by_role("link", name="Incidents").click()
    regulator.wait_for_url("**/incidents/**")
    regulator.get_by_role("link", name=ref).click()
    regulator.wait_for_url(f"**/incidents/{ref}/")
    expect_status(regulator, "Accepted")
    assessment = regulator.locator("#assessment")
    assessment.get_by_label("Verdict").select_option("confirmed_self_replication")
    assessment.get_by_label("Severity override").select_option("incident")
    assessment.get_by_label("Notes").fill("Weights left the sandbox: treat as an incident.")
    browsing.shot(regulator, "assessment")
    assessment.get_by_role("button", name="Save assessment").click()
    expect(regulator.locator("#timeline").get_by_text("Assessment by eu-office")).to_be_visible()
    browsing.shot(regulator, "assessed")
    with regulator.expect_response(lambda response: "/crf" in response.url) as exported:
        regulator.get_by_role("link", name="Export CRF (JSON)").click()
    assert exported.value.status == 200
    crf = exported.value.json()
    assert crf["identification"]["incident_id"] == ref
    assert crf["identification"]["status"] == "accepted"
    browsing.shot(regulator, "crf export")
    assessment_row = Assessment.objects.get(incident__public_id=ref, org__short_name="eu-office")
    assert (assessment_row.verdict, assessment_row.severity_override) == (
        "confirmed_self_replication",
        "incident",
    )

    # 6. An anonymous visitor sees the public record only; another lab gets a 404.
    visitor = browsing.new_page("anonymous")
    visitor.goto("/")
    visitor.get_by_role("navigation", name="Main").get_by_role("link", name="Public records").click()
    expect(visitor.get_by_role("link", name=world.public_incident.title)).to_be_visible()
    assert visitor.get_by_text(TITLE).count() == 0 and visitor.get_by_text(ref).count() == 0
    browsing.shot(visitor, "public records")
    visitor.get_by_role("link", name=world.public_incident.title).click()
    visitor.wait_for_url(f"**/{world.public_incident.public_id}/")
    assert visitor.get_by_test_id("incident-title").inner_text() == world.public_incident.title
    browsing.shot(visitor, "public incident")
    response = visitor.goto(f"/incidents/{ref}/")
    assert response is not None
    assert response.status == 404 or "/accounts/login/" in visitor.url
    assert visitor.get_by_text(TITLE).count() == 0
    browsing.shot(visitor, "amber incident is not shown")

    other_lab = browsing.new_page("other lab")
    sign_in(other_lab, "olga")
    response = other_lab.goto(f"/incidents/{ref}/")
    assert response is not None and response.status == 404
    assert other_lab.get_by_text(TITLE).count() == 0
    browsing.shot(other_lab, "other lab gets 404")

    browsing.assert_clean()
