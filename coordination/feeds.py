"""The public Atom feed of TLP:CLEAR incident reports (issue 6, item 5).

"Published" means what the public page /public/ lists: the reports an anonymous reader may see through
incidents.selectors.incident_list (TLP:CLEAR, not drafts), in whatever triage state, since the state is
part of the public record. The feed carries the latest 100 by `modified_at`; an entry's id is its report's
tag URI, stable across edits, and `updated` moves when the report changes. No internal field, comment,
assessment or evidence is in it. ETag / If-None-Match (304) come from ConditionalGetMiddleware."""

from __future__ import annotations

from datetime import datetime

from django.contrib.syndication.views import Feed
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed

from core.actors import ANONYMOUS
from incidents import selectors
from incidents.models import Incident

FEED_SIZE = 100


class PublicIncidentFeed(Feed):
    feed_type = Atom1Feed
    title = "Redline: public self-replication incident reports (TLP:CLEAR)"
    subtitle = "Reports of frontier AI systems copying themselves, recorded in Redline as TLP:CLEAR."
    author_name = "Redline"

    def link(self) -> str:
        return reverse("public-home")

    def feed_guid(self) -> str:
        return "tag:redline,2026:public-incidents"

    def items(self) -> QuerySet[Incident]:
        # The anonymous principal, whoever asks: the feed is public data.
        return selectors.incident_list(actor=ANONYMOUS).order_by("-modified_at", "-id")[:FEED_SIZE]

    def item_title(self, item: Incident) -> str:
        return f"{item.public_id}: {item.title}"

    def item_description(self, item: Incident) -> str:
        return item.description

    def item_link(self, item: Incident) -> str:
        return reverse("incident-detail", kwargs={"ref": item.public_id})

    def item_guid(self, item: Incident) -> str:
        return f"tag:redline,2026:incident:{item.public_id}"

    item_guid_is_permalink = False

    def item_pubdate(self, item: Incident) -> datetime | None:
        return item.submitted_at

    def item_updateddate(self, item: Incident) -> datetime:
        return item.modified_at

    def item_author_name(self, item: Incident) -> str:
        return item.owner_org.name

    def item_categories(self, item: Incident) -> list[str]:
        return [c for c in (item.scenario_type, item.severity, item.status) if c]
