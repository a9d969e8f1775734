"""PostgreSQL restarted (fast, immediate, and down for 5 s) under load: 503 problem+json, never 500, no
partial writes, recovery without manual action. (faults/db_restart.py, smoke version)"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.runner import run_smoke

pytestmark = pytest.mark.faults


def test_db_restart_smoke_version_meets_its_bars(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    run_smoke("db_restart", rabbitmq=False, tmp_path=tmp_path, request=request)
