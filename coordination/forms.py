"""Forms of the organisation's notification pages: input shape only; coordination.services decides."""

from __future__ import annotations

from django import forms

from coordination.models import Subscription


class WebhookEndpointForm(forms.Form):
    """Register or change a receiver (the URL is vetted against the SSRF rules by the service)."""

    url = forms.URLField(
        max_length=2000,
        assume_scheme="https",
        label="Receiver URL",
        help_text="An https URL on the public internet; Redline POSTs Standard Webhooks signed JSON to it.",
    )
    description = forms.CharField(max_length=200, required=False)
    subscriptions = forms.MultipleChoiceField(
        choices=Subscription.choices,
        widget=forms.CheckboxSelectMultiple,
        label="Events",
        help_text="Each delivery carries only what your organisation may see.",
    )


class WebhookReasonForm(forms.Form):
    reason = forms.CharField(max_length=500, required=False, help_text="Kept in the audit log.")


class EmailSubscriptionForm(forms.Form):
    subscriptions = forms.MultipleChoiceField(
        choices=Subscription.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Email me about",
        help_text="Untick everything to receive no notification emails.",
    )
