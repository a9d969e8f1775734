"""`manage.py audit_verify`: recompute the audit Merkle log and check every signed checkpoint.

Exits 1 and names the sequence numbers when an event was changed, deleted or inserted outside the sealer,
or a checkpoint was rewritten; exits 0 on an intact log. `--public-key` verifies against a copy of the
public key kept elsewhere (a regulator's), instead of the one derived from the configured signing key.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.sealing import audit_verify
from core.signing import public_key_from_b64


class Command(BaseCommand):
    help = "Verify the audit log against its signed Merkle checkpoints; exit 1 on any tampering."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--public-key", default="", help="base64 raw Ed25519 public key to verify with")

    def handle(self, *args: Any, **options: Any) -> None:
        public_key = None
        if options["public_key"]:
            try:
                public_key = public_key_from_b64(options["public_key"])
            except ValueError as exc:
                raise CommandError(f"--public-key: {exc}") from exc
        result = audit_verify(public_key=public_key)
        summary = (
            f"{result.events} sealed events, {result.checkpoints} checkpoints, "
            f"{result.pending} events awaiting sealing."
        )
        if result.ok:
            self.stdout.write(f"Audit log intact: {summary}")
            return
        for problem in result.problems:
            self.stderr.write(problem)
        raise CommandError(f"Audit log TAMPERED ({len(result.problems)} problems): {summary}", returncode=1)
