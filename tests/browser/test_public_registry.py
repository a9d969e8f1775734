"""The model registry in the browser: an anonymous visitor sees TLP:CLEAR models and results only (a
TLP:GREEN model is not listed and its page is a 404, as if it did not exist); a lab sees its own non-public
models and never another lab's."""

from __future__ import annotations

import pytest

from accounts.models import Role
from tests.browser.support import sign_in
from tests.factories import (
    EvaluationResultFactory,
    FrontierModelFactory,
    MembershipFactory,
    OrganizationFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_anonymous_visitor_sees_only_clear_models(browsing):
    lab = OrganizationFactory(short_name="open-lab", kind="lab", country="FR")
    public = FrontierModelFactory(provider=lab, name="Open-Replicator-70B")
    hidden = FrontierModelFactory(provider=lab, name="Gated-Replicator-9B", tlp="green")
    EvaluationResultFactory(model=public, n_trials=10, n_successes=9)
    page = browsing.new_page()

    page.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Models").click()
    page.wait_for_url("**/models/")
    table = page.get_by_role("table", name="Registered models")
    assert table.get_by_role("link", name="Open-Replicator-70B").is_visible()
    assert page.get_by_text("Gated-Replicator-9B").count() == 0
    assert page.get_by_text("TLP:CLEAR records only").is_visible()
    browsing.shot(page, "models")

    table.get_by_role("link", name="Open-Replicator-70B").click()
    page.wait_for_url(f"**/models/{public.public_id}/")
    assert page.get_by_role("heading", level=1).inner_text().startswith("Open-Replicator-70B")
    assert page.get_by_role("heading", name="Evaluation results").is_visible()
    assert page.get_by_text("9/10").first.is_visible()
    browsing.shot(page, "model")

    response = page.goto(f"/models/{hidden.public_id}/")
    assert response is not None and response.status == 404
    assert page.get_by_text("Gated-Replicator-9B").count() == 0
    browsing.shot(page, "green-model-is-not-found")
    browsing.assert_clean()


def test_labs_see_their_own_non_public_models_and_never_another_labs(browsing):
    """DESIGN 4: labs never see another lab's non-public records, whatever the TLP."""
    lab = OrganizationFactory(short_name="open-lab", kind="lab", country="FR")
    other = OrganizationFactory(short_name="other-lab", kind="lab", country="US")
    MembershipFactory(organization=lab, role=Role.LAB_SUBMITTER, user__username="lena")
    MembershipFactory(organization=other, role=Role.LAB_SUBMITTER, user__username="olga")
    FrontierModelFactory(provider=lab, name="Open-Replicator-70B")
    FrontierModelFactory(provider=lab, name="Gated-Replicator-9B", tlp="green")
    amber = FrontierModelFactory(provider=lab, name="Internal-Replicator-1B", tlp="amber")

    own = browsing.new_page("own lab")
    sign_in(own, "lena")
    own.goto("/models/")
    for name in ("Open-Replicator-70B", "Gated-Replicator-9B", "Internal-Replicator-1B"):
        assert own.get_by_role("link", name=name).is_visible(), name
    browsing.shot(own, "own-lab-models")

    page = browsing.new_page("other lab")
    sign_in(page, "olga")
    page.goto("/models/")
    assert page.get_by_role("link", name="Open-Replicator-70B").is_visible()
    assert page.get_by_text("Gated-Replicator-9B").count() == 0
    assert page.get_by_text("Internal-Replicator-1B").count() == 0
    browsing.shot(page, "other-lab-models")

    response = page.goto(f"/models/{amber.public_id}/")
    assert response is not None and response.status == 404
    browsing.shot(page, "other-lab-gets-404")
    browsing.assert_clean()
