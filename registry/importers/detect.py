"""Choose the importer from the bytes (never from the file name)."""

from __future__ import annotations

from registry.importers.base import ImportFormatError, ParsedEvaluation
from registry.importers.huggingface import parse_model_index
from registry.importers.inspect_log import parse_inspect_log


def _looks_like_inspect(raw: bytes) -> bool:
    """A zip archive (.eval), or text that opens a JSON object (an Inspect .json log)."""
    return raw[:4] == b"PK\x03\x04" or (raw[:4096].lstrip().startswith(b"{") and not _looks_binary(raw))


def _looks_binary(raw: bytes) -> bool:
    """Bytes no text format could hold: a NUL, or not UTF-8 (an image, an archive of another kind...)."""
    head = raw[:8192]
    if b"\x00" in head:
        return True
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the 8 KiB window is still text.
        return len(raw) == len(head) or exc.start < len(head) - 3
    return False


def parse_upload(
    raw: bytes, *, filename: str | None, kind: str = "auto", scorer: str | None = None, max_uncompressed: int
) -> list[ParsedEvaluation]:
    """Parse an uploaded evaluation file into one or more results, or raise ImportFormatError."""
    if not raw:
        raise ImportFormatError("empty_file", "The uploaded file is empty.")
    if kind == "inspect" or (kind == "auto" and _looks_like_inspect(raw)):
        return [parse_inspect_log(raw, filename, scorer=scorer, max_uncompressed=max_uncompressed)]
    if kind == "auto" and _looks_binary(raw):
        label = f"'{filename}'" if filename else "The file"
        raise ImportFormatError(
            "unrecognized_format",
            f"{label} is binary data: neither an Inspect log (.eval archive or JSON) nor a Hugging Face "
            "model-index (YAML or model card).",
        )
    if kind in ("huggingface", "auto"):
        return parse_model_index(raw)
    raise ImportFormatError("unknown_format", f"Unknown import format {kind!r}.")
