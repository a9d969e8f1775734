"""`manage.py audit_seal`: seal new audit events into a signed checkpoint now (beat does it every 5 min)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from core.sealing import audit_seal


class Command(BaseCommand):
    help = "Number the unsealed audit events and sign a checkpoint (RFC 9162 Merkle root) over the log."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            checkpoint = audit_seal()
        except DomainError as exc:
            raise CommandError(exc.detail) from exc
        if checkpoint is None:
            self.stdout.write("Nothing new to seal.")
            return
        self.stdout.write(
            f"Sealed checkpoint: size {checkpoint.tree_size}, root {checkpoint.root_hash}, "
            f"key {checkpoint.key_id}."
        )
