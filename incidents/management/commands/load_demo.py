"""Load the demo data (DESIGN 8): the registry's records, then the demo incidents; print how to sign in.

It lives in `incidents` because it loads both apps' data, and registry never imports incidents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from incidents.demo import load_demo_incidents
from registry.demo import USERS, load_demo_data


class Command(BaseCommand):
    help = (
        "Load the demo organisations, accounts, models, scaffold, evaluation results and incidents "
        "(idempotent)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--credentials",
            default=str(Path(settings.BASE_DIR) / "var" / "demo-credentials.json"),
            help="Git-ignored file keeping the demo passwords and API keys between runs.",
        )
        parser.add_argument("--allow-production", action="store_true", help="Load even with DEBUG off.")
        parser.add_argument("--port", default="8000")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["allow_production"]:
            raise CommandError("Refusing to create demo accounts with DEBUG off (pass --allow-production).")
        credentials = load_demo_data(credentials_path=Path(options["credentials"]))
        load_demo_incidents()
        base = f"http://127.0.0.1:{options['port']}"
        lines = [
            "",
            "Redline demo data loaded.",
            f"  Web:      {base}/  (sign in at {base}/accounts/login/)",
            f"  API docs: {base}/api/v1/docs/   ReDoc: {base}/api/v1/redoc/",
            "",
            "  Users (username / password / org / role):",
        ]
        for username, org, role, _ in USERS:
            lines.append(f"    {username:<14} {credentials.passwords[username]:<18} {org:<13} {role}")
        lines.append(
            "  reviewer, regulator and admin enrol an authenticator app (TOTP) or a security key at "
            "their first "
            "sign-in (MFA is required for those roles); lab accounts sign in with the password alone."
        )
        lines += ["", "  API keys (one per demo lab; send as 'Authorization: Api-Key <key>'):"]
        for org, key in credentials.api_keys.items():
            lines.append(f"    {org:<11} {key}")
        lines += ["", f"  Try: curl -s {base}/api/v1/models/ | python -m json.tool"]
        meta_key = credentials.api_keys.get("meta", "<meta key>")
        lines += [
            f"  Visibility: curl -s -H 'Authorization: Api-Key {meta_key}' {base}/api/v1/incidents/ "
            "then the same with the alibaba key and with no key: all see the TLP:CLEAR paper findings, each "
            "lab only its own fictional demo reports (meta's TLP:RED one: only meta-admin and reviewer).",
            "",
        ]
        self.stdout.write("\n".join(lines))
