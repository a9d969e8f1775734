"""RabbitMQ and Redis restarted under load: every report notified once, no 5xx, the outbox drained.
(faults/broker_restart.py, smoke version)"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.runner import run_smoke

pytestmark = pytest.mark.faults


def test_broker_restart_smoke_version_meets_its_bars(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    run_smoke("broker_restart", rabbitmq=True, tmp_path=tmp_path, request=request)
