"""Runs one fault scenario's smoke version in a subprocess and checks its bars (tests/faults/test_*.py).

The scenarios need PostgreSQL's server binaries and redis-server (and, for the broker ones, root to run
a private RabbitMQ node as the rabbitmq user); they are skipped where those are missing, and required
where REDLINE_REQUIRE_FAULTS is set (CI).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from faults.harness import ROOT, missing_tools


def run_smoke(scenario: str, *, rabbitmq: bool, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    missing = missing_tools(rabbitmq=rabbitmq)
    if missing:
        if os.environ.get("REDLINE_REQUIRE_FAULTS"):
            pytest.fail(f"fault scenario {scenario} cannot run here: missing {missing}")
        pytest.skip(f"missing {missing}")
    figures = tmp_path / "figures.json"
    # The scenario makes its own settings and servers; nothing of the test run's may leak in.
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")}
    result = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", f"faults.{scenario}", "--smoke", "--json", str(figures)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if figures.exists():
        shown = json.loads(figures.read_text())
        verdict = "passed" if shown["passed"] else "FAILED"
        request.node.user_properties.append(
            ("fault_figures", f"{scenario} ({verdict}): {json.dumps(shown['figures'], default=str)}")
        )
    assert result.returncode == 0, f"{result.stdout[-6000:]}\n{result.stderr[-4000:]}"
    outcome = json.loads(figures.read_text())
    assert outcome["passed"] is True
    assert outcome["scenario"] == scenario
