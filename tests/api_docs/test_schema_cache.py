"""The live OpenAPI document is generated once per process and media type (issue 7: OpenAPI generation
within 1.5x `manage.py check`); every later request is the same bytes from memory."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from api_docs import contract
from api_docs.views import CachedSchemaView


@pytest.fixture
def generations(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    base = CachedSchemaView.generator_class

    class CountingGenerator(base):  # type: ignore[misc, valid-type]
        def get_schema(self, *args: Any, **kwargs: Any) -> Any:
            calls.append(1)
            return super().get_schema(*args, **kwargs)

    monkeypatch.setattr(CachedSchemaView, "generator_class", CountingGenerator)
    monkeypatch.setattr(CachedSchemaView, "_rendered", {})
    return calls


def test_the_schema_is_generated_once_and_served_from_memory_after(
    client: Any, generations: list[int]
) -> None:
    first = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi")
    second = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi")
    assert first.status_code == second.status_code == 200
    assert len(generations) == 1
    assert first.content == second.content
    assert first["Content-Type"] == second["Content-Type"] == "application/vnd.oai.openapi; charset=utf-8"
    assert second["Content-Disposition"] == 'inline; filename="Redline API.yaml"'
    assert yaml.safe_load(second.content) == contract.load_committed_openapi()


def test_each_media_type_is_rendered_once_from_its_own_entry(client: Any, generations: list[int]) -> None:
    as_yaml = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi")
    as_json = client.get("/api/v1/schema/?format=json")
    again = client.get("/api/v1/schema/?format=json")
    assert as_json["Content-Type"].startswith("application/vnd.oai.openapi+json")
    assert as_json.content == again.content
    assert as_json.json() == yaml.safe_load(as_yaml.content)
    assert len(generations) == 2  # one per media type, none for the repeat
