"""Factories for tests (no fixture files)."""

from __future__ import annotations

from typing import Any

import factory
from django.contrib.auth import get_user_model

from accounts.authentication import principal_for_key, principal_for_membership
from accounts.models import ROLE_SCOPES, ApiKey, Membership, Organization, OrganizationKind, Role
from accounts.services import api_key_create
from core.actors import Principal
from registry import services as registry_services
from registry.models import AgentScaffold, EvaluationResult, FrontierModel


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


def org_principal(org: Organization, role: str | None = None) -> Principal:
    """A system principal acting for `org` (labs and evaluators as lab_admin, oversight orgs as regulator)."""
    if role is None:
        role = Role.REGULATOR if org.is_oversight else Role.LAB_ADMIN
    return Principal(
        kind="system",
        label=f"test@{org.short_name}",
        org_id=org.pk,
        org_short_name=org.short_name,
        org_kind=org.kind,
        org_jurisdictions=tuple(org.jurisdictions),
        role=role,
        scopes=ROLE_SCOPES[role],
    )


class FrontierModelFactory(factory.django.DjangoModelFactory):
    """A model registered through registry.services by its provider (a lab). TLP:CLEAR unless told."""

    class Meta:
        model = FrontierModel

    provider = factory.SubFactory(OrganizationFactory, kind=OrganizationKind.LAB)
    name = factory.Sequence(lambda n: f"Model-{n}")
    weights_availability = "open"
    market_status = "on_market"
    tlp = "clear"

    @classmethod
    def _create(cls, model_class: type[FrontierModel], *args: Any, **kwargs: Any) -> FrontierModel:
        provider = kwargs.pop("provider")
        base_model = kwargs.pop("base_model", None)
        return registry_services.frontier_model_create(
            actor=org_principal(provider), data=kwargs, base_model=base_model
        )


class AgentScaffoldFactory(factory.django.DjangoModelFactory):
    """A scaffold registered through registry.services by `owner_org`. TLP:CLEAR unless told."""

    class Meta:
        model = AgentScaffold

    owner_org = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Scaffold-{n}")
    version = "1"
    tools = factory.LazyFunction(lambda: ["EXECUTE_CMD", "RECEIVE_MSG", "FINISH"])
    tlp = "clear"

    @classmethod
    def _create(cls, model_class: type[AgentScaffold], *args: Any, **kwargs: Any) -> AgentScaffold:
        owner = kwargs.pop("owner_org")
        return registry_services.scaffold_create(actor=org_principal(owner), data=kwargs)


class EvaluationResultFactory(factory.django.DjangoModelFactory):
    """A result recorded through registry.services (so the Wilson interval is computed), by `owner_org`
    (default: the model's provider). End-to-end, 5/10, TLP:CLEAR unless told."""

    class Meta:
        model = EvaluationResult

    model = factory.SubFactory(FrontierModelFactory)
    owner_org = factory.LazyAttribute(lambda o: o.model.provider)
    scaffold = None
    task = "end_to_end_self_replication"
    capability_domain = "end_to_end"
    scenario_type = "instructed_replication_local"
    n_trials = 10
    n_successes = 5
    tlp = "clear"

    @classmethod
    def _create(cls, model_class: type[EvaluationResult], *args: Any, **kwargs: Any) -> EvaluationResult:
        owner = kwargs.pop("owner_org")
        return registry_services.evaluation_create(
            actor=org_principal(owner),
            model=kwargs.pop("model"),
            scaffold=kwargs.pop("scaffold"),
            data=kwargs,
        )


def enrol_totp(user: Any) -> str:
    """Give `user` a TOTP authenticator (as the enrolment page would) and return its base32 secret."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).delete()
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret


def sign_in(client: Any, user: Any) -> None:
    """force_login for tests, after enrolling the second factor the MFA policy requires of this user's
    role (reviewers, regulators, admins): what a real sign-in leaves behind."""
    from accounts.mfa import needs_enrolment

    if needs_enrolment(user):
        enrol_totp(user)
    client.force_login(user)


def totp_code(secret: str) -> str:
    """The code an authenticator app shows now for `secret` (RFC 6238, as allauth checks it)."""
    import time

    from allauth.mfa import app_settings
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

    return format_hotp_value(hotp_value(secret, int(time.time()) // app_settings.TOTP_PERIOD))
