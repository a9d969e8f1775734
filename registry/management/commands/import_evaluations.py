"""Import Inspect AI logs or Hugging Face model-index files from the command line.

The same write path as `POST /api/v1/evaluations/import`: registry.importers.detect.parse_upload, then
registry.services.evaluation_import, acting as a principal of the organisation. All or nothing: every file
is parsed before anything is written, and all files are imported in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from accounts.authentication import system_principal
from accounts.models import Organization, Role
from core.actors import Principal
from core.enums import TLP, ScenarioType
from core.errors import DomainError
from registry import selectors, services
from registry.importers.base import ImportFormatError, ParsedEvaluation
from registry.importers.detect import parse_upload
from registry.models import CapabilityDomain


@dataclass(frozen=True)
class _Upload:
    path: Path
    raw: bytes
    parsed: list[ParsedEvaluation]


def org_principal(org: Organization) -> Principal:
    """The organisation acting through this command: labs and evaluators as lab_admin, oversight bodies
    as regulator (so the services apply the same rules as to that organisation's API key)."""
    role = Role.REGULATOR if org.is_oversight else Role.LAB_ADMIN
    return system_principal(org, label=f"import_evaluations@{org.short_name}", role=role)


class Command(BaseCommand):
    help = (
        "Import Inspect AI eval logs (.eval, .json) or Hugging Face model-index files as evaluation results "
        "of an organisation, exactly as the import API does. Prints the created public ids."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", type=Path, help="Evaluation files to import.")
        parser.add_argument("--org", required=True, help="Short name of the importing organisation.")
        parser.add_argument("--capability-domain", required=True, choices=CapabilityDomain.values)
        parser.add_argument("--scenario-type", required=True, choices=ScenarioType.values)
        parser.add_argument("--model", help="Public id of the evaluated model (else matched by name).")
        parser.add_argument("--scaffold", help="Public id of the agent scaffold.")
        parser.add_argument("--tlp", choices=TLP.values, help="TLP of the results (default amber).")
        parser.add_argument("--format", default="auto", choices=["auto", "inspect", "huggingface"])
        parser.add_argument("--scorer", help="Inspect scorer to use when the log has several.")

    def handle(self, *args: Any, **options: Any) -> None:
        org = Organization.objects.filter(short_name=options["org"]).first()
        if org is None:
            raise CommandError(f"not_found: no organisation {options['org']!r}.")
        actor = org_principal(org)
        uploads = [self._parse(path, options) for path in options["files"]]
        defaults: dict[str, Any] = {
            "capability_domain": options["capability_domain"],
            "scenario_type": options["scenario_type"],
        }
        if options["tlp"]:
            defaults["tlp"] = options["tlp"]
        try:
            with transaction.atomic():
                model = (
                    selectors.frontier_model_get(actor=actor, ref=options["model"])
                    if options["model"]
                    else None
                )
                scaffold = (
                    selectors.scaffold_get(actor=actor, ref=options["scaffold"])
                    if options["scaffold"]
                    else None
                )
                outcomes = [
                    (
                        upload,
                        services.evaluation_import(
                            actor=actor,
                            parsed=upload.parsed,
                            raw=upload.raw,
                            filename=upload.path.name,
                            defaults=dict(defaults),
                            model=model,
                            scaffold=scaffold,
                            visible_models=selectors.frontier_model_list(actor=actor),
                        ),
                    )
                    for upload in uploads
                ]
        except DomainError as exc:
            raise CommandError(f"{exc.code}: {exc.detail}") from exc
        for upload, outcome in outcomes:
            for created in outcome.created_models:
                self.stdout.write(f"{created.public_id}\tregistered model {created.name!r}")
            for evaluation in outcome.evaluations:
                counts = (
                    f"{evaluation.n_successes}/{evaluation.n_trials}"
                    if evaluation.n_trials is not None
                    else f"{evaluation.metric_name}={evaluation.metric_value}"
                )
                self.stdout.write(
                    f"{evaluation.public_id}\t{upload.path.name}\t{evaluation.model.public_id}\t{counts}"
                )

    @staticmethod
    def _parse(path: Path, options: dict[str, Any]) -> _Upload:
        limit: int = settings.REDLINE_MAX_IMPORT_BYTES
        try:
            size = path.stat().st_size
            if size > limit:
                raise CommandError(f"payload_too_large: {path} is {size} bytes; the limit is {limit}.")
            raw = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"unreadable_file: {path}: {exc.strerror or exc}") from exc
        try:
            parsed = parse_upload(
                raw,
                filename=path.name,
                kind=options["format"],
                scorer=options["scorer"],
                max_uncompressed=settings.REDLINE_MAX_IMPORT_UNCOMPRESSED_BYTES,
            )
        except ImportFormatError as exc:
            raise CommandError(f"{exc.code}: {exc.detail}") from exc
        return _Upload(path=path, raw=raw, parsed=parsed)
