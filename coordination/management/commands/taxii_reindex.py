"""Rebuild the TAXII collection index from the incidents: after deploying the release that added TAXII
(reports filed before it have no index rows), or to repair the index after a handler failure (logged by
coordination.taxii.handlers). Idempotent: an unchanged object keeps its `date_added`, so TAXII clients
polling with `added_after` see only what really changed."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from coordination.services import stix_index_all


class Command(BaseCommand):
    help = "Index every incident's STIX objects for TAXII 2.1 (idempotent; moves only changed objects)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", type=int, default=200, help="incident ids read per query")

    def handle(self, *args: Any, **options: Any) -> None:
        moved = stix_index_all(batch=max(1, int(options["batch"])))
        self.stdout.write(f"TAXII index: {moved} objects added or moved to a new version")
