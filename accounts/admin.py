"""Organisations and memberships are managed by platform admins; API keys are revoked through the service."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.authentication import principal_for_membership
from accounts.models import ApiKey, Membership, Organization
from accounts.selectors import membership_for_user
from accounts.services import api_key_revoke
from core.admin import ReadOnlyAdmin


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("short_name", "name", "kind", "country")
    list_filter = ("kind",)
    search_fields = ("short_name", "name")


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "organization", "role")
    list_filter = ("role",)


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdmin):
    list_display = ("prefix", "organization", "name", "role", "expires_at", "revoked_at", "last_used_at")
    list_filter = ("role", "organization")
    exclude = ("secret_hash",)
    actions = ["revoke"]

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        membership = membership_for_user(user_id=request.user.pk) if request.user.pk is not None else None
        if membership is None:
            self.message_user(request, "You belong to no organisation.", messages.ERROR)
            return
        actor = principal_for_membership(membership)
        for key in queryset:
            api_key_revoke(actor=actor, key=key, reason="revoked in the admin")
        self.message_user(request, f"Revoked {queryset.count()} key(s).")
