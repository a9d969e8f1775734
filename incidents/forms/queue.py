"""Forms of the incident list and the triage queue: input shape only (the workflow service decides)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

# One bulk action touches at most one page of the queue (the pagination's largest page).
BULK_MAX = 200
_REF_MAX_LENGTH = 64


class RefListField(forms.Field):
    """Several report references (public ids or UUIDs) from repeated fields of one name, in order, once
    each. Shape only: whether each names a visible report is the selector's call, per report."""

    widget = forms.MultipleHiddenInput
    default_error_messages = {
        "required": "Select at least one report.",
        "invalid": "Not a report reference.",
        "too_many": f"Select at most {BULK_MAX} reports at once.",
    }

    def to_python(self, value: Any) -> list[str]:
        if not value:
            return []
        if not isinstance(value, list | tuple):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        refs: list[str] = []
        for item in value:
            ref = str(item).strip()
            if not ref or len(ref) > _REF_MAX_LENGTH or not ref.isprintable():
                raise ValidationError(self.error_messages["invalid"], code="invalid")
            if ref not in refs:
                refs.append(ref)
        return refs

    def validate(self, value: Any) -> None:
        super().validate(value)
        if len(value) > BULK_MAX:
            raise ValidationError(self.error_messages["too_many"], code="too_many")


class ListControlsForm(forms.Form):
    """The sort order of a list page (the filters are the IncidentFilter's own form)."""

    ordering = forms.ChoiceField(label="Sort by", required=False)

    def __init__(self, *args: Any, orderings: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["ordering"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = orderings


class ClaimForm(forms.Form):
    """Claim one report; `next` brings the reviewer back to the same filtered queue."""

    next = forms.CharField(required=False, max_length=2000, widget=forms.HiddenInput)


class BulkAssignForm(forms.Form):
    """Assign the selected reports to one reviewer of the actor's organisation."""

    incident = RefListField(label="Reports")
    assignee = forms.ChoiceField(label="Assign to")
    next = forms.CharField(required=False, max_length=2000, widget=forms.HiddenInput)

    def __init__(self, *args: Any, reviewers: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["assignee"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "Choose a reviewer")] + [(name, name) for name in reviewers]
