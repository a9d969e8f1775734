"""The client's address, read the way the rate limits read it: the socket address, or the address the
REDLINE_NUM_PROXIES trusted proxies in front of us put in X-Forwarded-For (so a client cannot choose its
own address by sending the header). The login lockout (django-axes) uses it too."""

from __future__ import annotations

from django.http import HttpRequest
from rest_framework.settings import api_settings


def client_ip(request: HttpRequest) -> str:
    remote_addr = str(request.META.get("REMOTE_ADDR", ""))
    num_proxies = api_settings.NUM_PROXIES or 0
    forwarded = request.headers.get("X-Forwarded-For")
    if num_proxies <= 0 or not forwarded:
        return remote_addr
    addresses = [part.strip() for part in forwarded.split(",")]
    return addresses[-min(num_proxies, len(addresses))] or remote_addr
