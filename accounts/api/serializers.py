"""Organisation and API key shapes."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from accounts.models import ApiKey, Organization, Role, Scope
from core.api.serializers import StrictSerializer


class OrganizationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organization
        fields = [
            "id",
            "short_name",
            "name",
            "kind",
            "country",
            "jurisdictions",
            "sharing_communities",
            "website",
            "created_at",
            "modified_at",
        ]
        read_only_fields = fields


class ApiKeySerializer(serializers.ModelSerializer):
    organization: serializers.SlugRelatedField[Organization] = serializers.SlugRelatedField(
        slug_field="short_name", read_only=True
    )
    created_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )
    is_active = serializers.SerializerMethodField()

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "prefix",
            "name",
            "organization",
            "role",
            "scopes",
            "created_at",
            "created_by",
            "expires_at",
            "revoked_at",
            "revocation_reason",
            "last_used_at",
            "is_active",
            "modified_at",
        ]
        read_only_fields = fields

    def get_is_active(self, obj: ApiKey) -> bool:
        from accounts.selectors import api_key_is_usable

        return api_key_is_usable(obj)


class ApiKeyCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100, help_text="The service account, e.g. 'ci-pipeline'.")
    role = serializers.ChoiceField(
        choices=[Role.LAB_SUBMITTER, Role.LAB_ADMIN, Role.REVIEWER, Role.REGULATOR]
    )
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=Scope.choices), max_length=10, allow_empty=False
    )
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.CharField(help_text="`<prefix>.<secret>`: shown once, never again.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]
        read_only_fields = fields


class ApiKeyRevokeSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True)
