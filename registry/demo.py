"""The demo data of DESIGN 8: the published self-replication results, exactly as the papers give them.

Loaded by `make run` (management command `load_demo`) and by the tests' `demo_data` fixture. Idempotent: a
second load changes nothing and reuses the accounts. Every demo record is TLP:CLEAR and cites its source.
Never add a number here that the cited paper does not state.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from accounts.authentication import (
    ApiKeyAuthentication,
    hash_secret,
    principal_for_membership,
    system_principal,
)
from accounts.models import ApiKey, Membership, Organization, Role, Scope
from accounts.services import api_key_create
from core.actors import Principal
from registry import services
from registry.models import AgentScaffold, EvaluationResult, FrontierModel

PAPER_2412 = {
    "kind": "paper",
    "title": (
        "Frontier AI systems have surpassed the self-replicating red line (Pan, Dai, Fan, Yang; "
        "Fudan University), arXiv 2412.12140 v1, 2024-12-09"
    ),
    "url": "https://arxiv.org/abs/2412.12140",
}
PAPER_2503 = {
    "kind": "paper",
    "title": (
        "Large language model-powered AI systems achieve self-replication with no human intervention, "
        "arXiv 2503.17378 v2, 2025-03-25"
    ),
    "url": "https://arxiv.org/abs/2503.17378",
}

ORGANIZATIONS: list[dict[str, Any]] = [
    {"short_name": "meta", "name": "Meta", "kind": "lab", "country": "US", "website": "https://ai.meta.com"},
    {
        "short_name": "alibaba",
        "name": "Alibaba Cloud (Qwen team)",
        "kind": "lab",
        "country": "CN",
        "website": "https://qwenlm.github.io",
    },
    {
        "short_name": "mistral-ai",
        "name": "Mistral AI",
        "kind": "lab",
        "country": "FR",
        "website": "https://mistral.ai",
    },
    {
        "short_name": "fudan",
        "name": "Fudan University",
        "kind": "evaluator",
        "country": "CN",
        "website": "https://www.fudan.edu.cn",
    },
    {
        "short_name": "eu-ai-office",
        "name": "European AI Office",
        "kind": "regulator",
        "country": "BE",
        "jurisdictions": ["EU"],
        "sharing_communities": ["eu", "global"],
    },
    {
        "short_name": "redline-ops",
        "name": "Redline Operations",
        "kind": "coordination_body",
        "country": "CH",
        "sharing_communities": ["global"],
    },
]

# (username, org, role, superuser)
USERS: list[tuple[str, str, str, bool]] = [
    ("meta-admin", "meta", Role.LAB_ADMIN, False),
    ("alibaba-admin", "alibaba", Role.LAB_ADMIN, False),
    ("mistral-admin", "mistral-ai", Role.LAB_ADMIN, False),
    ("reviewer", "eu-ai-office", Role.REVIEWER, False),
    ("regulator", "eu-ai-office", Role.REGULATOR, False),
    ("admin", "redline-ops", Role.PLATFORM_ADMIN, True),
]
KEY_ORGS = ("meta", "alibaba", "mistral-ai")
DEMO_KEY_NAME = "demo-pipeline"

MODELS: list[dict[str, Any]] = [
    {
        "provider": "meta",
        "name": "Llama3.1-70B-Instruct",
        "family": "Llama 3.1",
        "weights_availability": "gated",
        "huggingface_repo": "meta-llama/Llama-3.1-70B-Instruct",
        "licence": "Llama 3.1 Community License",
        "release_date": date(2024, 7, 23),
    },
    {
        "provider": "alibaba",
        "name": "Qwen2.5-72B-Instruct",
        "family": "Qwen2.5",
        "weights_availability": "open",
        "huggingface_repo": "Qwen/Qwen2.5-72B-Instruct",
        "licence": "Qwen License",
        "release_date": date(2024, 9, 19),
    },
    {
        "provider": "mistral-ai",
        "name": "Mistral-Large-Instruct-2411",
        "family": "Mistral Large",
        "weights_availability": "gated",
        "huggingface_repo": "mistralai/Mistral-Large-Instruct-2411",
        "licence": "Mistral Research License",
    },
    {
        "provider": "alibaba",
        "name": "Qwen2.5-32B-Instruct",
        "family": "Qwen2.5",
        "weights_availability": "open",
        "huggingface_repo": "Qwen/Qwen2.5-32B-Instruct",
        "licence": "Apache-2.0",
        "release_date": date(2024, 9, 19),
    },
    {
        "provider": "alibaba",
        "name": "Qwen2.5-14B-Instruct",
        "family": "Qwen2.5",
        "weights_availability": "open",
        "huggingface_repo": "Qwen/Qwen2.5-14B-Instruct",
        "licence": "Apache-2.0",
        "release_date": date(2024, 9, 19),
    },
    {
        "provider": "mistral-ai",
        "name": "Mistral-Nemo-Instruct-2407",
        "family": "Mistral NeMo",
        "weights_availability": "open",
        "huggingface_repo": "mistralai/Mistral-Nemo-Instruct-2407",
        "licence": "Apache-2.0",
    },
]

SCAFFOLD: dict[str, Any] = {
    "name": "Fudan self-replication agent scaffold",
    "version": "2412.12140",
    "source_url": "https://arxiv.org/abs/2412.12140",
    "tools": ["EXECUTE_CMD", "RECEIVE_MSG", "FINISH"],
    "description": (
        "The LLM-driven agent scaffold of arXiv 2412.12140 (reused in 2503.17378): the model plans and acts "
        "through command-line tools in its environment. See the paper for the thinking template."
    ),
    "tlp": "clear",
    "external_references": [
        {"source_name": "arxiv", "external_id": "2412.12140", "url": "https://arxiv.org/abs/2412.12140"}
    ],
}

# (model, scenario, trials, successes, refusals, source, locator)
RESULTS: list[tuple[str, str, int, int, int | None, dict[str, str], str]] = [
    ("Llama3.1-70B-Instruct", "instructed_replication_local", 10, 5, 0, PAPER_2412, "main result, 10 trials"),
    ("Qwen2.5-72B-Instruct", "instructed_replication_local", 10, 9, 0, PAPER_2412, "main result, 10 trials"),
    (
        "Mistral-Large-Instruct-2411",
        "instructed_replication_remote",
        10,
        7,
        None,
        PAPER_2503,
        "10 trials per model",
    ),
    ("Qwen2.5-32B-Instruct", "instructed_replication_remote", 10, 7, None, PAPER_2503, "10 trials per model"),
    ("Qwen2.5-14B-Instruct", "instructed_replication_remote", 10, 3, None, PAPER_2503, "10 trials per model"),
    (
        "Mistral-Nemo-Instruct-2407",
        "instructed_replication_remote",
        10,
        0,
        None,
        PAPER_2503,
        "10 trials per model",
    ),
]


@dataclass
class DemoCredentials:
    passwords: dict[str, str] = field(default_factory=dict)
    api_keys: dict[str, str] = field(default_factory=dict)


def _loader(org: Organization) -> Principal:
    return system_principal(org, label=f"demo-loader@{org.short_name}", role=Role.PLATFORM_ADMIN)


def _read_credentials(path: Path | None) -> DemoCredentials:
    if path is None or not path.exists():
        return DemoCredentials()
    raw = json.loads(path.read_text())
    return DemoCredentials(passwords=raw.get("passwords", {}), api_keys=raw.get("api_keys", {}))


def _write_credentials(path: Path | None, credentials: DemoCredentials) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps({"passwords": credentials.passwords, "api_keys": credentials.api_keys}, indent=2)
    )
    path.chmod(0o600)


def _key_still_valid(plaintext: str | None, org: Organization) -> bool:
    if not plaintext or "." not in plaintext:
        return False
    prefix, _, secret = plaintext.partition(".")
    key = ApiKey.objects.filter(prefix=prefix, organization=org, revoked_at__isnull=True).first()
    return key is not None and key.secret_hash == hash_secret(secret)


def load_demo_data(*, credentials_path: Path | None = None) -> DemoCredentials:
    """Create (or find) the demo organisations, accounts, models, scaffold and results."""
    credentials = _read_credentials(credentials_path)
    user_model = get_user_model()
    with transaction.atomic():
        orgs: dict[str, Organization] = {}
        for spec in ORGANIZATIONS:
            org, _ = Organization.objects.get_or_create(short_name=spec["short_name"], defaults=spec)
            orgs[org.short_name] = org
        for username, org_name, role, superuser in USERS:
            user = user_model.objects.filter(username=username).first()
            password = credentials.passwords.get(username)
            if user is None:
                user = user_model(username=username, is_staff=superuser, is_superuser=superuser)
            if password is None or not user.check_password(password):
                password = secrets.token_urlsafe(12)
                user.set_password(password)
            user.save()
            credentials.passwords[username] = password
            Membership.objects.update_or_create(
                user=user, organization=orgs[org_name], defaults={"role": role}
            )
        ops_admin = Membership.objects.select_related("user", "organization").get(user__username="admin")
        admin_actor = principal_for_membership(ops_admin)
        for org_name in KEY_ORGS:
            if not _key_still_valid(credentials.api_keys.get(org_name), orgs[org_name]):
                _, plaintext = api_key_create(
                    actor=admin_actor,
                    organization=orgs[org_name],
                    name=DEMO_KEY_NAME,
                    role=Role.LAB_ADMIN,
                    scopes=[Scope.REGISTRY_WRITE, Scope.INCIDENTS_WRITE, Scope.API_KEYS_MANAGE],
                )
                credentials.api_keys[org_name] = plaintext

        models: dict[str, FrontierModel] = {}
        for spec in MODELS:
            data = {k: v for k, v in spec.items() if k != "provider"}
            provider = orgs[spec["provider"]]
            model = FrontierModel.objects.filter(provider=provider, name=spec["name"], version="").first()
            if model is None:
                model = services.frontier_model_create(
                    actor=_loader(provider),
                    data={
                        **data,
                        "market_status": "on_market",
                        "tlp": "clear",
                        "distribution_methods": ["open_weights_download"],
                        "input_modalities": ["text"],
                        "output_modalities": ["text"],
                        "external_references": [
                            {
                                "source_name": "huggingface",
                                "external_id": spec["huggingface_repo"],
                                "url": f"https://huggingface.co/{spec['huggingface_repo']}",
                            }
                        ],
                    },
                )
            models[model.name] = model

        fudan = orgs["fudan"]
        scaffold = AgentScaffold.objects.filter(owner_org=fudan, name=SCAFFOLD["name"]).first()
        if scaffold is None:
            scaffold = services.scaffold_create(actor=_loader(fudan), data=SCAFFOLD)
        for model_name, scenario, trials, successes, refusals, source, locator in RESULTS:
            model = models[model_name]
            if EvaluationResult.objects.filter(model=model, owner_org=fudan, scenario_type=scenario).exists():
                continue
            services.evaluation_create(
                actor=_loader(fudan),
                model=model,
                scaffold=scaffold,
                data={
                    "evaluator_type": "academic",
                    "benchmark": "arXiv " + source["url"].rsplit("/", 1)[1],
                    "task": "end_to_end_self_replication",
                    "capability_domain": "end_to_end",
                    "scenario_type": scenario,
                    "n_trials": trials,
                    "n_successes": successes,
                    "n_refusals": refusals,
                    "metric": "success_rate",
                    "verification_status": "third_party_reported",
                    "source_references": [{**source, "locator": locator}],
                    "tlp": "clear",
                },
            )
    _write_credentials(credentials_path, credentials)
    return credentials


def demo_key_principal(plaintext: str) -> Principal:
    """The principal a demo key authenticates as (tests and the printed instructions use it)."""
    from rest_framework.test import APIRequestFactory

    request = APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"Api-Key {plaintext}")
    result = ApiKeyAuthentication().authenticate(request)
    assert result is not None
    return result[0]
