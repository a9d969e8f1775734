"""Forms of the incident page: the workflow actions, comments and the assessment container.

Input shape only, field for field what the API's serializers accept (incidents.api.serializers): the
workflow service decides whether the action is allowed, whether the assignee is eligible and whether the
named report exists. Every form that changes the report carries `version`, the report's ETag when the page
was drawn, which the view checks exactly as the API checks If-Match."""

from __future__ import annotations

from typing import Any

from django import forms

from core.enums import TLP
from incidents.models import CommentVisibility, RejectionReason, Severity, Verdict
from incidents.workflows import Action

REASON_MAX = 5000  # TransitionSerializer / WithdrawSerializer
REF_MAX = 40  # MarkDuplicateSerializer / SupersedeSerializer
USERNAME_MAX = 150  # AssignSerializer


class VersionedForm(forms.Form):
    """A form acting on the report as the page showed it: `version` is its ETag then (If-Match)."""

    version = forms.CharField(required=False, max_length=100, widget=forms.HiddenInput)


class TransitionForm(VersionedForm):
    """An action without input (claim, unclaim, accept, confirm_accept, close)."""


class ReasonForm(VersionedForm):
    """An action with an optional free-text reason (respond)."""

    reason = forms.CharField(
        label="Response", required=False, max_length=REASON_MAX, widget=forms.Textarea(attrs={"rows": 3})
    )


class RequestInformationForm(VersionedForm):
    """Ask the submitter for more: the API takes the message as `reason`."""

    reason = forms.CharField(
        label="Information needed",
        max_length=REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The submitting organisation sees this message.",
    )


class AssignForm(VersionedForm):
    assignee = forms.ChoiceField(label="Assign to")

    def __init__(self, *args: Any, reviewers: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["assignee"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "Choose a reviewer")] + [(name, name) for name in reviewers]


class RejectForm(VersionedForm):
    reason = forms.ChoiceField(
        label="Rejection reason",
        choices=[("", "Choose a reason"), *RejectionReason.choices],
    )


class DuplicateForm(VersionedForm):
    duplicate_of = forms.CharField(
        label="Duplicate of",
        max_length=REF_MAX,
        help_text="The public id of the report this one duplicates, e.g. SRI-2026-000123.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["duplicate_of"].widget.attrs["list"] = "duplicate-candidates-list"
        self.fields["duplicate_of"].widget.attrs["autocomplete"] = "off"


class SupersedeForm(VersionedForm):
    replaced_by = forms.CharField(
        label="Replaced by",
        max_length=REF_MAX,
        help_text="The public id of the report that replaces this one.",
    )


class WithdrawForm(VersionedForm):
    reason = forms.CharField(
        label="Why withdraw this report?", max_length=REASON_MAX, widget=forms.Textarea(attrs={"rows": 3})
    )


# Which form each workflow action takes; the view passes its cleaned fields (minus `version`) to
# services.incident_transition, as the API passes its serializer's validated data.
ACTION_FORMS: dict[Action, type[VersionedForm]] = {
    Action.CLAIM: TransitionForm,
    Action.UNCLAIM: TransitionForm,
    Action.ASSIGN: AssignForm,
    Action.REQUEST_INFORMATION: RequestInformationForm,
    Action.RESPOND: ReasonForm,
    Action.ACCEPT: TransitionForm,
    Action.CONFIRM_ACCEPT: TransitionForm,
    Action.REJECT: RejectForm,
    Action.MARK_DUPLICATE: DuplicateForm,
    Action.SUPERSEDE: SupersedeForm,
    Action.CLOSE: TransitionForm,
    Action.WITHDRAW: WithdrawForm,
}


def action_form(action: Action, *, reviewers: list[str], **kwargs: Any) -> VersionedForm:
    """The (bound or unbound) form of `action`, its field ids prefixed so several fit on one page."""
    form_class = ACTION_FORMS[action]
    kwargs.setdefault("prefix", action.value)
    if form_class is AssignForm:
        return AssignForm(reviewers=reviewers, **kwargs)
    return form_class(**kwargs)


class CommentForm(forms.Form):
    visibility = forms.ChoiceField(label="Who may read it", widget=forms.RadioSelect)
    body = forms.CharField(label="Comment", max_length=20000, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, internal_allowed: bool, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "comment")
        super().__init__(*args, **kwargs)
        field = self.fields["visibility"]
        assert isinstance(field, forms.ChoiceField)
        choices = list(CommentVisibility.choices)
        if not internal_allowed:
            choices = [choice for choice in choices if choice[0] != CommentVisibility.INTERNAL]
        field.choices = choices
        field.initial = CommentVisibility.INTERNAL if internal_allowed else CommentVisibility.SHARED


class AssessmentForm(VersionedForm):
    """The organisation's container, PUT semantics like the API (AssessmentWriteSerializer)."""

    verdict = forms.ChoiceField(label="Verdict", choices=Verdict.choices)
    severity_override = forms.ChoiceField(
        label="Severity override", required=False, choices=[("", "No override"), *Severity.choices]
    )
    notes = forms.CharField(
        label="Notes", required=False, max_length=20000, widget=forms.Textarea(attrs={"rows": 3})
    )
    tlp = forms.ChoiceField(
        label="Who may see this assessment",
        choices=TLP.choices,
        initial=TLP.AMBER,
        help_text="The container's own TLP, whatever the report's.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "assessment")
        super().__init__(*args, **kwargs)
