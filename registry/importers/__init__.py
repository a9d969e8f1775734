"""Pure parsers for uploaded evaluation results (Inspect logs, Hugging Face model-index).

No Django, no database and no ``inspect_ai`` import: bytes in, :class:`ParsedEvaluation` out, or an
:class:`ImportFormatError` whose ``code`` is one of :data:`ERROR_CODES`.
"""

from .base import ERROR_CODES, ImportFormatError, ParsedEvaluation
from .huggingface import parse_model_index
from .inspect_log import parse_inspect_log

__all__ = ["ERROR_CODES", "ImportFormatError", "ParsedEvaluation", "parse_inspect_log", "parse_model_index"]
