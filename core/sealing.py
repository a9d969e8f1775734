"""Sealing the audit log into an RFC 9162 Merkle tree with signed checkpoints, and verifying it.

Why sequence numbers are assigned at sealing, not at insert: a Merkle log needs positions 0..n-1 with no
gap. Numbering at insert would need a counter row locked FOR UPDATE until each writer commits, which
serialises every state change in the system behind one row (and a slow transaction stalls them all).
Instead writers insert with `sequence` NULL and the sealer, alone under a transaction-scoped advisory
lock, takes the committed unsealed events in id order and numbers them right after the highest sealed
sequence, in the same transaction that signs the checkpoint covering them. A writer that commits later
is simply sealed next time. The append-only trigger allows exactly that one UPDATE (NULL sequence ->
value, with its leaf hash) and refuses every other change and every DELETE.

The leaf of an event is the canonical JSON of its immutable fields (`event_leaf`): keys sorted, no
whitespace, UTF-8, timestamps as UTC `YYYY-MM-DDTHH:MM:SS.ffffffZ`, UUIDs as strings.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from core import merkle
from core.errors import Conflict, NotFound, ValidationFailed
from core.models import AuditCheckpoint, AuditEvent
from core.signing import audit_signing_key, key_id_of

CHECKPOINT_ORIGIN = "redline-audit-checkpoint/v1"
# pg_advisory_xact_lock key of the sealer: "RDLNSEAL" read as a big-endian signed 64-bit integer.
SEAL_LOCK_KEY = int.from_bytes(b"RDLNSEAL", "big", signed=True)
LEAF_FIELDS = (
    "sequence",
    "occurred_at",
    "event_code",
    "actor_kind",
    "actor_label",
    "actor_user_id",
    "actor_api_key_id",
    "actor_org_id",
    "actor_role",
    "target_type",
    "target_id",
    "target_public_id",
    "before",
    "after",
    "request_id",
)


def _timestamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_leaf(event: AuditEvent) -> bytes:
    """The canonical bytes of one sealed event (the input of the RFC 9162 leaf hash)."""
    values: dict[str, Any] = {}
    for name in LEAF_FIELDS:
        value = getattr(event, name)
        if isinstance(value, datetime):
            value = _timestamp(value)
        elif value is not None and name in ("actor_api_key_id", "actor_org_id"):
            value = str(value)
        values[name] = value
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def event_leaf_hash(event: AuditEvent) -> bytes:
    return merkle.leaf_hash(event_leaf(event))


def checkpoint_note(tree_size: int, root_hash: str, signed_at: datetime) -> bytes:
    """The signed text of a checkpoint: origin, size, hex root and UTC time, one per line."""
    return f"{CHECKPOINT_ORIGIN}\n{tree_size}\n{root_hash}\n{_timestamp(signed_at)}\n".encode()


def checkpoint_signature_valid(checkpoint: AuditCheckpoint, public_key: Ed25519PublicKey) -> bool:
    """Does the checkpoint's signature verify under `public_key` (a regulator's copy, or ours)?"""
    try:
        signature = base64.b64decode(checkpoint.signature, validate=True)
        note = checkpoint_note(checkpoint.tree_size, checkpoint.root_hash, checkpoint.signed_at)
        public_key.verify(signature, note)
    except (InvalidSignature, ValueError):
        return False
    return True


def _sealed_leaf_hashes(tree_size: int) -> list[bytes]:
    rows = AuditEvent.objects.filter(sequence__lt=tree_size).order_by("sequence").values_list("leaf_hash")
    return [bytes.fromhex(leaf) for (leaf,) in rows.iterator(chunk_size=5000)]


def audit_seal() -> AuditCheckpoint | None:
    """Number the committed unsealed audit events and sign a checkpoint over the whole log.

    Returns the new checkpoint, or None when nothing is new. Refuses (Conflict) to extend a log whose
    sealed prefix no longer hashes to the latest checkpoint, so a tampered log is never re-signed."""
    key = audit_signing_key()
    with transaction.atomic(durable=True):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SEAL_LOCK_KEY])
        highest = AuditEvent.objects.aggregate(highest=Max("sequence"))["highest"]
        next_sequence = 0 if highest is None else highest + 1
        pending = list(AuditEvent.objects.filter(sequence__isnull=True).order_by("id").select_for_update())
        for event in pending:
            event.sequence = next_sequence
            event.leaf_hash = event_leaf_hash(event).hex()
            next_sequence += 1
        AuditEvent.objects.bulk_update(pending, ["sequence", "leaf_hash"], batch_size=1000)
        tree_size = next_sequence
        latest = AuditCheckpoint.objects.order_by("-tree_size").first()
        if tree_size == 0 or (latest is not None and latest.tree_size >= tree_size):
            return None
        hashes = _sealed_leaf_hashes(tree_size)
        if len(hashes) != tree_size:
            raise Conflict(
                f"The sealed audit log has {len(hashes)} events for sequences 0..{tree_size - 1}; "
                "run audit_verify.",
                code="audit_log_inconsistent",
            )
        if latest is not None and merkle.root_from_leaf_hashes(hashes[: latest.tree_size]).hex() != (
            latest.root_hash
        ):
            raise Conflict(
                f"The first {latest.tree_size} audit events no longer match their checkpoint; "
                "run audit_verify.",
                code="audit_log_inconsistent",
            )
        root = merkle.root_from_leaf_hashes(hashes).hex()
        signed_at = timezone.now()
        signature = key.sign(checkpoint_note(tree_size, root, signed_at))
        return AuditCheckpoint.objects.create(
            tree_size=tree_size,
            root_hash=root,
            signed_at=signed_at,
            signature=base64.b64encode(signature).decode(),
            key_id=key_id_of(key),
        )


@dataclass(frozen=True)
class InclusionProof:
    """An RFC 9162 inclusion proof of one event in a signed checkpoint."""

    event: AuditEvent
    leaf: bytes
    leaf_index: int
    audit_path: list[bytes]
    checkpoint: AuditCheckpoint


def audit_checkpoint_get(*, tree_size: int | None = None) -> AuditCheckpoint:
    """The checkpoint of `tree_size`, or the latest one; NotFound when there is none."""
    checkpoints = AuditCheckpoint.objects.order_by("-tree_size")
    checkpoint = checkpoints.first() if tree_size is None else checkpoints.filter(tree_size=tree_size).first()
    if checkpoint is None:
        raise NotFound("No audit checkpoint of that size.", code="audit_checkpoint_not_found")
    return checkpoint


def audit_inclusion_proof(*, event: AuditEvent, tree_size: int | None = None) -> InclusionProof:
    """Prove `event` (already scoped to the caller by the caller's selector) is in a checkpoint."""
    checkpoint = audit_checkpoint_get(tree_size=tree_size)
    if event.sequence is None or event.sequence >= checkpoint.tree_size:
        raise Conflict(
            f"The event is not sealed into the checkpoint of size {checkpoint.tree_size} yet.",
            code="audit_event_not_sealed",
        )
    hashes = _sealed_leaf_hashes(checkpoint.tree_size)
    return InclusionProof(
        event=event,
        leaf=event_leaf(event),
        leaf_index=event.sequence,
        audit_path=merkle.inclusion_proof(hashes, event.sequence),
        checkpoint=checkpoint,
    )


@dataclass(frozen=True)
class ConsistencyProof:
    """An RFC 9162 consistency proof: the log signed at `first` is a prefix of the log signed at `second`."""

    first: AuditCheckpoint
    second: AuditCheckpoint
    proof: list[bytes]


def audit_consistency_proof(*, first: int, second: int | None = None) -> ConsistencyProof:
    """Prove that the checkpoint of size `first`, which a regulator kept, is extended (not rewritten) by
    the checkpoint of size `second` (default: the latest)."""
    old = audit_checkpoint_get(tree_size=first)
    new = audit_checkpoint_get(tree_size=second)
    if old.tree_size > new.tree_size:
        raise ValidationFailed(
            f"first ({old.tree_size}) must not be larger than second ({new.tree_size}).",
            code="invalid_tree_size",
        )
    hashes = _sealed_leaf_hashes(new.tree_size)
    return ConsistencyProof(first=old, second=new, proof=merkle.consistency_proof(hashes, old.tree_size))


@dataclass
class AuditVerification:
    """What `audit_verify` found: `problems` is empty exactly when the log is intact."""

    events: int = 0
    pending: int = 0
    checkpoints: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _ranges(numbers: Iterable[int]) -> str:
    """`1, 4-6, 9` from a sorted list of integers."""
    parts: list[str] = []
    run: list[int] = []
    for number in numbers:
        if run and number == run[-1] + 1:
            run.append(number)
            continue
        if run:
            parts.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
        run = [number]
    if run:
        parts.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
    return ", ".join(parts)


def audit_verify(*, public_key: Ed25519PublicKey | None = None) -> AuditVerification:
    """Recompute every sealed leaf and every checkpoint root from the events and verify the signatures.

    Reports, naming sequence numbers: a changed event (its leaf differs from the one sealed), a missing
    sequence (deleted), a duplicated sequence or one beyond the latest checkpoint (inserted outside the
    sealer), a checkpoint whose root does not match the events, and a checkpoint whose signature does not
    verify under `public_key` (default: the configured signing key's), i.e. rewritten without the key."""
    key = public_key if public_key is not None else audit_signing_key().public_key()
    result = AuditVerification()
    leaves: dict[int, bytes] = {}
    counts: Counter[int] = Counter()
    changed: list[int] = []
    for event in AuditEvent.objects.filter(sequence__isnull=False).order_by("sequence", "id").iterator(2000):
        assert event.sequence is not None
        result.events += 1
        counts[event.sequence] += 1
        leaf = event_leaf_hash(event)
        leaves[event.sequence] = leaf
        if leaf.hex() != event.leaf_hash:
            changed.append(event.sequence)
    result.pending = AuditEvent.objects.filter(sequence__isnull=True).count()
    highest = max(counts, default=-1)
    missing = [number for number in range(highest + 1) if number not in counts]
    duplicated = sorted(number for number, count in counts.items() if count > 1)
    if changed:
        result.problems.append(f"UPDATE: sealed events changed at sequence {_ranges(changed)}.")
    if missing:
        result.problems.append(f"DELETE: sequence {_ranges(missing)} missing.")
    if duplicated:
        result.problems.append(f"INSERT: sequence {_ranges(duplicated)} appears more than once.")

    checkpoints = list(AuditCheckpoint.objects.order_by("tree_size"))
    result.checkpoints = len(checkpoints)
    expected_key_id = key_id_of(key)
    verified_size = 0
    for checkpoint in checkpoints:
        size = checkpoint.tree_size
        if checkpoint.key_id != expected_key_id or not checkpoint_signature_valid(checkpoint, key):
            result.problems.append(
                f"REWRITTEN: checkpoint of size {size} does not carry a valid signature by key "
                f"{expected_key_id}; it was written without the signing key."
            )
        broken = [number for number in range(size) if counts[number] != 1]
        if broken:
            result.problems.append(
                f"CHECKPOINT: the root of size {size} cannot be recomputed: sequence {_ranges(broken)} "
                "missing or duplicated."
            )
        elif merkle.root_from_leaf_hashes([leaves[n] for n in range(size)]).hex() != checkpoint.root_hash:
            result.problems.append(
                f"CHECKPOINT: the events no longer hash to the root of size {size}; the change lies in "
                f"sequence {verified_size}-{size - 1}."
            )
        else:
            verified_size = size
    latest_size = checkpoints[-1].tree_size if checkpoints else 0
    unsigned = sorted(number for number in counts if number >= latest_size)
    if unsigned:
        result.problems.append(
            f"INSERT: sequence {_ranges(unsigned)} is beyond the latest signed checkpoint "
            f"(size {latest_size}); "
            "only the sealer numbers events, and it signs what it numbers."
        )
    return result
