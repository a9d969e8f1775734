"""Template context: the acting principal, so templates show what the role may do (menus, buttons)."""

from __future__ import annotations

from django.http import HttpRequest

from accounts.models import Role
from core.actors import web_principal


def principal(request: HttpRequest) -> dict[str, object]:
    actor = web_principal(request)
    return {
        "principal": actor,
        "is_oversight": actor.org_kind in ("regulator", "coordination_body")
        or actor.role == "platform_admin",
        "is_lab": actor.org_kind in ("lab", "evaluator"),
        "role_label": Role(actor.role).label if actor.role in Role.values else "",
    }
