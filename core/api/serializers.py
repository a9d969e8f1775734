"""Serializer plumbing shared by every app: unknown fields are an error, never silently dropped."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


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
        return super().to_internal_value(data)


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
