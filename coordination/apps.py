from django.apps import AppConfig


class CoordinationConfig(AppConfig):
    """TLP on egress, STIX 2.1, TAXII 2.1, feeds, exports and webhooks (issue 6)."""

    name = "coordination"
