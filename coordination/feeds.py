"""The public Atom 1.0 feed of published TLP:CLEAR incident reports (issue 6, item 5): /public/incidents.atom.

Published means: a report the anonymous principal may see through incidents.selectors.incident_list
(TLP:CLEAR), that a reviewer has accepted, i.e. in the state `accepted` or `closed` of the triage workflow
(incidents.workflows: `closed` is only reached from `accepted`, and neither state can be left). A report
that is still being triaged (submitted, in_review, needs_information), or that was rejected, marked
duplicate, superseded or withdrawn, is not in the feed, though it stays on the public page and in the
incident snapshot while it is TLP:CLEAR, with its state. A published report that is no longer TLP:CLEAR
drops out of the feed at once.

Entries: the latest FEED_SIZE (100) published reports by `modified_at`, newest first. An entry's id is the
report's tag URI (`tag:redline,2026:incident:<public id>`), stable across edits; `published` is when it was
accepted, `updated` its `modified_at`. It links the public page (text/html) and the JSON resource
(application/json), carries a plain-text summary of public fields (class, outcome, severity, state, the
description, cut at SUMMARY_CHARS) and categories for scenario type, severity and record class. Nothing
internal is in it: no comment, assessment, evidence, assignee, deadline or submitting person.

Conditional GET: the ETag is the body's digest; Last-Modified is the latest change that can alter the
feed: an entry's `modified_at`, or a report leaving the public record (incident_removed_list for the
anonymous principal), so a reader polling with If-Modified-Since alone also sees a removal."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin
from xml.sax.xmlreader import AttributesImpl

from django.contrib.syndication.views import Feed
from django.db.models import Max, OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.cache import get_conditional_response, set_response_etag
from django.utils.feedgenerator import Atom1Feed, rfc3339_date
from django.utils.http import parse_http_date_safe
from django.utils.text import Truncator
from django.utils.xmlutils import SimplerXMLGenerator

from core.actors import ANONYMOUS
from incidents import selectors
from incidents.models import Incident, IncidentStatus, IncidentTransition

FEED_SIZE = 100
SUMMARY_CHARS = 1000
PUBLISHED_STATES = (IncidentStatus.ACCEPTED, IncidentStatus.CLOSED)
TAG = "tag:redline,2026:"
# Last-Modified of a feed that has never held anything.
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def published_incidents() -> QuerySet[Incident]:
    """The published reports (see the module docstring), with `published_at`: when they were accepted."""
    accepted_at = (
        IncidentTransition.objects.filter(incident_id=OuterRef("pk"), to_state=IncidentStatus.ACCEPTED)
        .order_by("-id")
        .values("created_at")[:1]
    )
    return (
        selectors.incident_list(actor=ANONYMOUS)
        .filter(status__in=PUBLISHED_STATES)
        .annotate(published_at=Subquery(accepted_at))
    )


def last_removal() -> datetime | None:
    """When a report last left the public record (a TLP raised above CLEAR)."""
    latest: datetime | None = selectors.incident_removed_list(actor=ANONYMOUS).aggregate(
        at=Max("changed_at")
    )["at"]
    return latest


class PublicAtomFeed(Atom1Feed):
    """Atom 1.0 with typed links (page and JSON), a plain-text summary and categories with a scheme."""

    def latest_post_date(self) -> datetime:
        dates = [item["updateddate"] for item in self.items if item.get("updateddate")]
        if self.feed.get("removed_at"):
            dates.append(self.feed["removed_at"])
        return max(dates, default=EPOCH)

    def add_item_elements(self, handler: SimplerXMLGenerator, item: dict[str, Any]) -> None:
        handler.addQuickElement("title", item["title"])
        handler.addQuickElement("link", "", {"rel": "alternate", "type": "text/html", "href": item["link"]})
        handler.addQuickElement(
            "link",
            "",
            {
                "rel": "alternate",
                "type": "application/json",
                "href": urljoin(item["link"], item["json_path"]),
            },
        )
        handler.addQuickElement("id", item["unique_id"])
        if item["pubdate"] is not None:
            handler.addQuickElement("published", rfc3339_date(item["pubdate"]))
        handler.addQuickElement("updated", rfc3339_date(item["updateddate"]))
        handler.startElement("author", AttributesImpl({}))
        handler.addQuickElement("name", item["author_name"])
        handler.endElement("author")
        handler.addQuickElement("summary", item["description"], {"type": "text"})
        for scheme, term, label in item["schemed_categories"]:
            handler.addQuickElement("category", "", {"scheme": scheme, "term": term, "label": label})


class PublicIncidentFeed(Feed):
    feed_type = PublicAtomFeed
    title = "Redline: published self-replication incident reports (TLP:CLEAR)"
    subtitle = (
        "Reports of frontier AI systems copying themselves that a reviewer has accepted, recorded in Redline "
        "as TLP:CLEAR."
    )
    author_name = "Redline"
    item_guid_is_permalink = False

    def __call__(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response: HttpResponse = super().__call__(request, *args, **kwargs)
        set_response_etag(response)
        last_modified = parse_http_date_safe(response["Last-Modified"])
        conditional = get_conditional_response(
            request, etag=response["ETag"], last_modified=last_modified, response=response
        )
        # A 304 (HttpResponseNotModified is an HttpResponse) or the feed itself.
        return conditional if isinstance(conditional, HttpResponse) else response

    def link(self) -> str:
        return reverse("public-home")

    def feed_url(self) -> str:
        return reverse("public-incident-feed")

    def feed_guid(self) -> str:
        return f"{TAG}public-incidents"

    def feed_extra_kwargs(self, obj: Any) -> dict[str, Any]:
        return {"removed_at": last_removal()}

    def items(self) -> QuerySet[Incident]:
        # The anonymous principal, whoever asks: the feed is public data.
        return published_incidents().order_by("-modified_at", "-id")[:FEED_SIZE]

    def item_title(self, item: Incident) -> str:
        return f"{item.public_id}: {item.title}"

    def item_description(self, item: Incident) -> str:
        facts = [
            item.get_record_class_display(),
            f"outcome: {item.get_outcome_display() or 'not stated'}",
            f"severity: {item.get_severity_display() or 'not stated'}",
            f"status: {item.get_status_display()}",
        ]
        description = Truncator(item.description).chars(SUMMARY_CHARS)
        return " · ".join(facts) + "\n\n" + description

    def item_link(self, item: Incident) -> str:
        return reverse("incident-detail", kwargs={"ref": item.public_id})

    def item_guid(self, item: Incident) -> str:
        return f"{TAG}incident:{item.public_id}"

    def item_pubdate(self, item: Incident) -> datetime:
        # The transition row is written just after the report's own save: never later than `updated`.
        published: datetime | None = getattr(item, "published_at", None)
        return min(published or item.submitted_at, item.modified_at)

    def item_updateddate(self, item: Incident) -> datetime:
        return item.modified_at

    def item_author_name(self, item: Incident) -> str:
        return item.owner_org.name

    def item_extra_kwargs(self, item: Incident) -> dict[str, Any]:
        categories = [
            ("scenario_type", item.scenario_type, item.get_scenario_type_display()),
            ("severity", item.severity, item.get_severity_display()),
            ("record_class", item.record_class, item.get_record_class_display()),
        ]
        return {
            "json_path": reverse("api:incident-detail", kwargs={"ref": item.public_id}),
            "schemed_categories": [(f"{TAG}{name}", term, label) for name, term, label in categories if term],
        }
