"""Browser pages of accounts: the organisation's API keys (list, create with the secret shown once,
revoke), through the same selectors and services as /api/v1/api-keys.

Members who may not manage keys get a 404 (the page is not theirs), like an out-of-scope record."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from accounts import selectors, services
from accounts.forms import ApiKeyCreateForm, ApiKeyRevokeForm
from accounts.models import ApiKey
from core.actors import Principal, web_principal
from core.errors import DomainError, Forbidden, NotFound
from core.web import add_domain_errors

KEY_LIST_LIMIT = 200


def _keys_or_404(actor: Principal) -> list[ApiKey]:
    try:
        keys = selectors.api_key_list(actor=actor)
    except Forbidden as exc:
        raise NotFound("No such page.") from exc
    return list(keys.order_by("-created_at", "-pk")[:KEY_LIST_LIMIT])


@login_required
@require_http_methods(["GET", "POST"])
def api_keys(request: HttpRequest) -> HttpResponse:
    """The key list and the create form; a successful POST answers with the key's secret, once."""
    actor = web_principal(request)
    keys = _keys_or_404(actor)
    organization = selectors.organization_own(actor=actor)
    form = ApiKeyCreateForm(request.POST if request.method == "POST" else None, organization=organization)
    new_key: ApiKey | None = None
    secret = ""
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                new_key, secret = services.api_key_create(
                    actor=actor,
                    organization=organization,
                    name=form.cleaned_data["name"],
                    role=form.cleaned_data["role"],
                    scopes=form.cleaned_data["scopes"],
                    expires_at=form.cleaned_data["expires_at"],
                )
            except DomainError as exc:
                add_domain_errors(form, exc)
        if new_key is None:
            status = 400
        else:
            keys = _keys_or_404(actor)
            form = ApiKeyCreateForm(organization=organization)
    return render(
        request,
        "accounts/api_keys.html",
        {
            "organization": organization,
            "keys": keys,
            "limit": KEY_LIST_LIMIT,
            "form": form,
            "new_key": new_key,
            "secret": secret,
            "now": timezone.now(),
        },
        status=status,
    )


@login_required
@require_POST
def api_key_revoke(request: HttpRequest, key_id: str) -> HttpResponse:
    actor = web_principal(request)
    try:
        key = selectors.api_key_get(actor=actor, key_id=key_id)
    except Forbidden as exc:
        raise NotFound("No such API key.") from exc
    form = ApiKeyRevokeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The reason is too long (500 characters at most); the key was not revoked.")
        return HttpResponseRedirect(reverse("org-api-keys"))
    services.api_key_revoke(actor=actor, key=key, reason=form.cleaned_data["reason"])
    messages.success(request, f"Key {key.prefix} ({key.name}) is revoked; it stops working at once.")
    return HttpResponseRedirect(reverse("org-api-keys"))
