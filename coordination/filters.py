"""FilterSets for the webhook API (the sync API's `modified_after`)."""

from __future__ import annotations

import django_filters as df

from coordination.models import WebhookEndpoint
from core.filters import ModifiedAfterFilter


class WebhookEndpointFilter(df.FilterSet):
    modified_after = ModifiedAfterFilter()

    class Meta:
        model = WebhookEndpoint
        fields: list[str] = []


class DeliveryFilter(df.FilterSet):
    # A delivery carries a fixed payload; only its status and attempts move, and those are an operational
    # log, not a shared record. Its sync time is when it was created.
    modified_after = ModifiedAfterFilter(
        field_name="created_at",
        help_text=(
            "Sync: deliveries created after this time, oldest first (a delivery's later attempts do not "
            "move it; see `modified_after` on the lists)."
        ),
    )

    # No Meta.model: the filter serves an action of a viewset of another model (its schema and its
    # queryset differ), and it names its own field.
