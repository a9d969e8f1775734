"""A router whose routes match with or without the trailing slash (`/api/v1/models/FM-2025-0001` and
`/api/v1/evaluations/import` as well as their slashed forms): partner scripts should not meet a redirect,
least of all on a POST."""

from __future__ import annotations

from typing import Any

from rest_framework.routers import SimpleRouter


class OptionalSlashRouter(SimpleRouter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.trailing_slash = "/?"
