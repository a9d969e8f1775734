"""How shareable records are addressed: by permanent public id (`FM-2025-0007`) or by UUID."""

from __future__ import annotations

import re
from uuid import UUID

from django.db.models import Q

_UUID_RE = re.compile(r"^[0-9a-fA-F-]{32,36}$")


def ref_uuid(ref: str) -> UUID | None:
    """The UUID a reference names, or None when it names a public id."""
    if _UUID_RE.match(ref):
        try:
            return UUID(ref)
        except ValueError:
            pass
    return None


def ref_q(ref: str) -> Q:
    """A filter matching the record a URL segment names (public id or UUID)."""
    uuid = ref_uuid(ref)
    return Q(pk=uuid) if uuid is not None else Q(public_id=ref)
