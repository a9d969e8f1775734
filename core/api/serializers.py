"""Serializer plumbing shared by every app: unknown fields are an error, never silently dropped."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from core.merkle import leaf_hash
from core.sealing import checkpoint_note


class StrictSerializer(serializers.Serializer):
    # Rejects any field it does not declare (including read-only ones such as status, owner_org,
    # created_at): a client that believes it set something must learn that it did not. (A comment, not a
    # docstring: drf-spectacular would copy a docstring into every subclass's schema description.)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(set(data) - writable)
            if unknown:
                raise serializers.ValidationError(
                    {
                        name[:100]: [
                            serializers.ErrorDetail("Unknown or read-only field.", code="unknown_field")
                        ]
                        for name in unknown[:20]
                    }
                )
            self._refuse_long_lists(data)
        return super().to_internal_value(data)

    def _refuse_long_lists(self, data: dict[str, Any]) -> None:
        # DRF validates every element of a list before its max_length: 10,000 elements against a limit of
        # 60 cost a second of CPU. Count first.
        for name, field in self.fields.items():
            value = data.get(name)
            limit = getattr(field, "max_length", None)
            if not isinstance(field, serializers.ListField) or not isinstance(value, list):
                continue
            if limit is not None and len(value) > limit:
                message = f"Ensure this field has no more than {limit} elements."
                raise serializers.ValidationError(
                    {name: [serializers.ErrorDetail(message, code="max_length")]}
                )


class ExternalReferenceSerializer(StrictSerializer):
    source_name = serializers.CharField(max_length=100)
    external_id = serializers.CharField(max_length=200, required=False, allow_blank=True)
    url = serializers.URLField(max_length=500, required=False, allow_blank=True)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)


class AliasSerializer(StrictSerializer):
    database = serializers.ChoiceField(choices=["aiid", "oecd_aim", "avid", "atlas", "other"])
    id = serializers.CharField(max_length=200)
    url = serializers.URLField(max_length=500, required=False, allow_blank=True)


class TLPField(serializers.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        from core.enums import TLP

        kwargs.setdefault("help_text", "TLP 2.0 marking: who may see the record (default amber).")
        super().__init__(choices=TLP.choices, **kwargs)


class AuditCheckpointSerializer(serializers.Serializer):
    tree_size = serializers.IntegerField(help_text="Number of sealed events (sequences 0..tree_size-1).")
    root_hash = serializers.CharField(help_text="Hex RFC 9162 Merkle tree hash over those events.")
    signed_at = serializers.DateTimeField()
    key_id = serializers.CharField(help_text="Hex of the first 8 bytes of SHA-256 of the raw public key.")
    signature = serializers.CharField(help_text="Base64 Ed25519 signature over `note`.")
    note = serializers.SerializerMethodField(help_text="The exact signed text (UTF-8).")

    def get_note(self, checkpoint: Any) -> str:
        return checkpoint_note(checkpoint.tree_size, checkpoint.root_hash, checkpoint.signed_at).decode()


class AuditPublicKeySerializer(serializers.Serializer):
    algorithm = serializers.CharField()
    key_id = serializers.CharField()
    public_key = serializers.CharField(help_text="Base64 raw 32-byte Ed25519 public key.")
    checkpoint_origin = serializers.CharField(help_text="First line of every signed checkpoint note.")


class AuditInclusionProofSerializer(serializers.Serializer):
    event_id = serializers.IntegerField(source="event.id")
    leaf_index = serializers.IntegerField(help_text="The event's sequence number.")
    leaf = serializers.SerializerMethodField(help_text="Canonical JSON of the event; leaf hash input.")
    leaf_hash = serializers.SerializerMethodField(help_text="Hex SHA-256(0x00 || leaf).")
    audit_path = serializers.SerializerMethodField(help_text="Hex node hashes, RFC 9162 PATH order.")
    checkpoint = AuditCheckpointSerializer()

    def get_leaf(self, proof: Any) -> str:
        return str(proof.leaf.decode())

    def get_leaf_hash(self, proof: Any) -> str:
        return leaf_hash(proof.leaf).hex()

    def get_audit_path(self, proof: Any) -> list[str]:
        return [node.hex() for node in proof.audit_path]


class AuditConsistencyProofSerializer(serializers.Serializer):
    first = AuditCheckpointSerializer(help_text="The earlier checkpoint (the one you kept).")
    second = AuditCheckpointSerializer(help_text="The later checkpoint it is a prefix of.")
    proof = serializers.SerializerMethodField(help_text="Hex node hashes, RFC 9162 2.1.4 PROOF(m, D[n]).")

    def get_proof(self, proof: Any) -> list[str]:
        return [node.hex() for node in proof.proof]
