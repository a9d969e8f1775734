"""The dashboard, and the incidents involving a registered model (the model page loads them with htmx:
registry must not import incidents, DESIGN 2).

Every number comes from incidents.selectors.dashboard_summary and registry selectors, scoped to the viewer;
small counts of other organisations' records are suppressed there (SuppressedCount)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, URLResolver, path

from core.actors import web_principal
from core.charts import Bar, Chart, IntervalRow, bar_chart, interval_chart
from core.enums import ScenarioType
from incidents import selectors
from incidents.models import IncidentStatus, Severity
from incidents.selectors import DashboardSummary, SuppressedCount
from registry import selectors as registry_selectors
from registry.stats import wilson_interval

MODEL_INCIDENTS_LIMIT = 100


def _labelled(
    counts: dict[str, SuppressedCount], labels: dict[str, str]
) -> list[tuple[str, SuppressedCount]]:
    """Counts in the enumeration's order, with their labels (unknown or blank values last)."""
    ordered = [(labels[key], counts[key]) for key in labels if key in counts]
    ordered += [(key or "Not stated", count) for key, count in counts.items() if key not in labels]
    return ordered


def _month_chart(summary: DashboardSummary) -> Chart:
    bars = [
        Bar(label=start.strftime("%b %Y"), value=count.value, display=count.display)
        for start, count in summary.per_month
    ]
    return bar_chart(
        chart_id="chart-incidents-per-month",
        title="Incidents submitted per month, last 12 months",
        desc="One bar per month: the number of reports you may see that were submitted that month. "
        "Small counts of other organisations' reports are shown as a band, not drawn to scale.",
        bars=bars,
    )


def _rates_chart(totals: list[dict[str, Any]]) -> Chart | None:
    rows = []
    for row in totals:
        successes, trials = int(row["successes"]), int(row["trials"])
        lower, upper = wilson_interval(successes, trials)
        scenario = ScenarioType(row["scenario_type"]).label if row["scenario_type"] else "—"
        rows.append(
            IntervalRow(
                label=f"{row['model_name']} ({row['model_public_id']}), {scenario}",
                successes=successes,
                trials=trials,
                lower=lower,
                upper=upper,
            )
        )
    if not rows:
        return None
    return interval_chart(
        chart_id="chart-success-rates",
        title="Success rates per model and scenario, with 95% Wilson intervals",
        desc="Each row pools the current success-rate results you may see for one model and scenario: "
        "successes out of trials, the point estimate and its 95% Wilson interval on an axis from 0 to 100%.",
        rows=rows,
    )


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    actor = web_principal(request)
    summary = selectors.dashboard_summary(actor=actor)
    totals = registry_selectors.evaluation_success_totals(actor=actor)
    return render(
        request,
        "incidents/dashboard.html",
        {
            "summary": summary,
            "by_state": _labelled(summary.by_state, dict(IncidentStatus.choices)),
            "by_severity": _labelled(summary.by_severity, dict(Severity.choices)),
            "by_scenario": _labelled(summary.by_scenario, dict(ScenarioType.choices)),
            "month_chart": _month_chart(summary),
            "rates_chart": _rates_chart(totals),
            "threshold": selectors.small_count_threshold(),
        },
    )


def model_incidents(request: HttpRequest, ref: str) -> HttpResponse:
    """The visible incidents naming a visible model: an htmx fragment of the model page, or a page."""
    actor = web_principal(request)
    model = registry_selectors.frontier_model_get(actor=actor, ref=ref)
    incidents = list(selectors.incidents_involving_model(actor=actor, model=model)[:MODEL_INCIDENTS_LIMIT])
    context = {"model": model, "incidents": incidents, "limit": MODEL_INCIDENTS_LIMIT}
    if getattr(request, "htmx", False):
        return render(request, "incidents/dashboard_model_incidents.html", context)
    return render(request, "incidents/dashboard_model_incidents_page.html", context)


urlpatterns: list[URLPattern | URLResolver] = [
    path("dashboard/", dashboard, name="dashboard"),
    path("models/<str:ref>/incidents/", model_incidents, name="model-incidents"),
]
