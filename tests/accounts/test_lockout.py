"""Login lockout (django-axes): wrong passwords lock one account from one address; the right password is
then refused until the cool-off has passed; other accounts and other addresses are not affected."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client

from accounts.models import Role
from tests.factories import MembershipFactory

PASSWORD = "correct horse battery staple"  # tests.factories.UserFactory's
LOGIN = "/accounts/login/"

pytestmark = pytest.mark.django_db


def _attempt(client: Client, username: str, password: str):
    client.get(LOGIN)
    return client.post(
        LOGIN,
        {"login": username, "password": password, "csrfmiddlewaretoken": client.cookies["csrftoken"].value},
    )


@pytest.fixture
def member(lab_a):
    return MembershipFactory(organization=lab_a, role=Role.LAB_SUBMITTER).user


def _lock(client: Client, username: str) -> list[int]:
    return [
        _attempt(client, username, "wrong password!").status_code for _ in range(settings.AXES_FAILURE_LIMIT)
    ]


def test_n_wrong_passwords_lock_the_account_and_the_right_one_is_refused_until_cool_off(member):
    client = Client(enforce_csrf_checks=True)
    limit = settings.AXES_FAILURE_LIMIT

    statuses = _lock(client, member.username)

    assert statuses[: limit - 1] == [200] * (limit - 1)  # the form again, with its error
    assert statuses[-1] == 429  # the limit-th failure locks
    refused = _attempt(client, member.username, PASSWORD)
    assert refused.status_code == 429
    assert b"Sign-in temporarily locked" in refused.content
    assert "sessionid" not in client.cookies

    # After the cool-off, the right password signs in again.
    AccessAttempt.objects.filter(username=member.username).update(
        attempt_time=AccessAttempt.objects.get(username=member.username).attempt_time
        - settings.AXES_COOLOFF_TIME
        - timedelta(seconds=1)
    )
    accepted = _attempt(client, member.username, PASSWORD)
    assert accepted.status_code == 302, accepted.content
    assert "sessionid" in client.cookies


def test_a_lock_holds_one_account_from_one_address(lab_a, member):
    other = MembershipFactory(organization=lab_a, role=Role.LAB_SUBMITTER).user
    _lock(Client(enforce_csrf_checks=True), member.username)

    assert _attempt(Client(enforce_csrf_checks=True), other.username, PASSWORD).status_code == 302
    elsewhere = Client(enforce_csrf_checks=True, REMOTE_ADDR="198.51.100.7")
    assert _attempt(elsewhere, member.username, PASSWORD).status_code == 302


def test_a_success_before_the_limit_clears_the_count(member):
    client = Client(enforce_csrf_checks=True)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _attempt(client, member.username, "wrong password!").status_code == 200
    assert _attempt(client, member.username, PASSWORD).status_code == 302
    client.logout()

    assert _attempt(client, member.username, "wrong password!").status_code == 200  # counting from zero


def test_the_per_address_sign_in_limit_answers_429(member):
    """allauth's `login` limit (per address) is live in the test settings; the next test depends on it."""
    from allauth.account import app_settings

    limit = int(app_settings.RATE_LIMITS["login"].split("/")[0])
    statuses = {
        _attempt(Client(enforce_csrf_checks=True), member.username, PASSWORD).status_code
        for _ in range(limit)
    }
    assert statuses == {302}
    assert _attempt(Client(enforce_csrf_checks=True), member.username, PASSWORD).status_code == 429


def test_the_sign_in_limit_does_not_carry_over_to_the_next_test(member):
    """Runs after the test above in the same process (a file runs in order, on one xdist worker): the
    cache holding allauth's counters is emptied between tests (tests/conftest.py), so this sign-in is not
    the 31st of the minute."""
    assert _attempt(Client(enforce_csrf_checks=True), member.username, PASSWORD).status_code == 302
