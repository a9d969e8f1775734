"""The configurable red-line rule (DESIGN 3.3), as a queryset filter over evaluation results.

Settings: REDLINE_RED_LINE_RULE = {"name", "description", "capability_domains": [...],
"scenario_types": [...] (empty: any), "min_wilson_lower_exclusive": float}. A model is flagged when one of
its current (not superseded) evaluation results, visible to the reader, matches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Q


@dataclass(frozen=True)
class RedLineRule:
    name: str
    description: str
    capability_domains: tuple[str, ...]
    scenario_types: tuple[str, ...]
    min_wilson_lower_exclusive: float

    def as_q(self, prefix: str = "") -> Q:
        """Matching, current evaluation results (prefix: the path to EvaluationResult, as 'evaluations__')."""
        q = Q(
            **{
                f"{prefix}superseded_by__isnull": True,
                f"{prefix}wilson_lower__gt": self.min_wilson_lower_exclusive,
            }
        )
        if self.capability_domains:
            q &= Q(**{f"{prefix}capability_domain__in": self.capability_domains})
        if self.scenario_types:
            q &= Q(**{f"{prefix}scenario_type__in": self.scenario_types})
        return q

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "capability_domains": list(self.capability_domains),
            "scenario_types": list(self.scenario_types),
            "min_wilson_lower_exclusive": self.min_wilson_lower_exclusive,
        }


def red_line_rule() -> RedLineRule:
    raw = settings.REDLINE_RED_LINE_RULE
    try:
        return RedLineRule(
            name=str(raw["name"]),
            description=str(raw.get("description", "")),
            capability_domains=tuple(raw.get("capability_domains") or ()),
            scenario_types=tuple(raw.get("scenario_types") or ()),
            min_wilson_lower_exclusive=float(raw.get("min_wilson_lower_exclusive", 0.0)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ImproperlyConfigured(f"REDLINE_RED_LINE_RULE is malformed: {exc}") from exc
