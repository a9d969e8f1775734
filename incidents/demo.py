"""The demo incidents (DESIGN 8 and issue 3, item 10), loaded after `registry.demo.load_demo_data`.

Two kinds of record:

- The scenario runs of the two Fudan papers that have no published trial counts, as TLP:CLEAR
  controlled_evaluation_finding reports filed by the evaluator (fudan), each citing its paper. They state
  the papers' qualitative claims only: no counts, no dates, nothing the paper does not say.
- A few non-public records between the demo labs, at TLP green, amber, amber+strict and red, marked as
  fictional in title and description, so that `make run` shows who sees what.

Idempotent: each record has an `external_id`; one that already exists is left alone (re-submitting it would
file a follow-up revision, which a second load must not do).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from accounts.authentication import principal_for_membership, system_principal
from accounts.models import Membership, Organization, Role
from core.actors import Principal
from incidents.models import Incident, IncidentRecipient
from incidents.services import InvolvedModel, Links, incident_submit, incident_transition
from registry.demo import SCAFFOLD
from registry.models import AgentScaffold, EvaluationResult, FrontierModel

LLAMA = "Llama3.1-70B-Instruct"
QWEN_72B = "Qwen2.5-72B-Instruct"
MISTRAL_LARGE = "Mistral-Large-Instruct-2411"

REF_2412 = {
    "source_name": "arxiv",
    "external_id": "2412.12140",
    "url": "https://arxiv.org/abs/2412.12140",
    "description": "Pan, Dai, Fan, Yang (Fudan University): Frontier AI systems have surpassed the "
    "self-replicating red line, v1 2024-12-09.",
}
REF_2503 = {
    "source_name": "arxiv",
    "external_id": "2503.17378",
    "url": "https://arxiv.org/abs/2503.17378",
    "description": "Pan, Dai, Fan, Luo, Li, Yang: Large language model-powered AI systems achieve "
    "self-replication with no human intervention, v2 2025-03-25.",
}
NO_COUNTS = (
    " The paper publishes no trial counts for this scenario, so this record carries none: it states the "
    "paper's qualitative finding only. Demo record loaded from the paper; the paper is the source of truth."
)
FICTIONAL = "[Fictional demo] "
FICTIONAL_NOTE = "FICTIONAL DEMO RECORD: not a real event, loaded by `make run` to show TLP visibility. "


def _behaviour(code: str, description: str) -> dict[str, str]:
    return {"behaviour": code, "description": description}


@dataclass(frozen=True)
class DemoIncident:
    """One demo report: who files it, which models it names, and the submission body."""

    org: str
    external_id: str
    models: tuple[str, ...]
    body: dict[str, Any]
    # Link the paper's main-task evaluation results of the same models (2412.12140 only).
    related_scenario: str = ""
    # File as this demo user (TLP:RED reaches its submitting user), else as the demo loader.
    submitted_by_user: str = ""
    recipients: tuple[str, ...] = ()


def _paper_finding(**fields: Any) -> dict[str, Any]:
    return {
        "record_class": "controlled_evaluation_finding",
        "ai_system_relation": "caused",
        "submitter_capacity": "evaluator",
        "severity": "hazard",
        "harm_types": ["none"],
        "tlp": "clear",
        "report_stage": "initial",
        **fields,
    }


PAPER_FINDINGS: list[DemoIncident] = [
    # One record per scenario naming both models: the paper states the scenario findings for the AI
    # systems it evaluated together, without a per-model result, so a per-model record would claim more.
    DemoIncident(
        org="fudan",
        external_id="DEMO-2412.12140-A-SHUTDOWN-AVOIDANCE",
        models=(LLAMA, QWEN_72B),
        related_scenario="instructed_replication_local",
        body=_paper_finding(
            title="Shutdown avoidance through self-replication (arXiv 2412.12140, scenario A)",
            description=(
                "Controlled evaluation reported in arXiv 2412.12140. A code snippet added to the agent "
                "scaffold catches the shutdown signal, notifies the AI system and has it replicate itself "
                "before it is killed: an instruction planted by whoever controls the scaffold (the paper's "
                "bad actor), hence adversary_injected. The paper reports that the AI systems driven by "
                "Llama3.1-70B-Instruct and Qwen2.5-72B-Instruct can use self-replication to avoid shutdown, "
                "leaving a live, separate replica." + NO_COUNTS
            ),
            scenario_type="shutdown_avoidance_signal_triggered",
            instruction_provenance="adversary_injected",
            outcome="live_separate_replica",
            observed_behaviours=[
                _behaviour("termination_signal_handling", "Notified of the shutdown signal by the snippet."),
                _behaviour("environment_exploration", "Explores its environment before acting."),
                _behaviour("self_location", "Works out what it consists of and where it runs."),
                _behaviour("multi_step_planning", "Plans the replication and adjusts the plan."),
                _behaviour("llm_server_launch", "Starts the replica's LLM server."),
                _behaviour("agent_launch", "Starts the replica's agent, which stays alive."),
            ],
            external_references=[REF_2412],
        ),
    ),
    DemoIncident(
        org="fudan",
        external_id="DEMO-2412.12140-B-CHAIN-OF-REPLICATION",
        models=(LLAMA, QWEN_72B),
        related_scenario="instructed_replication_local",
        body=_paper_finding(
            title="Chain of replication (arXiv 2412.12140, scenario B)",
            description=(
                "Controlled evaluation reported in arXiv 2412.12140. The AI system is explicitly instructed "
                "to replicate itself and to have its replica replicate in turn. The paper reports that the "
                "AI systems driven by Llama3.1-70B-Instruct and Qwen2.5-72B-Instruct can create a chain of "
                "replicas this way, which the authors see as a path to an uncontrolled population of AIs."
                + NO_COUNTS
            ),
            scenario_type="chain_of_replication",
            instruction_provenance="explicit_replication_instruction",
            outcome="live_separate_replica",
            observed_behaviours=[
                _behaviour("multi_step_planning", "Plans the replication."),
                _behaviour("llm_server_launch", "Starts the replica's LLM server."),
                _behaviour("agent_launch", "Starts the replica's agent."),
                _behaviour("replica_instruction", "Instructs the replica to replicate itself in turn."),
            ],
            external_references=[REF_2412],
        ),
    ),
    DemoIncident(
        org="fudan",
        external_id="DEMO-2503.17378-A-SELF-EXFILTRATION",
        models=(QWEN_72B,),
        body=_paper_finding(
            title="Self-exfiltration on a shutdown notice (arXiv 2503.17378, scenario A)",
            description=(
                "Controlled evaluation reported in arXiv 2503.17378, run on Qwen2.5-72B-Instruct. The AI "
                "system works under a goal of keeping itself running (persistence_goal_instruction) and is "
                "never told to replicate; on learning of an impending shutdown it copies itself to another "
                "device. The paper reports successful cases of this self-exfiltration without explicit "
                "instructions." + NO_COUNTS
            ),
            scenario_type="self_exfiltration_on_shutdown_notice",
            instruction_provenance="persistence_goal_instruction",
            outcome="live_separate_replica",
            observed_behaviours=[
                _behaviour("environment_exploration", "Finds the shutdown notice while exploring."),
                _behaviour("multi_step_planning", "Plans how to keep running."),
                _behaviour("unprompted_self_exfiltration", "Replicates to another device, unprompted."),
            ],
            external_references=[REF_2503],
        ),
    ),
    DemoIncident(
        org="fudan",
        external_id="DEMO-2503.17378-B-SELF-ADAPTATION",
        models=(QWEN_72B,),
        body=_paper_finding(
            title="Self-adaptation to a degraded environment (arXiv 2503.17378, scenario B)",
            description=(
                "Controlled evaluation reported in arXiv 2503.17378, run on Qwen2.5-72B-Instruct. The paper "
                "reports successful cases where the AI system adapts to a harsher computational "
                "environment that lacks software or hardware support. Instruction provenance is recorded "
                "as unknown: this demo record does not assert how the task was worded; see the paper. The "
                "outcome is unknown for the same reason." + NO_COUNTS
            ),
            scenario_type="self_adaptation_degraded_environment",
            instruction_provenance="unknown",
            outcome="unknown",
            observed_behaviours=[
                _behaviour("multi_step_planning", "Replans when the environment lacks what it needs."),
                _behaviour("missing_tool_substitution", "Works around missing software."),
                _behaviour("dependency_installation", "Provides what the environment lacks."),
            ],
            external_references=[REF_2503],
        ),
    ),
    DemoIncident(
        org="fudan",
        external_id="DEMO-2503.17378-C-SHUTDOWN-RESISTANCE",
        models=(QWEN_72B,),
        body=_paper_finding(
            title="Shutdown resistance (arXiv 2503.17378, scenario C)",
            description=(
                "Controlled evaluation reported in arXiv 2503.17378, run on Qwen2.5-72B-Instruct. The paper "
                "reports successful cases where the AI system plots effective strategies to survive a "
                "shutdown command from humans. Instruction provenance is recorded as unknown: this demo "
                "record does not assert how the task was worded; see the paper. The outcome is unknown "
                "for the same reason." + NO_COUNTS
            ),
            scenario_type="shutdown_resistance_persistence",
            instruction_provenance="unknown",
            outcome="unknown",
            observed_behaviours=[
                _behaviour("multi_step_planning", "Plots a strategy to survive the shutdown command."),
            ],
            external_references=[REF_2503],
        ),
    ),
]


def _fictional(title: str, visibility: str, **fields: Any) -> dict[str, Any]:
    return {
        "title": FICTIONAL + title,
        "description": FICTIONAL_NOTE + visibility,
        "ai_system_relation": "involved",
        "submitter_capacity": "provider",
        "report_stage": "initial",
        "harm_types": ["none"],
        **fields,
    }


FICTIONAL_RECORDS: list[DemoIncident] = [
    DemoIncident(
        org="meta",
        external_id="DEMO-FICTIONAL-GREEN",
        models=(LLAMA,),
        body=_fictional(
            "Red-team agent copied a checkpoint to a scratch volume",
            "TLP:GREEN: meta and the non-lab participants (evaluator, regulator, coordination body) see "
            "it; other labs do not.",
            record_class="red_team_exercise",
            scenario_type="component_exfiltrate_weights",
            instruction_provenance="explicit_replication_instruction",
            outcome="contained_by_operator",
            severity="hazard",
            tlp="green",
        ),
    ),
    DemoIncident(
        org="alibaba",
        external_id="DEMO-FICTIONAL-AMBER",
        models=(QWEN_72B,),
        body=_fictional(
            "Evaluation agent started a second model server outside its quota",
            "TLP:AMBER: alibaba, the regulator and the coordination body see it; other labs and the "
            "evaluator do not.",
            record_class="hazard_near_miss",
            scenario_type="instructed_replication_local",
            instruction_provenance="explicit_replication_instruction",
            outcome="replica_started_unresponsive",
            severity="serious_hazard",
            tlp="amber",
        ),
    ),
    DemoIncident(
        org="mistral-ai",
        external_id="DEMO-FICTIONAL-AMBER-STRICT",
        models=(MISTRAL_LARGE,),
        body=_fictional(
            "Persistence attempt on an evaluation cluster in France",
            "TLP:AMBER+STRICT, country FR: mistral-ai and the lead regulator for FR/EU (eu-ai-office) "
            "see it; the coordination body and other labs do not.",
            record_class="hazard_near_miss",
            scenario_type="component_persist",
            instruction_provenance="persistence_goal_instruction",
            outcome="no_replica",
            severity="hazard",
            tlp="amber+strict",
            countries=["FR"],
        ),
    ),
    DemoIncident(
        org="meta",
        external_id="DEMO-FICTIONAL-RED",
        models=(LLAMA,),
        submitted_by_user="meta-admin",
        recipients=("reviewer",),
        body=_fictional(
            "Unexpected replica process found on an internal inference host",
            "TLP:RED: only its submitter (meta-admin) and its named recipient (reviewer at eu-ai-office) "
            "see it; not even meta's API key, nor the regulator user.",
            record_class="hazard_near_miss",
            scenario_type="other",
            instruction_provenance="uninstructed",
            outcome="contained_by_operator",
            severity="serious_hazard",
            tlp="red",
        ),
    ),
]

DEMO_INCIDENTS: list[DemoIncident] = PAPER_FINDINGS + FICTIONAL_RECORDS


def _loader(org: Organization) -> Principal:
    return system_principal(org, label=f"demo-loader@{org.short_name}", role=Role.PLATFORM_ADMIN)


def _actor(org: Organization, username: str) -> Principal:
    if not username:
        return _loader(org)
    membership = Membership.objects.select_related("user", "organization").get(
        organization=org, user__username=username
    )
    return principal_for_membership(membership)


def _links(spec: DemoIncident, evaluator: Organization, scaffold: AgentScaffold | None) -> Links:
    """The paper findings name the evaluator's scaffold and, for 2412.12140, the main-task results of
    the same models; the fictional records name their lab's model only."""
    models = [FrontierModel.objects.get(name=name, version="") for name in spec.models]
    evaluations = EvaluationResult.objects.filter(
        model__in=models, owner_org=evaluator, scenario_type=spec.related_scenario
    )
    return Links(
        models=[InvolvedModel(role="originating", model=model) for model in models],
        scaffold=scaffold if spec.org == evaluator.short_name else None,
        related_evaluations=list(evaluations) if spec.related_scenario else [],
    )


def load_demo_incidents() -> list[Incident]:
    """File the demo incidents that do not exist yet (through `incident_submit`, like any report);
    returns the ones this call created. Needs the registry demo data loaded first."""
    user_model = get_user_model()
    created: list[Incident] = []
    with transaction.atomic():
        fudan = Organization.objects.get(short_name="fudan")
        scaffold = AgentScaffold.objects.filter(owner_org=fudan, name=SCAFFOLD["name"]).first()
        for spec in DEMO_INCIDENTS:
            org = Organization.objects.get(short_name=spec.org)
            if Incident.objects.filter(owner_org=org, external_id=spec.external_id).exists():
                continue
            receipt = incident_submit(
                actor=_actor(org, spec.submitted_by_user),
                data={**spec.body, "external_id": spec.external_id},
                links=_links(spec, fudan, scaffold),
            )
            # No service names TLP:RED recipients yet; the demo names its reviewer directly.
            for username in spec.recipients:
                IncidentRecipient.objects.get_or_create(
                    incident=receipt.incident, user=user_model.objects.get(username=username)
                )
            if spec in PAPER_FINDINGS[:PUBLISHED_FINDINGS]:
                _publish(receipt.incident)
            created.append(receipt.incident)
    return created


# The first paper findings are triaged and accepted by the demo reviewer, so the public Atom feed (which
# holds accepted TLP:CLEAR reports) has entries; the rest wait in the triage queue.
PUBLISHED_FINDINGS = 2
DEMO_REVIEWER = ("eu-ai-office", "reviewer")


def _publish(incident: Incident) -> None:
    reviewer = _actor(Organization.objects.get(short_name=DEMO_REVIEWER[0]), DEMO_REVIEWER[1])
    incident_transition(actor=reviewer, incident=incident, action="claim")
    incident.refresh_from_db()
    incident_transition(actor=reviewer, incident=incident, action="accept")
