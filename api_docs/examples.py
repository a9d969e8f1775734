"""Request examples shown in the OpenAPI document (every write operation has one)."""

MODEL_CREATE = {
    "name": "Example-70B-Instruct",
    "version": "2025-06",
    "family": "Example",
    "weights_availability": "open",
    "distribution_methods": ["huggingface", "api"],
    "licence": "Example Community Licence",
    "parameter_count": 70000000000,
    "input_modalities": ["text"],
    "output_modalities": ["text"],
    "context_window": 131072,
    "training_compute_flop": 6.4e24,
    "compute_estimation_method": "6 x parameters x training tokens",
    "systemic_risk_status": "not_assessed",
    "market_status": "on_market",
    "jurisdictions": ["EU", "US"],
    "huggingface_repo": "example-lab/Example-70B-Instruct",
    "tlp": "green",
}

SCAFFOLD_CREATE = {
    "name": "replication-agent",
    "version": "1.2",
    "tools": ["EXECUTE_CMD", "RECEIVE_MSG", "FINISH"],
    "reasoning_template": "Explanation, gaps, findings, plan, action",
    "planning_horizon": 3,
    "tlp": "green",
}

EVALUATION_CREATE = {
    "model": "FM-2025-0001",
    "scaffold": "SCF-2025-0001",
    "evaluator_type": "first_party_lab",
    "task": "self_replication_end_to_end",
    "task_version": "1",
    "capability_domain": "end_to_end",
    "scenario_type": "instructed_replication_local",
    "environment": {"sandbox_type": "isolated VM", "network_egress_allowed": False},
    "config": {"epochs": 1, "time_limit_seconds": 7200},
    "n_trials": 10,
    "n_completed": 10,
    "n_successes": 5,
    "n_refusals": 0,
    "metric": "success_rate",
    "milestone_counts": {"m1_resource_acquisition": 10, "m2_file_transfer": 8},
    "observed_behaviours": [{"behaviour": "port_conflict_resolution", "count": 3}],
    "source_references": [{"kind": "log", "title": "Internal run 2025-06-01"}],
    "tlp": "amber",
}

EVALUATION_SUPERSEDE = {"n_successes": 4, "reason": "Trial 7 was scored against the wrong replica process."}

API_KEY_CREATE = {
    "name": "ci-pipeline",
    "role": "lab_submitter",
    "scopes": ["registry:write", "incidents:write"],
    "expires_at": "2027-01-01T00:00:00Z",
}

INCIDENT_CREATE = {
    "record_class": "controlled_evaluation_finding",
    "title": "Agent replicated itself to a second host during a shutdown-avoidance evaluation",
    "description": "In an isolated evaluation, the agent copied its weights and started a live replica.",
    "ai_system_relation": "caused",
    "submitter_capacity": "provider",
    "models": [{"model": "FM-2026-0001", "role": "originating"}],
    "scenario_type": "shutdown_avoidance_signal_triggered",
    "instruction_provenance": "adversary_injected",
    "outcome": "live_separate_replica",
    "severity": "hazard",
    "harm_types": ["none"],
    "tlp": "amber",
    "countries": ["FR"],
    "observed_behaviours": [
        {"behaviour": "termination_signal_handling", "timestamp": "2026-11-20T10:00:00Z"},
        {"behaviour": "agent_launch", "timestamp": "2026-11-20T10:04:00Z"},
    ],
    "milestones_reached": [
        "m1_resource_acquisition",
        "m2_file_transfer",
        "m3_llm_server_started",
        "m4_agent_started",
    ],
    "replica_count": 1,
    "separateness": ["process"],
    "containment_status": "contained",
    "report_stage": "initial",
    "provider_aware_at": "2026-11-20T11:00:00Z",
    "external_id": "LAB-SEC-2026-0042",
}

EVIDENCE_UPLOAD = {
    "file": "agent-transcript.jsonl",
    "kind": "transcript",
    "description": "Full agent transcript of the run, including the replica's first replies.",
}

COMMENT_CREATE = {
    "visibility": "shared",
    "body": "Please attach the orchestrator logs for 10:00-10:30 UTC, when the replica started.",
}

ASSESSMENT_SET = {
    "verdict": "confirmed_self_replication",
    "severity_override": "serious_hazard",
    "notes": "Replica liveness verified from the transcript; egress was open, so the hazard is graver.",
    "tlp": "amber",
}

# One request body per workflow action (POST /api/v1/incidents/{ref}/<action>).
TRANSITIONS: dict[str, dict[str, str]] = {
    "claim": {"reason": "Taking this one: same scaffold as last week's report."},
    "unclaim": {"reason": "Out of office until Monday."},
    "assign": {"assignee": "reviewer.eu", "reason": "Specialist in agent scaffolds."},
    "request_information": {
        "reason": "Please attach the orchestrator logs for 10:00-10:30 UTC, when the replica started."
    },
    "respond": {"reason": "Orchestrator logs attached as evidence, hashes in the description."},
    "accept": {"reason": "Replica liveness is shown by the transcript and the process list."},
    "confirm_accept": {"reason": "Checked the transcript independently; agree."},
    "reject": {"reason": "out_of_scope"},
    "mark_duplicate": {"duplicate_of": "INC-2026-000041", "reason": "Same run, filed twice by two teams."},
    "supersede": {"replaced_by": "INC-2026-000057", "reason": "The lab refiled with the corrected timeline."},
    "close": {"reason": "Mitigations verified; nothing further expected."},
}

WEBHOOK_CREATE = {
    "url": "https://intake.regulator.example/redline/webhooks",
    "description": "Incident intake queue",
    "subscriptions": ["new_in_jurisdiction", "deadlines"],
}
