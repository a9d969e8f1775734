"""Webhook tests talk to a real HTTP receiver on 127.0.0.1: loopback and plain http are allowed here
explicitly (production refuses both)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings

from tests.coordination.sink import Sink, start_sink

LOOPBACK_ALLOWED = override_settings(REDLINE_WEBHOOK_ALLOW_LOOPBACK=True, REDLINE_WEBHOOK_ALLOW_HTTP=True)


@pytest.fixture(autouse=True)
def _allow_loopback_receivers(request: Any) -> Iterator[None]:
    if request.node.get_closest_marker("no_loopback"):
        yield
        return
    with LOOPBACK_ALLOWED:
        yield


@pytest.fixture
def sink() -> Iterator[Sink]:
    receiver = start_sink()
    yield receiver
    receiver.close()
