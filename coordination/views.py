"""Browser pages of coordination: the organisation's home, its webhooks (secret shown once, test ping,
delivery history) and the member's email notifications, and the public TLP:CLEAR pages.

Same selectors and services as the API. A member whose role may not manage webhooks gets a 404 for those
pages (they are not theirs), another organisation's endpoint is a 404 too. The public pages read as the
anonymous principal whoever asks: they show what anyone may see, never what the visitor's role may."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, TypeVar, cast
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from rest_framework.request import Request

from accounts import selectors as account_selectors
from coordination import selectors, services
from coordination.api.pagination import DeliveryCursorPagination
from coordination.forms import EmailSubscriptionForm, WebhookEndpointForm, WebhookReasonForm
from coordination.models import Delivery, Subscription, WebhookEndpoint
from core.actors import ANONYMOUS, Principal, web_principal
from core.api.pagination import KeysetCursorPagination
from core.errors import DomainError, Forbidden, NotFound
from core.web import add_domain_errors
from incidents import selectors as incident_selectors
from registry import selectors as registry_selectors

T = TypeVar("T")
DELIVERY_PAGE = 25
PUBLIC_PAGE = 20


def _or_404(read: Callable[[], T]) -> T:
    """A page the role may not use answers 404, like an out-of-scope record."""
    try:
        return read()
    except Forbidden as exc:
        raise NotFound("No such page.") from exc


def _allowed(check: Callable[[], object]) -> bool:
    try:
        check()
    except Forbidden:
        return False
    return True


# --- the organisation's home ---------------------------------------------------------------------------


@login_required
def org_home(request: HttpRequest) -> HttpResponse:
    actor = web_principal(request)
    organization = account_selectors.organization_own(actor=actor)
    members = list(account_selectors.organization_member_list(actor=actor))
    return render(
        request,
        "coordination/org_home.html",
        {
            "organization": organization,
            "members": members,
            "can_keys": account_selectors.can_manage_api_keys(actor),
            "can_webhooks": _allowed(lambda: selectors.endpoint_list(actor=actor)),
            "can_audit": _allowed(lambda: incident_selectors.audit_event_list(actor=actor)),
            "can_notifications": actor.user_id is not None,
        },
    )


# --- webhooks ------------------------------------------------------------------------------------------


def _subscription_labels() -> dict[str, str]:
    return dict(Subscription.choices)


@login_required
@require_http_methods(["GET", "POST"])
def webhooks(request: HttpRequest) -> HttpResponse:
    """The organisation's endpoints and the register form; a successful POST shows the secret once."""
    actor = web_principal(request)
    endpoints = _or_404(lambda: selectors.endpoint_list(actor=actor))
    form = WebhookEndpointForm(request.POST if request.method == "POST" else None)
    created: WebhookEndpoint | None = None
    secret = ""
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                created, secret = services.webhook_endpoint_create(actor=actor, **form.cleaned_data)
            except DomainError as exc:
                add_domain_errors(form, exc)
        if created is None:
            status = 400
        else:
            form = WebhookEndpointForm()
    return render(
        request,
        "coordination/webhooks.html",
        {
            "organization": account_selectors.organization_own(actor=actor),
            "endpoints": list(endpoints.order_by("-created_at", "-pk")[:200]),
            "form": form,
            "created": created,
            "secret": secret,
            "labels": _subscription_labels(),
        },
        status=status,
    )


def _deliveries_page(
    request: HttpRequest, actor: Principal, endpoint: WebhookEndpoint
) -> tuple[list[tuple[Delivery, Any]], str | None]:
    """One keyset page of the endpoint's history, newest first, each with its latest attempt."""
    paginator = DeliveryCursorPagination()
    query = QueryDict(mutable=True)
    if "cursor" in request.GET:
        query["cursor"] = request.GET["cursor"]
    query["limit"] = str(DELIVERY_PAGE)
    page = paginator.paginate_queryset(
        selectors.delivery_list(actor=actor, endpoint=endpoint),
        cast(Request, SimpleNamespace(query_params=query)),
    )
    rows = []
    for delivery in page:
        attempts = list(delivery.attempt_log.all())
        rows.append((delivery, attempts[-1] if attempts else None))
    next_url = None
    if paginator.has_next and page:
        cursor = paginator.encode_cursor(page[-1].created_at, page[-1].pk)
        next_url = f"{reverse('org-webhook-detail', args=[endpoint.pk])}?{urlencode({'cursor': cursor})}"
    return rows, next_url


def _render_detail(
    request: HttpRequest,
    actor: Principal,
    endpoint: WebhookEndpoint,
    *,
    form: WebhookEndpointForm | None = None,
    secret: str = "",
    status: int = 200,
) -> HttpResponse:
    rows, next_url = _deliveries_page(request, actor, endpoint)
    context = {
        "endpoint": endpoint,
        "rows": rows,
        "next_url": next_url,
        "paged": "cursor" in request.GET,
        "labels": _subscription_labels(),
    }
    if request.htmx and request.GET.get("part") == "deliveries":  # type: ignore[attr-defined]
        return render(request, "coordination/_deliveries.html", context)
    initial = {
        "url": endpoint.url,
        "description": endpoint.description,
        "subscriptions": endpoint.subscriptions,
    }
    context.update(
        {
            "form": form or WebhookEndpointForm(initial=initial),
            "reason_form": WebhookReasonForm(),
            "secret": secret,
        }
    )
    return render(request, "coordination/webhook_detail.html", context, status=status)


def _endpoint(actor: Principal, endpoint_id: str) -> WebhookEndpoint:
    return _or_404(lambda: selectors.endpoint_get(actor=actor, ref=endpoint_id))


@login_required
@require_http_methods(["GET", "POST"])
def webhook_detail(request: HttpRequest, endpoint_id: str) -> HttpResponse:
    """One endpoint: its settings (POST changes them), actions and delivery history."""
    actor = web_principal(request)
    endpoint = _endpoint(actor, endpoint_id)
    if request.method == "GET":
        return _render_detail(request, actor, endpoint)
    form = WebhookEndpointForm(request.POST)
    if form.is_valid():
        try:
            services.webhook_endpoint_update(actor=actor, endpoint=endpoint, changes=form.cleaned_data)
        except DomainError as exc:
            add_domain_errors(form, exc)
        else:
            messages.success(request, "The webhook is saved.")
            return HttpResponseRedirect(reverse("org-webhook-detail", args=[endpoint.pk]))
    return _render_detail(request, actor, endpoint, form=form, status=400)


@login_required
@require_POST
def webhook_rotate(request: HttpRequest, endpoint_id: str) -> HttpResponse:
    """A new signing secret, shown once on the response page; the old one keeps signing for the overlap."""
    actor = web_principal(request)
    endpoint = _endpoint(actor, endpoint_id)
    form = WebhookReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The reason is too long (500 characters at most); nothing was changed.")
        return HttpResponseRedirect(reverse("org-webhook-detail", args=[endpoint.pk]))
    endpoint, secret = services.webhook_secret_rotate(
        actor=actor, endpoint=endpoint, reason=form.cleaned_data["reason"]
    )
    return _render_detail(request, actor, endpoint, secret=secret)


def _set_enabled(request: HttpRequest, endpoint_id: str, *, enabled: bool) -> HttpResponse:
    actor = web_principal(request)
    endpoint = _endpoint(actor, endpoint_id)
    form = WebhookReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The reason is too long (500 characters at most); nothing was changed.")
    else:
        services.webhook_endpoint_set_enabled(
            actor=actor, endpoint=endpoint, enabled=enabled, reason=form.cleaned_data["reason"]
        )
        messages.success(request, "The webhook is enabled." if enabled else "The webhook is disabled.")
    return HttpResponseRedirect(reverse("org-webhook-detail", args=[endpoint.pk]))


@login_required
@require_POST
def webhook_enable(request: HttpRequest, endpoint_id: str) -> HttpResponse:
    return _set_enabled(request, endpoint_id, enabled=True)


@login_required
@require_POST
def webhook_disable(request: HttpRequest, endpoint_id: str) -> HttpResponse:
    return _set_enabled(request, endpoint_id, enabled=False)


@login_required
@require_POST
def webhook_ping(request: HttpRequest, endpoint_id: str) -> HttpResponse:
    """A signed `webhook.test` delivery through the normal sending path; its outcome is in the history."""
    actor = web_principal(request)
    endpoint = _endpoint(actor, endpoint_id)
    try:
        services.webhook_test_ping(actor=actor, endpoint=endpoint)
    except DomainError as exc:
        if exc.status == 404:
            raise
        messages.error(request, exc.detail)
    else:
        messages.success(request, "Test ping sent. Its delivery is at the top of the history below.")
    return HttpResponseRedirect(reverse("org-webhook-detail", args=[endpoint.pk]))


# --- email notifications -------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def notifications(request: HttpRequest) -> HttpResponse:
    """The signed-in member's own email topics."""
    actor = web_principal(request)
    current = _or_404(lambda: selectors.email_subscriptions_of(actor=actor))
    form = EmailSubscriptionForm(
        request.POST if request.method == "POST" else None, initial={"subscriptions": current}
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.email_subscription_set(actor=actor, subscriptions=form.cleaned_data["subscriptions"])
            except DomainError as exc:
                add_domain_errors(form, exc)
            else:
                messages.success(request, "Your email notifications are saved.")
                return HttpResponseRedirect(reverse("org-notifications"))
        status = 400
    return render(
        request,
        "coordination/notifications.html",
        {"form": form, "organization": account_selectors.organization_own(actor=actor)},
        status=status,
    )


# --- public pages (TLP:CLEAR, read as the anonymous principal) ----------------------------------------


def _keyset_page(queryset: Any, token: str) -> tuple[list[Any], str | None]:
    """A newest-first keyset page over (modified_at, id): `token` is the cursor of the previous page."""
    paginator = KeysetCursorPagination()
    query = QueryDict(mutable=True)
    query["limit"] = str(PUBLIC_PAGE)
    if token:
        query["cursor"] = token
    rows = paginator.paginate_queryset(queryset, cast(Request, SimpleNamespace(query_params=query)))
    following = (
        paginator.encode_cursor(rows[-1].modified_at, rows[-1].pk) if paginator.has_next and rows else None
    )
    return rows, following


def _page_url(request: HttpRequest, name: str, token: str | None) -> str | None:
    if token is None:
        return None
    params = {k: v for k, v in request.GET.items() if k != name}
    params[name] = token
    return f"{request.path}?{urlencode(params)}"


def public_home(request: HttpRequest) -> HttpResponse:
    """What TLP:CLEAR means, and the TLP:CLEAR incidents and models: the public view, for everyone."""
    actor = ANONYMOUS  # never the visitor's own principal: this page is what the public sees
    incidents, next_incidents = _keyset_page(
        incident_selectors.incident_list(actor=actor), request.GET.get("incidents", "")
    )
    models, next_models = _keyset_page(
        registry_selectors.frontier_model_list(actor=actor), request.GET.get("models", "")
    )
    return render(
        request,
        "coordination/public_home.html",
        {
            "incidents": incidents,
            "models": models,
            "next_incidents": _page_url(request, "incidents", next_incidents),
            "next_models": _page_url(request, "models", next_models),
            "paged": bool(request.GET.get("incidents") or request.GET.get("models")),
        },
    )


def public_tlp(request: HttpRequest) -> HttpResponse:
    return render(request, "coordination/public_tlp.html")
