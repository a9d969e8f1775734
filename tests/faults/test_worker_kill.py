"""Celery workers SIGKILLed during a burst of notifications: each delivered exactly once by webhook-id, none
lost. (faults/worker_kill.py, smoke version)"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.runner import run_smoke

pytestmark = pytest.mark.faults


def test_worker_kill_smoke_version_meets_its_bars(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    run_smoke("worker_kill", rabbitmq=True, tmp_path=tmp_path, request=request)
