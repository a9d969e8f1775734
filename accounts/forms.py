"""Forms of the organisation pages: they parse input shape only; accounts.services decides the rules."""

from __future__ import annotations

from typing import Any

from django import forms

from accounts.models import KIND_ROLES, Organization, Role, Scope


class ApiKeyCreateForm(forms.Form):
    """Name, role, scopes and expiry of a new service-account key (accounts.services.api_key_create)."""

    name = forms.CharField(
        max_length=100, help_text="The service account that will hold the key, e.g. ci-pipeline."
    )
    role = forms.ChoiceField(help_text="What the key acts as; its scopes must fit the role.")
    scopes = forms.MultipleChoiceField(
        choices=Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="What the key may change. Reading needs no scope.",
    )
    expires_at = forms.DateTimeField(
        required=False,
        label="Expires at (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Leave empty for a key that does not expire (revoke it when it is no longer used).",
    )

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        roles = KIND_ROLES[organization.kind]
        role_field = self.fields["role"]
        assert isinstance(role_field, forms.ChoiceField)
        role_field.choices = [(value, label) for value, label in Role.choices if value in roles]


class ApiKeyRevokeForm(forms.Form):
    reason = forms.CharField(
        max_length=500, required=False, help_text="Kept in the audit log, e.g. leaked in a CI log."
    )
