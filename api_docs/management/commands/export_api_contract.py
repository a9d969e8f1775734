"""Write (or, with --check, verify) api_docs/openapi.yaml and the published JSON Schemas."""

from __future__ import annotations

import difflib
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from api_docs import contract


class Command(BaseCommand):
    help = "Regenerate the committed OpenAPI file and JSON Schemas; --check fails on drift."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--check", action="store_true", help="Fail if the committed files are stale.")

    def handle(self, *args: Any, **options: Any) -> None:
        openapi = contract.generate_openapi()
        outputs = {contract.OPENAPI_FILE: contract.openapi_yaml(openapi)}
        for name in contract.PUBLISHED_SCHEMAS:
            outputs[contract.published_schema_path(name)] = contract.json_schema_text(
                contract.json_schema_for(openapi, name)
            )
        stale = []
        for path, text in outputs.items():
            current = path.read_text() if path.exists() else ""
            if current == text:
                continue
            if options["check"]:
                diff = "".join(
                    list(
                        difflib.unified_diff(
                            current.splitlines(True), text.splitlines(True), str(path), "generated"
                        )
                    )[:60]
                )
                self.stderr.write(diff)
                stale.append(str(path.relative_to(contract.API_DOCS_DIR.parent)))
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
                self.stdout.write(f"wrote {path.relative_to(contract.API_DOCS_DIR.parent)}")
        if stale:
            raise CommandError(
                f"API contract drift in {', '.join(stale)}: run `make contract` and commit the result."
            )
        if options["check"]:
            self.stdout.write("API contract up to date.")
