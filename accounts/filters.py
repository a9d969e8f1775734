"""FilterSets for the participant directory and the API key list (the sync API's `modified_after`)."""

from __future__ import annotations

import django_filters as df

from accounts.models import ApiKey, Organization
from core.filters import ModifiedAfterFilter


class OrganizationFilter(df.FilterSet):
    modified_after = ModifiedAfterFilter()

    class Meta:
        model = Organization
        fields = ["kind", "country"]


class ApiKeyFilter(df.FilterSet):
    modified_after = ModifiedAfterFilter()

    class Meta:
        model = ApiKey
        fields: list[str] = []
