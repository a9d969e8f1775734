"""50 concurrent submitters retrying under one Idempotency-Key: nothing lost, nothing duplicated, no 5xx.
(faults/submitters.py, smoke version)"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.runner import run_smoke

pytestmark = pytest.mark.faults


def test_submitters_smoke_version_meets_its_bars(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    run_smoke("submitters", rabbitmq=False, tmp_path=tmp_path, request=request)
