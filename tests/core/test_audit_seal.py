"""The audit log is sealed into an RFC 9162 Merkle tree with Ed25519-signed checkpoints, and
`audit_verify` names every kind of tampering done with direct SQL: UPDATE, DELETE, forged INSERT and a
rewritten range; an untouched log passes."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.utils import Error as DatabaseError
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Organization, Role
from core import merkle
from core.models import AuditCheckpoint, AuditEvent
from core.sealing import audit_seal, audit_verify, checkpoint_note, event_leaf, event_leaf_hash
from core.signing import key_id_of, public_key_from_b64
from core.tasks import seal_audit_log

pytestmark = pytest.mark.django_db


def _event(n: int, *, org_id: uuid.UUID | None = None) -> AuditEvent:
    return AuditEvent.objects.create(
        event_code="api_key.created",
        actor_kind="user",
        actor_label=f"user {n}",
        actor_user_id=n,
        actor_org_id=org_id or uuid.uuid4(),
        actor_role="lab_admin",
        target_type="accounts.apikey",
        target_id=str(uuid.uuid4()),
        before=None,
        after={"name": f"key {n}", "scopes": ["read", "write"], "note": "ünïcode", "weight": 0.5},
        request_id=f"req-{n}",
    )


@pytest.fixture
def sealed_log() -> list[AuditEvent]:
    """Six events sealed into one checkpoint, then four more into a second."""
    for n in range(6):
        _event(n)
    audit_seal()
    for n in range(6, 10):
        _event(n)
    audit_seal()
    return list(AuditEvent.objects.order_by("sequence"))


def _sql(statement: str, params: list[object] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def _without_triggers() -> None:
    """What an attacker with database access does; rolled back with the test's transaction."""
    _sql("ALTER TABLE core_auditevent DISABLE TRIGGER core_auditevent_append_only_trg")
    _sql("ALTER TABLE core_auditcheckpoint DISABLE TRIGGER core_auditcheckpoint_append_only_trg")


def _verify_fails() -> str:
    with pytest.raises(CommandError) as excinfo:
        call_command("audit_verify", stdout=_Sink(), stderr=(err := _Sink()))
    assert excinfo.value.returncode == 1
    return err.text


class _Sink:
    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text + "\n"

    def flush(self) -> None:
        pass


def _refused(change: Callable[[], object]) -> bool:
    try:
        with transaction.atomic():
            change()
    except DatabaseError as exc:
        assert "append-only" in str(exc)
        return True
    return False


def test_sealing_numbers_events_without_gaps_in_id_order_and_signs_a_checkpoint():
    events = [_event(n) for n in range(5)]

    checkpoint = audit_seal()

    assert checkpoint is not None and checkpoint.tree_size == 5
    assert [e.sequence for e in AuditEvent.objects.order_by("id")] == [0, 1, 2, 3, 4]
    hashes = [event_leaf_hash(AuditEvent.objects.get(pk=e.pk)) for e in events]
    assert checkpoint.root_hash == merkle.root_from_leaf_hashes(hashes).hex()


def test_sealing_with_nothing_new_writes_no_checkpoint(sealed_log):
    assert audit_seal() is None
    assert list(AuditCheckpoint.objects.values_list("tree_size", flat=True).order_by("tree_size")) == [6, 10]


def test_a_later_checkpoint_extends_the_earlier_one_consistently(sealed_log):
    first, second = AuditCheckpoint.objects.order_by("tree_size")
    hashes = [bytes.fromhex(e.leaf_hash) for e in sealed_log]

    proof = merkle.consistency_proof(hashes, first.tree_size)

    assert merkle.verify_consistency(
        6, 10, bytes.fromhex(first.root_hash), bytes.fromhex(second.root_hash), proof
    )


def test_the_leaf_is_canonical_json_of_the_immutable_fields(sealed_log):
    leaf = event_leaf(sealed_log[0])

    assert leaf.startswith(b'{"actor_api_key_id":null,"actor_kind":"user",')
    assert b'"sequence":0' in leaf and "ünïcode".encode() in leaf
    assert b", " not in leaf and b'": ' not in leaf


def test_the_periodic_task_and_the_command_seal(capsys):
    _event(1)
    assert seal_audit_log.delay().get() == 1
    _event(2)
    call_command("audit_seal")
    call_command("audit_seal")

    out = capsys.readouterr().out
    assert "Sealed checkpoint: size 2" in out and "Nothing new to seal." in out


def test_the_trigger_allows_setting_a_null_sequence_once_and_nothing_else():
    event = _event(1)
    rows = AuditEvent.objects.filter(pk=event.pk)

    assert _refused(lambda: rows.update(sequence=0, leaf_hash="ab", event_code="api_key.forged"))
    assert _refused(lambda: rows.update(event_code="api_key.forged"))
    assert not _refused(lambda: rows.update(sequence=0, leaf_hash="ab"))
    assert _refused(lambda: rows.update(sequence=7))
    assert _refused(lambda: rows.update(leaf_hash="cd"))
    assert _refused(rows.delete)
    assert rows.get().sequence == 0


def test_a_checkpoint_cannot_be_changed_or_deleted(sealed_log):
    checkpoints = AuditCheckpoint.objects.filter(tree_size=6)

    assert _refused(lambda: checkpoints.update(root_hash="00" * 32))
    assert _refused(checkpoints.delete)


def test_an_untouched_log_passes_verification(sealed_log):
    out = _Sink()
    _event(99)  # not yet sealed: fine

    call_command("audit_verify", stdout=out)

    assert "Audit log intact: 10 sealed events, 2 checkpoints, 1 events awaiting sealing." in out.text
    assert audit_verify().ok


def test_verify_detects_an_updated_event(sealed_log):
    _without_triggers()
    _sql('UPDATE core_auditevent SET after = \'{"name": "forged"}\' WHERE sequence = 7')

    report = _verify_fails()

    assert "UPDATE: sealed events changed at sequence 7." in report
    assert "the events no longer hash to the root of size 10; the change lies in sequence 6-9" in report


def test_verify_detects_a_deleted_event(sealed_log):
    _without_triggers()
    _sql("DELETE FROM core_auditevent WHERE sequence IN (3, 4)")

    report = _verify_fails()

    assert "DELETE: sequence 3-4 missing." in report
    assert "root of size 6 cannot be recomputed: sequence 3-4 missing or duplicated" in report


def _forge(sequence: int) -> None:
    forged = _event(500)
    _sql("UPDATE core_auditevent SET sequence = %s, leaf_hash = %s WHERE id = %s", [sequence, "", forged.pk])
    forged.refresh_from_db()
    _sql(
        "UPDATE core_auditevent SET leaf_hash = %s WHERE id = %s", [event_leaf_hash(forged).hex(), forged.pk]
    )


def test_verify_detects_an_event_inserted_after_the_latest_checkpoint(sealed_log):
    _without_triggers()
    _forge(10)

    report = _verify_fails()

    assert "INSERT: sequence 10 is beyond the latest signed checkpoint (size 10)" in report


def test_verify_detects_a_duplicated_sequence(sealed_log):
    _without_triggers()
    _sql("ALTER TABLE core_auditevent DROP CONSTRAINT core_auditevent_sequence_key")
    _forge(2)

    report = _verify_fails()

    assert "INSERT: sequence 2 appears more than once." in report
    assert "root of size 6 cannot be recomputed: sequence 2 missing or duplicated" in report


def test_verify_detects_an_event_inserted_into_a_sealed_range(sealed_log):
    _without_triggers()
    _sql("UPDATE core_auditevent SET sequence = sequence + 1000 WHERE sequence >= 4")
    _sql("UPDATE core_auditevent SET sequence = sequence - 999 WHERE sequence >= 1000")
    _forge(4)

    report = _verify_fails()

    assert "the events no longer hash to the root of size 6; the change lies in sequence 0-5" in report
    assert "INSERT: sequence 10 is beyond the latest signed checkpoint (size 10)" in report


def _rewrite_range(sign: Callable[[bytes], bytes] | None, key_id: str | None = None) -> None:
    """Change event 8, recompute its leaf and the checkpoint of size 10, and store that checkpoint."""
    _without_triggers()
    _sql("UPDATE core_auditevent SET actor_label = 'someone else' WHERE sequence = 8")
    events = list(AuditEvent.objects.order_by("sequence"))
    hashes = [event_leaf_hash(e) for e in events]
    _sql("UPDATE core_auditevent SET leaf_hash = %s WHERE sequence = 8", [hashes[8].hex()])
    root = merkle.root_from_leaf_hashes(hashes).hex()
    checkpoint = AuditCheckpoint.objects.get(tree_size=10)
    note = checkpoint_note(10, root, checkpoint.signed_at)
    signature = base64.b64encode(sign(note)).decode() if sign else checkpoint.signature
    _sql(
        "UPDATE core_auditcheckpoint SET root_hash = %s, signature = %s, key_id = %s WHERE tree_size = 10",
        [root, signature, key_id or checkpoint.key_id],
    )


def test_verify_detects_a_rewritten_range_whose_checkpoint_keeps_the_old_signature(sealed_log):
    _rewrite_range(sign=None)

    report = _verify_fails()

    assert "REWRITTEN: checkpoint of size 10 does not carry a valid signature" in report
    assert "UPDATE" not in report  # the leaf hash column was rewritten too; the signature still catches it


def test_verify_detects_a_rewritten_range_signed_with_another_key(sealed_log):
    forger = Ed25519PrivateKey.generate()
    _rewrite_range(sign=forger.sign, key_id=key_id_of(forger))

    report = _verify_fails()

    assert "REWRITTEN: checkpoint of size 10 does not carry a valid signature" in report


def test_verify_detects_a_rewritten_range_claiming_our_key_id(sealed_log):
    forger = Ed25519PrivateKey.generate()
    _rewrite_range(sign=forger.sign)

    assert "REWRITTEN: checkpoint of size 10" in _verify_fails()


def test_the_sealer_refuses_to_extend_a_tampered_log(sealed_log):
    _without_triggers()
    _sql("UPDATE core_auditevent SET leaf_hash = %s WHERE sequence = 1", ["00" * 32])
    _event(11)

    with pytest.raises(CommandError, match="no longer match their checkpoint"):
        call_command("audit_seal")


def test_verify_with_a_regulators_copy_of_another_public_key_fails(sealed_log):
    other = base64.b64encode(Ed25519PrivateKey.generate().public_key().public_bytes_raw()).decode()

    with pytest.raises(CommandError):
        call_command("audit_verify", public_key=other, stdout=_Sink(), stderr=_Sink())


# --- the API ---------------------------------------------------------------------------------------------

CHECKPOINTS = "/api/v1/audit/checkpoints/"


@pytest.fixture
def regulator(regulator_org: Organization, make_key_client: Callable[..., APIClient]) -> APIClient:
    return make_key_client(regulator_org, role=Role.REGULATOR)


def test_anyone_can_fetch_the_public_key_and_it_verifies_the_checkpoints(sealed_log, anon):
    response = anon.get("/api/v1/audit/public-key")
    assert response.status_code == 200, response.content
    body = response.json()
    public_key = public_key_from_b64(body["public_key"])

    assert body["algorithm"] == "Ed25519" and body["key_id"] == key_id_of(public_key)
    for checkpoint in AuditCheckpoint.objects.all():
        note = checkpoint_note(checkpoint.tree_size, checkpoint.root_hash, checkpoint.signed_at)
        public_key.verify(base64.b64decode(checkpoint.signature), note)  # raises if invalid
    assert audit_verify(public_key=public_key).ok


def test_a_regulator_lists_checkpoints_newest_first_and_fetches_one(sealed_log, regulator):
    response = regulator.get(CHECKPOINTS)
    assert response.status_code == 200, response.content
    assert [c["tree_size"] for c in response.json()["results"]] == [10, 6]

    one = regulator.get(f"{CHECKPOINTS}6")
    assert one.status_code == 200
    assert one.json()["note"].startswith("redline-audit-checkpoint/v1\n6\n")
    assert regulator.get(f"{CHECKPOINTS}7").status_code == 404


def test_labs_and_anonymous_callers_cannot_read_checkpoints(sealed_log, client_a, anon):
    assert client_a.get(CHECKPOINTS).status_code == 403
    assert anon.get(CHECKPOINTS).status_code == 401
    assert client_a.get("/api/v1/audit/consistency", {"first": 6}).status_code == 403
    assert anon.get("/api/v1/audit/consistency", {"first": 6}).status_code == 401


def test_a_consistency_proof_shows_a_kept_checkpoint_was_only_appended_to(sealed_log, regulator):
    for extra in range(10, 13):
        _event(extra)
    latest = audit_seal()
    assert latest is not None and latest.tree_size > 10  # the regulator's key event is sealed too
    size = latest.tree_size

    for query, sizes in (
        ({"first": 6}, (6, size)),
        ({"first": 6, "second": 10}, (6, 10)),
        ({"first": 10}, (10, size)),
        ({"first": size}, (size, size)),
    ):
        response = regulator.get("/api/v1/audit/consistency", query)
        assert response.status_code == 200, response.content
        body = response.json()
        old, new = body["first"], body["second"]
        assert (old["tree_size"], new["tree_size"]) == sizes
        proof = [bytes.fromhex(node) for node in body["proof"]]
        assert merkle.verify_consistency(
            *sizes, bytes.fromhex(old["root_hash"]), bytes.fromhex(new["root_hash"]), proof
        )
        # The same proof does not vouch for another root (what a rewritten log would present).
        assert not merkle.verify_consistency(*sizes, bytes(32), bytes.fromhex(new["root_hash"]), proof)


def test_a_consistency_proof_needs_two_existing_checkpoints_in_order(sealed_log, regulator):
    url = "/api/v1/audit/consistency"
    assert regulator.get(url).status_code == 400
    assert regulator.get(url, {"first": "six"}).json()["code"] == "invalid_tree_size"
    assert regulator.get(url, {"first": 10, "second": 6}).status_code == 400
    assert regulator.get(url, {"first": 7}).status_code == 404
    assert regulator.get(url, {"first": 6, "second": 11}).status_code == 404


def test_an_inclusion_proof_verifies_against_the_signed_root(regulator_org, regulator):
    mine = [_event(n, org_id=regulator_org.id) for n in range(3)]
    for n in range(4):
        _event(10 + n)
    first = audit_seal()
    _event(20, org_id=regulator_org.id)
    second = audit_seal()
    assert first is not None and second is not None
    mine[1].refresh_from_db()
    index = mine[1].sequence

    for tree_size in (first.tree_size, second.tree_size):
        response = regulator.get(f"/api/v1/audit/{mine[1].pk}/proof", {"tree_size": tree_size})
        assert response.status_code == 200, response.content
        body = response.json()
        leaf = merkle.leaf_hash(body["leaf"].encode())
        assert leaf.hex() == body["leaf_hash"] and body["leaf_index"] == index
        path = [bytes.fromhex(node) for node in body["audit_path"]]
        root = bytes.fromhex(body["checkpoint"]["root_hash"])
        assert merkle.verify_inclusion(leaf, index, tree_size, path, root)
    latest = regulator.get(f"/api/v1/audit/{mine[1].pk}/proof")
    assert latest.json()["checkpoint"]["tree_size"] == second.tree_size


def test_no_proof_for_an_event_the_caller_cannot_read_or_not_yet_sealed(regulator_org, regulator):
    foreign = _event(1)
    audit_seal()
    pending = _event(2, org_id=regulator_org.id)

    assert regulator.get(f"/api/v1/audit/{foreign.pk}/proof").status_code == 404
    assert regulator.get(f"/api/v1/audit/{pending.pk}/proof").status_code == 409
    assert regulator.get(f"/api/v1/audit/{pending.pk}/proof", {"tree_size": "x"}).status_code == 400


def test_a_checkpoint_signed_at_is_recent(sealed_log):
    latest = AuditCheckpoint.objects.order_by("-tree_size").first()
    assert latest is not None and (timezone.now() - latest.signed_at).total_seconds() < 60
