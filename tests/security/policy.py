"""Reads tests/security/policy.yaml and expands it into cases: one (entry, role, object) each, with the
outcome the policy states. Pure: no database, so the cases exist at collection time."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

POLICY_FILE = Path(__file__).with_name("policy.yaml")
OUTCOMES = {
    "allowed",
    "forbidden",
    "not_found",
    "unauthenticated",
    "conflict",
    "bad_request",
    "login",
    "refused",
}
RULES = OUTCOMES | {"visible", "visible_forbidden"}
GROUPS = {"incidents": "incident", "models": "model", "scaffolds": "scaffold", "evaluations": "evaluation"}


@dataclass(frozen=True)
class Case:
    index: int  # the entry's position in the policy
    route: str
    method: str
    role: str
    obj: str
    rule: str  # one of RULES; `visible*` are resolved against the world's TLP of the object

    @property
    def id(self) -> str:
        return f"{self.index:03d}-{self.route}-{self.method}-{self.obj}-{self.role}"


@cache
def load() -> dict[str, Any]:
    policy: dict[str, Any] = yaml.safe_load(POLICY_FILE.read_text())
    return policy


def tlps() -> list[str]:
    return ["clear", "green", "amber", "amber+strict", "red"]


def expand_objects(names: list[str]) -> list[str]:
    out: list[str] = []
    for name in names:
        if name in GROUPS:
            out += [f"{GROUPS[name]}@{tlp}" for tlp in tlps()]
        else:
            out.append(name)
    return out


def entry(index: int) -> dict[str, Any]:
    result: dict[str, Any] = load()["endpoints"][index]
    return result


def rule_for(expect: dict[str, Any], role: str, obj: str) -> str:
    """The rule the policy states for `role` on `obj`: the role's own line, else `default`; a line may
    itself name objects (with its own `default`)."""
    line = expect.get(role, expect.get("default"))
    if isinstance(line, dict):
        line = line.get(obj, line.get("default"))
    if line not in RULES:
        raise ValueError(f"no valid rule for {role} on {obj}: {line!r}")
    return str(line)


def cases() -> list[Case]:
    policy = load()
    out: list[Case] = []
    for index, item in enumerate(policy["endpoints"]):
        roles = item.get("roles", policy["roles"])
        for obj in expand_objects(item.get("objects", ["none"])):
            for role in roles:
                out.append(
                    Case(index, item["route"], item["method"], role, obj, rule_for(item["expect"], role, obj))
                )
    return out


def visibility_class(obj: str) -> str | None:
    """Which visibility table decides who sees `obj` (None: the rule does not depend on TLP)."""
    kind = obj.split("@", 1)[0]
    if kind in ("incident", "evidence", "comment", "assessment", "audit"):
        return "incident"
    if kind in ("model", "evaluation"):
        return "registry"
    if kind == "scaffold":
        return "scaffold"
    return None
