"""The SSRF guard for webhook receivers, applied when a URL is registered and again at every delivery.

A URL must be https (http only when REDLINE_WEBHOOK_ALLOW_HTTP), carry no credentials, and every address
its host resolves to must be public: private, loopback, link-local (cloud metadata), multicast, reserved,
unspecified, CGNAT, and IPv4-mapped or NAT64 forms of those are refused (loopback only passes when
REDLINE_WEBHOOK_ALLOW_LOOPBACK, for tests). The POST then connects to the vetted address itself, with the
original host in the Host header and in TLS SNI / certificate checks, so a DNS answer that changes between
check and connect (rebinding) cannot redirect it. No redirects are followed, connect and read are timed
out, and at most REDLINE_WEBHOOK_MAX_RESPONSE_BYTES of the response are read.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

import urllib3
from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Explicitly refused on top of the stdlib's classification (which misses some of these in 3.11).
_REFUSED_NETWORKS = [
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "100.64.0.0/10",  # CGNAT
        "169.254.0.0/16",  # link-local, incl. 169.254.169.254 metadata
        "192.0.0.0/24",
        "198.18.0.0/15",
        "fd00:ec2::254/128",  # AWS metadata over IPv6
        "fc00::/7",
        "fe80::/10",
        "64:ff9b::/96",  # NAT64: checked through the embedded IPv4 below
        "64:ff9b:1::/48",
        "2002::/16",  # 6to4
        "2001::/32",  # Teredo
    )
]


class UnsafeWebhookUrl(Exception):
    """The URL or one of the addresses it resolves to is not an acceptable webhook receiver."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    address: IPAddress


@dataclass(frozen=True)
class PostResult:
    status: int
    body: bytes
    truncated: bool
    duration_ms: int


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in ipaddress.ip_network("64:ff9b::/96"):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    return None


def address_refusal(address: IPAddress, *, allow_loopback: bool | None = None) -> str | None:
    """Why `address` may not receive webhooks, or None when it may."""
    if allow_loopback is None:
        allow_loopback = settings.REDLINE_WEBHOOK_ALLOW_LOOPBACK
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            reason = address_refusal(embedded, allow_loopback=allow_loopback)
            return f"embeds {embedded}: {reason}" if reason else None
    if address.is_loopback:
        return None if allow_loopback else "loopback address"
    if address.is_unspecified:
        return "unspecified address"
    if address.is_link_local:
        return "link-local address (cloud metadata lives here)"
    if address.is_multicast:
        return "multicast address"
    if address.is_private:
        return "private address"
    if address.is_reserved:
        return "reserved address"
    if any(address in network for network in _REFUSED_NETWORKS):
        return "non-public address"
    if not address.is_global:
        return "non-global address"
    return None


def resolve(host: str, port: int) -> list[IPAddress]:
    """All addresses of `host` (patched in tests to simulate DNS answers)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def _parse(url: str) -> SplitResult:
    parts = urlsplit(url)
    allowed = {"https", "http"} if settings.REDLINE_WEBHOOK_ALLOW_HTTP else {"https"}
    if parts.scheme not in allowed:
        raise UnsafeWebhookUrl("Webhook URLs must use https.")
    if parts.username is not None or parts.password is not None:
        raise UnsafeWebhookUrl("Webhook URLs must not carry credentials.")
    if not parts.hostname:
        raise UnsafeWebhookUrl("Webhook URLs need a host.")
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError as error:
        raise UnsafeWebhookUrl("Malformed port.") from error
    return parts


def vet(url: str) -> Target:
    """Parse `url`, resolve its host and check every address; returns where to connect."""
    parts = _parse(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        try:
            addresses = resolve(host, port)
        except (OSError, UnicodeError) as error:
            raise UnsafeWebhookUrl(f"The host {host!r} does not resolve.") from error
    if not addresses:
        raise UnsafeWebhookUrl(f"The host {host!r} does not resolve.")
    for address in addresses:  # one bad answer refuses the host: the resolver may return it next time
        reason = address_refusal(address)
        if reason is not None:
            raise UnsafeWebhookUrl(f"The host {host!r} resolves to a refused address ({reason}).")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme=parts.scheme, host=host, port=port, path=path, address=addresses[0])


def safe_post(url: str, *, body: bytes, headers: dict[str, str]) -> PostResult:
    """POST `body` to `url` through the guard. Raises UnsafeWebhookUrl when refused, and urllib3 errors
    (timeouts, connection failures) as they come."""
    target = vet(url)
    timeout = urllib3.Timeout(
        connect=settings.REDLINE_WEBHOOK_CONNECT_TIMEOUT_SECONDS,
        read=settings.REDLINE_WEBHOOK_READ_TIMEOUT_SECONDS,
        # A receiver that drips its answer byte by byte is still cut off.
        total=settings.REDLINE_WEBHOOK_CONNECT_TIMEOUT_SECONDS
        + settings.REDLINE_WEBHOOK_READ_TIMEOUT_SECONDS,
    )
    host_header = target.host if ":" not in target.host else f"[{target.host}]"
    default_port = 443 if target.scheme == "https" else 80
    if target.port != default_port:
        host_header += f":{target.port}"
    pool: urllib3.HTTPConnectionPool
    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            str(target.address),
            target.port,
            timeout=timeout,
            retries=False,
            maxsize=1,
            server_hostname=target.host,
            assert_hostname=target.host,
            cert_reqs="CERT_REQUIRED",
        )
    else:
        pool = urllib3.HTTPConnectionPool(
            str(target.address), target.port, timeout=timeout, retries=False, maxsize=1
        )
    cap = settings.REDLINE_WEBHOOK_MAX_RESPONSE_BYTES
    started = time.monotonic()
    try:
        response = pool.urlopen(
            "POST",
            target.path,
            body=body,
            headers={**headers, "Host": host_header},
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
        )
        try:
            chunks: list[bytes] = []
            received = 0
            truncated = False
            while received <= cap:
                chunk = response.read(min(16384, cap + 1 - received))
                if not chunk:
                    break
                chunks.append(chunk)
                received += len(chunk)
            if received > cap:
                truncated = True
            data = b"".join(chunks)[:cap]
        finally:
            response.release_conn()
            response.close()
    finally:
        pool.close()
    return PostResult(
        status=response.status,
        body=data,
        truncated=truncated,
        duration_ms=int((time.monotonic() - started) * 1000),
    )
