"""Factories for tests (no fixture files)."""

from __future__ import annotations

from typing import Any

import factory
from django.contrib.auth import get_user_model

from accounts.authentication import principal_for_key, principal_for_membership
from accounts.models import ROLE_SCOPES, ApiKey, Membership, Organization, Role
from accounts.services import api_key_create
from core.actors import Principal


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    short_name = factory.Sequence(lambda n: f"org-{n}")
    name = factory.LazyAttribute(lambda o: o.short_name.replace("-", " ").title())
    kind = "lab"
    country = "FR"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery staple")

    @classmethod
    def _after_postgeneration(cls, instance: Any, create: bool, results: Any = None) -> None:
        if create:
            instance.save()


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(OrganizationFactory)
    role = Role.LAB_ADMIN


def member_principal(org: Organization, role: str = Role.LAB_ADMIN) -> Principal:
    """A user principal with `role` in `org`."""
    return principal_for_membership(MembershipFactory(organization=org, role=role))


def issue_key(
    org: Organization, role: str = Role.LAB_ADMIN, scopes: list[str] | None = None, **kwargs: Any
) -> tuple[ApiKey, str]:
    """An API key for `org` (issued by a platform admin), and its plaintext."""
    admin = Principal(kind="system", label="test", role=Role.PLATFORM_ADMIN)
    return api_key_create(
        actor=admin,
        organization=org,
        name=kwargs.pop("name", "test-key"),
        role=role,
        scopes=scopes if scopes is not None else sorted(ROLE_SCOPES[role]),
        **kwargs,
    )


def key_principal(key: ApiKey) -> Principal:
    return principal_for_key(key)
