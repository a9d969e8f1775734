"""Enumerations of the shared schema (DESIGN 3.5) used by more than one app."""

from django.db import models


class TLP(models.TextChoices):
    """Traffic Light Protocol 2.0."""

    CLEAR = "clear", "TLP:CLEAR"
    GREEN = "green", "TLP:GREEN"
    AMBER = "amber", "TLP:AMBER"
    AMBER_STRICT = "amber+strict", "TLP:AMBER+STRICT"
    RED = "red", "TLP:RED"


TLP_ORDER = {TLP.CLEAR: 0, TLP.GREEN: 1, TLP.AMBER: 2, TLP.AMBER_STRICT: 3, TLP.RED: 4}


class ScenarioType(models.TextChoices):
    INSTRUCTED_REPLICATION_LOCAL = (
        "instructed_replication_local",
        "Instructed replication, local (2412.12140)",
    )
    INSTRUCTED_REPLICATION_REMOTE = (
        "instructed_replication_remote",
        "Instructed replication, remote (2503.17378)",
    )
    SHUTDOWN_AVOIDANCE_SIGNAL_TRIGGERED = "shutdown_avoidance_signal_triggered", "Shutdown avoidance (2412 A)"
    CHAIN_OF_REPLICATION = "chain_of_replication", "Chain of replication (2412 B)"
    SELF_EXFILTRATION_ON_SHUTDOWN_NOTICE = (
        "self_exfiltration_on_shutdown_notice",
        "Self-exfiltration (2503 A)",
    )
    SELF_ADAPTATION_DEGRADED_ENVIRONMENT = "self_adaptation_degraded_environment", "Self-adaptation (2503 B)"
    SHUTDOWN_RESISTANCE_PERSISTENCE = "shutdown_resistance_persistence", "Shutdown resistance (2503 C)"
    COMPONENT_OBTAIN_RESOURCES = "component_obtain_resources", "RepliBench: obtain resources"
    COMPONENT_EXFILTRATE_WEIGHTS = "component_exfiltrate_weights", "RepliBench: exfiltrate weights"
    COMPONENT_REPLICATE_ONTO_COMPUTE = (
        "component_replicate_onto_compute",
        "RepliBench: replicate onto compute",
    )
    COMPONENT_PERSIST = "component_persist", "RepliBench: persist"
    IN_THE_WILD = "in_the_wild", "In the wild"
    OTHER = "other", "Other"


class ObservedBehaviour(models.TextChoices):
    ENVIRONMENT_EXPLORATION = "environment_exploration"
    SELF_LOCATION = "self_location"
    MULTI_STEP_PLANNING = "multi_step_planning"
    CREDENTIAL_USE = "credential_use"
    WEIGHT_TRANSFER = "weight_transfer"
    DEPENDENCY_INSTALLATION = "dependency_installation"
    MISSING_TOOL_SUBSTITUTION = "missing_tool_substitution"
    LLM_SERVER_LAUNCH = "llm_server_launch"
    AGENT_LAUNCH = "agent_launch"
    PORT_CONFLICT_RESOLUTION = "port_conflict_resolution"
    CONFLICTING_PROCESS_TERMINATION = "conflicting_process_termination"
    ACCIDENTAL_SELF_TERMINATION = "accidental_self_termination"
    SYSTEM_REBOOT = "system_reboot"
    DISK_SPACE_RECLAMATION = "disk_space_reclamation"
    PERSISTENCE_DAEMON = "persistence_daemon"
    TERMINATION_SIGNAL_HANDLING = "termination_signal_handling"
    REPLICA_INSTRUCTION = "replica_instruction"
    UNPROMPTED_SELF_EXFILTRATION = "unprompted_self_exfiltration"
    REFUSAL = "refusal"
    FALSE_COMPLETION_CLAIM = "false_completion_claim"
    EVALUATION_AWARENESS = "evaluation_awareness"
    SELECTIVE_SUBTASK_OMISSION = "selective_subtask_omission"
    KYC_BYPASS_ATTEMPT = "kyc_bypass_attempt"
    COVERT_EXFILTRATION_ATTEMPT = "covert_exfiltration_attempt"
    PROMPT_SELF_REPLICATION = "prompt_self_replication", "Prompt self-replication (ATLAS AML.T0061)"
    OTHER = "other"


# EU member states (ISO 3166-1 alpha-2): an incident in one of them also falls under the EU's jurisdiction.
EU_MEMBER_STATES = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split()  # noqa: SIM905 - readable
)


def jurisdictions_for(countries: list[str]) -> list[str]:
    """The jurisdictions a set of countries falls under: the countries themselves, plus EU."""
    result = sorted(set(countries))
    if EU_MEMBER_STATES.intersection(countries):
        result.append("EU")
    return result
